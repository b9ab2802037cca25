"""Per-pair contact parity with MuJoCo (issue 20): for each pair of primitive geoms, 20 random
overlapping poses, kinegrad's contacts against MuJoCo's `d.contact` (count, then distance,
normal and point of each contact). Run: `.venv/bin/python benches/contact_pairs.py`.
`python/tests/test_contact_pairs_vs_mujoco.py` asserts the pairs at parity."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python" / "tests"))
from _contact_pairs import PAIRS, pair_contacts  # noqa: E402


def main():
    print(f"{'pair':18s} {'poses with other counts':>24s} {'contacts':>9s} {'dist':>8s} {'normal':>8s} {'point':>8s} {'order':>6s}")
    for a, b in PAIRS:
        mismatch, n, worst, order = pair_contacts(a, b)
        print(f"{a + '-' + b:18s} {mismatch:>21d}/20 {n:>9d} {worst[0]:8.1e} {worst[1]:8.1e} {worst[2]:8.1e} {order:>6d}")


if __name__ == "__main__":
    main()

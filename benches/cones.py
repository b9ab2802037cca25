"""The step cost of friction cones: Genesis's dominos (75 boxes toppling in a chain, about 400
contacts) under the pyramidal and the elliptic cone (impratio 10, as the file sets), kinegrad and
MuJoCo on the same MJCF in the same process, MuJoCo's body sleeping off (kinegrad's bodies never
sleep). After `--settle` steps of both engines (the chain reaction under way), the per-step time
is the median of `--repeats` rounds of `--steps` steps, the two engines timed in turn. Also
prints MuJoCo's constraint islands and Newton iterations: MuJoCo solves each island (here about
one per domino) on its own; kinegrad solves the whole system at once.
Run: `.venv/bin/python benches/cones.py` (needs `make setup`'s assets).
"""

import argparse
import statistics
import sys
from pathlib import Path

import mujoco
import numpy as np

from bench import interleaved_times, ratio_range

sys.path.insert(0, str(Path(__file__).resolve().parent))
import robot_files  # noqa: E402  (the survey's MuJoCo-to-kinegrad option mapping)

DOMINOS = robot_files.ASSETS / "genesis" / "xml" / "dominos.xml"


def models(cone: str):
    m = mujoco.MjModel.from_xml_path(str(DOMINOS))
    m.opt.enableflags &= ~int(mujoco.mjtEnableBit.mjENBL_SLEEP)
    m.opt.cone = {"pyramidal": mujoco.mjtCone.mjCONE_PYRAMIDAL, "elliptic": mujoco.mjtCone.mjCONE_ELLIPTIC}[cone]
    sim, _ = robot_files.kinegrad_sim(DOMINOS, m)
    d = mujoco.MjData(m)
    sim.set_state(m.qpos0[None].copy(), np.zeros((1, m.nv)))
    return m, d, sim


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--settle", type=int, default=300)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    if not DOMINOS.exists():
        raise SystemExit(f"{DOMINOS} missing: run `make setup` first")
    print(f"Genesis dominos.xml, MuJoCo {mujoco.__version__} with sleeping off, median of {args.repeats} rounds of {args.steps} steps after {args.settle}:")
    for cone in ("pyramidal", "elliptic"):
        m, d, sim = models(cone)
        mujoco.mj_step(m, d, nstep=args.settle)
        sim.step(args.settle)
        iters = []

        def mj():
            for _ in range(args.steps):
                mujoco.mj_step(m, d)
                iters.append(int(d.solver_niter[: max(d.nisland, 1)].max()))

        def kg():
            sim.step(args.steps)

        tm, tk = interleaved_times([mj, kg], args.repeats)
        med, lo, hi = ratio_range(tk, tm)
        gap = float(np.abs(sim.get_qpos()[0] - d.qpos).max())
        print(
            f"  {cone:9s} contacts {d.ncon:4d}  MuJoCo {1e6 * statistics.median(tm) / args.steps:8.1f} us/step "
            f"({d.nisland} islands, at most {statistics.median(iters):.0f} Newton iterations in one)  "
            f"kinegrad {1e6 * statistics.median(tk) / args.steps:8.1f} us/step  ratio {med:.2f} ({lo:.2f}-{hi:.2f})  "
            f"qpos gap {gap:.1e}"
        )


if __name__ == "__main__":
    main()

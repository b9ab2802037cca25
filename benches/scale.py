"""How step cost grows with the number of bodies: N free boxes dropped in a grid onto a plane,
the same MJCF in kinegrad and in MuJoCo, same process (issue 18's measurement).

Each box is 0.1 m; the grid's columns stand a little apart and its layers are stacked with
gaps, so after the settling steps the boxes rest in contact with the floor and with their
neighbours. implicitfast, pyramidal cones, Newton, dt 0.002. After `--settle` steps of both
engines, the per-step time is the median of `--repeats` runs of `--steps` steps, the two
engines timed in turn. Run: `.venv/bin/python benches/scale.py` (or `make bench-scale`).
"""

import argparse
import tempfile
from pathlib import Path

import mujoco
import numpy as np

from bench import _rss, interleaved_medians
from kinegrad import _native

BOX = 0.05  # half size (m)


def pile_xml(n: int) -> str:
    """N boxes on a square grid of columns, layered; free joints; a plane."""
    side = max(1, int(round(n ** (1 / 3))))
    bodies = []
    for k in range(n):
        layer, rest = divmod(k, side * side)
        i, j = divmod(rest, side)
        x = (i - (side - 1) / 2) * 0.105
        y = (j - (side - 1) / 2) * 0.105
        z = BOX + 0.002 + layer * (2 * BOX + 0.004)
        bodies.append(
            f'<body name="box{k}" pos="{x:.4f} {y:.4f} {z:.4f}"><freejoint/>'
            f'<geom type="box" size="{BOX} {BOX} {BOX}" mass="0.5"/></body>'
        )
    return f"""<mujoco model="pile{n}">
  <option timestep="0.002" integrator="implicitfast" cone="pyramidal" solver="Newton" iterations="100" tolerance="1e-8"/>
  <worldbody>
    <geom name="floor" type="plane" size="5 5 0.1"/>
    {''.join(bodies)}
  </worldbody>
</mujoco>
"""


def one(n: int, settle: int, steps: int, repeats: int, folder: Path):
    path = folder / f"pile{n}.xml"
    path.write_text(pile_xml(n))
    m = mujoco.MjModel.from_xml_path(str(path))
    d = mujoco.MjData(m)
    b = _native.SceneBuilder(timestep=0.002, integrator="implicitfast", iterations=100, tolerance=1e-8,
                             gravity=list(m.opt.gravity))
    b.add_mjcf(str(path), 1.0, [0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0])
    sim = b.build(1)
    mujoco.mj_step(m, d, nstep=settle)
    sim.step(settle)
    n_kg = len(sim.contacts(0))
    t_kg, t_mj = interleaved_medians([lambda: sim.step(steps), lambda: mujoco.mj_step(m, d, nstep=steps)], repeats)
    t_kg, t_mj = t_kg / steps, t_mj / steps
    gap = float(np.abs(sim.get_qpos()[0] - d.qpos).max())
    print(
        f"{n:>6} {m.nv:>5} {d.ncon:>9} {n_kg:>9} {t_mj * 1e6:>11.1f} {t_kg * 1e6:>11.1f} {t_kg / t_mj:>7.1f}   {gap:.1e}",
        flush=True,
    )


def memory_per_env(n: int, folder: Path, big: int = 512):
    """Resident memory per env of a batched scene of the N-box pile: the growth of a sim of `big`
    envs minus that of `big / 8`, over the difference (both kept alive, both stepped 10 steps
    so that every env's contacts and every thread's scratch are at their working size)."""
    path = folder / f"pile{n}.xml"
    path.write_text(pile_xml(n))

    def sim(n_envs):
        b = _native.SceneBuilder(timestep=0.002, integrator="implicitfast", iterations=100, tolerance=1e-8)
        b.add_mjcf(str(path), 1.0, [0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0])
        s = b.build(n_envs)
        s.step(10)
        return s

    keep = [sim(2)]
    r0 = _rss()
    keep.append(sim(big // 8))
    r1 = _rss()
    keep.append(sim(big))
    per_env = ((_rss() - r1) - (r1 - r0)) / (big - big // 8)
    print(f"memory per env of a batched {n}-box pile: {per_env / 1e3:.1f} kB ({big} envs against {big // 8})")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[8, 27, 64])
    ap.add_argument("--settle", type=int, default=500)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--memory", type=int, default=27, help="the pile whose memory per env is reported (0: none)")
    a = ap.parse_args()
    print(f"N free boxes on a plane, after {a.settle} settling steps; median of {a.repeats} runs of {a.steps} steps")
    print(f"{'N':>6} {'nv':>5} {'MuJoCo con':>9} {'kg con':>9} {'MuJoCo us':>11} {'kinegrad us':>11} {'ratio':>7}   qpos gap")
    with tempfile.TemporaryDirectory() as tmp:
        for n in a.sizes:
            one(n, a.settle, a.steps, a.repeats, Path(tmp))
        if a.memory:
            memory_per_env(a.memory, Path(tmp))


if __name__ == "__main__":
    main()

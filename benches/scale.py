"""How step cost grows with the number of bodies: N free boxes dropped in a grid onto a plane,
the same MJCF in kinegrad and in MuJoCo, same process (issue 18's measurement).

Each box is 0.1 m; the grid's columns stand a little apart and its layers are stacked with
gaps, so after the settling steps the boxes rest in contact with the floor and with their
neighbours. implicitfast, pyramidal cones, Newton, dt 0.002. After `--settle` steps of both
engines, the per-step time is the median of `--repeats` runs of `--steps` steps, the two
engines timed in turn. Run: `.venv/bin/python benches/scale.py` (or `make bench-scale`).
"""

import argparse
import statistics
import tempfile
from pathlib import Path

import mujoco
import numpy as np

from bench import _rss, interleaved_times, ratio_range
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
    kg, mj = interleaved_times([lambda: sim.step(steps), lambda: mujoco.mj_step(m, d, nstep=steps)], repeats)
    t_kg, t_mj = statistics.median(kg) / steps, statistics.median(mj) / steps
    r, lo, hi = ratio_range(kg, mj)
    gap = float(np.abs(sim.get_qpos()[0] - d.qpos).max())
    print(
        f"{n:>6} {m.nv:>5} {d.ncon:>9} {n_kg:>9} {t_mj * 1e6:>11.1f} {t_kg * 1e6:>11.1f} {r:>6.2f} ({lo:.2f}-{hi:.2f})   {gap:.1e}",
        flush=True,
    )


def gradient(n: int, settle: int, steps: int, repeats: int, folder: Path):
    """The gradient of a `steps`-step loss on the N-box pile w.r.t. the initial velocities, through
    the Genesis-style API (every `scene.step()` a node of the torch graph): forward (recording
    the tape) and backward per step, medians of `repeats` runs timed in turn."""
    import time

    import torch

    import kinegrad as gs

    path = folder / f"pile{n}.xml"
    path.write_text(pile_xml(n))
    gs.init(precision="64", logging_level="warning")
    scene = gs.Scene(
        sim_options=gs.options.SimOptions(dt=0.002, requires_grad=True),
        rigid_options=gs.options.RigidOptions(integrator=gs.integrator.implicitfast, iterations=100, tolerance=1e-8),
        show_viewer=False,
    )
    pile = scene.add_entity(gs.morphs.MJCF(file=str(path)))
    scene.build()
    with torch.no_grad():
        for _ in range(settle):
            scene.step()
    start = scene.get_state()
    v_settled = pile.get_dofs_velocity().detach()

    def forward():
        scene.reset(start)
        x = torch.zeros_like(v_settled, requires_grad=True)
        pile.set_dofs_velocity(v_settled + x)
        for _ in range(steps):
            scene.step()
        q = pile.get_qpos()
        return x, (q[2::7] ** 2).sum()  # the boxes' heights (7 coordinates per free joint)

    fwd, bwd = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        x, loss = forward()
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        assert torch.isfinite(x.grad).all()
        fwd.append(t1 - t0)
        bwd.append(t2 - t1)
    f, b = statistics.median(fwd) / steps, statistics.median(bwd) / steps
    print(
        f"gradient of a {steps}-step loss w.r.t. the initial velocities, {n}-box pile (nv {6 * n}): "
        f"forward {f * 1e6:.0f} us/step, backward {b * 1e6:.0f} us/step, backward/forward {b / f:.2f} "
        f"(ranges {min(fwd) / steps * 1e6:.0f}-{max(fwd) / steps * 1e6:.0f} and "
        f"{min(bwd) / steps * 1e6:.0f}-{max(bwd) / steps * 1e6:.0f}; target <= 2)"
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
    ap.add_argument("--gradient", type=int, default=64, help="the pile whose gradient cost is reported (0: none)")
    a = ap.parse_args()
    print(
        f"N free boxes on a plane, after {a.settle} settling steps; median of {a.repeats} runs of {a.steps} steps "
        "(the ratio: median and range of the runs' ratios, the two engines timed in turn)"
    )
    print(f"{'N':>6} {'nv':>5} {'MuJoCo con':>9} {'kg con':>9} {'MuJoCo us':>11} {'kinegrad us':>11} {'ratio (range)':>18}   qpos gap")
    with tempfile.TemporaryDirectory() as tmp:
        for n in a.sizes:
            one(n, a.settle, a.steps, a.repeats, Path(tmp))
        if a.gradient:
            gradient(a.gradient, a.settle, a.steps, a.repeats, Path(tmp))
        if a.memory:
            memory_per_env(a.memory, Path(tmp))


if __name__ == "__main__":
    main()

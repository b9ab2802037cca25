"""Step-time benchmark: kinegrad next to MuJoCo's mj_step on the same MJCF files, same run.

Prints per-step time (median of repeats) for one env on one thread, the ratio to MuJoCo,
and batched throughput. Run with `make bench`.
"""

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import mujoco
import numpy as np

from kinegrad import _native

REPO = Path(__file__).resolve().parents[1]
ASSETS = REPO / ".cache" / "assets"
FRANKA = ASSETS / "genesis" / "xml" / "franka_emika_panda" / "scene_no_tendon.xml"
HUMANOID = ASSETS / "dm_control" / "suite" / "humanoid.xml"
FRANKA_HOME = np.array([0.0, 0.0, 0.0, -1.57079, 0.0, 1.57079, -0.7853, 0.04, 0.04])
INTEGRATORS = {int(mujoco.mjtIntegrator.mjINT_EULER): "euler", int(mujoco.mjtIntegrator.mjINT_IMPLICITFAST): "implicitfast"}


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def setup_mujoco(path, q0, pd_targets):
    m = mujoco.MjModel.from_xml_path(str(path))
    d = mujoco.MjData(m)
    if q0 is not None:
        d.qpos[:] = q0
    if pd_targets is not None:
        d.ctrl[:] = pd_targets
    mujoco.mj_forward(m, d)
    return m, d


def setup_kinegrad(path, m, q0, pd_targets, n_envs=1):
    integrator = INTEGRATORS.get(int(m.opt.integrator))
    if integrator is None:
        raise SystemExit(f"{path}: MuJoCo integrator {m.opt.integrator} has no kinegrad twin")
    b = _native.SceneBuilder(
        timestep=float(m.opt.timestep),
        integrator=integrator,
        gravity=list(m.opt.gravity),
        iterations=int(m.opt.iterations),
        tolerance=float(m.opt.tolerance),
    )
    b.add_mjcf(str(path), 1.0, [0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0])
    sim = b.build(n_envs)
    qpos = np.tile(m.qpos0 if q0 is None else q0, (n_envs, 1))
    sim.set_state(qpos, np.zeros((n_envs, sim.nv)))
    if pd_targets is not None:
        mode = np.ones((n_envs, sim.nv), dtype=np.int8)  # position control on every dof
        sim.set_control(mode, np.tile(pd_targets, (n_envs, 1)))
    return sim


def single_env(name, path, q0, pd_targets, nsteps, repeats):
    m, d = setup_mujoco(path, q0, pd_targets)
    sim = setup_kinegrad(path, m, q0, pd_targets)
    # warm up both, and check they do the same thing
    mujoco.mj_step(m, d, nstep=nsteps)
    sim.step(nsteps)
    gap = np.abs(sim.get_qpos()[0] - d.qpos).max()
    t_mj = median_time(lambda: mujoco.mj_step(m, d, nstep=nsteps), repeats) / nsteps
    t_kg = median_time(lambda: sim.step(nsteps), repeats) / nsteps
    print(
        f"{name:<24} nv={m.nv:<3} dt={m.opt.timestep:<6} kinegrad {t_kg * 1e6:8.2f} us/step  "
        f"MuJoCo {t_mj * 1e6:8.2f} us/step  ratio {t_kg / t_mj:5.2f}  (qpos gap after warm-up {gap:.1e})"
    )
    return t_kg, t_mj


def batched(path, q0, pd_targets, n_envs_list, nsteps, repeats):
    m, _ = setup_mujoco(path, q0, pd_targets)
    for n in n_envs_list:
        sim = setup_kinegrad(path, m, q0, pd_targets, n_envs=n)
        steps = max(1, nsteps // n)
        sim.step(steps)
        t = median_time(lambda: sim.step(steps), repeats)
        rate = n * steps / t
        print(f"  n_envs={n:<5} {rate:12.0f} env-steps/s  ({t / steps * 1e3:8.3f} ms per batched step)")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    for p in (FRANKA, HUMANOID):
        if not p.exists():
            raise SystemExit(f"{p} missing: run `make setup`")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; MuJoCo {mujoco.__version__}")
    print(f"single env, one thread, median of {args.repeats} runs of {args.steps} steps:")
    single_env("Franka (Menagerie)+floor", FRANKA, FRANKA_HOME, FRANKA_HOME, args.steps, args.repeats)
    single_env("dm_control humanoid", HUMANOID, None, None, args.steps, args.repeats)
    print("batched Franka (all cores):")
    batched(FRANKA, FRANKA_HOME, FRANKA_HOME, [1, 64, 1024], 20000, max(3, args.repeats // 2))


if __name__ == "__main__":
    main()

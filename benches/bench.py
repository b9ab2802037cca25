"""Step-time benchmark: kinegrad next to MuJoCo's mj_step on the same MJCF files, same run.

Prints per-step time (median of repeats) for one env on one thread, the ratio to MuJoCo,
and batched throughput. Run with `make bench`.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import mujoco
import numpy as np

from kinegrad import _native

REPO = Path(__file__).resolve().parents[1]
ASSETS = REPO / ".cache" / "assets"
FRANKA = ASSETS / "genesis" / "xml" / "franka_emika_panda" / "scene_no_tendon.xml"
HUMANOID = ASSETS / "dm_control" / "suite" / "humanoid.xml"
ERD = ASSETS / "example-robot-data" / "robots"
BUILD_ROBOTS = [("g1_description", "g1_29dof_rev_1_0.urdf"), ("so_arm_description", "so101.urdf")]
FRANKA_HOME = np.array([0.0, 0.0, 0.0, -1.57079, 0.0, 1.57079, -0.7853, 0.04, 0.04])
INTEGRATORS = {int(mujoco.mjtIntegrator.mjINT_EULER): "euler", int(mujoco.mjtIntegrator.mjINT_IMPLICITFAST): "implicitfast"}


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def interleaved_medians(fns, repeats):
    """Median time of each function, the functions run in turn `repeats` times (a slow phase of
    a noisy machine then hits all of them alike, which keeps their ratios honest). Each timed
    call follows an untimed call of the same function, so that none is timed with the caches
    the previous function left."""
    return [statistics.median(t) for t in interleaved_times(fns, repeats)]


def interleaved_times(fns, repeats):
    """The times of [`interleaved_medians`], every round's: one list per function."""
    times = [[] for _ in fns]
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            fn()
            t0 = time.perf_counter()
            fn()
            times[i].append(time.perf_counter() - t0)
    return times


def ratio_range(a, b):
    """Median and range of the per-round ratios a[k] / b[k] of two interleaved timings."""
    r = sorted(x / y for x, y in zip(a, b))
    return statistics.median(r), r[0], r[-1]


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


def model_build(repeats):
    """Loading and building robot files from the wild, next to MuJoCo compiling the same URDF
    (its mesh paths rewritten to a meshdir, which MuJoCo's URDF reader needs)."""
    print(f"model build, URDF with meshes, load + build (median of {repeats}):")
    for desc, urdf in BUILD_ROBOTS:
        path = ERD / desc / "urdf" / urdf
        if not path.exists():
            raise SystemExit(f"{path} missing: run `make setup`")

        def kinegrad_build():
            b = _native.SceneBuilder(timestep=0.002)
            b.add_urdf(str(path), 1.0, [0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0], True)
            b.build(1)

        text = path.read_text().replace(f"package://example-robot-data/robots/{desc}/meshes/", "")

        def mujoco_build():
            spec = mujoco.MjSpec.from_string(text)
            spec.meshdir = str(ERD / desc / "meshes")
            spec.compile()

        t_k, t_m = interleaved_medians([kinegrad_build, mujoco_build], repeats)
        print(f"  {urdf:28s} kinegrad {t_k:7.3f} s   MuJoCo {t_m:7.3f} s   ratio {t_k / t_m:5.2f}  (G1 target < 2 s)")


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


def franka_gs_scene(requires_grad, n_envs=0):
    """The Menagerie Franka file through the Genesis-style API (dt 0.002 as in the file)."""
    import kinegrad as gs

    gs.init(precision="64", logging_level="warning")
    scene = gs.Scene(sim_options=gs.options.SimOptions(dt=0.002, requires_grad=requires_grad), show_viewer=False)
    robot = scene.add_entity(gs.morphs.MJCF(file=str(FRANKA)))
    scene.build(n_envs=n_envs)
    import torch

    robot.set_dofs_position(torch.tensor(FRANKA_HOME))
    return scene, robot, scene.get_state()


def genesis_peer(T, repeats):
    """Genesis on its CPU backend on the same task (benches/genesis_peer.py), run in the Python of
    a venv that has genesis-world: $KINEGRAD_GENESIS_PYTHON, else .cache/genesis-venv (made by
    `make genesis-venv`). Its JSON result, or None when that venv is absent. Runs before the
    kinegrad cases, never beside them (the machine has two cores)."""
    py = Path(os.environ.get("KINEGRAD_GENESIS_PYTHON") or REPO / ".cache" / "genesis-venv" / "bin" / "python")
    if not py.exists():
        return None
    cmd = [str(py), str(REPO / "benches" / "genesis_peer.py"), "--steps", str(T), "--repeats", str(repeats)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, check=True).stdout
        return json.loads(out.strip().splitlines()[-1])
    except (subprocess.SubprocessError, ValueError, IndexError) as e:
        print(f"Genesis peer failed ({' '.join(cmd)}): {e}")
        return None


def python_overhead(T, repeats, mujoco_run, genesis=None):
    """Per-step cost of the Python API in a requires_grad scene against the native stepping of
    the same steps (one native call for all T steps, no Python per step), and of the gradient
    against MuJoCo's (`mujoco_run`, timed in the same rounds)."""
    import torch

    scene, robot, home = franka_gs_scene(True)
    U = (0.5 * torch.sin(torch.arange(T * 9, dtype=torch.float64).reshape(T, 9))).requires_grad_(True)
    sim = scene._native
    mode = np.zeros((1, 9), dtype=np.int8)
    Un = U.detach().numpy()[None].copy()

    def native():
        sim.set_state(home.qpos.numpy()[None], home.dofs_vel.numpy()[None])
        sim.rollout(mode, Un, False, False, 1)

    def loop():
        scene.reset(home)
        for t in range(T):
            robot.control_dofs_force(U[t])
            scene.step()
        return scene.sim.rigid_solver.get_qpos(), scene.sim.rigid_solver.get_qvel()

    def roll():
        scene.reset(home)
        return scene.rollout(U, trajectory=False)

    def loop_read():  # a policy's pattern: the state is read after every step
        scene.reset(home)
        for t in range(T):
            robot.control_dofs_force(U[t])
            scene.step()
            scene.sim.rigid_solver.get_qpos()

    def loss(q, v):
        return (q**2).sum() + 0.1 * (v**2).sum()

    def loop_bwd():
        loss(*loop()).backward()

    def roll_bwd():
        loss(*roll()).backward()

    # same trajectory in all four
    q_loop = loop()[0].detach()
    native()
    gap = float(np.abs(sim.get_qpos()[0] - q_loop.numpy()).max())
    meds = interleaved_medians([native, loop, roll, loop_read, loop_bwd, roll_bwd, mujoco_run], repeats)
    t_nat, t_loop, t_roll, t_read, t_loop_b, t_roll_b, t_mj = (m / T for m in meds)
    print(f"Python API, Franka, requires_grad=True, {T} steps of control_dofs_force (median of {repeats}; trajectories agree to {gap:.0e}):")
    print(f"  native stepping (Sim.rollout, no Python per step) {t_nat * 1e6:8.2f} us/step")
    print(f"  loop control_dofs_force + scene.step()             {t_loop * 1e6:8.2f} us/step  ratio {t_loop / t_nat:5.2f}  (target <= 2)")
    print(f"  scene.rollout(U)                                   {t_roll * 1e6:8.2f} us/step  ratio {t_roll / t_nat:5.2f}  (target <= 1.1)")
    print(f"  loop reading get_qpos() after every step           {t_read * 1e6:8.2f} us/step  ratio {t_read / t_nat:5.2f}")
    print(f"  loop forward + backward                            {t_loop_b * 1e6:8.2f} us/step  backward/forward {(t_loop_b - t_loop) / t_loop:5.2f}")
    print(f"  rollout forward + backward                         {t_roll_b * 1e6:8.2f} us/step  backward/forward {(t_roll_b - t_roll) / t_roll:5.2f}  (target <= 4)")
    print(f"MuJoCo: forward + mjd_transitionFD per step + adjoint recursion    {t_mj * 1e6:8.2f} us/step")
    print(f"  gradient of {T} steps: kinegrad rollout forward+backward {t_roll_b * 1e6:.2f} us/step vs MuJoCo FD assembly {t_mj * 1e6:.2f}: {t_mj / t_roll_b:.1f}x cheaper (target >= 10)")
    if genesis is None:
        print("Genesis: not installed (`make genesis-venv` sets up its peer run)")
        return
    g_f, g_b = genesis["forward_us_per_step"], genesis["backward_us_per_step"]
    scene.reset(home)
    k_loss = float(loss(*loop()).detach())
    print(
        f"Genesis {genesis['genesis_version']} CPU backend, {genesis['precision']}, the same loop (median of {genesis['repeats']}; "
        f"loss {genesis['loss']:.6f} vs kinegrad's {k_loss:.6f}; its gradient {'checked against finite differences' if genesis['grad_ok'] else 'FAILED: ' + genesis['note']}):"
    )
    t_loop_bwd = t_loop_b - t_loop
    print(f"  forward  {g_f:9.1f} us/step  vs kinegrad's loop {t_loop * 1e6:6.2f}: {g_f / (t_loop * 1e6):6.0f}x")
    if g_b is not None:
        print(f"  backward {g_b:9.1f} us/step  vs kinegrad's loop {t_loop_bwd * 1e6:6.2f}: {g_b / (t_loop_bwd * 1e6):6.0f}x")


def mujoco_fd_gradient(T):
    """The same kind of gradient (a loss on the final state w.r.t. every step's controls)
    assembled from MuJoCo's finite-difference transition Jacobians: forward pass saving the
    states, mjd_transitionFD at every step, then the adjoint recursion. Returns the function
    that computes it."""
    m, d = setup_mujoco(FRANKA, FRANKA_HOME, FRANKA_HOME)
    nx = 2 * m.nv + m.na
    A = np.zeros((nx, nx))
    B = np.zeros((nx, m.nu))
    ctrl = FRANKA_HOME[None] + 0.1 * np.sin(np.arange(T * m.nu).reshape(T, m.nu))

    def run():
        mujoco.mj_resetData(m, d)
        d.qpos[:] = FRANKA_HOME
        saved = []
        for t in range(T):
            d.ctrl[:] = ctrl[t]
            saved.append((d.qpos.copy(), d.qvel.copy(), d.qacc_warmstart.copy(), d.time))
            mujoco.mj_step(m, d)
        lam = np.concatenate([2 * d.qpos[: m.nv], 0.2 * d.qvel])  # d loss / d x_T (hinge joints: qpos ~ tangent)
        grads = np.zeros((T, m.nu))
        for t in reversed(range(T)):
            q, v, w, tm = saved[t]
            d.qpos[:], d.qvel[:], d.qacc_warmstart[:], d.time = q, v, w, tm
            d.ctrl[:] = ctrl[t]
            mujoco.mjd_transitionFD(m, d, 1e-6, False, A, B, None, None)
            grads[t] = B.T @ lam
            lam = A.T @ lam
        return grads

    run()
    return run


def batched_scaling(n_envs, steps, repeats, rounds=3):
    """n_envs Franka envs on a pool of 1 thread (on each core) and on one of 2, timed in turn in
    each of `rounds` processes (see `batched_child`), and memory per env. Each round also
    measures what the machine gives this workload at the time: two independent processes of
    n_envs / 2 envs on one thread each, taking turns alone and together (`_independent`). The
    CPU time the workers use tells the two causes of a shortfall apart: threads left idle (the
    code's) or cores running slower when both are busy (the machine's: a VM's second core is
    not always free)."""
    res, ceil = [], []
    for _ in range(rounds):
        out = subprocess.run(
            [sys.executable, __file__, "--batched-child", str(n_envs), "--steps", str(steps), "--repeats", str(repeats)],
            capture_output=True, text=True, check=True,
        ).stdout
        res.append(json.loads(out.strip().splitlines()[-1]))
        ceil.append(_independent(n_envs // 2))
    med = {k: statistics.median(r[k] for r in res) for k in res[0] if k != "rate_cores"}
    r1, r2, s1, s2 = med["rate_1"], med["rate_2"], med["rate1_1"], med["rate1_2"]
    print(f"batched Franka, n_envs={n_envs} (1 thread on each core and 2 threads timed in turn, {repeats} rounds; medians of {rounds} processes):")
    print(f"  {steps} steps per call: 1 thread {r1 / 1e6:6.3f} M env-steps/s, 2 threads {r2 / 1e6:6.3f} M  scaling {r2 / r1:4.2f}x (target >= 1.8)")
    print(f"  1 step per call:   1 thread {s1 / 1e6:6.3f} M env-steps/s, 2 threads {s2 / 1e6:6.3f} M  scaling {s2 / s1:4.2f}x")
    cores = " / ".join(f"{statistics.median(r['rate_cores'][i] for r in res) / 1e6:5.3f}" for i in range(len(res[0]["rate_cores"])))
    print(f"  1 thread: the mean of its rates on each core, {cores} M env-steps/s")
    print(f"  on 2 threads the workers were busy {med['busy_2'] / 2:4.0%} of the time, and an env-step took {med['cpu_2'] / med['cpu_1']:4.2f}x the CPU time it takes on 1")
    print(
        f"  the machine at the time: two independent processes of {n_envs // 2} envs on one thread each give {statistics.median(c for c, _ in ceil):4.2f}x "
        f"one alone, an env-step taking {statistics.median(c for _, c in ceil):4.2f}x the CPU time (turns of {TURN_SECONDS} s, {TURNS} rounds; medians of {rounds})"
    )
    print(f"  memory per env {med['bytes_per_env'] / 1e3:6.1f} kB (resident growth of {n_envs} envs minus that of {n_envs // 8}, per env)")
    return r1, r2


TURNS, TURN_SECONDS = 12, 0.3  # the independent processes' rounds of turns, and a turn's length


def _independent(n_envs, rounds=TURNS, slot=TURN_SECONDS):
    """What two cores give this workload: two independent processes of `n_envs` envs each, on one
    thread each, stepping in turns of `slot` seconds on a shared clock: the first alone, the
    second alone, both at once, `rounds` times. Returns the medians over rounds of the pair's
    throughput over one alone, and of the CPU time of an env-step in the pair over alone."""
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--independent-child", str(n_envs), "--role", str(role), "--rounds", str(rounds), "--slot", str(slot)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        for role in (0, 1)
    ]
    for p in procs:  # both have imported, built and stepped once: start the turns shortly
        if p.stdout.readline().strip() != "ready":
            raise RuntimeError("an independent-child process failed before its turns")
    start = time.time() + 0.2
    for p in procs:
        p.stdin.write(f"{start}\n")
        p.stdin.flush()
    a, b = (json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs)
    rate, cpu = [], []
    for r in range(rounds):
        turns = a[3 * r], b[3 * r + 1], a[3 * r + 2], b[3 * r + 2]  # each alone, then together
        if None in turns:  # a turn too short for one call
            continue
        (ra, ca), (rb, cb), (pa, qa), (pb, qb) = turns
        rate.append((pa + pb) / ((ra + rb) / 2))
        cpu.append((qa + qb) / (ca + cb))
    return statistics.median(rate), statistics.median(cpu)


def independent_child(n_envs, role, rounds, slot, steps=4):
    """One of `_independent`'s two processes: prints "ready" once built, reads the start time from
    stdin, steps in turn 3r + role (alone) and 3r + 2 (with the other) and sleeps through the
    other's; prints [env-steps/s, CPU seconds per env-step] per turn, null for turns it sat out
    or that were too short for one call (JSON)."""
    m, _ = setup_mujoco(FRANKA, FRANKA_HOME, FRANKA_HOME)
    sim = setup_kinegrad(FRANKA, m, FRANKA_HOME, FRANKA_HOME, n_envs=n_envs)
    sim.step(steps, 1)
    print("ready", flush=True)
    start = float(sys.stdin.readline())
    out = []
    for k in range(3 * rounds):
        t_begin, t_end = start + k * slot, start + (k + 1) * slot
        if k % 3 not in (role, 2):
            out.append(None)
            continue
        time.sleep(max(0.0, t_begin - time.time() - 0.002))  # idle through the other's turn
        while time.time() < t_begin:
            pass
        n, t0, c0, last = 0, time.perf_counter(), time.process_time(), 0.0
        while time.time() + 2 * last < t_end:  # no call runs into the next slot
            t1 = time.perf_counter()
            sim.step(steps, 1)
            last = time.perf_counter() - t1
            n += steps * n_envs
        out.append((n / (time.perf_counter() - t0), (time.process_time() - c0) / n) if n else None)
    print(json.dumps(out))


def _rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def batched_child(n_envs, steps, repeats):
    """Throughput of n_envs Franka envs on 1 and on 2 threads, in calls of `steps` steps and in
    calls of one step (a policy's pattern), the process's CPU time per env-step in the calls of
    `steps` steps, and the memory per env: the resident growth of a sim of n_envs envs minus
    that of a sim of n_envs / 8 (both kept alive), over the difference in envs, so that the
    model each sim builds cancels out.

    One thread is timed on each core in turn (a pool made while this thread may run only on that
    core, so that its worker inherits the restriction), and its rate is the mean of the two: the
    VM's two cores often run at different speeds for minutes at a time (20 % apart is common),
    and a 1-thread pool left to the scheduler stays on one of them."""
    m, _ = setup_mujoco(FRANKA, FRANKA_HOME, FRANKA_HOME)
    small_n = n_envs // 8
    warm = setup_kinegrad(FRANKA, m, FRANKA_HOME, FRANKA_HOME, n_envs=2)
    warm.step(10)  # the one-time costs (thread pool, first model build) before measuring
    rss0 = _rss()
    small = setup_kinegrad(FRANKA, m, FRANKA_HOME, FRANKA_HOME, n_envs=small_n)
    small.step(10)  # every env and every thread's scratch at its working size
    rss1 = _rss()
    sim = setup_kinegrad(FRANKA, m, FRANKA_HOME, FRANKA_HOME, n_envs=n_envs)
    sim.step(10)
    per_env = ((_rss() - rss1) - (rss1 - rss0)) / (n_envs - small_n)
    cores = sorted(os.sched_getaffinity(0))[:2]
    sims = [sim] + [setup_kinegrad(FRANKA, m, FRANKA_HOME, FRANKA_HOME, n_envs=n_envs) for _ in cores[1:]]
    for s, core in zip(sims, cores):  # each sim's 1-thread pool on its own core
        os.sched_setaffinity(0, {core})
        s.step(10, 1)
    os.sched_setaffinity(0, cores)
    sim.step(10, 2)
    # the cases in turn, `repeats` rounds: 1 thread on each core, then 2 threads; in calls of
    # `steps` steps, then of one
    cases = [c for n in (steps, 1) for c in [(s, 1, n) for s in sims] + [(sim, 2, n)]]
    cpu = [[] for _ in cases]

    def timed(i):  # wall time is timed outside; the CPU time of the same call is kept here
        s, k, n = cases[i]
        c0 = time.process_time()
        s.step(n, k)  # `k`: the sim's own pool of that size
        cpu[i].append(time.process_time() - c0)

    t = interleaved_medians([lambda i=i: timed(i) for i in range(len(cases))], repeats)
    # every other entry of `cpu` is the untimed warm-up call's
    c = [statistics.median(ci[1::2]) / (n * n_envs) for ci, (_, _, n) in zip(cpu, cases)]
    rates = [n * n_envs / ti for (_, _, n), ti in zip(cases, t)]
    j = len(sims)  # the 2-thread case of `steps` steps per call; its 1-thread cases before it
    out = {
        "rate_1": statistics.mean(rates[:j]), "rate_2": rates[j], "rate_cores": rates[:j],
        "rate1_1": statistics.mean(rates[j + 1 : 2 * j + 1]), "rate1_2": rates[-1],
        "cpu_1": statistics.mean(c[:j]), "cpu_2": c[j], "busy_2": c[j] * rates[j],
        "bytes_per_env": per_env,
    }
    print(json.dumps(out))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--no-genesis", action="store_true", help="skip the Genesis peer run even when its venv exists")
    ap.add_argument("--batched-child", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--independent-child", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--role", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--rounds", type=int, default=TURNS, help=argparse.SUPPRESS)
    ap.add_argument("--slot", type=float, default=TURN_SECONDS, help=argparse.SUPPRESS)
    args = ap.parse_args()
    for p in (FRANKA, HUMANOID):
        if not p.exists():
            raise SystemExit(f"{p} missing: run `make setup`")
    if args.batched_child is not None:
        return batched_child(args.batched_child, args.steps, args.repeats)
    if args.independent_child is not None:
        return independent_child(args.independent_child, args.role, args.rounds, args.slot)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; MuJoCo {mujoco.__version__}")
    print(f"single env, one thread, median of {args.repeats} runs of {args.steps} steps:")
    single_env("Franka (Menagerie)+floor", FRANKA, FRANKA_HOME, FRANKA_HOME, args.steps, args.repeats)
    single_env("dm_control humanoid", HUMANOID, None, None, args.steps, args.repeats)
    print()
    model_build(args.repeats)
    print()
    genesis = None if args.no_genesis else genesis_peer(100, args.repeats)
    python_overhead(100, 9 * args.repeats, mujoco_fd_gradient(100), genesis)  # short runs: more rounds
    print()
    print("batched Franka (all cores):")
    batched(FRANKA, FRANKA_HOME, FRANKA_HOME, [1, 64, 1024], 20000, max(3, args.repeats // 2))
    batched_scaling(1024, 20, 11)


if __name__ == "__main__":
    main()

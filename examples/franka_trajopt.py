"""Trajectory optimization: a Franka Panda brings its hand to a target and stops there.

The controls of every step of a 0.6 s motion are the optimization variables, and Adam follows
the gradient of a loss read at the end of the motion (hand position and joint velocities)
through all 60 steps of dynamics, joint limits and actuator limits:

- ``--mode torque``: 60 x 7 joint torques (``control_dofs_force``), starting from the torques
  that hold the arm still at its home pose;
- ``--mode pd``: 60 x 7 PD position targets (``control_dofs_position``), starting from the home
  pose itself. The model's own gains (kp 4500 against a 87 N m force limit) saturate the
  actuators as soon as a target is 0.02 rad away (0.006 rad at the wrist), and a saturated
  actuator does not depend on its target (zero gradient), so this mode uses compliant gains,
  a tenth of the file's (kp 450 ... 200, kv 45 ... 20).

The loss asks to reach and stop: ``|hand - target|^2 + 1e-3 |joint velocities|^2`` at the last
step, plus ``0.03 x`` the mean squared distance sampled every 6 steps along the way (without
this running cost the optimum may wind up away from the target first).
The model is MuJoCo Menagerie's Panda (``xml/franka_emika_panda/panda_no_tendon.xml``) on a
floor; the fingers are held open by their PD servos in both modes.

Each 6-step segment runs as one fused ``scene.rollout`` call (the fast path: one autograd node
per segment), followed by a ``hand.get_pos()`` reading; pass ``--steps`` to run the plain
Genesis loop ``control_dofs_*(u[t]); scene.step()`` instead, which gives the same numbers
(and takes about twice as long).

Run: ``python examples/franka_trajopt.py [--quick] [--mode torque|pd|both]``. Writes
``outputs/franka_trajopt_loss.png`` (loss curves) and ``outputs/franka_trajopt_hand.png``
(hand-to-target distance along the optimized motions).
"""

from __future__ import annotations

import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import Progress, parse_args, save_loss_plot, save_video, summary  # noqa: E402

import kinegrad as gs  # noqa: E402

FRANKA = "xml/franka_emika_panda/panda_no_tendon.xml"
HOME = [0.0, -0.785, 0.0, -2.356, 0.0, 1.571, 0.785, 0.04, 0.04]  # 7 arm joints, 2 fingers
TARGET = [0.5, 0.3, 0.3]  # m, world frame; the hand starts at (0.307, 0, 0.590)
DT, STEPS = 0.01, 60
W_VEL = 1e-3  # weight of the final joint speeds (rad/s)^2 against the squared distance (m^2)
W_RUN = 0.03  # weight of the running cost: the squared distance sampled every SEG steps, averaged
SEG = 6  # steps per fused rollout segment (and between running-cost samples)
ARM, FINGERS = list(range(7)), [7, 8]
# Adam settings per mode: step size in the units of the control (N m or rad), decay to 10 %
ADAM = {"torque": dict(lr=0.5, betas=(0.9, 0.9)), "pd": dict(lr=0.01, betas=(0.9, 0.9))}
PD_GAIN_SCALE = 0.1


def f64(x) -> torch.Tensor:
    return torch.as_tensor(x, dtype=torch.float64)


def build(mode: str):
    scene = gs.Scene(sim_options=gs.options.SimOptions(dt=DT, requires_grad=True))
    scene.add_entity(gs.morphs.Plane())
    franka = scene.add_entity(gs.morphs.MJCF(file=FRANKA))
    scene.build()
    if mode == "pd":
        franka.set_dofs_kp(franka.get_dofs_kp(ARM) * PD_GAIN_SCALE, ARM)
        franka.set_dofs_kv(franka.get_dofs_kv(ARM) * PD_GAIN_SCALE, ARM)
    return scene, franka


def holding_torques(scene, franka) -> torch.Tensor:
    """Torques that hold the arm still at HOME: one second of the file's PD servo, then kp (q* - q) at rest."""
    home = f64(HOME)
    with torch.no_grad():
        scene.reset()
        franka.set_dofs_position(home)
        franka.control_dofs_position(home)
        for _ in range(100):
            scene.step()
        q, v = franka.get_dofs_position(ARM), franka.get_dofs_velocity(ARM)
        tau = franka.get_dofs_kp(ARM) * (home[:7] - q) - franka.get_dofs_kv(ARM) * v
    return tau.detach().clone().as_subclass(torch.Tensor)


def simulate(scene, franka, mode: str, U: torch.Tensor, use_steps: bool):
    """Run the motion from HOME with arm controls U (STEPS, 7).

    Returns the hand position and joint velocities at the end, and the mean squared
    hand-to-target distance sampled every SEG steps (the running cost)."""
    home, target = f64(HOME), f64(TARGET)
    scene.reset()
    franka.set_dofs_position(home)
    franka.control_dofs_position(home[7:], FINGERS)  # fingers: PD, held open
    hand = franka.get_link("hand")
    # scene.rollout applies the modes set by control_dofs_* to every step; its controls are (T, n_dofs)
    if mode == "torque":
        franka.control_dofs_force(torch.zeros(7, dtype=torch.float64), ARM)
    else:
        franka.control_dofs_position(home[:7], ARM)
    controls = torch.cat([U, home[7:].expand(STEPS, 2)], dim=1)
    running = 0.0
    for s in range(0, STEPS, SEG):
        if use_steps:  # the plain Genesis loop
            for t in range(s, s + SEG):
                if mode == "torque":
                    franka.control_dofs_force(U[t], ARM)
                else:
                    franka.control_dofs_position(U[t], ARM)
                scene.step()
        else:  # the same SEG steps as one fused autograd node
            scene.rollout(controls[s : s + SEG])
        running = running + ((hand.get_pos() - target) ** 2).sum() / (STEPS // SEG)
    return hand.get_pos(), franka.get_dofs_velocity(ARM), running


def hand_path(scene, franka, mode: str, U: torch.Tensor, frames=None) -> list:
    """Hand-to-target distance (m) after every step of the motion (no gradients); ``frames``
    (a list) receives the qpos of every step, for the video."""
    home, target = f64(HOME), f64(TARGET)
    out = []
    with torch.no_grad():
        scene.reset()
        franka.set_dofs_position(home)
        franka.control_dofs_position(home[7:], FINGERS)
        for t in range(STEPS):
            if mode == "torque":
                franka.control_dofs_force(U[t], ARM)
            else:
                franka.control_dofs_position(U[t], ARM)
            scene.step()
            out.append(float((franka.get_link("hand").get_pos() - target).norm()))
            if frames is not None:
                frames.append(scene.sim.rigid_solver.get_qpos().clone())
    return out


def optimize(mode: str, iters: int, use_steps: bool, progress: bool) -> dict:
    t0 = time.perf_counter()
    scene, franka = build(mode)
    target = f64(TARGET)
    if mode == "torque":
        start = holding_torques(scene, franka).expand(STEPS, 7)
    else:
        start = f64(HOME[:7]).expand(STEPS, 7)
    U = start.clone().requires_grad_(True)
    opt = torch.optim.Adam([U], **ADAM[mode])
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.1 ** (1.0 / iters))

    losses, dists = [], []
    bar = Progress(iters, f"franka {mode:6s}", enabled=progress)
    for _ in bar:
        pos, qd, running = simulate(scene, franka, mode, U, use_steps)
        loss = ((pos - target) ** 2).sum() + W_VEL * (qd**2).sum() + W_RUN * running
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        dists.append(float((pos.detach() - target).norm()))
        bar.set(loss=losses[-1], dist_mm=1000 * dists[-1])

    with torch.no_grad():
        pos, qd, running = simulate(scene, franka, mode, U, True)
    frames = []
    path_start, path_opt = hand_path(scene, franka, mode, start), hand_path(scene, franka, mode, U, frames)
    dist = float((pos - target).norm())
    return dict(
        losses=losses,
        dist_start_mm=1000 * dists[0],
        dist_mm=1000 * dist,
        speed=float(qd.norm()),  # rad/s, all 7 joints at the last step
        loss0=losses[0],
        loss=float(((pos - target) ** 2).sum() + W_VEL * (qd**2).sum() + W_RUN * running),
        path_start=path_start,
        path_opt=path_opt,
        wall_s=time.perf_counter() - t0,
        scene=scene,
        frames=frames,
    )


def save_path_plot(path: str, runs: dict) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    for mode, r in runs.items():
        ts = [DT * (i + 1) for i in range(len(r["path_opt"]))]
        ax.plot(ts, [1000 * d for d in r["path_opt"]], lw=1.8, label=f"{mode}: optimized")
        ax.plot(ts, [1000 * d for d in r["path_start"]], lw=1.0, ls="--", label=f"{mode}: first guess")
    ax.set_yscale("log")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("hand to target (mm)")
    ax.set_title("Franka reaching: distance along the motion")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def main(argv=None) -> dict:
    def extra(p):
        p.add_argument("--mode", choices=["torque", "pd", "both"], default="both", help="controls to optimize (default both)")
        p.add_argument("--iters", type=int, default=None, help="Adam iterations per mode (default 250 quick, 800 full)")
        p.add_argument("--steps", action="store_true", help="run the plain scene.step() loop instead of scene.rollout")

    args = parse_args("Franka Panda reaching by trajectory optimization (Adam on per-step controls).", argv, extra)
    iters = args.iters or (250 if args.quick else 800)
    gs.init(precision="64", logging_level="warning")
    modes = ["torque", "pd"] if args.mode == "both" else [args.mode]
    t0 = time.perf_counter()
    runs = {m: optimize(m, iters, args.steps, not args.no_progress) for m in modes}

    plot = save_loss_plot(
        os.path.join(args.out, "franka_trajopt_loss.png"),
        {f"{m} ({'N m' if m == 'torque' else 'PD targets'})": r["losses"] for m, r in runs.items()},
        f"Franka reaching: Adam on {STEPS} steps of controls",
        ylabel="loss (m^2)",
    )
    hand_plot = save_path_plot(os.path.join(args.out, "franka_trajopt_hand.png"), runs)
    # the optimized motions, slowed down 4x so the 0.6 s reach can be watched
    videos = [
        save_video(r["scene"], os.path.join(args.out, f"franka_trajopt_{m}.mp4"), r["frames"], fps=0.25 / DT,
                   pos=(1.6, -1.4, 1.1), lookat=(0.35, 0.0, 0.45))
        for m, r in runs.items()
    ]
    figures = dict(iters=iters, plot=plot, hand_plot=hand_plot, videos=videos, wall_s=time.perf_counter() - t0)
    for m, r in runs.items():
        for k in ("dist_start_mm", "dist_mm", "speed", "loss0", "loss", "wall_s"):
            figures[f"{m}_{k}"] = r[k]
    summary("franka_trajopt", **{k: v for k, v in figures.items() if not k.endswith("plot") and k != "videos"})
    print("outputs: " + ", ".join([figures["plot"], figures["hand_plot"], *videos]), flush=True)
    return figures


if __name__ == "__main__":
    main()

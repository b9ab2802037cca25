"""Policy through physics: an MLP steers pybullet's racecar URDF along a reference path.

The car (free base, two steering hinges under PD position control, four wheels under velocity
control) drives on a plane. A small MLP reads the car's state relative to a reference point
that moves along a sine-shaped path at constant speed, and outputs the steering PD target and
the wheel velocity target (both bounded by tanh). The loss is the squared distance between the
car and the reference point, read after every step from ``scene.sim.rigid_solver.get_qpos()``
-- the workflow of the seed 004 report -- averaged over the horizon and over a batch of start
offsets stepped in parallel (``scene.build(n_envs=N)``). Adam updates the MLP by
backpropagation through every physics step (BPTT).

After training, the policy is run from a start offset that was never in the training batch
(0.2 m to the side, heading 0.25 rad off: outside the trained heading offsets of +-0.15 rad),
next to the untrained policy from the same offset.

    python examples/car_policy.py --quick   # 8 starts, 3 s, 20 iterations: 15-20 s; python/tests/test_examples_policy.py
    python examples/car_policy.py           # 16 starts, 5 s, 100 iterations

Writes ``<out>/car_policy_loss.png`` (loss per iteration), ``<out>/car_policy_paths.png`` (the
held-out start, trained and untrained) and prints a one-line summary.
"""

from __future__ import annotations

import math
import os
import sys
import time
import warnings

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import Progress, parse_args, save_loss_plot, summary  # noqa: E402

import kinegrad as gs  # noqa: E402

NAME = "car_policy"
WHEELS = ["left_rear_wheel_joint", "right_rear_wheel_joint", "left_front_wheel_joint", "right_front_wheel_joint"]
STEER = ["left_steering_hinge_joint", "right_steering_hinge_joint"]
WHEEL_RADIUS = 0.05  # m, the URDF's collision cylinders
DT = 0.02
V_REF = 0.6  # m/s along the path: wheel speed 12 rad/s
STEER_MAX = 0.5  # rad (the hinge limit is 1.0)
DWHEEL_MAX = 4.0  # rad/s around V_REF / WHEEL_RADIUS
# Wheel velocity gain: kv (target - v) stays inside the URDF's 10 N m effort limit for every
# target the policy can ask (12 + 4 rad/s from rest: 0.6 * 16 < 10). A saturated servo on these
# light wheels (0.0004 kg m^2) would chatter at dt = 0.01 s and its derivative would be zero.
WHEEL_KV = 0.6
# Steering PD: the hinge carries its wheel, 4e-4 kg m^2 about the steering axis. The P term is
# explicit in the integrator (as in MuJoCo), so kp dt^2 / I must stay O(1): with kp = 20 a
# sudden 0.4 rad target jump at dt = 0.02 s throws the hinge to 450 rad/s in one step and the
# simulation diverges. kp = 5 with the (implicit) kv = 0.5 is a well-damped 0.1 s servo.
STEER_KP, STEER_KV = 5.0, 0.5
# The wheels' servo is far stiffer than their inertia at this step (dt kv / I = 30): MuJoCo's
# way of solving the contact forces against M alone and applying the implicit kv after them
# would let the wheels slip and chatter (training then diverges), so the contact forces are
# solved with the implicit gains included (RigidOptions.implicit_constraints).
AMPLITUDE, WAVELENGTH = 0.25, 4.0  # reference path y = A sin(2 pi x / wavelength)
OBS_SCALE = 0.3  # m: reference offsets are divided by this before entering the MLP
LOOKAHEAD = round(0.5 / DT)  # steps: the policy also sees the reference point 0.5 s ahead


def _f64(x):
    return torch.as_tensor(x, dtype=torch.float64)


class ReferencePath:
    """A point moving at V_REF along y = A sin(2 pi x / lambda), by arc length."""

    def __init__(self, n_steps: int):
        xs = torch.linspace(0.0, V_REF * (n_steps + LOOKAHEAD) * DT + 1.0, 20001, dtype=torch.float64)
        k = 2 * math.pi / WAVELENGTH
        ys = AMPLITUDE * torch.sin(k * xs)
        seg = torch.sqrt(torch.diff(xs) ** 2 + torch.diff(ys) ** 2)
        s = torch.cat([torch.zeros(1, dtype=torch.float64), torch.cumsum(seg, 0)])
        t = torch.arange(n_steps + LOOKAHEAD + 1, dtype=torch.float64) * DT
        # invert s(x) on the grid (monotone): x at each arc length V_REF t
        idx = torch.searchsorted(s, V_REF * t).clamp(1, len(s) - 1)
        w = (V_REF * t - s[idx - 1]) / (s[idx] - s[idx - 1])
        self.x = xs[idx - 1] + w * (xs[idx] - xs[idx - 1])
        self.y = AMPLITUDE * torch.sin(k * self.x)
        self.heading = torch.atan(AMPLITUDE * k * torch.cos(k * self.x))
        self.xy = torch.stack([self.x, self.y], -1)  # (n_steps + LOOKAHEAD + 1, 2), index = step

    def curve(self, x0: float, x1: float, n: int = 400):
        x = torch.linspace(x0, x1, n, dtype=torch.float64)
        return x, AMPLITUDE * torch.sin(2 * math.pi / WAVELENGTH * x)


class Policy(torch.nn.Module):
    """obs (N, 8) -> (steering target (N,), wheel velocity target (N,)), both tanh-bounded."""

    def __init__(self, hidden: int = 32):
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(8, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, 2)
        ).double()
        with torch.no_grad():  # start near "drive straight at the reference speed"
            self.net[-1].weight.mul_(0.1)
            self.net[-1].bias.zero_()

    def forward(self, obs):
        out = torch.tanh(self.net(obs))
        return STEER_MAX * out[:, 0], V_REF / WHEEL_RADIUS + DWHEEL_MAX * out[:, 1]


def yaw_of(quat):
    """Heading (rad) of (w, x, y, z) quaternions, (N, 4) -> (N,)."""
    w, x, y, z = quat.unbind(-1)
    return torch.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))


def observe(qpos, qvel, ref: ReferencePath, t: int):
    """Car state relative to the reference: reference point now and LOOKAHEAD steps ahead in the
    car frame, heading error (sin, cos), forward speed error, yaw rate."""
    p, psi = qpos[:, 0:2], yaw_of(qpos[:, 3:7])
    c, s = torch.cos(psi), torch.sin(psi)

    def car_frame(d):
        return torch.stack([c * d[:, 0] + s * d[:, 1], -s * d[:, 0] + c * d[:, 1]], -1)

    d_now = car_frame(ref.xy[t] - p)
    d_ahead = car_frame(ref.xy[t + LOOKAHEAD] - p)
    dpsi = ref.heading[t] - psi
    v_fwd = c * qvel[:, 0] + s * qvel[:, 1]
    return torch.cat(
        [d_now / OBS_SCALE, (d_ahead - torch.tensor([V_REF * LOOKAHEAD * DT, 0.0], dtype=torch.float64)) / OBS_SCALE,
         torch.stack([torch.sin(dpsi), torch.cos(dpsi) - 1, (v_fwd - V_REF) / 0.2, qvel[:, 5]], -1)], -1)


def build(n_envs: int, requires_grad: bool):
    scene = gs.Scene(
        sim_options=gs.options.SimOptions(dt=DT, requires_grad=requires_grad),
        rigid_options=gs.options.RigidOptions(enable_self_collision=False, implicit_constraints=True),
    )
    scene.add_entity(gs.morphs.Plane())
    with warnings.catch_warnings():  # the URDF's <transmission> and <gazebo> tags are reported and ignored
        warnings.simplefilter("ignore")
        car = scene.add_entity(gs.morphs.URDF(file="racecar/racecar.urdf", pos=(0.0, 0.0, 0.0)))
        scene.build(n_envs=n_envs)
    wheels = [car.get_joint(n).dofs_idx_local[0] for n in WHEELS]
    steer = [car.get_joint(n).dofs_idx_local[0] for n in STEER]
    car.set_dofs_kv([WHEEL_KV] * 4, wheels)
    car.set_dofs_kp([STEER_KP] * 2, steer)
    car.set_dofs_kv([STEER_KV] * 2, steer)
    return scene, car, wheels, steer


def place(scene, car, wheels, starts):
    """Put env i at start (dy, dyaw) relative to the path's origin, moving at V_REF."""
    scene.reset()
    n = starts.shape[0]
    dy, dyaw = starts[:, 0], starts[:, 1]
    pos = torch.stack([torch.zeros(n, dtype=torch.float64), dy, torch.zeros(n, dtype=torch.float64)], -1)
    yaw = torch.atan(_f64(AMPLITUDE * 2 * math.pi / WAVELENGTH)) + dyaw  # path heading at x = 0, plus the offset
    quat = torch.stack([torch.cos(yaw / 2), torch.zeros(n, dtype=torch.float64), torch.zeros(n, dtype=torch.float64), torch.sin(yaw / 2)], -1)
    car.set_pos(pos)
    car.set_quat(quat)
    vel = torch.zeros(n, car.n_dofs, dtype=torch.float64)
    vel[:, 0], vel[:, 1] = V_REF * torch.cos(yaw), V_REF * torch.sin(yaw)
    vel[:, wheels] = V_REF / WHEEL_RADIUS
    car.set_dofs_velocity(vel)


def episode(scene, car, wheels, steer, policy, ref: ReferencePath, starts, n_steps: int):
    """Run the policy from ``starts`` (N, 2); returns (loss, per-step distance (n_steps, N),
    car positions (n_steps, N, 2))."""
    place(scene, car, wheels, starts)
    rs = scene.sim.rigid_solver
    qpos, qvel = rs.get_qpos(), rs.get_qvel()
    dists, xy = [], []
    for t in range(n_steps):
        steer_target, wheel_target = policy(observe(qpos, qvel, ref, t))
        car.control_dofs_position(steer_target.unsqueeze(1).expand(-1, 2), steer)
        car.control_dofs_velocity(wheel_target.unsqueeze(1).expand(-1, 4), wheels)
        scene.step()
        qpos, qvel = rs.get_qpos(), rs.get_qvel()  # torch tensors carrying the graph
        dists.append(((qpos[:, 0:2] - ref.xy[t + 1]) ** 2).sum(-1))
        xy.append(qpos[:, 0:2].detach())
    d2 = torch.stack(dists)  # (n_steps, N) squared path error
    return d2.mean(), d2.detach().sqrt(), torch.stack(xy)


def _save_paths_plot(path: str, ref: ReferencePath, held_out, xy_trained, xy_untrained) -> str:
    """The held-out start: reference path, untrained and trained policy (top view)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.0), dpi=110)
    x0 = float(min(xy_untrained[:, 0].min(), xy_trained[:, 0].min(), 0.0))
    x1 = float(max(xy_untrained[:, 0].max(), xy_trained[:, 0].max(), ref.x[-LOOKAHEAD - 1]))
    cx, cy = ref.curve(x0, x1)
    ax.plot(cx.numpy(), cy.numpy(), "k--", lw=1.2, label="reference path")
    ax.plot(xy_untrained[:, 0].numpy(), xy_untrained[:, 1].numpy(), lw=1.6, label="untrained policy")
    ax.plot(xy_trained[:, 0].numpy(), xy_trained[:, 1].numpy(), lw=1.6, label="trained policy")
    ax.plot([0.0], [held_out[0]], "ko", ms=4)
    ax.set_aspect("equal")
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    ax.set_title(f"held-out start: {held_out[0]:+.2f} m, {held_out[1]:+.2f} rad (never trained on)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def main(argv=None) -> dict:
    def extra(p):
        p.add_argument("--iters", type=int, default=None, help="Adam iterations (default: 20 quick, 100 full)")
        p.add_argument("--steps", type=int, default=None, help=f"horizon in steps of {DT} s (default: 150 quick, 250 full)")
        p.add_argument("--lr", type=float, default=None, help="initial Adam learning rate, cosine-decayed to a tenth (default 3e-2)")

    args = parse_args(__doc__.splitlines()[0], argv, extra)
    gs.init(precision="64", logging_level="warning", seed=args.seed)
    # a 32-unit MLP gains nothing from torch's intra-op threads, and on a busy 2-core machine
    # their synchronization costs milliseconds per layer: run torch single-threaded here
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _run(args)
    finally:
        torch.set_num_threads(threads)


def _run(args) -> dict:
    if args.quick:
        n_steps, iters, lr = 150, 20, 3e-2  # 3 s of driving (1.8 m of path)
        train_dy, train_dyaw = [-0.3, -0.1, 0.1, 0.3], [-0.15, 0.15]
    else:
        n_steps, iters, lr = 250, 100, 3e-2  # 5 s (3 m of path)
        train_dy, train_dyaw = [-0.35, -0.25, -0.15, -0.05, 0.05, 0.15, 0.25, 0.35], [-0.15, 0.15]
    n_steps, iters, lr = args.steps or n_steps, args.iters or iters, args.lr or lr
    # every (lateral offset m, heading offset rad) pair of the two lists, stepped as one batch
    starts = torch.cartesian_prod(_f64(train_dy), _f64(train_dyaw))
    held_out = (0.2, -0.25)  # neither value is in the training batch (the heading is outside its range)
    ref = ReferencePath(n_steps)
    policy = Policy()
    untrained = Policy()
    untrained.load_state_dict(policy.state_dict())
    opt = torch.optim.Adam(policy.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, iters, eta_min=0.1 * lr)

    scene, car, wheels, steer = build(len(starts), requires_grad=True)

    losses, state_grad = [], []
    bar = Progress(iters, NAME, enabled=not args.no_progress)
    t0 = time.perf_counter()
    for it in bar:
        loss, _, _ = episode(scene, car, wheels, steer, policy, ref, starts, n_steps)
        opt.zero_grad()
        loss.backward()
        # the largest norm of dL/d(state) over the horizon: the gradients through 150-250 steps of
        # rolling contact stay bounded, so no clipping (gs.utils.set_grad_clip) is needed here
        state_grad.append(float(scene.grad_trace.max()))
        opt.step()
        sched.step()
        losses.append(loss.item())
        bar.set(loss=losses[-1])
    train_wall = time.perf_counter() - t0
    with torch.no_grad():
        final_loss, d_train, _ = episode(scene, car, wheels, steer, policy, ref, starts, n_steps)
    losses.append(float(final_loss))

    # held-out start: the trained and the untrained policy side by side, no gradients needed
    ev_scene, ev_car, ev_wheels, ev_steer = build(1, requires_grad=False)
    held = _f64([held_out])
    with torch.no_grad():
        _, d_trained, xy_trained = episode(ev_scene, ev_car, ev_wheels, ev_steer, policy, ref, held, n_steps)
        _, d_untrained, xy_untrained = episode(ev_scene, ev_car, ev_wheels, ev_steer, untrained, ref, held, n_steps)
    half = n_steps // 2  # "follows the path": RMS distance over the second half, after the start transient
    figures = {
        "loss_initial": losses[0],
        "loss_final": losses[-1],
        "reduction": 1.0 - losses[-1] / losses[0],
        "heldout_rms_trained": float(d_trained[half:].pow(2).mean().sqrt()),
        "heldout_rms_untrained": float(d_untrained[half:].pow(2).mean().sqrt()),
        "heldout_final_trained": float(d_trained[-1, 0]),
        "heldout_final_untrained": float(d_untrained[-1, 0]),
        "train_rms_worst_start": float(d_train[half:].pow(2).mean(0).sqrt().max()),
        "max_state_grad": max(state_grad),
        "iters": iters,
        "n_envs": len(starts),
        "horizon_steps": n_steps,
        "train_wall_s": train_wall,
    }
    figures["paths_plot"] = _save_paths_plot(os.path.join(args.out, f"{NAME}_paths.png"), ref, held_out, xy_trained[:, 0], xy_untrained[:, 0])
    figures["plot"] = save_loss_plot(
        os.path.join(args.out, f"{NAME}_loss.png"), {"path loss (mean squared distance, m^2)": losses},
        f"MLP steering the racecar by BPTT ({len(starts)} envs, {n_steps} steps)", ylabel="loss (m^2)")
    summary(NAME, loss=f"{losses[0]:.4g}->{losses[-1]:.4g}", reduction=f"{100 * figures['reduction']:.1f}%",
            heldout_rms=f"{figures['heldout_rms_trained']:.3f}m(untrained {figures['heldout_rms_untrained']:.3f}m)",
            iters=iters, wall=f"{train_wall:.1f}s")
    return figures


if __name__ == "__main__":
    main()

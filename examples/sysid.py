"""System identification: recover physical parameters from recorded trajectories.

Two experiments. In each, a "recording" is simulated with the true (hidden) parameter values;
the fit starts from the model's nominal values and Adam adjusts the parameters until the
simulated trajectory matches the recording (mean squared error of the positions).

1. A box sliding on the floor (mass and friction). The box is pushed along x by a known
   force while a tracker records its position every 10 ms. Mass and friction are only
   separable if the push varies: a sliding box obeys ``m a = F - mu m g``, so one push level
   only fixes ``F / m - mu g``. The experiment therefore records three slides side by side,
   one per env of a batched scene (``scene.build(n_envs=3)``): a free slide launched at
   1.2 m/s (F ~ 0, which measures ``mu g``), a medium push from 0.8 m/s and a strong one from
   0.3 m/s (which measure ``1 / m``), each with a small oscillation on top. Speeds stay under
   ~1.4 m/s: with MuJoCo's soft contacts (which kinegrad reproduces) sliding friction lifts a
   box by a fraction of a millimetre, more the faster it slides, so contact flickers on and off
   during the slide; finer substeps (2.5 ms here) keep the lift small. The parameters are set with Genesis's setters, which carry gradients:
   ``box.set_mass_shift`` (mass = model mass + shift) and ``box.set_friction``. Contact
   friction is the larger of the two geoms' coefficients (as in MuJoCo and Genesis), so the
   floor is given friction 0 and the box's coefficient is the contact's.
2. A pendulum swinging freely (joint damping): released from 1.2 rad, its angle is
   recorded for 2 s; ``set_dofs_damping`` is the parameter.

Both fits optimize logarithms of the parameters (positivity, relative steps). The recordings
are noise-free: the point is that the gradient of the simulated trajectory with respect to
mass, friction and damping leads back to the hidden values.

Run: ``python examples/sysid.py [--quick]``. Writes ``outputs/sysid_loss.png`` (both losses)
and ``outputs/sysid_params.png`` (relative error of each estimate per iteration).
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import Progress, parse_args, save_loss_plot, summary  # noqa: E402

import kinegrad as gs  # noqa: E402

DT = 0.01

# ---- box: size, nominal values (the model) and hidden truth (the recording)
BOX_SIZE = (0.3, 0.3, 0.06)  # m
BOX_RHO = 200.0  # kg/m^3: nominal mass 1.08 kg
NOMINAL_FRICTION = 0.5
TRUE_MASS, TRUE_FRICTION = 1.5, 0.3
BOX_STEPS = 80  # 0.8 s
BOX_SUBSTEPS = 4  # 2.5 ms: a fast-sliding box on soft contacts hops less with finer substeps
PUSH_LEVELS = (0.0, 4.4, 6.5)  # N, one env each
V0 = (1.2, 0.8, 0.3)  # m/s along x at the start of each slide: all stay under ~1.2 m/s

# ---- pendulum
PENDULUM_XML = """<mujoco model="pendulum">
  <worldbody>
    <body name="pole" pos="0 0 1">
      <joint name="hinge" type="hinge" axis="0 1 0" damping="{damping}"/>
      <geom type="capsule" fromto="0 0 0 0 0 -0.5" size="0.01" mass="0"/>
      <geom type="sphere" pos="0 0 -0.5" size="0.05" mass="1"/>
    </body>
  </worldbody>
</mujoco>
"""
NOMINAL_DAMPING, TRUE_DAMPING = 0.2, 0.05  # N m s / rad
THETA0 = 1.2  # rad
PENDULUM_STEPS = 200  # 2 s
# one parameter: short Adam memories, so that the step follows the sign of the gradient
# without momentum carrying it past the minimum
PENDULUM_LR, PENDULUM_BETAS = 0.1, (0.5, 0.5)


def f64(x) -> torch.Tensor:
    return torch.as_tensor(x, dtype=torch.float64)


# ----------------------------------------------------------------------------- box


def push_profile() -> torch.Tensor:
    """Known generalized forces (n_envs, T, 6) on the box's free joint: x force per env."""
    t = torch.arange(BOX_STEPS, dtype=torch.float64) * DT
    F = torch.zeros(len(PUSH_LEVELS), BOX_STEPS, 6, dtype=torch.float64)
    for e, level in enumerate(PUSH_LEVELS):
        F[e, :, 0] = level + 1.0 * torch.sin(2 * math.pi * t / 0.5 + e)
    return F


def build_box(requires_grad: bool):
    scene = gs.Scene(sim_options=gs.options.SimOptions(dt=DT, substeps=BOX_SUBSTEPS, requires_grad=requires_grad))
    scene.add_entity(gs.morphs.Plane(), material=gs.materials.Rigid(friction=0.0))
    box = scene.add_entity(
        gs.morphs.Box(size=BOX_SIZE, pos=(0.0, 0.0, BOX_SIZE[2] / 2)),
        material=gs.materials.Rigid(rho=BOX_RHO, friction=NOMINAL_FRICTION),
    )
    scene.build(n_envs=len(PUSH_LEVELS))
    return scene, box


def slide(scene, box, mass_shift, friction, forces) -> torch.Tensor:
    """Box x, y positions (n_envs, T, 2) of the slides with these parameters."""
    scene.reset()
    box.set_mass_shift(torch.reshape(f64(mass_shift), (1,)))  # (n_links,): mass = model mass + shift
    box.set_friction(friction)
    v0 = torch.zeros(len(V0), 3, dtype=torch.float64)
    v0[:, 0] = f64(V0)
    box.set_dofs_velocity(v0, dofs_idx_local=[0, 1, 2])  # (n_envs, 3): one initial velocity per env
    box.control_dofs_force(torch.zeros(6, dtype=torch.float64))  # the mode scene.rollout applies to every dof
    qpos, _ = scene.rollout(forces)  # (n_envs, T, 7): position then quaternion of the free joint
    return qpos[..., :2]


def identify_box(iters: int, lr_end: float, progress: bool) -> dict:
    t0 = time.perf_counter()
    forces = push_profile()
    scene, box = build_box(requires_grad=True)
    nominal_mass = box.get_mass()
    # the recording: same model, hidden values
    with torch.no_grad():
        recorded = slide(scene, box, TRUE_MASS - nominal_mass, TRUE_FRICTION, forces).detach().clone()

    log_p = torch.zeros(2, dtype=torch.float64, requires_grad=True)  # log(m / m0), log(mu / mu0)
    opt = torch.optim.Adam([log_p], lr=0.05, betas=(0.9, 0.9))
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=lr_end ** (1.0 / iters))
    losses, mass_err, fric_err = [], [], []
    bar = Progress(iters, "sysid box     ", enabled=progress)
    for _ in bar:
        mass = nominal_mass * torch.exp(log_p[0])
        friction = NOMINAL_FRICTION * torch.exp(log_p[1])
        pos = slide(scene, box, mass - nominal_mass, friction, forces)
        loss = ((pos - recorded) ** 2).sum(-1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        mass_err.append(abs(float(mass.detach()) / TRUE_MASS - 1))
        fric_err.append(abs(float(friction.detach()) / TRUE_FRICTION - 1))
        bar.set(loss=losses[-1], mass=float(mass.detach()), friction=float(friction.detach()))
    mass = nominal_mass * float(torch.exp(log_p[0].detach()))
    friction = NOMINAL_FRICTION * float(torch.exp(log_p[1].detach()))
    return dict(
        losses=losses,
        mass_trace=mass_err,
        friction_trace=fric_err,
        mass_nominal=nominal_mass,
        mass=mass,
        mass_err=abs(mass / TRUE_MASS - 1),
        friction=friction,
        friction_err=abs(friction / TRUE_FRICTION - 1),
        wall_s=time.perf_counter() - t0,
    )


# ----------------------------------------------------------------------------- pendulum


def build_pendulum(folder: str):
    path = os.path.join(folder, "pendulum.xml")
    with open(path, "w") as f:
        f.write(PENDULUM_XML.format(damping=NOMINAL_DAMPING))
    scene = gs.Scene(
        sim_options=gs.options.SimOptions(dt=DT, requires_grad=True),
        rigid_options=gs.options.RigidOptions(enable_collision=False),
    )
    pendulum = scene.add_entity(gs.morphs.MJCF(file=path))
    scene.build()
    return scene, pendulum


def swing(scene, pendulum, damping) -> torch.Tensor:
    """Hinge angle (T,) of a free swing from THETA0 with this joint damping."""
    scene.reset()
    pendulum.set_dofs_damping(torch.reshape(f64(damping), (1,)))
    pendulum.set_dofs_position([THETA0])
    qpos, _ = scene.rollout(torch.zeros(PENDULUM_STEPS, 1, dtype=torch.float64))
    return qpos[:, 0]


def identify_pendulum(iters: int, lr_end: float, progress: bool) -> dict:
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        scene, pendulum = build_pendulum(folder)
    with torch.no_grad():
        recorded = swing(scene, pendulum, TRUE_DAMPING).detach().clone()
    log_d = torch.zeros((), dtype=torch.float64, requires_grad=True)  # log(d / d0)
    opt = torch.optim.Adam([log_d], lr=PENDULUM_LR, betas=PENDULUM_BETAS)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=lr_end ** (1.0 / iters))
    losses, err = [], []
    bar = Progress(iters, "sysid pendulum", enabled=progress)
    for _ in bar:
        damping = NOMINAL_DAMPING * torch.exp(log_d)
        loss = ((swing(scene, pendulum, damping) - recorded) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        err.append(abs(float(damping.detach()) / TRUE_DAMPING - 1))
        bar.set(loss=losses[-1], damping=float(damping.detach()))
    damping = NOMINAL_DAMPING * float(torch.exp(log_d.detach()))
    return dict(losses=losses, trace=err, damping=damping, damping_err=abs(damping / TRUE_DAMPING - 1), wall_s=time.perf_counter() - t0)


# ----------------------------------------------------------------------------- main


def save_params_plot(path: str, traces: dict) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    for name, ys in traces.items():
        ax.plot(range(len(ys)), [100 * max(y, 1e-9) for y in ys], label=name, lw=1.6)
    ax.axhline(2.0, color="gray", ls="--", lw=1.0, label="2 %")
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("|estimate / true - 1| (%)")
    ax.set_title("System identification: error of each estimate")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def main(argv=None) -> dict:
    def extra(p):
        p.add_argument("--iters", type=int, default=None, help="Adam iterations of each experiment (default: box 150, pendulum 100 quick; 400, 300 full)")

    args = parse_args("System identification: box mass and friction, pendulum damping, from recorded trajectories.", argv, extra)
    box_iters = args.iters or (150 if args.quick else 400)
    pend_iters = args.iters or (100 if args.quick else 300)
    # the learning rates decay geometrically to this fraction of their start
    box_end, pend_end = (0.03, 0.01) if args.quick else (0.003, 0.001)
    gs.init(precision="64", logging_level="warning")
    t0 = time.perf_counter()
    box = identify_box(box_iters, box_end, not args.no_progress)
    pend = identify_pendulum(pend_iters, pend_end, not args.no_progress)

    plot = save_loss_plot(
        os.path.join(args.out, "sysid_loss.png"),
        {
            "box slides (m^2)": box["losses"],
            "pendulum swing (rad^2)": pend["losses"],
        },
        "System identification: trajectory mismatch",
        ylabel="mean squared error",
    )
    params_plot = save_params_plot(
        os.path.join(args.out, "sysid_params.png"),
        {"box mass": box["mass_trace"], "box friction": box["friction_trace"], "pendulum damping": pend["trace"]},
    )
    figures = dict(
        box_iters=box_iters,
        pendulum_iters=pend_iters,
        mass=box["mass"],
        mass_true=TRUE_MASS,
        mass_nominal=box["mass_nominal"],
        mass_err=box["mass_err"],
        friction=box["friction"],
        friction_true=TRUE_FRICTION,
        friction_err=box["friction_err"],
        box_loss0=box["losses"][0],
        box_loss=box["losses"][-1],
        damping=pend["damping"],
        damping_true=TRUE_DAMPING,
        damping_err=pend["damping_err"],
        pendulum_loss0=pend["losses"][0],
        pendulum_loss=pend["losses"][-1],
        box_wall_s=box["wall_s"],
        pendulum_wall_s=pend["wall_s"],
        wall_s=time.perf_counter() - t0,
        plot=plot,
        params_plot=params_plot,
    )
    summary("sysid", **{k: v for k, v in figures.items() if not k.endswith("plot")})
    print("outputs: " + ", ".join(figures[k] for k in ('plot', 'params_plot',)), flush=True)
    return figures


if __name__ == "__main__":
    main()

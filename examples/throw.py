"""Throw: optimize a ball's initial velocity so that it hits a target, and check the answer.

A sphere leaves ``P0`` with velocity ``v`` and flies for ``T`` seconds; the loss is the squared
distance between where it is at ``T`` and the target. ``v`` is the initial state of the
simulation (``ball.set_dofs_velocity``), the loss reads ``ball.get_pos()``, and Adam follows
``loss.backward()`` through the 100 steps.

The answer is known in closed form, so the example checks itself. kinegrad integrates with
semi-implicit Euler (``v += g h; p += v h`` per substep of length ``h``), whose flight is
``p(T) = P0 + T v + g h^2 n (n + 1) / 2`` after ``n = T / h`` substeps, hence

    v* = (target - P0) / T - g (T + h) / 2

which differs from the continuous ballistic answer ``(target - P0) / T - g T / 2`` by
``-g h / 2`` (the integrator's first-order error, 0.049 m/s at h = 10 ms). The loss is
``|T (v - v*)|^2``, so its gradient is also known: ``2 T (p(T) - target)``.

Several targets are thrown at in one batched scene (``scene.build(n_envs=N)``): one env per
target, one Adam step for all of them.

Run: ``python examples/throw.py [--quick]``; figures are printed on one line, the loss curve
goes to ``outputs/throw_loss.png``.
"""

from __future__ import annotations

import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import Progress, parse_args, save_loss_plot, summary  # noqa: E402

import kinegrad as gs  # noqa: E402

P0 = (0.0, 0.0, 1.0)  # launch point (m)
T_FLIGHT = 1.0  # s
DT = 0.01  # s per scene.step()
GRAVITY = (0.0, 0.0, -9.81)


def targets(n: int, gen: torch.Generator) -> torch.Tensor:
    """n targets in front of the thrower, 1.5-4 m away, 0.3-2 m high."""
    r = torch.rand(n, 3, generator=gen, dtype=torch.float64)
    x = 1.5 + 2.5 * r[:, 0]
    y = -1.5 + 3.0 * r[:, 1]
    z = 0.3 + 1.7 * r[:, 2]
    return torch.stack([x, y, z], dim=1)


def analytic_velocity(target: torch.Tensor, substeps: int) -> torch.Tensor:
    """Initial velocity that puts the semi-implicit Euler flight on ``target`` at T_FLIGHT."""
    h = DT / substeps
    g = torch.tensor(GRAVITY, dtype=torch.float64)
    return (target - torch.tensor(P0, dtype=torch.float64)) / T_FLIGHT - g * (T_FLIGHT + h) / 2


def continuous_velocity(target: torch.Tensor) -> torch.Tensor:
    """The exact ballistic answer of the ODE (what an infinitely fine integrator would need)."""
    g = torch.tensor(GRAVITY, dtype=torch.float64)
    return (target - torch.tensor(P0, dtype=torch.float64)) / T_FLIGHT - g * T_FLIGHT / 2


def main(argv=None) -> dict:
    def extra(p):
        p.add_argument("--targets", type=int, default=None, help="number of targets, one env each (default 3 quick, 16 full)")
        p.add_argument("--iters", type=int, default=None, help="Adam iterations (default 200 quick, 300 full)")
        p.add_argument("--substeps", type=int, default=1, help="substeps per step (the answer depends on them)")

    args = parse_args("Throw a ball at targets: optimize the initial velocity with Adam.", argv, extra)
    n_targets = args.targets or (3 if args.quick else 16)
    iters = args.iters or (200 if args.quick else 300)
    lr_end = 1e-4 if args.quick else 1e-6  # the learning rate decays geometrically to lr_end x its start
    steps = round(T_FLIGHT / DT)
    t_start = time.perf_counter()

    gs.init(precision="64", logging_level="warning")
    scene = gs.Scene(
        sim_options=gs.options.SimOptions(dt=DT, substeps=args.substeps, gravity=GRAVITY, requires_grad=True),
        rigid_options=gs.options.RigidOptions(enable_collision=False),  # free flight: nothing to hit on the way
    )
    ball = scene.add_entity(gs.morphs.Sphere(radius=0.05, pos=P0), material=gs.materials.Rigid(rho=1000.0))
    scene.build(n_envs=n_targets)

    gen = torch.Generator().manual_seed(args.seed)
    target = targets(n_targets, gen)
    v_star = analytic_velocity(target, args.substeps)
    # first guesses: a lob straight up-and-forward, perturbed per target
    v = (torch.tensor([1.0, 0.0, 5.0], dtype=torch.float64) + 0.5 * torch.randn(n_targets, 3, generator=gen, dtype=torch.float64))
    v.requires_grad_(True)
    # a quadratic loss: short-memory moments (betas) and a decaying step let Adam settle on the
    # minimum instead of circling it at the size of its step
    opt = torch.optim.Adam([v], lr=0.5, betas=(0.8, 0.9))
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=lr_end ** (1.0 / iters))

    def fly():
        scene.reset()
        ball.set_dofs_velocity(v, dofs_idx_local=[0, 1, 2])  # the initial state carries the gradient
        for _ in range(steps):
            scene.step()
        return ball.get_pos()  # (n_targets, 3), a gs.Tensor in the graph

    losses = []
    grad_err = None
    bar = Progress(iters, "throw", enabled=not args.no_progress)
    for it in bar:
        pos = fly()
        loss = ((pos - target) ** 2).sum(dim=1).mean()
        opt.zero_grad()
        loss.backward()
        if it == 0:  # the gradient against its closed form 2 T (p(T) - target) / n
            g_exact = 2 * T_FLIGHT * (pos.detach() - target) / n_targets
            grad_err = float((v.grad - g_exact).norm() / g_exact.norm())
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        bar.set(loss=losses[-1])

    with torch.no_grad():
        pos = fly()
    miss = float((pos - target).norm(dim=1).max())
    v_err = float((v.detach() - v_star).norm(dim=1).max())
    v_err_rel = float(((v.detach() - v_star).norm(dim=1) / v_star.norm(dim=1)).max())
    v_err_cont = float((v.detach() - continuous_velocity(target)).norm(dim=1).max())
    plot = save_loss_plot(
        os.path.join(args.out, "throw_loss.png"),
        {"mean squared miss (m^2)": losses},
        f"Throw: initial velocity by Adam ({n_targets} targets, {steps} steps)",
        ylabel="mean squared miss (m^2)",
    )
    figures = dict(
        targets=n_targets,
        iters=iters,
        loss0=losses[0],
        loss=float(((pos.detach() - target) ** 2).sum(dim=1).mean()),
        miss_m=miss,
        v_err=v_err,
        v_err_rel=v_err_rel,
        v_err_continuous=v_err_cont,
        grad_err=grad_err,
        wall_s=time.perf_counter() - t_start,
        plot=plot,
    )
    summary("throw", **{k: x for k, x in figures.items() if k != "plot"})
    print("outputs: " + ", ".join(figures[k] for k in ('plot',)), flush=True)
    return figures


if __name__ == "__main__":
    main()

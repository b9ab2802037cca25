"""Cart-pole swing-up: backpropagation through time next to evolution strategies, same budget.

dm_control's cart-pole (``cartpole.xml``: 1 kg cart on a rail with joint limits at +-1.8 m,
a 1 m, 0.1 kg pole) starts hanging down. The cart is driven by a PD position servo on its
slider (``control_dofs_position``); what is optimized is the open-loop target trajectory
x_ref(t) = 1 m * tanh(u(t)), u piecewise linear through K knots (the same parameters for both
methods). The cost is the time-weighted mean of (1 - cos theta) / 2 + 0.1 (x / 1.8)^2, the
weight growing as (t / T)^2 so that being up at the end counts most. (With the file's own motor
on the slider, force-driven pumping runs the cart into the rail's joint limits, and gradient
descent stalls against them; a bounded position target keeps the cart inside.)

- BPTT: R independent runs (random initial knots) stepped together in one batched scene
  (``scene.build(n_envs=R)``); each iteration is one fused ``scene.rollout`` of T steps and one
  backward pass through it; Adam.
- ES (OpenAI-style evolution strategies): R independent runs from the same initial knots, each
  evaluating P antithetic pairs theta +- sigma eps plus the centre per iteration (all R (2P + 1)
  rollouts in one batched no-grad scene); the same Adam on the ES gradient estimate.

Budget: simulated env-steps per run. A BPTT iteration costs T env-steps (its forward rollout);
the backward pass simulates nothing new and is not counted as steps, but it costs compute: about
6x the forward rollout here (the native reverse steps are a third of it, the rest is the Python
loop of the autograd bridge), so wall times are reported next to the step counts. An ES
iteration costs (2P + 1) T env-steps, simulated without gradients in one batched scene. ES is
run once with BPTT's budget and once past it, to measure how many env-steps it needs to reach
BPTT's cost. ES's settings (P = 4, sigma = 0.1, lr = 0.3) are the best of a small sweep.

    python examples/cartpole_swingup.py --quick   # asserted by python/tests/test_examples_policy.py
    python examples/cartpole_swingup.py           # more runs, iterations and a 20x ES budget

Writes ``<out>/cartpole_swingup_loss.png`` (median cost of the runs against env-steps per run,
both methods) and prints a one-line summary.
"""

from __future__ import annotations

import math
import os
import sys
import time
import warnings

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import Progress, parse_args, summary  # noqa: E402

import kinegrad as gs  # noqa: E402

NAME = "cartpole_swingup"
DT = 0.01
T = 300  # 3 s
X_MAX = 1.0  # m: the cart target stays well inside the rail's +-1.8 m limits
KP, KV = 50.0, 10.0  # slider PD servo: 6.7 rad/s, damping ratio 0.67 for the 1.1 kg cart + pole
UPRIGHT_COS = 0.9  # "upright": within 26 degrees of vertical
LAST = 50  # steps: the upright fraction is measured over the last 0.5 s of the horizon
SWUNG_UP = 0.9  # a run "swung up" if the pole is upright for 90 % of that last 0.5 s


def build(n_envs: int, requires_grad: bool):
    scene = gs.Scene(
        sim_options=gs.options.SimOptions(dt=DT, requires_grad=requires_grad),
        # cartpole.xml disables contacts with <option><flag contact="disable"/>; kinegrad's loader
        # does not apply a file's <option> to the scene (the scene's options rule), so say it here:
        # otherwise the cart box collides with the two rail capsules it is modelled inside of
        rigid_options=gs.options.RigidOptions(enable_collision=False),
    )
    with warnings.catch_warnings():  # <option integrator='RK4'> and <flag energy> are reported and ignored
        warnings.simplefilter("ignore")
        cartpole = scene.add_entity(gs.morphs.MJCF(file="dm_control/suite/cartpole.xml"))
        scene.build(n_envs=n_envs)
    slider = cartpole.get_joint("slider").dofs_idx_local[0]
    hinge = cartpole.get_joint("hinge_1").dofs_idx_local[0]
    cartpole.set_dofs_kp([KP], [slider])
    cartpole.set_dofs_kv([KV], [slider])
    cartpole.control_dofs_position(torch.zeros(n_envs, 1, dtype=torch.float64), [slider])  # slider: PD mode
    q0 = torch.zeros(n_envs, 2, dtype=torch.float64)
    q0[:, hinge] = math.pi  # hanging down, at rest
    cartpole.set_dofs_position(q0)
    return scene, scene.get_state(), slider, hinge


def knot_basis(n_knots: int) -> torch.Tensor:
    """(T, K) piecewise-linear interpolation matrix: u(t) = B @ knots."""
    tk = torch.linspace(0, T - 1, n_knots, dtype=torch.float64)
    ts = torch.arange(T, dtype=torch.float64)
    return torch.clamp(1 - (ts[:, None] - tk[None, :]).abs() / (tk[1] - tk[0]), min=0)


WEIGHT = torch.linspace(0, 1, T, dtype=torch.float64) ** 2
WEIGHT = WEIGHT / WEIGHT.mean()


def rollout_cost(scene, init, knots, basis, slider, hinge):
    """Run every env with its knots (n_envs, K); returns (cost (n_envs,), pole angle (n_envs, T))."""
    scene.reset(init)
    x_ref = X_MAX * torch.tanh(knots @ basis.T)  # (n_envs, T)
    cols = [None, None]
    cols[slider], cols[hinge] = x_ref, torch.zeros_like(x_ref)  # hinge: unactuated (zero force)
    U = torch.stack(cols, -1)
    Q, _ = scene.rollout(U)  # all T steps as one autograd node
    x, th = Q[..., slider], Q[..., hinge]
    c = (WEIGHT * ((1 - torch.cos(th)) / 2 + 0.1 * (x / 1.8) ** 2)).mean(-1)
    return c, th.detach()


def upright_fraction(th: torch.Tensor) -> torch.Tensor:
    return (torch.cos(th[:, -LAST:]) > UPRIGHT_COS).double().mean(-1)


def main(argv=None) -> dict:
    def extra(p):
        p.add_argument("--runs", type=int, default=None, help="independent runs per method (default: 8 quick, 16 full)")
        p.add_argument("--iters", type=int, default=None, help="BPTT iterations (default: 150 quick, 400 full)")
        p.add_argument("--knots", type=int, default=60, help="knots of the cart target trajectory (default 60: every 0.05 s)")
        p.add_argument("--es-pairs", type=int, default=4, help="ES antithetic pairs per iteration (default 4)")
        p.add_argument("--es-sigma", type=float, default=0.1, help="ES perturbation scale in knot units (default 0.1)")
        p.add_argument("--es-lr", type=float, default=0.3, help="ES Adam learning rate (default 0.3)")
        p.add_argument("--es-budget", type=float, default=None, help="ES budget as a multiple of BPTT's (default: 5 quick, 20 full)")

    args = parse_args(__doc__.splitlines()[0], argv, extra)
    gs.init(precision="64", logging_level="warning", seed=args.seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensor ops: torch's thread pool only adds synchronization
    try:
        return _run(args)
    finally:
        torch.set_num_threads(threads)


def run_bptt(knots0, basis, iters: int, lr: float = 0.1, show: bool = False) -> dict:
    """BPTT from knots0 (R, K): R independent runs in one batched scene, one backward per iteration."""
    R = knots0.shape[0]
    scene, init, slider, hinge = build(R, requires_grad=True)
    knots = knots0.clone().requires_grad_(True)
    opt = torch.optim.Adam([knots], lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, iters, eta_min=0.1 * lr)
    curve, steps = [], []
    bar = Progress(iters, "BPTT", enabled=show)
    t0 = time.perf_counter()
    for it in bar:
        cost, _ = rollout_cost(scene, init, knots, basis, slider, hinge)
        opt.zero_grad()
        cost.sum().backward()  # the runs are independent: the sum gives each run its own gradient
        opt.step()
        sched.step()
        curve.append(float(cost.detach().median()))
        steps.append((it + 1) * T)  # env-steps per run simulated so far, this evaluation included
        bar.set(median_cost=curve[-1])
    with torch.no_grad():
        cost, th = rollout_cost(scene, init, knots, basis, slider, hinge)
    curve.append(float(cost.median()))
    steps.append((iters + 1) * T)
    return {"curve": curve, "steps": steps, "cost": cost, "theta": th, "wall": time.perf_counter() - t0}


def run_es(knots0, basis, max_steps: int, pairs: int = 4, sigma: float = 0.1, lr: float = 0.3, seed: int = 0,
           show: bool = False) -> dict:
    """Antithetic ES from knots0 (R, K): R runs x (2 pairs + 1) rollouts per iteration in one batched
    no-grad scene, Adam on the gradient estimate, until max_steps env-steps per run."""
    R, K = knots0.shape
    P, M = pairs, 2 * pairs + 1
    scene, init, slider, hinge = build(R * M, requires_grad=False)
    theta = knots0.clone().requires_grad_(True)
    n_iters = max(1, (max_steps - T) // (M * T))
    opt = torch.optim.Adam([theta], lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, n_iters, eta_min=0.1 * lr)  # as BPTT's
    gen = torch.Generator().manual_seed(seed)
    curve, steps, centres, walls = [], [], [], []
    bar = Progress(n_iters, "ES", enabled=show)
    t0 = time.perf_counter()
    for it in bar:
        eps = torch.randn(R, P, K, dtype=torch.float64, generator=gen)
        with torch.no_grad():
            th0 = theta.detach()
            pop = torch.cat([th0[:, None], th0[:, None] + sigma * eps, th0[:, None] - sigma * eps], 1)  # (R, M, K)
            J, th_all = rollout_cost(scene, init, pop.reshape(R * M, K), basis, slider, hinge)
            J = J.reshape(R, M)
            # antithetic estimate of the gradient of the sigma-smoothed cost
            g = ((J[:, 1 : P + 1] - J[:, P + 1 :])[..., None] * eps).mean(1) / (2 * sigma)
        curve.append(float(J[:, 0].median()))
        steps.append((it + 1) * M * T)
        centres.append((J[:, 0].clone(), th_all.reshape(R, M, T)[:, 0].clone()))
        walls.append(time.perf_counter() - t0)
        theta.grad = g
        opt.step()
        sched.step()
        bar.set(median_cost=curve[-1])
    with torch.no_grad():
        J, th_all = rollout_cost(scene, init, theta.detach().repeat_interleave(M, 0), basis, slider, hinge)
    curve.append(float(J.reshape(R, M)[:, 0].median()))
    steps.append(n_iters * M * T + T)
    centres.append((J.reshape(R, M)[:, 0], th_all.reshape(R, M, T)[:, 0]))
    walls.append(time.perf_counter() - t0)
    return {"curve": curve, "steps": steps, "centres": centres, "walls": walls}


def save_plot(path: str, bptt: dict, es_eq: dict, es_long: dict, R: int, P: int, K: int) -> str:
    """Median cost of the runs against simulated env-steps per run (log scale), both methods."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    ax.plot(bptt["steps"], bptt["curve"], lw=1.8, label=f"BPTT (median of {R} runs)")
    ax.plot(es_long["steps"], es_long["curve"], lw=1.2, label=f"ES, {P} antithetic pairs, long run")
    ax.plot(es_eq["steps"], es_eq["curve"], lw=1.2, ls="--", label="ES, run with BPTT's budget")
    ax.axvline(bptt["steps"][-1], color="k", lw=0.8, ls=":")
    ax.axhline(bptt["curve"][-1], color="C0", lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_xlabel("simulated env-steps per run")
    ax.set_ylabel("swing-up cost (median of runs)")
    ax.set_title(f"cart-pole swing-up, {K} knots: BPTT vs evolution strategies")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _run(args) -> dict:
    R = args.runs or (8 if args.quick else 16)
    iters = args.iters or (150 if args.quick else 400)
    es_mult = args.es_budget or (5.0 if args.quick else 20.0)
    K, P = args.knots, args.es_pairs
    basis = knot_basis(K)
    knots0 = 0.3 * torch.randn(R, K, dtype=torch.float64)  # the same random starts for both methods
    show = not args.no_progress

    bptt = run_bptt(knots0, basis, iters, show=show)
    budget = bptt["steps"][-1]  # env-steps per run, the final evaluation included
    es_args = dict(pairs=P, sigma=args.es_sigma, lr=args.es_lr, seed=args.seed + 1, show=show)
    # ES at BPTT's budget (its own run, so that its learning-rate schedule spans that budget) ...
    es_eq = run_es(knots0, basis, budget, **es_args)
    # ... and a longer ES run: how many env-steps does ES need to reach BPTT's cost?
    es_long = run_es(knots0, basis, int(es_mult * budget), **es_args)
    es_cost_eq, es_th_eq = es_eq["centres"][-1]
    es_cost_end, es_th_end = es_long["centres"][-1]
    target = bptt["curve"][-1]
    es_match = next((st for st, c in zip(es_long["steps"], es_long["curve"]) if c <= target), None)

    up_bptt, up_es_eq, up_es_end = upright_fraction(bptt["theta"]), upright_fraction(es_th_eq), upright_fraction(es_th_end)
    figures = {
        "runs": R,
        "budget_env_steps_per_run": budget,
        "bptt_cost_median": float(bptt["cost"].median()),
        "bptt_cost_best": float(bptt["cost"].min()),
        "bptt_upright_median": float(up_bptt.median()),
        "bptt_swung_up_runs": int((up_bptt >= SWUNG_UP).sum()),
        "bptt_wall_s": bptt["wall"],
        "bptt_cost_runs": [round(float(c), 4) for c in bptt["cost"]],
        "bptt_upright_runs": [round(float(u), 2) for u in up_bptt],
        "es_cost_median_at_budget": float(es_cost_eq.median()),
        "es_upright_median_at_budget": float(up_es_eq.median()),
        "es_swung_up_runs_at_budget": int((up_es_eq >= SWUNG_UP).sum()),
        "es_steps_at_budget": es_eq["steps"][-1],
        "es_wall_at_budget_s": es_eq["walls"][-1],
        "es_budget_multiple": es_mult,
        "es_cost_median_end": float(es_cost_end.median()),
        "es_upright_median_end": float(up_es_end.median()),
        "es_swung_up_runs_end": int((up_es_end >= SWUNG_UP).sum()),
        "es_wall_end_s": es_long["walls"][-1],
        "es_steps_to_match_bptt": es_match,
        "es_steps_to_match_ratio": None if es_match is None else es_match / budget,
    }
    figures["plot"] = save_plot(os.path.join(args.out, f"{NAME}_loss.png"), bptt, es_eq, es_long, R, P, K)
    match = f"not within {es_mult:g}x" if es_match is None else f"{es_match / budget:.1f}x"
    summary(NAME, budget=f"{budget}steps/run",
            bptt=f"cost {figures['bptt_cost_median']:.3f} ({figures['bptt_swung_up_runs']}/{R} up)",
            es_same_budget=f"cost {figures['es_cost_median_at_budget']:.3f} ({figures['es_swung_up_runs_at_budget']}/{R} up)",
            es_steps_to_match=match, wall=f"bptt {bptt['wall']:.1f}s es {es_eq['walls'][-1]:.1f}s(same budget)")
    return figures


if __name__ == "__main__":
    main()

"""Genesis (genesis-world) as a peer for the kinegrad differentiable-rollout benchmark.

What it measures
----------------
The Menagerie Franka Panda (``xml/franka_emika_panda/scene_no_tendon.xml`` from Genesis' own assets) on
Genesis' CPU backend, one environment, dt = 0.002, float64 (``--precision 32`` for float32), with
``SimOptions(requires_grad=True)``:

* start from the home pose q0 = [0, 0, 0, -1.57079, 0, 1.57079, -0.7853, 0.04, 0.04], zero velocity;
* for t in 0..steps-1: ``control_dofs_force(U[t])`` on all 9 dofs, then ``scene.step()``, where
  U = 0.5 * sin(arange(steps * 9).reshape(steps, 9)) is a leaf tensor with requires_grad=True;
* loss = (q_final**2).sum() + 0.1 * (v_final**2).sum();
* forward time per step: the rollout (controls + steps + final read + loss; the reset to the home pose
  before it is not timed), median over ``--repeats`` runs;
* backward time per step: ``loss.backward()``, median over the same runs.

An untimed warm-up rollout with a backward pass comes first, so that kernel compilation (forward and
backward kernels) is excluded from the timings.

Reading the final state: Genesis' documented getters (``get_dofs_position``, ``get_dofs_velocity``,
``get_qpos``) return plain copies that never carry gradients (requires_grad=False, even in a differentiable
scene), so a loss built from them cannot be backpropagated. The script probes them once and records what
happens; the timed runs read q/v through ``scene.get_state()`` (the rigid solver's state), which is the
read Genesis wires into autograd. The gradient reaching U is checked against a central finite difference
along a random direction.

How to run
----------
Genesis is not installed in the project's .venv; it lives in a separate, git-ignored venv::

    python3.11 -m venv .cache/genesis-venv
    .cache/genesis-venv/bin/pip install --upgrade pip
    .cache/genesis-venv/bin/pip install torch .cache/wheels/genesis_world-1.4.5-py3-none-any.whl
    .cache/genesis-venv/bin/python benches/genesis_peer.py --steps 100 --repeats 5

(plain PyPI torch; it runs on the CPU; `make genesis-venv` makes the venv, and `make bench` runs this
script when the venv exists). The first run compiles Genesis' kernels (about 2 minutes on 2
cores, cached in ~/.cache/quadrants and ~/.cache/genesis); later runs take about 30 s.

Genesis' own log goes to stderr; stdout gets exactly one line of JSON.
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

FRANKA_REL = Path("xml") / "franka_emika_panda" / "scene_no_tendon.xml"
REPO_ASSETS = Path(__file__).resolve().parents[1] / ".cache" / "assets" / "genesis"
HOME_Q = [0.0, 0.0, 0.0, -1.57079, 0.0, 1.57079, -0.7853, 0.04, 0.04]
DT = 0.002


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--precision", choices=("64", "32"), default="64", help="64 falls back to 32 if refused")
    return p.parse_args()


def init_genesis(gs, precision):
    """gs.init on the CPU backend; returns the precision actually in use."""
    try:
        gs.init(backend=gs.cpu, precision=precision, logging_level="warning")
        return precision
    except Exception as exc:  # Genesis refused this precision: fall back to float32
        if precision == "32":
            raise
        print(f"float64 refused ({exc}); falling back to float32", file=sys.stderr)
        gs.destroy()
        gs.init(backend=gs.cpu, precision="32", logging_level="warning")
        return "32"


def franka_path(gs):
    """The Franka scene from the installed package's assets, else from the repository's copy."""
    for root in (Path(gs.__file__).resolve().parent / "assets", REPO_ASSETS):
        if (root / FRANKA_REL).is_file():
            return root / FRANKA_REL
    raise FileNotFoundError(f"{FRANKA_REL} not found in the genesis package assets nor in {REPO_ASSETS}")


class Task:
    def __init__(self, gs, torch, steps):
        self.gs, self.torch, self.steps = gs, torch, steps
        self.scene = gs.Scene(
            sim_options=gs.options.SimOptions(dt=DT, requires_grad=True),
            show_viewer=False,
        )
        self.robot = self.scene.add_entity(gs.morphs.MJCF(file=str(franka_path(gs))))
        self.scene.build()
        if self.robot.n_dofs != 9 or self.robot.n_qs != 9:
            raise RuntimeError(f"expected 9 dofs / 9 qs, got {self.robot.n_dofs} / {self.robot.n_qs}")
        self.q0 = torch.tensor(HOME_Q, dtype=gs.tc_float)
        self.v0 = torch.zeros(9, dtype=gs.tc_float)

    def controls(self):
        torch = self.torch
        u = 0.5 * torch.sin(torch.arange(self.steps * 9, dtype=self.gs.tc_float).reshape(self.steps, 9))
        return u.requires_grad_(True)

    def reset(self):
        """Back to the home pose at rest; also starts a new gradient tape (required after a backward pass)."""
        self.scene.reset()
        self.robot.set_dofs_position(self.q0)
        self.robot.set_dofs_velocity(self.v0)

    def rollout(self, U):
        """Apply U[t] as joint torques for every step, from the current state."""
        for t in range(self.steps):
            self.robot.control_dofs_force(U[t])
            self.scene.step()

    def read_state(self):
        """Final (q, v) through scene.get_state(), the read that is part of the autograd graph."""
        states = self.scene.get_state().solvers_state
        rigid = next(s for s in states if type(s).__name__ == "RigidSolverState")
        return rigid.qpos[0], rigid.dofs_vel[0]

    @staticmethod
    def loss(q, v):
        return (q**2).sum() + 0.1 * (v**2).sum()

    def forward(self, U):
        """Rollout, final read and loss (the timed forward); call reset() first."""
        self.rollout(U)
        q, v = self.read_state()
        return self.loss(q, v), q, v


def probe_getters(task, U):
    """Roll out once and build the loss from the documented getters; report what backward says."""
    task.reset()
    task.rollout(U)
    q = task.robot.get_dofs_position()
    v = task.robot.get_dofs_velocity()
    qpos = task.robot.get_qpos()
    result = {
        "get_dofs_position": q.requires_grad,
        "get_dofs_velocity": v.requires_grad,
        "get_qpos": qpos.requires_grad,
    }
    try:
        task.loss(q, v).backward()
        result["backward_error"] = None
    except Exception as exc:
        result["backward_error"] = f"{type(exc).__name__}: {exc}"
    return result


def directional_fd(task, U, grad, eps):
    """Relative error of <grad, d> against a central difference of the loss along a random direction d."""
    torch = task.torch
    gen = torch.Generator().manual_seed(0)
    d = torch.randn(U.shape, generator=gen, dtype=U.dtype)
    with torch.no_grad():
        task.reset()
        lp = task.forward(U.detach() + eps * d)[0].item()
        task.reset()
        lm = task.forward(U.detach() - eps * d)[0].item()
    fd = (lp - lm) / (2 * eps)
    an = (grad * d).sum().item()
    return abs(fd - an) / max(abs(fd), 1e-300)


GETTERS = ("get_dofs_position", "get_dofs_velocity", "get_qpos")


def main():
    args = parse_args()
    # Genesis and Quadrants log to stdout: send all of that to stderr, keep the real stdout for the JSON line.
    json_out = os.fdopen(os.dup(1), "w")
    sys.stdout.flush()
    os.dup2(2, 1)

    t_start = time.perf_counter()
    import torch

    import genesis as gs

    precision = init_genesis(gs, args.precision)
    task = Task(gs, torch, args.steps)
    build_s = time.perf_counter() - t_start

    U = task.controls()
    getters = probe_getters(task, U)  # also the forward warm-up

    # Untimed warm-up with backward (compiles the backward kernels), which also tells whether backward works.
    task.reset()
    loss, q, v = task.forward(U)
    backward_error = None
    try:
        loss.backward()
    except Exception as exc:
        backward_error = f"{type(exc).__name__}: {exc}"
    warmup_s = time.perf_counter() - t_start - build_s

    fwd, bwd, grads, losses = [], [], [], []
    read_requires_grad = True
    for _ in range(args.repeats):
        U.grad = None
        task.reset()  # untimed
        t0 = time.perf_counter()
        loss, q, v = task.forward(U)
        t1 = time.perf_counter()
        fwd.append((t1 - t0) / args.steps * 1e6)
        losses.append(loss.item())
        read_requires_grad &= bool(q.requires_grad and v.requires_grad)
        if backward_error is None:
            loss.backward()
            bwd.append((time.perf_counter() - t1) / args.steps * 1e6)
            grads.append(None if U.grad is None else U.grad.clone())

    grad = grads[-1] if grads else None
    grad_nonzero = grad is not None and bool(torch.isfinite(grad).all()) and bool((grad != 0).any())
    # The finite-difference step and tolerance follow the working precision: float32 rounding of the loss
    # swamps a 1e-4 step.
    fd_eps, fd_tol = (1e-4, 1e-4) if precision == "64" else (1e-2, 1e-2)
    fd_rel_err = directional_fd(task, U, grad, fd_eps) if grad_nonzero else None
    fd_ok = fd_rel_err is not None and fd_rel_err < fd_tol
    repeatable = grad_nonzero and all(g is not None and torch.equal(g, grad) for g in grads)
    grad_ok = bool(read_requires_grad and grad_nonzero and fd_ok)

    note = []
    if precision != args.precision:
        note.append("float64 refused by gs.init, ran in float32")
    if not all(getters[k] for k in GETTERS):
        note.append(
            "get_dofs_position/get_dofs_velocity/get_qpos return requires_grad=False even with "
            "SimOptions(requires_grad=True); backward on a loss built from them fails: "
            f"{getters['backward_error']}"
        )
    if grad_ok:
        note.append(
            "timed path reads q/v via scene.get_state() (RigidSolverState.qpos/dofs_vel), "
            "which is differentiable"
        )
    elif backward_error is not None:
        note.append(f"backward through scene.get_state() fails: {backward_error}")
    elif not read_requires_grad:
        note.append("q/v read via scene.get_state() have requires_grad=False too")
    elif not grad_nonzero:
        note.append("U.grad is missing, zero or non-finite after backward through scene.get_state()")
    else:
        note.append(f"U.grad disagrees with a central finite difference (relative error {fd_rel_err:.2e})")

    result = {
        "genesis_version": gs.__version__,
        "precision": "float64" if precision == "64" else "float32",
        "forward_us_per_step": round(statistics.median(fwd), 1),
        "backward_us_per_step": round(statistics.median(bwd), 1) if bwd else None,
        "grad_ok": grad_ok,
        "note": "; ".join(note),
        "steps": args.steps,
        "repeats": args.repeats,
        "forward_us_per_step_runs": [round(x, 1) for x in fwd],
        "backward_us_per_step_runs": [round(x, 1) for x in bwd],
        "loss": losses[-1],
        "grad_norm": None if grad is None else grad.norm().item(),
        "grad_fd_rel_err": fd_rel_err,
        "grad_repeatable": repeatable,
        "getters_requires_grad": {k: getters[k] for k in GETTERS},
        "build_s": round(build_s, 1),
        "warmup_s": round(warmup_s, 1),
        "torch_version": torch.__version__,
        "torch_threads": torch.get_num_threads(),
    }
    json_out.write(json.dumps(result) + "\n")
    json_out.flush()


if __name__ == "__main__":
    main()

"""The same MJCF stepped by MuJoCo and by kinegrad with converged solves (tolerance 1e-14, 1000
iterations in both), and a directional finite-difference check of a gradient."""

import os
import tempfile

import mujoco
import numpy as np
import torch

from kinegrad import _native


def write_xml(xml: str, tag: str) -> str:
    """`xml` written to a file of the temporary folder named by `tag` (and this process)."""
    path = os.path.join(tempfile.gettempdir(), f"kinegrad_{os.getpid()}_{tag}.xml")
    with open(path, "w") as f:
        f.write(xml)
    return path


#: kinegrad's integrator names and MuJoCo's
INTEGRATORS = {
    "euler": mujoco.mjtIntegrator.mjINT_EULER,
    "implicitfast": mujoco.mjtIntegrator.mjINT_IMPLICITFAST,
    "rk4": mujoco.mjtIntegrator.mjINT_RK4,
}


def mujoco_and_kinegrad(path, integrator=None, **mj_opt):
    """(MjModel, MjData, one-env kinegrad Sim) of the file at `path`, with the file's timestep,
    gravity, friction cone, impratio and constraint flags and converged solves; both engines
    integrate with `integrator` (`euler`, `implicitfast`, `rk4`; the file's when None); `mj_opt`
    sets more MuJoCo options (`ccd_tolerance`, ...)."""
    m = mujoco.MjModel.from_xml_path(str(path))
    if integrator is None:
        integrator = next(k for k, v in INTEGRATORS.items() if int(v) == int(m.opt.integrator))
    m.opt.integrator = INTEGRATORS[integrator]
    m.opt.tolerance, m.opt.iterations, m.opt.ls_tolerance = 1e-14, 1000, 1e-12
    for k, v in mj_opt.items():
        setattr(m.opt, k, v)
    off = int(m.opt.disableflags)
    flag = mujoco.mjtDisableBit
    constraint = not off & flag.mjDSBL_CONSTRAINT
    b = _native.SceneBuilder(
        timestep=float(m.opt.timestep), integrator=integrator,
        enable_collision=bool(constraint and not off & flag.mjDSBL_CONTACT),
        enable_joint_limit=bool(constraint and not off & flag.mjDSBL_LIMIT),
        enable_equality=bool(constraint and not off & flag.mjDSBL_EQUALITY),
        euler_damping=not off & flag.mjDSBL_EULERDAMP,
        tolerance=1e-14, iterations=1000,
        impratio=float(m.opt.impratio),
        cone="elliptic" if int(m.opt.cone) == int(mujoco.mjtCone.mjCONE_ELLIPTIC) else "pyramidal",
        gravity=[0.0, 0.0, 0.0] if off & flag.mjDSBL_GRAVITY else list(m.opt.gravity),
    )
    b.add_mjcf(str(path), 1.0, [0, 0, 0], [1, 0, 0, 0])
    sim = b.build(1)
    hold_actuators(sim)
    return m, mujoco.MjData(m), sim


def resynced(m, d, sim, steps):
    """Step both engines `steps` times with MuJoCo's state copied into kinegrad before each step:
    (the per-step |qvel| error relative to max(1, |qvel|) as an array, the contacts MuJoCo met)."""
    errors, contacts = [], 0
    for _ in range(steps):
        sim.set_state(d.qpos[None].copy(), d.qvel[None].copy())
        mujoco.mj_step(m, d)
        sim.step(1)
        contacts += d.ncon
        errors.append(np.abs(sim.get_qvel()[0] - d.qvel).max() / max(1.0, np.abs(d.qvel).max()))
    return np.array(errors), contacts


def qpos_gap(m, d, sim, steps):
    """Step MuJoCo and kinegrad `steps` times side by side (no re-sync): the largest |qpos
    difference| and the contacts MuJoCo met."""
    worst, contacts = 0.0, 0
    for _ in range(steps):
        mujoco.mj_step(m, d)
        sim.step(1)
        contacts += d.ncon
        worst = max(worst, float(np.abs(sim.get_qpos()[0] - d.qpos).max()))
    return worst, contacts


def hold_actuators(sim):
    """Drive every MJCF actuator of `sim`'s envs at target 0 in its own mode, as MuJoCo's
    `ctrl = 0` does (a position servo holds 0, a motor pushes nothing); kinegrad's channels
    otherwise start in force mode at 0, as Genesis's do."""
    info = sim.describe()
    mode = np.zeros((sim.n_envs, info["nu"]), dtype=np.int8)
    for a in info["actuators"]:
        mode[:, a["dof"]] = a["mode"]
    sim.set_control(mode, np.zeros(mode.shape))


def check_gradient(loss, x0, seed, directions=3, eps=1e-6, rtol=1e-5, floor=1e-3):
    """Autograd's derivative of `loss(x, requires_grad)` at `x0` along random directions
    against central differences of `loss(x, False)`, within `rtol` of max(|fd|, `floor`)."""
    x = x0.clone().requires_grad_(True)
    loss(x, True).backward()
    gen = torch.Generator().manual_seed(seed)
    for _ in range(directions):
        d = torch.randn(x0.shape, generator=gen, dtype=torch.float64)
        an = float((x.grad * d).sum())
        with torch.no_grad():
            num = (float(loss(x0 + eps * d, False)) - float(loss(x0 - eps * d, False))) / (2 * eps)
        print(f"autograd {an:.10e} fd {num:.10e}")
        assert abs(an - num) <= rtol * max(abs(num), floor), (an, num)

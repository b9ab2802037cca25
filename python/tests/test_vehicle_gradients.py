"""Gradients through a wheeled vehicle (pybullet's racecar URDF) driven on a plane: wheel
velocity targets and steering position targets, 100 steps, against central differences."""

import numpy as np
import torch

import kinegrad as gs
from _assets import pybullet_data

WHEELS = ["left_rear_wheel_joint", "right_rear_wheel_joint", "left_front_wheel_joint", "right_front_wheel_joint"]
STEER = ["left_steering_hinge_joint", "right_steering_hinge_joint"]
T = 100


def build(requires_grad):
    scene = gs.Scene(
        sim_options=gs.options.SimOptions(dt=0.01, requires_grad=requires_grad),
        rigid_options=gs.options.RigidOptions(enable_self_collision=False),
    )
    scene.add_entity(gs.morphs.Plane())
    car = scene.add_entity(gs.morphs.URDF(file=str(pybullet_data("racecar", "racecar.urdf")), pos=(0.0, 0.0, 0.05)))
    scene.build()
    wheels = [car.get_joint(n).dofs_idx_local[0] for n in WHEELS]
    steer = [car.get_joint(n).dofs_idx_local[0] for n in STEER]
    car.set_dofs_kv([2.0] * 4, wheels)
    car.set_dofs_kp([20.0] * 2, steer)
    car.set_dofs_kv([0.5] * 2, steer)
    return scene, car, wheels, steer


def settled_state():
    scene, car, wheels, steer = build(False)
    car.control_dofs_velocity(torch.zeros(4, dtype=torch.float64), wheels)
    car.control_dofs_position(torch.zeros(2, dtype=torch.float64), steer)
    for _ in range(50):
        scene.step()
    return car.get_qpos().clone(), car.get_dofs_velocity().clone()


def drive(speed, steering, q0, v0, requires_grad):
    """Final (x, y, heading-ish) loss after T steps with wheel speed `speed` and steering `steering` (T,)."""
    scene, car, wheels, steer = build(requires_grad)
    car.set_qpos(q0)
    car.set_dofs_velocity(v0)
    for t in range(T):
        car.control_dofs_velocity(speed.expand(4), wheels)
        car.control_dofs_position(steering[t].expand(2), steer)
        scene.step()
    # the loss reads the scene's coordinates, as the seed 004 user story does: base x, y and yaw
    qpos = scene.sim.rigid_solver.get_qpos()
    return qpos[0] + 2.0 * qpos[1] + 0.5 * car.get_quat()[3]


def test_racecar_gradients_wrt_wheel_speed_and_steering_match_finite_differences():
    q0, v0 = settled_state()
    # 4 rad/s keeps the wheel torque kv (target - v) inside the URDF's effort limit (10 N m):
    # a saturated actuator has zero derivative, which would make the speed check vacuous
    speed = torch.tensor(4.0, dtype=torch.float64, requires_grad=True)
    steering = (0.2 * torch.sin(torch.linspace(0, 3, T, dtype=torch.float64))).requires_grad_(True)
    loss = drive(speed, steering, q0, v0, True)
    loss.backward()
    assert speed.grad is not None and steering.grad is not None
    gen = torch.Generator().manual_seed(0)
    d_steer = torch.randn(T, generator=gen, dtype=torch.float64)
    checks = [("wheel speed", lambda s: (speed.detach() + s, steering.detach()), float(speed.grad)),
              ("steering", lambda s: (speed.detach(), steering.detach() + s * d_steer), float((steering.grad * d_steer).sum()))]
    for name, shifted, analytic in checks:
        eps = 1e-6
        fp = float(drive(*shifted(eps), q0, v0, False))
        fm = float(drive(*shifted(-eps), q0, v0, False))
        fd = (fp - fm) / (2 * eps)
        err = abs(fd - analytic) / max(abs(fd), abs(analytic), 1e-12)
        print(f"{name}: fd {fd:.10e} autograd {analytic:.10e} rel {err:.1e}")
        assert err < 1e-5, (name, fd, analytic)
    assert abs(float(speed.grad)) > 1e-3  # the speed matters: rolling contact, not a car at rest

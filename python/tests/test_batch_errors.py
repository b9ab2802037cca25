"""A failing env in a batch is named, keeps its state, and does not stop the others."""

import numpy as np
import pytest
import torch

import kinegrad as gs
from kinegrad import _native


def test_failing_env_is_named_and_keeps_its_state():
    b = _native.SceneBuilder()
    b.add_primitive("plane", [0.0, 0.0, 1.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0], True)
    b.add_primitive("box", [0.1, 0.1, 0.1], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0, 0.0], False)
    sim = b.build(4)
    mass = sim.get_param("body_mass")
    inertia = sim.get_param("body_inertia")
    mass[2, -1] = 0.0
    inertia[2, -1] = 0.0
    sim.set_param("body_mass", mass)
    sim.set_param("body_inertia", inertia)
    q_before = sim.get_qpos().copy()
    with pytest.raises(RuntimeError, match="env 2"):
        sim.step(1)
    q_after = sim.get_qpos()
    np.testing.assert_array_equal(q_after[2], q_before[2])
    assert sim.get_time()[2] == 0.0
    for e in (0, 1, 3):
        assert sim.get_time()[e] > 0.0
        assert q_after[e, 2] < q_before[e, 2]  # fell


def _falling_boxes(n_envs):
    b = _native.SceneBuilder()
    b.add_primitive("plane", [0.0, 0.0, 1.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0], True)
    b.add_primitive("box", [0.1, 0.1, 0.1], [0.0, 0.0, 0.3], [0.9, 0.1, 0.3, 0.0], False)
    return b.build(n_envs)


def test_several_steps_in_one_call_equal_one_call_per_step():
    """``Sim.step(n)`` runs each env's n steps as one task (env by env): the same states as n
    calls of ``Sim.step(1)``, through the box's landing on the plane."""
    a, b = _falling_boxes(3), _falling_boxes(3)
    v = a.get_qvel()
    v[:, :3] = [[0.0, 0.0, 0.0], [0.5, 0.0, 0.0], [0.0, -0.3, 1.0]]  # three different envs
    a.set_state(a.get_qpos(), v)
    b.set_state(b.get_qpos(), v)
    a.step(150)
    for _ in range(150):
        b.step(1)
    np.testing.assert_array_equal(a.get_qpos(), b.get_qpos())
    np.testing.assert_array_equal(a.get_qvel(), b.get_qvel())
    assert (a.get_qpos()[:, 2] < 0.2).all()  # landed


def test_failing_env_in_a_several_step_call_stops_there_and_the_others_run_on():
    sim = _falling_boxes(3)
    mass = sim.get_param("body_mass")
    mass[1, -1] = 0.0
    sim.set_param("body_mass", mass)
    q_before = sim.get_qpos().copy()
    with pytest.raises(RuntimeError, match="env 1"):
        sim.step(5)
    t = sim.get_time()
    assert t[1] == 0.0 and t[0] == pytest.approx(5 * 0.01) and t[2] == t[0]
    np.testing.assert_array_equal(sim.get_qpos()[1], q_before[1])  # fails at its first step: kept as it was


def test_requires_grad_scene_readings_carry_the_graph():
    # was: refused with NotImplementedError until gradients existed; now readings must carry grad_fn
    scene = gs.Scene(sim_options=gs.options.SimOptions(requires_grad=True))
    ball = scene.add_entity(gs.morphs.Sphere(pos=(0, 0, 1), radius=0.1))
    scene.build()
    u = torch.zeros(6, dtype=torch.float64, requires_grad=True)
    ball.control_dofs_force(u)
    scene.step()
    q = scene.sim.rigid_solver.get_qpos()
    assert q.requires_grad and q.grad_fn is not None and q.scene is scene


@pytest.mark.parametrize(
    "kwargs, name",
    [({"iterations": 0}, "iterations"), ({"tolerance": 0.0}, "tolerance"), ({"impratio": float("nan")}, "impratio"), ({"ls_iterations": 0}, "ls_iterations")],
)
def test_bad_solver_options_name_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        _native.SceneBuilder(**kwargs)


def test_zero_quaternion_is_rejected():
    b = _native.SceneBuilder()
    b.add_primitive("sphere", [0.1], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0, 0.0], False)
    sim = b.build(1)
    q = sim.get_qpos()
    q[0, 3:7] = 0.0
    with pytest.raises(ValueError, match="quaternion"):
        sim.set_state(q, sim.get_qvel())


def test_reverse_pass_returns_the_parameter_gradients_asked_for():
    """``Tape.vjp(params=names)`` returns those parameters' gradients, equal to the ones of the
    full dict; an unknown name is refused, naming it."""
    sim = _falling_boxes(2)
    mode = np.zeros((2, sim.nv), dtype=np.int8)
    U = np.zeros((2, 40, sim.nv))
    q0 = sim.get_qpos().copy()
    _, _, tape = sim.rollout(mode, U, False, True, 1)
    q_bar, v_bar = np.ones((2, sim.nq)), np.ones((2, sim.nv))
    full = tape.vjp(q0, q_bar, v_bar, None, None, None, mode, U)[3]
    some = tape.vjp(q0, q_bar, v_bar, None, None, None, mode, U, ("body_mass", "geom_friction"))[3]
    assert set(some) == {"body_mass", "geom_friction"} and len(full) > 2
    for name, g in some.items():
        np.testing.assert_array_equal(g, full[name])
    assert np.abs(some["body_mass"]).max() > 0 and np.abs(some["geom_friction"]).max() > 0  # it landed
    assert tape.vjp(q0, q_bar, v_bar, None, None, None, mode, U, ())[3] == {}
    with pytest.raises(ValueError, match="params: unknown parameter 'mass'"):
        tape.vjp(q0, q_bar, v_bar, None, None, None, mode, U, ("mass",))


@pytest.mark.parametrize("record", [False, True])
def test_a_segment_failing_at_its_first_step_leaves_each_env_its_own_contacts(record):
    # env 0: a box resting on the plane (contacts); env 1: a box in the air (none). A NaN target
    # for env 1 fails the segment at its first step: env 1 keeps its (no) contacts, not those of
    # env 0 that the shared scratch last held
    sim = _falling_boxes(2)
    q = sim.get_qpos()
    q[1, 2] = 2.0
    sim.set_state(q, np.zeros_like(sim.get_qvel()))
    sim.step(40)  # 0.4 s: env 0 has landed; env 1 is still falling (2 m take 0.64 s)
    assert len(sim.contacts(0)) > 0 and len(sim.contacts(1)) == 0
    before = [sim.contacts(i) for i in range(2)]
    nv = sim.nv
    mode = np.zeros((2, nv), dtype=np.int8)
    ctrl = np.zeros((2, 3, nv))
    ctrl[1, 0, 2] = np.nan
    _, _, _, done, err = sim.segment(mode, ctrl, record)
    assert done == 0 and err is not None and "env 1" in str(err)
    assert [sim.contacts(i) for i in range(2)] == before

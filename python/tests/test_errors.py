import math

import numpy as np
import pytest
import torch

import kinegrad as gs
import kinegrad._native as native


def built_box(n_envs=0):
    scene = gs.Scene()
    box = scene.add_entity(gs.morphs.Box(pos=(0, 0, 1), size=(0.1, 0.1, 0.1)))
    scene.build(n_envs=n_envs)
    return scene, box


def test_scene_requires_init():
    gs.destroy()
    with pytest.raises(RuntimeError, match="gs.init"):
        gs.Scene()


def test_calls_before_build_raise():
    scene = gs.Scene()
    box = scene.add_entity(gs.morphs.Sphere(radius=0.1))
    with pytest.raises(RuntimeError, match="build"):
        scene.step()
    with pytest.raises(RuntimeError, match="build"):
        box.get_dofs_position()
    with pytest.raises(RuntimeError, match="build"):
        scene.sim.rigid_solver.get_qpos()


def test_calls_after_build_raise():
    scene, _ = built_box()
    with pytest.raises(RuntimeError, match="add_entity"):
        scene.add_entity(gs.morphs.Sphere(radius=0.1))
    with pytest.raises(RuntimeError, match="already built"):
        scene.build()


def test_wrong_shape_names_argument_and_expected_shape():
    scene, box = built_box()
    with pytest.raises(ValueError, match=r"position: expected shape \(6,\)"):
        box.set_dofs_position([1.0, 2.0])
    with pytest.raises(ValueError, match=r"force: expected shape \(2,\)"):
        box.control_dofs_force([1.0, 2.0, 3.0], dofs_idx_local=[0, 1])
    with pytest.raises(ValueError, match="pos"):
        box.set_pos([1.0, 2.0])


def test_batched_wrong_shape_mentions_both_forms():
    scene, box = built_box(n_envs=2)
    with pytest.raises(ValueError, match=r"\(6,\) or \(2, 6\)"):
        box.set_dofs_velocity(np.zeros((3, 6)))


def test_nan_is_rejected():
    scene, box = built_box()
    with pytest.raises(ValueError, match="position.*NaN"):
        box.set_dofs_position([0, 0, math.nan, 0, 0, 0])
    with pytest.raises(ValueError, match="kp"):
        box.set_dofs_kp(torch.full((6,), float("inf")))


def test_unknown_link_and_joint_names_list_the_available_ones():
    scene, box = built_box()
    with pytest.raises(ValueError, match="no link 'nope'.*available"):
        box.get_link("nope")
    with pytest.raises(ValueError, match="no joint 'nope'.*available"):
        box.get_joint("nope")


def test_bad_indices():
    scene, box = built_box()
    with pytest.raises(ValueError, match="dofs_idx_local: index 6 out of range"):
        box.get_dofs_position(dofs_idx_local=[6])
    with pytest.raises(ValueError, match="dofs_idx_local"):
        box.get_dofs_position(dofs_idx_local=[0.5])
    with pytest.raises(ValueError, match="envs_idx: the scene is not batched"):
        box.get_dofs_position(envs_idx=[0])
    scene2, box2 = built_box(n_envs=2)
    with pytest.raises(ValueError, match="envs_idx: index 2 out of range"):
        box2.get_qpos(envs_idx=[2])


def test_inputs_of_any_kind_are_accepted():
    scene, box = built_box()
    for value in ([0, 0, 1, 0, 0, 0], np.array([0, 0, 1, 0, 0, 0], dtype=np.float32), torch.tensor([0, 0, 1, 0, 0, 0])):
        box.set_dofs_position(value)
        assert box.get_dofs_position()[2] == 1.0
    with pytest.raises(ValueError, match="position"):
        box.set_dofs_position("abc")


def test_missing_model_file():
    with pytest.raises(FileNotFoundError, match="missing.urdf"):
        gs.morphs.URDF(file="/nonexistent/missing.urdf")


def test_native_errors_are_python_exceptions():
    b = native.SceneBuilder()
    with pytest.raises(FileNotFoundError, match="nope.urdf"):
        b.add_urdf("/nonexistent/nope.urdf", 1.0, [0, 0, 0], [1, 0, 0, 0], False)
    with pytest.raises(ValueError, match="kind: unknown primitive"):
        b.add_primitive("torus", [1.0], [0, 0, 0], [1, 0, 0, 0], False)
    with pytest.raises(ValueError, match="quat"):
        b.add_primitive("sphere", [0.1], [0, 0, 0], [0, 0, 0, 0], False)
    with pytest.raises(ValueError, match="integrator"):
        native.SceneBuilder(integrator="implicit")
    with pytest.raises(ValueError, match="n_envs"):
        b.build(0)
    b.add_primitive("sphere", [0.1], [0, 0, 1], [1, 0, 0, 0], False)
    sim = b.build(2)
    with pytest.raises(ValueError, match=r"qpos: expected shape \(2, 7\)"):
        sim.set_state(np.zeros((1, 7)), np.zeros((2, 6)))
    with pytest.raises(ValueError, match="qvel: contains a non-finite"):
        sim.set_state(np.zeros((2, 7)), np.full((2, 6), np.nan))
    with pytest.raises(ValueError, match="mode: control modes"):
        sim.set_control(np.full((2, 6), 7, dtype=np.int8), np.zeros((2, 6)))
    with pytest.raises(ValueError, match="unknown parameter 'mass'"):
        sim.get_param("mass")
    with pytest.raises(ValueError, match="body_mass: must be >= 0"):
        sim.set_param("body_mass", -np.ones((2, 2)))
    with pytest.raises(ValueError, match="env: index 5"):
        sim.contacts(5)


def test_native_state_and_params_round_trip():
    b = native.SceneBuilder(gravity=[0.0, 0.0, -3.0])
    b.add_primitive("box", [1.0, 2.0, 3.0], [0, 0, 1], [1, 0, 0, 0], False, rho=10.0)
    sim = b.build(3)
    assert sim.n_envs == 3 and sim.nq == 7 and sim.nv == 6 and sim.nbody == 2
    q = np.tile(np.array([1.0, 2.0, 3.0, 2.0, 0.0, 0.0, 0.0]), (3, 1))
    sim.set_state(q, np.ones((3, 6)), time=1.5)
    assert np.allclose(sim.get_qpos()[:, 3], 1.0)  # quaternions normalized
    assert sim.get_time() == [1.5] * 3
    assert sim.get_param("gravity").tolist() == [[0.0, 0.0, -3.0]] * 3
    assert sim.get_param("body_mass")[:, 1].tolist() == [60.0] * 3
    inertia = sim.param_default("body_inertia")[1]
    assert np.allclose(np.diag(inertia), 60.0 / 12 * np.array([4 + 9, 1 + 9, 1 + 4]))
    kp = sim.get_param("dof_kp")
    kp[1] = 7.0
    sim.set_param("dof_kp", kp)
    assert sim.get_param("dof_kp")[:, 0].tolist() == [kp[0, 0], 7.0, kp[2, 0]]
    d = sim.describe()
    assert d["jnt_type"] == ["free"] and d["geom_type"] == ["box"] and d["entity_dof_num"] == [6]
    assert d["body_parent"] == [0, 0] and d["body_entity"] == [-1, 0]


def test_non_real_dtypes_are_refused_naming_the_argument():
    scene = gs.Scene()
    box = scene.add_entity(gs.morphs.Box(size=(0.1, 0.1, 0.1), pos=(0, 0, 1)))
    scene.build()
    for bad in (torch.zeros(6, dtype=torch.complex128), torch.zeros(6, dtype=torch.bool), np.zeros(6, dtype=np.complex64), np.zeros(6, dtype=bool)):
        with pytest.raises(ValueError, match="force: expected real numbers"):
            box.control_dofs_force(bad)


PENDULUM = """<mujoco><worldbody><body name="arm" pos="0 0 1">
  <joint name="swing" type="hinge" axis="0 1 0"/>
  <geom type="capsule" fromto="0 0 0 0 0 -0.5" size="0.03" mass="1" contype="0" conaffinity="0"/>
</body></worldbody></mujoco>"""


@pytest.mark.parametrize("integrator, kp, kv, name", [
    # the arm's inertia about the hinge is about 0.09: at dt 0.01 h sqrt(kp / m) = 67, h kv / m = 56
    ("implicitfast", 4e6, 10.0, "position gain kp"),  # kp is integrated explicitly
    ("Euler", 100.0, 500.0, "velocity gain kv"),  # so is kv under Euler
])
def test_divergence_names_the_gain_too_stiff_for_the_step(tmp_path, integrator, kp, kv, name):
    f = tmp_path / "pendulum.xml"
    f.write_text(PENDULUM)

    def pendulum(dt):
        rigid = gs.options.RigidOptions(integrator=getattr(gs.integrator, integrator))
        scene = gs.Scene(sim_options=gs.options.SimOptions(dt=dt), rigid_options=rigid)
        arm = scene.add_entity(gs.morphs.MJCF(file=str(f)))
        scene.build()
        arm.set_dofs_kp([kp])
        arm.set_dofs_kv([kv])
        arm.control_dofs_position([0.5])
        return scene, arm

    scene, arm = pendulum(0.01)
    with pytest.raises(RuntimeError) as e:
        for _ in range(500):
            scene.step()
            arm.get_dofs_position()
    msg = str(e.value)
    assert f"the {name}" in msg and "joint 'swing'" in msg and "too stiff for the step" in msg, msg
    # the same gains at a step where the integration is stable (100 times smaller): no error
    scene, arm = pendulum(0.0001)
    for _ in range(200):
        scene.step()
    assert torch.isfinite(arm.get_dofs_position()).all()

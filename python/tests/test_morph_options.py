"""Genesis morph options take effect (issue 21: an accepted option changes the result or is
named in a warning): ``collision``, ``contype``/``conaffinity``, ``default_armature``,
``visualization``; options kinegrad does not apply are warned about, naming each."""

import numpy as np
import pytest
import torch

import kinegrad as gs

from conftest import franka_urdf


def settle(*entities, steps=100):
    """Heights of `entities`' bases after `steps` steps of a scene with a floor."""
    scene = gs.Scene(sim_options=gs.options.SimOptions(dt=0.01), show_viewer=False)
    scene.add_entity(gs.morphs.Plane())
    ents = [scene.add_entity(m) for m in entities]
    scene.build()
    for _ in range(steps):
        scene.step()
    return [float(e.get_pos()[2]) for e in ents]


def test_contype_and_conaffinity_filter_contacts():
    # Genesis's stack: the upper box shares no bit with the lower one and passes through it to
    # the floor (the lower box shares its bits with the floor)
    lower = gs.morphs.Box(pos=(0, 0, 0.25), size=(0.5, 0.5, 0.5), contype=0b01, conaffinity=0b01)
    upper = gs.morphs.Box(pos=(0, 0, 1.0), size=(0.5, 0.5, 0.5), contype=0b10, conaffinity=0b10)
    z = settle(lower, upper)
    assert abs(z[0] - 0.25) < 5e-3, "the lower box rests on the floor"
    assert z[1] < -0.5, "the upper box fell through the lower one and the floor"
    # a common bit: the upper box rests on the lower one
    upper = gs.morphs.Box(pos=(0, 0, 1.0), size=(0.5, 0.5, 0.5), contype=0b11, conaffinity=0b10)
    z = settle(lower, upper)
    assert abs(z[1] - 0.75) < 5e-3


def test_collision_false_collides_with_nothing():
    z = settle(gs.morphs.Sphere(pos=(0, 0, 0.5), radius=0.1, collision=False), gs.morphs.Sphere(pos=(1, 0, 0.5), radius=0.1))
    assert z[0] < -0.5 and abs(z[1] - 0.1) < 5e-3
    # a robot file too
    scene = gs.Scene(sim_options=gs.options.SimOptions(dt=0.01), show_viewer=False)
    scene.add_entity(gs.morphs.Plane())
    arm = scene.add_entity(gs.morphs.URDF(file=franka_urdf(), pos=(0, 0, 0.5), collision=False))
    scene.build()
    assert scene.sim.rigid_solver._desc["ngeom"] > 1
    for _ in range(50):
        scene.step()
    assert float(arm.get_pos()[2]) < 0.0, "the free-floating arm falls through the floor"


def test_default_armature_sets_the_joints_without_one():
    scene = gs.Scene(show_viewer=False)
    plain = scene.add_entity(gs.morphs.URDF(file=franka_urdf(), fixed=True))
    geared = scene.add_entity(gs.morphs.URDF(file=franka_urdf(), fixed=True, pos=(1, 0, 0), default_armature=0.25))
    scene.build()
    assert torch.all(plain.get_dofs_armature() == 0.0)
    assert torch.all(geared.get_dofs_armature() == 0.25)
    with pytest.raises(ValueError, match="default_armature"):
        gs.morphs.URDF(file=franka_urdf(), default_armature=-1.0)


def test_default_armature_leaves_an_mjcf_joints_own(tmp_path):
    f = tmp_path / "arm.xml"
    f.write_text("""<mujoco><worldbody><body><joint name="a" type="hinge" armature="0.5"/>
      <geom type="capsule" size="0.05 0.2"/><body pos="0 0 0.4"><joint name="b" type="hinge"/>
      <geom type="sphere" size="0.05"/></body></body>
      <body pos="1 0 0"><freejoint/><geom type="box" size="0.1 0.1 0.1"/></body></worldbody></mujoco>""")
    scene = gs.Scene(show_viewer=False)
    ent = scene.add_entity(gs.morphs.MJCF(file=str(f), default_armature=0.1))
    scene.build()
    arm = ent.get_dofs_armature().tolist()
    # the hinge with its own armature keeps it, the other takes the default, the free joint none
    assert arm[:2] == [0.5, 0.1] and arm[2:] == [0.0] * 6


def test_visualization_false_is_not_drawn():
    def red_pixels(visible):
        scene = gs.Scene(show_viewer=False)
        scene.add_entity(gs.morphs.Box(pos=(0, 0, 0.5), size=(0.4, 0.4, 0.4), visualization=visible), surface=gs.surfaces.Default(color=(1.0, 0.0, 0.0)))
        cam = scene.add_camera(res=(64, 48), pos=(2.0, 0.0, 1.0), lookat=(0, 0, 0.5), fov=40)
        scene.build()
        rgb = np.asarray(cam.render()[0])
        return int(((rgb[..., 0] > 150) & (rgb[..., 1] < 80)).sum())

    assert red_pixels(True) > 100 and red_pixels(False) == 0


def test_options_kinegrad_does_not_apply_are_named():
    with pytest.warns(UserWarning, match="decimate_face_num.*ignored"):
        gs.morphs.URDF(file=franka_urdf(), decimate_face_num=200)
    with pytest.warns(UserWarning, match="made_up_option"):
        gs.morphs.Sphere(radius=0.1, made_up_option=3)
    with pytest.raises(ValueError, match="contype"):
        gs.morphs.Box(contype=-1)
    with pytest.raises(ValueError, match="collision"):
        gs.morphs.Box(collision="no")


def test_dof_indices_may_be_a_slice():
    scene = gs.Scene(show_viewer=False)
    arm = scene.add_entity(gs.morphs.URDF(file=franka_urdf(), fixed=True))
    scene.build()
    q = torch.arange(arm.n_dofs, dtype=torch.float64) * 0.1
    arm.set_dofs_position(q[2:5], dofs_idx_local=slice(2, 5))
    assert torch.equal(arm.get_dofs_position(dofs_idx_local=slice(2, 5)), q[2:5])
    assert torch.equal(arm.get_dofs_position()[:2], torch.zeros(2, dtype=torch.float64))


def test_entities_have_names_and_uids():
    scene = gs.Scene(show_viewer=False)
    scene.add_entity(gs.morphs.Plane())
    arm = scene.add_entity(gs.morphs.URDF(file=franka_urdf(), fixed=True), name="arm")
    ball = scene.add_entity(gs.morphs.Sphere(radius=0.1, pos=(1, 0, 0.1)))
    with pytest.raises(gs.GenesisException, match="already"):
        scene.add_entity(gs.morphs.Sphere(radius=0.1), name="arm")
    assert scene.get_entity("arm") is arm and scene.get_entity(uid=ball.uid) is ball
    assert len(ball.uid) == 7 and scene.entity_names[1] == "arm"
    scene.build()
    assert scene.entity_names[1] == "arm" and scene.get_entity(ball.name) is ball
    with pytest.raises(ValueError, match="no entity"):
        scene.get_entity("nobody")
    with pytest.raises(ValueError, match="one of"):
        scene.get_entity()


def test_dofs_limit_stiffness_and_zero_velocity():
    scene = gs.Scene(show_viewer=False)
    arm = scene.add_entity(gs.morphs.URDF(file=franka_urdf(), fixed=True))
    ball = scene.add_entity(gs.morphs.Sphere(radius=0.1, pos=(1, 0, 0.5)))
    scene.build(n_envs=2)
    lo, hi = arm.get_dofs_limit()
    assert lo.shape == (2, arm.n_dofs)
    # panda_joint4's <limit> in pybullet's URDF (not its safety controller's soft limits)
    assert float(lo[0, 3]) == -3.1416 and float(hi[0, 3]) == 0.0
    lo, hi = ball.get_dofs_limit(envs_idx=[1])
    assert lo.shape == (1, 6) and torch.all(torch.isinf(lo)) and torch.all(hi == torch.inf)
    assert torch.all(arm.get_dofs_stiffness() == 0.0)
    ball.set_dofs_velocity(torch.ones(6, dtype=torch.float64))
    ball.zero_all_dofs_velocity(envs_idx=[0])
    v = ball.get_dofs_velocity()
    assert torch.all(v[0] == 0.0) and torch.all(v[1] == 1.0)


def test_rigid_solver_and_link_queries():
    scene = gs.Scene(show_viewer=False)
    arm = scene.add_entity(gs.morphs.URDF(file=franka_urdf(), fixed=True))
    ball = scene.add_entity(gs.morphs.Sphere(radius=0.1, pos=(1, 0, 0.5)))
    scene.build()
    assert scene.rigid_solver is scene.sim.rigid_solver
    assert arm.links[0].is_fixed and not arm.links[1].is_fixed and not ball.links[0].is_fixed
    assert ball.links[0].inertial_mass == pytest.approx(200.0 * 4 / 3 * np.pi * 0.1**3)


def cube_obj(path, half):
    """A cube of half extent `half` about the origin as an OBJ file."""
    v = [(x, y, z) for z in (-half, half) for y in (-half, half) for x in (-half, half)]
    quads = [(0, 2, 3, 1), (4, 5, 7, 6), (0, 1, 5, 4), (2, 6, 7, 3), (0, 4, 6, 2), (1, 3, 7, 5)]
    lines = [f"v {x} {y} {z}" for x, y, z in v]
    for a, b, c, d in quads:
        lines += [f"f {a + 1} {b + 1} {c + 1}", f"f {a + 1} {c + 1} {d + 1}"]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_mesh_morph_is_a_rigid_body_of_its_solid(tmp_path):
    f = cube_obj(tmp_path / "cube.obj", 0.1)
    scene = gs.Scene(sim_options=gs.options.SimOptions(dt=0.01), show_viewer=False)
    scene.add_entity(gs.morphs.Plane())
    cube = scene.add_entity(gs.morphs.Mesh(file=f, pos=(0, 0, 0.5), euler=(0, 0, 30)), material=gs.materials.Rigid(rho=500.0))
    flat = scene.add_entity(gs.morphs.Mesh(file=f, pos=(1, 0, 0.5), scale=(2.0, 1.0, 0.5)))
    wall = scene.add_entity(gs.morphs.Mesh(file=f, pos=(2, 0, 0.5), fixed=True))
    ghost = scene.add_entity(gs.morphs.Mesh(file=f, pos=(3, 0, 0.5), contype=2, conaffinity=2))
    scene.build()
    assert cube.links[0].inertial_mass == pytest.approx(500.0 * 0.2**3)
    assert flat.links[0].inertial_mass == pytest.approx(200.0 * 0.4 * 0.2 * 0.1)
    assert cube.n_dofs == 6 and wall.n_dofs == 0
    for _ in range(150):
        scene.step()
    assert float(cube.get_pos()[2]) == pytest.approx(0.1, abs=2e-3)
    assert float(flat.get_pos()[2]) == pytest.approx(0.05, abs=2e-3)
    assert float(wall.links[0].get_pos()[2]) == 0.5
    assert float(ghost.get_pos()[2]) < -0.5, "shares no bit with the floor"
    with pytest.warns(UserWarning, match="decompose_object_error_threshold"):
        gs.morphs.Mesh(file=f, decompose_object_error_threshold=0.1)
    with pytest.raises(ValueError, match="scale"):
        gs.morphs.Mesh(file=f, scale=(1.0, -1.0, 1.0))


def test_mass_matrix_of_an_entity_matches_mujocos():
    import mujoco

    scene = gs.Scene(show_viewer=False)
    ball = scene.add_entity(gs.morphs.Sphere(radius=0.1, pos=(1, 0, 0.5)))
    arm = scene.add_entity(gs.morphs.URDF(file=franka_urdf(), fixed=True))
    scene.build(n_envs=2)
    q = torch.tensor([0.1, -0.3, 0.2, -1.5, 0.3, 1.2, 0.4, 0.01, 0.01], dtype=torch.float64)
    arm.set_dofs_position(q)
    m = arm.get_mass_mat()
    assert m.shape == (2, arm.n_dofs, arm.n_dofs) and torch.equal(m[0], m[1])
    # MuJoCo on the same URDF without its meshes (the dynamics only)
    import re

    text = open(franka_urdf()).read()
    text = re.sub(r"<(visual|collision)>.*?</\1>", "", text, flags=re.S)
    mj = mujoco.MjSpec.from_string(text).compile()
    d = mujoco.MjData(mj)
    d.qpos[:] = q.numpy()
    mujoco.mj_forward(mj, d)
    full = np.zeros((mj.nv, mj.nv))
    mujoco.mj_fullM(mj, d, full)
    np.testing.assert_allclose(m[0].numpy(), full, rtol=0, atol=1e-10)
    # a free ball: m I, then its inertia 2/5 m r^2 I about its centre
    mass = 200.0 * 4 / 3 * np.pi * 0.1**3
    want = np.diag([mass] * 3 + [0.4 * mass * 0.01] * 3)
    np.testing.assert_allclose(ball.get_mass_mat(envs_idx=[1])[0].numpy(), want, rtol=1e-12, atol=1e-15)
    arm.links[3].set_mass(2.0, envs_idx=[1])
    with pytest.raises(ValueError, match="differ"):
        arm.get_mass_mat()


def test_aabbs_of_entities(tmp_path):
    scene = gs.Scene(show_viewer=False)
    floor = scene.add_entity(gs.morphs.Plane())
    box = scene.add_entity(gs.morphs.Box(pos=(0.5, 0, 1.0), size=(0.2, 0.4, 0.6), euler=(0, 0, 90)))
    cube = scene.add_entity(gs.morphs.Mesh(file=cube_obj(tmp_path / "c.obj", 0.1), pos=(0, 2, 1), euler=(0, 0, 45)))
    arm = scene.add_entity(gs.morphs.URDF(file=franka_urdf(), fixed=True, pos=(3, 0, 0)))
    scene.build(n_envs=2)
    aabb = box.get_AABB()
    assert aabb.shape == (2, 2, 3)
    # turned 90 degrees about z: x and y extents swap
    np.testing.assert_allclose(aabb[1].numpy(), [[0.3, -0.1, 0.7], [0.7, 0.1, 1.3]], atol=1e-12)
    h = 0.1 * np.sqrt(2.0)  # the cube's hull turned 45 degrees
    np.testing.assert_allclose(cube.get_AABB(envs_idx=[0])[0].numpy(), [[-h, 2 - h, 0.9], [h, 2 + h, 1.1]], atol=1e-9)
    # the floor: the half-space below z = 0
    assert floor.get_AABB()[0].tolist() == [[-np.inf] * 3, [np.inf, np.inf, 0.0]]
    lo, hi = arm.get_AABB()[0]
    assert 2.5 < float(lo[0]) < 3.0 and float(hi[2]) > 0.8, "the upright arm"
    vlo, vhi = arm.get_vAABB()[0]
    assert torch.all(vlo < vhi)
    box.set_pos(torch.tensor([[0.5, 0.0, 2.0], [0.5, 0.0, 1.0]], dtype=torch.float64))
    assert float(box.get_AABB()[0, 0, 2]) == pytest.approx(1.7)

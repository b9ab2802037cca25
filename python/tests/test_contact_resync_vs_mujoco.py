"""Per-step re-synced contact trajectories against MuJoCo (issue 20): MuJoCo's state is copied
into kinegrad before every step, both step once, and the velocities must agree to 1e-8 of the
velocity scale on every step. Scenes from Genesis's, gymnasium's and dm_control's assets with
their own options (integrator, flags such as `eulerdamp`, margins summed over the pair as
MuJoCo sums them), solves converged in both engines; and a pair with a `gap`."""

import mujoco
import numpy as np
import pytest

from _assets import asset
from _mujoco_pair import mujoco_and_kinegrad, resynced, write_xml


def resynced_errors(path, steps):
    m, d, sim = mujoco_and_kinegrad(path)
    m.opt.ls_iterations = 50
    return resynced(m, d, sim, steps)


# Mesh pairs: MuJoCo's EPA stops within its ccd_tolerance (1e-6) of the penetration depth where
# kinegrad's is exact to round-off; the depths differ by ~1e-9 here, the velocities by ~3e-8.
MESH_TOL = 1e-6


@pytest.mark.parametrize(
    "parts, tol",
    [
        (("genesis", "xml", "rope_hinge.xml"), 1e-8),  # capsule chains on a plane
        (("genesis", "xml", "rope_ball.xml"), 1e-8),
        (("genesis", "xml", "tet_ball.xml"), 1e-8),  # a mesh against a sphere
        (("genesis", "xml", "tet_tet.xml"), MESH_TOL),  # meshes on meshes: multi-contact
        # capsules on a mesh: a segment lying in a face (its radius counted as r cos^2 of its
        # tilt, as MuJoCo 4.0 does; measured 3e-14, was 3.4e-3)
        (("genesis", "xml", "tet_capsule.xml"), 1e-8),
        (("genesis", "xml", "walker.xml"), 1e-8),  # eulerdamp disabled, box feet
        (("dm_control", "suite", "walker.xml"), 1e-8),
        (("gymnasium", "walker2d.xml"), 1e-8),  # RK4
        (("gymnasium", "hopper.xml"), 1e-8),  # RK4, margins
        (("gymnasium", "ant.xml"), 1e-8),  # RK4, margins 0.01 on both geoms: contacts within 0.02
    ],
)
def test_resynced_contact_steps_match_mujoco(parts, tol):
    errors, contacts = resynced_errors(asset(*parts), 400)
    assert contacts > 50, "the scene makes contact"
    worst = int(np.argmax(errors))
    assert errors.max() < tol, f"step {worst}: relative velocity error {errors.max():.1e}"


# issue 20's box_plan row: under implicitfast MuJoCo integrates a standalone free body with the
# derivative of its bias force (gyroscopic torque, offset centre of mass) taken implicitly
# (`mjd_freeMhat`); a box landing tilted on a plane spins, and bodies tumbling in flight: free
# ones with damping and an offset centre of mass, with a massless child (still standalone) and
# with a jointed child (not), and a ball joint (never)
FREE_BODIES = """<mujoco><option timestep="0.01" integrator="implicitfast"/><worldbody>
  <geom type="plane" size="5 5 .1"/>
  <body pos="0 0 0.3" euler="10 20 30"><freejoint/><geom type="box" size="0.1 0.15 0.2"/></body>
  <body pos="1 0 2"><joint type="free" damping="0.1"/><geom type="box" size="0.1 0.15 0.2" pos="0.05 0.02 -0.03"/></body>
  <body pos="2 0 2" euler="5 40 2"><freejoint/><geom type="box" size="0.1 0.15 0.2" pos="0.1 0 0"/>
    <body pos="0.2 0 0"><geom type="sphere" size="0.05" mass="0"/></body></body>
  <body pos="3 0 2"><freejoint/><geom type="box" size="0.1 0.15 0.2"/>
    <body pos="0.2 0 0"><joint type="hinge"/><geom type="sphere" size="0.05"/></body></body>
  <body pos="4 0 2"><joint type="ball"/><geom type="box" size="0.1 0.15 0.2" pos="0 0 0.1"/></body>
</worldbody></mujoco>"""


def test_free_bodies_under_implicitfast_match_mujoco():
    m, d, sim = mujoco_and_kinegrad(write_xml(FREE_BODIES, "free_bodies"), "implicitfast")
    m.opt.ls_iterations = 50
    d.qvel[:] = np.random.default_rng(0).normal(size=m.nv) * 3
    d.qvel[:6] = 0.0  # the first box lands from rest and spins on impact
    errors, contacts = resynced(m, d, sim, 300)
    assert contacts > 100, "the first box lands"
    assert max(errors) < 1e-10, f"step {int(np.argmax(errors))}: relative velocity error {max(errors):.1e}"


def test_ur5e_falling_onto_its_floor_matches_mujoco():
    # issue 20's UR5 row: the Menagerie UR5e unactuated, falling under gravity from its base
    # onto the floor of its scene (capsule and cylinder links on a plane, each other)
    m, d, sim = mujoco_and_kinegrad(asset("genesis", "xml", "universal_robots_ur5e", "scene.xml"), "implicitfast")
    m.opt.ls_iterations = 50
    m.opt.disableflags |= int(mujoco.mjtDisableBit.mjDSBL_ACTUATION)
    nu = sim.describe()["nu"]
    sim.set_control(np.zeros((1, nu), dtype=np.int8), np.zeros((1, nu)))
    errors, contacts = resynced(m, d, sim, 1500)
    assert contacts > 5000, "the arm lies on the floor"
    assert max(errors) < 1e-8, f"step {int(np.argmax(errors))}: relative velocity error {max(errors):.1e}"


def cube_obj(path, lo, hi):
    """A box from `lo` to `hi` as an OBJ mesh (8 vertices, 12 triangles)."""
    v = [(x, y, z) for z in (lo[2], hi[2]) for y in (lo[1], hi[1]) for x in (lo[0], hi[0])]
    quads = [(0, 2, 3, 1), (4, 5, 7, 6), (0, 1, 5, 4), (2, 6, 7, 3), (0, 4, 6, 2), (1, 3, 7, 5)]
    lines = [f"v {x} {y} {z}" for x, y, z in v]
    for a, b, c, d in quads:
        lines += [f"f {a + 1} {b + 1} {c + 1}", f"f {a + 1} {c + 1} {d + 1}"]
    path.write_text("\n".join(lines) + "\n")


# Mesh boxes and a box landing tilted on a mesh slab and on each other: face-face contacts
# clipped into up to 4 points, edge-face ones into 2 (MuJoCo's multi-contact, on by default).
MESH_STACK = """<mujoco><option timestep="0.002"/>
  <asset><mesh name="slab" file="{slab}"/><mesh name="cube" file="{cube}"/></asset>
  <worldbody>
    <geom type="mesh" mesh="slab"/>
    <body pos="0 0 0.3" euler="4 3 20"><freejoint/><geom type="mesh" mesh="cube"/></body>
    <body pos="0.05 0.03 0.6" euler="-3 5 50"><freejoint/><geom type="box" size="0.08 0.07 0.05"/></body>
    <body pos="0.6 0 0.3" euler="30 20 10"><freejoint/><geom type="mesh" mesh="cube"/></body>
  </worldbody></mujoco>"""


def test_mesh_multi_contacts_match_mujoco(tmp_path):
    cube_obj(tmp_path / "slab.obj", (-1.0, -0.5, -0.1), (1.0, 0.5, 0.0))
    cube_obj(tmp_path / "cube.obj", (-0.1, -0.1, -0.1), (0.1, 0.1, 0.1))
    f = tmp_path / "mesh_stack.xml"
    f.write_text(MESH_STACK.format(slab=tmp_path / "slab.obj", cube=tmp_path / "cube.obj"))
    errors, contacts = resynced_errors(f, 500)
    assert contacts > 1000, "the blocks rest on several contacts each"
    worst = int(np.argmax(errors))
    assert errors.max() < MESH_TOL, f"step {worst}: relative velocity error {errors.max():.1e}"


GAP = """<mujoco><option timestep="0.002"/><worldbody>
  <geom type="plane" size="5 5 .1" margin="0.005" gap="0.004"/>
  <body pos="0 0 0.2"><freejoint/><geom type="sphere" size="0.1" margin="0.003" gap="0.002"/></body>
  <body pos="0.5 0 0.2"><freejoint/><geom type="box" size="0.1 0.1 0.1" margin="0.01"/></body>
</worldbody></mujoco>"""


def test_margins_and_gaps_act_as_in_mujoco():
    # margins 0.008 and 0.01 summed over each pair: the sphere's contact acts within 0.008 and
    # is listed by MuJoCo (not acting) from 0.014; the box's acts within 0.015
    m, d, sim = mujoco_and_kinegrad(write_xml(GAP, "gap"))
    acting = 0
    for _ in range(400):
        mujoco.mj_step(m, d)
        sim.step(1)
        listed = [c for c in d.contact[: d.ncon] if not c.exclude]
        acting += len(listed)
        assert len(sim.contacts(0)) == len(listed)
    assert acting > 100
    np.testing.assert_allclose(sim.get_qpos()[0], d.qpos, rtol=0, atol=1e-9)
    np.testing.assert_allclose(sim.get_qvel()[0], d.qvel, rtol=0, atol=1e-8)


# A URDF arm whose foot is a link on a fixed joint, swinging onto a block of its base: MuJoCo
# fuses the foot into the arm (fusestatic), so the contact's weight (`body_invweight0`, in the
# regularizer R) is taken at the centre of mass of arm and foot together, not at the foot's.
FUSED_FOOT = """<robot name="fused_foot">
  <link name="base">
    <inertial><mass value="1"/><inertia ixx="0.1" iyy="0.1" izz="0.1" ixy="0" ixz="0" iyz="0"/></inertial>
    <collision><origin xyz="0.1 0 -0.52"/><geometry><box size="1 1 0.2"/></geometry></collision>
  </link>
  <joint name="hinge" type="revolute">
    <parent link="base"/><child link="arm"/><axis xyz="0 1 0"/>
    <limit lower="-3" upper="3" effort="100" velocity="10"/>
  </joint>
  <link name="arm">
    <inertial><origin xyz="0.2 0 0"/><mass value="1"/>
      <inertia ixx="0.01" iyy="0.02" izz="0.02" ixy="0" ixz="0" iyz="0"/></inertial>
  </link>
  <joint name="ankle" type="fixed"><parent link="arm"/><child link="foot"/><origin xyz="0.4 0 0"/></joint>
  <link name="foot">
    <inertial><origin xyz="0.02 0 0"/><mass value="0.5"/>
      <inertia ixx="0.001" iyy="0.001" izz="0.001" ixy="0" ixz="0" iyz="0"/></inertial>
    <collision><geometry><sphere radius="0.05"/></geometry></collision>
  </link>
</robot>"""


def test_contact_on_a_link_fused_by_mujoco_matches(tmp_path):
    from kinegrad import _native

    f = tmp_path / "fused_foot.urdf"
    f.write_text(FUSED_FOOT)
    m = mujoco.MjSpec.from_string(FUSED_FOOT).compile()
    m.opt.timestep = 0.002
    assert m.nbody == 2, "MuJoCo fuses the base into the world and the foot into the arm"
    d = mujoco.MjData(m)
    b = _native.SceneBuilder(timestep=0.002, integrator="euler")
    b.add_urdf(str(f), 1.0, [0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0], True)
    sim = b.build(1)
    errors, contacts = resynced(m, d, sim, 300)
    worst = errors.max()
    assert contacts > 20, "the foot lands on the block"
    assert worst < 1e-9, f"relative velocity error {worst:.1e}"


def test_capsule_lying_on_a_mesh_face_touches_as_in_mujoco(tmp_path):
    # a capsule over a face of Genesis's tetrahedron, tilted 0.5-6 degrees from the face's plane
    # with one end (or both) in it: MuJoCo 4.0 clips the segment by the face within asin(0.0888)
    # and counts the radius as r cos^2(tilt) (found by probing it); steeper, one EPA contact
    tet = asset("genesis", "xml", "tet.obj")
    n = np.array([1.0, -1.0, 1.0]) / np.sqrt(3.0)
    t = np.array([1.0, 1.0, 0.0]) / np.sqrt(2.0)
    r, half = 0.04, 0.1
    checked = 0
    for depth in (5.7e-5, 1e-3, 5e-3):
        for tilt in (0.5, 1.0, 1.4, 2.0, 2.5, 4.5, 5.0, 6.0):
            th = np.radians(tilt)
            ax = np.cos(th) * t + np.sin(th) * n
            end = n / np.sqrt(3.0) + n * (r - depth)
            c = end + ax * half
            q = np.array([1.0 + ax[2], -ax[1], ax[0], 0.0])  # z turned onto ax
            q /= np.linalg.norm(q)
            xml = f"""<mujoco><option gravity="0 0 0"/><asset><mesh name="tet" file="{tet}"/></asset><worldbody>
  <geom type="mesh" mesh="tet"/>
  <body pos="{' '.join(map(str, c))}" quat="{' '.join(map(str, q))}"><freejoint/><geom type="capsule" size="{r} {half}"/></body>
</worldbody></mujoco>"""
            m, d, sim = mujoco_and_kinegrad(write_xml(xml, "capsule_face"))
            mujoco.mj_forward(m, d)
            sim.step(1)
            cons = sim.contacts(0)
            assert len(cons) == d.ncon, (depth, tilt, len(cons), d.ncon)
            for con in d.contact[: d.ncon]:
                k = min(cons, key=lambda k: np.linalg.norm(np.asarray(k["pos"]) - con.pos))
                assert abs(k["dist"] - con.dist) < 1e-12, (depth, tilt, k["dist"], con.dist)
                np.testing.assert_allclose(k["pos"], con.pos, atol=1e-12)
                np.testing.assert_allclose(k["normal"], con.frame[:3], atol=1e-12)
                checked += 1
    assert checked >= 25


# issue 20's analytic box pairs in motion: capsules landing on a box table (an end first, then
# lying along its top, one across its edge) and boxes landing on it and on each other (a box on
# its edge: edge-edge contacts, then face manifolds), with MuJoCo's capsule-box and box-box rules
BOXES = """<mujoco><option timestep="0.002"/><worldbody>
  <geom type="plane" size="5 5 .1"/>
  <geom type="box" size="0.5 0.4 0.1" pos="0 0 0.1"/>
  <body pos="-0.2 0.1 0.4" euler="70 5 10"><freejoint/><geom type="capsule" size="0.04 0.15"/></body>
  <body pos="0.45 -0.2 0.35" euler="80 0 -30"><freejoint/><geom type="capsule" size="0.03 0.12"/></body>
  <body pos="0.15 0.15 0.45" euler="45 0 30"><freejoint/><geom type="box" size="0.06 0.05 0.04"/></body>
  <body pos="0.16 0.17 0.7" euler="10 40 5"><freejoint/><geom type="box" size="0.05 0.06 0.07"/></body>
</worldbody></mujoco>"""


@pytest.mark.parametrize("integrator", ["euler", "implicitfast"])
def test_capsules_and_boxes_landing_on_boxes_match_mujoco(integrator):
    m, d, sim = mujoco_and_kinegrad(write_xml(BOXES, "boxes"), integrator)
    m.opt.ls_iterations = 50
    errors, contacts = resynced(m, d, sim, 600)
    assert contacts > 1000, "the bodies come to rest on each other"
    worst = int(np.argmax(errors))
    assert errors.max() < 1e-8, f"step {worst}: relative velocity error {errors.max():.1e}"

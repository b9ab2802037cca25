"""The MJCF loader compiles the same bodies as MuJoCo: masses, centres of mass, principal inertias."""

import mujoco
import numpy as np
import pytest

from _assets import asset
from kinegrad import _native

FILES = [
    ("dm_control", "suite", "pendulum.xml"),
    ("dm_control", "suite", "cartpole.xml"),
    ("dm_control", "suite", "acrobot.xml"),
    ("dm_control", "suite", "reacher.xml"),
    ("dm_control", "suite", "cheetah.xml"),
    ("dm_control", "suite", "walker.xml"),
    ("dm_control", "suite", "humanoid.xml"),
    ("gymnasium", "ant.xml"),
    ("gymnasium", "half_cheetah.xml"),
    ("gymnasium", "hopper.xml"),
    ("gymnasium", "humanoid.xml"),
    ("genesis", "xml", "franka_emika_panda", "panda_no_tendon.xml"),
    # non-convex visual meshes weighed by MuJoCo's legacy mesh inertia (their triangles, not
    # their hulls: the hull overweighs link5 by 16 %)
    ("genesis", "xml", "franka_sim", "franka_panda.xml"),
]


@pytest.mark.parametrize("parts", FILES, ids=[p[-1] if p[0] != "gymnasium" else "gym_" + p[-1] for p in FILES])
def test_body_mass_properties_match_mujoco(parts):
    path = asset(*parts)
    m = mujoco.MjModel.from_xml_path(str(path))
    b = _native.SceneBuilder(enable_collision=False)
    b.add_mjcf(str(path), 1.0, [0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0])
    sim = b.build(1)
    names = sim.describe()["body_name"]
    mass = sim.get_param("body_mass")[0]
    ipos = sim.get_param("body_ipos")[0]
    inertia = sim.get_param("body_inertia")[0]
    # mesh inertia from the triangles, as MuJoCo's compiler computes it; MuJoCo keeps mesh
    # vertices in float32 (kinegrad in f64), which moves mesh inertias by a few 1e-9
    rel = 1e-8 if "franka" in str(path) else 1e-9
    compared = 0
    for i in range(1, m.nbody):
        name = mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_BODY, i)
        if name is None:
            continue
        k = names.index(name)
        scale = max(1.0, float(m.body_mass[i]))
        assert abs(mass[k] - m.body_mass[i]) <= rel * scale, (name, mass[k], m.body_mass[i])
        np.testing.assert_allclose(ipos[k], m.body_ipos[i], rtol=0, atol=rel * max(1e-3, np.abs(m.body_ipos[i]).max()), err_msg=name)
        eig = np.sort(np.linalg.eigvalsh(inertia[k]))
        np.testing.assert_allclose(eig, np.sort(m.body_inertia[i]), rtol=rel, atol=1e-12, err_msg=name)
        compared += 1
    assert compared >= 1


REPLICATE = """<mujoco>
  <compiler angle="degree"/>
  <worldbody>
    <geom type="plane" size="5 5 .1"/>
    <replicate count="3" offset="0 .4 0" sep="-">
      <frame pos=".1 0 0">
        <replicate count="12" offset=".3 0 0" euler="0 0 30">
          <body name="b" pos="0 .2 .1">
            <joint name="j" type="hinge" axis="0 1 0"/>
            <geom name="g" type="box" size=".02 .05 .08"/>
          </body>
        </replicate>
      </frame>
    </replicate>
    <body name="holder" pos="0 0 1">
      <replicate count="2" offset=".5 0 0">
        <geom type="sphere" size=".05" pos="0 0 .1"/>
      </replicate>
    </body>
  </worldbody>
</mujoco>
"""


def test_replicate_copies_bodies_as_mujoco_does(tmp_path):
    """<replicate>: copies placed by the accumulated offset and rotation, named with the separator
    and zero-padded index (innermost first), geoms inside a body adding to its mass (Genesis's
    dominos.xml uses it)."""
    path = tmp_path / "replicate.xml"
    path.write_text(REPLICATE)
    m = mujoco.MjModel.from_xml_path(str(path))
    d = mujoco.MjData(m)
    mujoco.mj_forward(m, d)
    b = _native.SceneBuilder(enable_collision=False)
    b.add_mjcf(str(path), 1.0, [0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0])
    sim = b.build(1)
    desc = sim.describe()
    names = desc["body_name"]
    links = sim.kinematics(sim.get_qpos(), np.zeros((1, sim.nv)))[0]  # (nbody, LINK_STATE)
    fields = dict((n, (o, k)) for n, o, k in _native.LINK_FIELDS)
    po, pk = fields["pos"]
    assert m.nbody == 1 + 36 + 1
    for i in range(1, m.nbody):
        name = mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_BODY, i)
        k = names.index(name)  # the same names: b00-0 ... b11-2, holder
        np.testing.assert_allclose(links[k, po : po + pk], d.xpos[i], atol=1e-12, err_msg=name)
    assert "b00-0" in names and "b11-2" in names
    assert abs(sim.get_param("body_mass")[0][names.index("holder")] - m.body_mass[-1]) < 1e-12


# --- mesh files and massless URDF links (issue 19) -------------------------------------------

BOX_QUADS = [(0, 3, 2, 1), (4, 5, 6, 7), (0, 1, 5, 4), (1, 2, 6, 5), (2, 3, 7, 6), (3, 0, 4, 7)]


def box_corners(lo, hi):
    return [(x, y, z) for (z) in (lo[2], hi[2]) for (x, y) in ((lo[0], lo[1]), (hi[0], lo[1]), (hi[0], hi[1]), (lo[0], hi[1]))]


def box_obj(lo, hi):
    v = "".join(f"v {x} {y} {z}\n" for x, y, z in box_corners(lo, hi))
    return v + "".join("f " + " ".join(str(i + 1) for i in q) + "\n" for q in BOX_QUADS)


def box_dae_mm(lo_mm, hi_mm):
    """The box as COLLADA in millimetres, its corners written from the origin and its node
    translated to lo_mm."""
    size = [h - l for l, h in zip(lo_mm, hi_mm)]
    corners = " ".join(f"{x} {y} {z}" for x, y, z in box_corners((0, 0, 0), size))
    p = " ".join(str(i) for q in BOX_QUADS for i in q)
    return f"""<?xml version="1.0"?>
<COLLADA xmlns="http://www.collada.org/2005/11/COLLADASchema" version="1.4.1">
  <asset><unit name="millimeter" meter="0.001"/><up_axis>Z_UP</up_axis></asset>
  <library_geometries><geometry id="g"><mesh>
    <source id="s"><float_array id="a" count="24">{corners}</float_array>
      <technique_common><accessor source="#a" count="8" stride="3"><param name="X" type="float"/><param name="Y" type="float"/><param name="Z" type="float"/></accessor></technique_common></source>
    <vertices id="v"><input semantic="POSITION" source="#s"/></vertices>
    <polylist count="6"><input semantic="VERTEX" source="#v" offset="0"/><vcount>4 4 4 4 4 4</vcount><p>{p}</p></polylist>
  </mesh></geometry></library_geometries>
  <library_visual_scenes><visual_scene id="S"><node id="n"><translate>{lo_mm[0]} {lo_mm[1]} {lo_mm[2]}</translate><instance_geometry url="#g"/></node></visual_scene></library_visual_scenes>
  <scene><instance_visual_scene url="#S"/></scene>
</COLLADA>
"""


def full_inertia(m, i):
    r = np.zeros(9)
    mujoco.mju_quat2Mat(r, m.body_iquat[i])
    r = r.reshape(3, 3)
    return r @ np.diag(m.body_inertia[i]) @ r.T


def kinegrad_mjcf(path):
    b = _native.SceneBuilder(enable_collision=False)
    b.add_mjcf(str(path), 1.0, [0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0])
    return b.build(1)


def test_mesh_refpos_refquat_as_mujoco(tmp_path):
    (tmp_path / "box.obj").write_text(box_obj((0, 0, 0), (1, 1, 2)))
    xml = tmp_path / "ref.xml"
    xml.write_text("""<mujoco><asset>
    <mesh name="m0" file="box.obj"/>
    <mesh name="m1" file="box.obj" refpos="0.25 0 0"/>
    <mesh name="m2" file="box.obj" refpos="0.25 0.1 -0.3" refquat="0.9 0.3 0.2 0.1" scale="1 2 0.5"/>
  </asset><worldbody>
    <body name="b0"><freejoint/><geom type="mesh" mesh="m0"/></body>
    <body name="b1"><freejoint/><geom type="mesh" mesh="m1"/></body>
    <body name="b2"><freejoint/><geom type="mesh" mesh="m2"/></body>
  </worldbody></mujoco>""")
    m = mujoco.MjModel.from_xml_path(str(xml))
    sim = kinegrad_mjcf(xml)
    assert not np.allclose(m.body_ipos[1], m.body_ipos[2]), "refpos moves the centre of mass"
    for i in range(1, 4):
        np.testing.assert_allclose(sim.get_param("body_mass")[0][i], m.body_mass[i], rtol=1e-9)
        np.testing.assert_allclose(sim.get_param("body_ipos")[0][i], m.body_ipos[i], rtol=0, atol=1e-9)
        # MuJoCo keeps mesh vertices in single precision
        np.testing.assert_allclose(sim.get_param("body_inertia")[0][i], full_inertia(m, i), rtol=0, atol=1e-8 * 2000)


def test_dae_mesh_weighs_as_mujoco_weighs_the_same_obj(tmp_path):
    # MuJoCo cannot read COLLADA: the same box as OBJ (metres) is its file
    (tmp_path / "box.dae").write_text(box_dae_mm((10, 20, 30), (110, 220, 330)))
    (tmp_path / "box.obj").write_text(box_obj((0.01, 0.02, 0.03), (0.11, 0.22, 0.33)))
    body = '<body name="b"><freejoint/><geom type="mesh" mesh="m"/></body>'
    for ext in ("dae", "obj"):
        (tmp_path / f"{ext}.xml").write_text(
            f'<mujoco><asset><mesh name="m" file="box.{ext}"/></asset><worldbody>{body}</worldbody></mujoco>'
        )
    m = mujoco.MjModel.from_xml_path(str(tmp_path / "obj.xml"))
    sim = kinegrad_mjcf(tmp_path / "dae.xml")
    np.testing.assert_allclose(sim.get_param("body_mass")[0][1], m.body_mass[1], rtol=1e-6)
    np.testing.assert_allclose(sim.get_param("body_ipos")[0][1], m.body_ipos[1], rtol=0, atol=1e-7)
    np.testing.assert_allclose(sim.get_param("body_inertia")[0][1], full_inertia(m, 1), rtol=1e-6, atol=1e-9)


def kinegrad_urdf(path):
    b = _native.SceneBuilder(enable_collision=False)
    b.add_urdf(str(path), 1.0, [0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0], True)
    return b.build(1)


def assert_mass_matrices_match(m, sim, rel=1e-9):
    """M(q) of MuJoCo's compiled URDF and of kinegrad's at random joint positions, dofs matched
    by joint name (both fixed-base, hinge and slide joints only)."""
    d = sim.describe()
    assert sim.nv == m.nv
    names = list(d["jnt_name"])
    perm = [d["jnt_dof_adr"][names.index(m.joint(j).name)] for j in range(m.njnt)]
    data = mujoco.MjData(m)
    rng = np.random.default_rng(0)
    for _ in range(3):
        data.qpos[:] = rng.uniform(-1, 1, m.nq)
        q = np.zeros(sim.nq)
        q[perm] = data.qpos
        mujoco.mj_forward(m, data)
        ref = np.zeros((m.nv, m.nv))
        for k in range(m.nv):  # MuJoCo 4.0 has no data.qM: M times each unit vector
            e = np.zeros(m.nv)
            e[k] = 1.0
            col = np.zeros(m.nv)
            mujoco.mj_mulM(m, data, col, e)
            ref[:, k] = col
        got = sim.mass_matrix(q)[np.ix_(perm, perm)]
        np.testing.assert_allclose(got, ref, rtol=0, atol=rel * np.abs(ref).max())


LINK_INERTIAL = '<inertial><origin xyz="0 0.05 0.1"/><mass value="{m}"/><inertia ixx="{i}" iyy="{i}" izz="{i}" ixy="0" ixz="0" iyz="0"/></inertial>'
BOX = '<collision><origin xyz="0 0 0.05"/><geometry><box size="0.1 0.2 0.3"/></geometry></collision>'


def test_urdf_massless_and_welded_links_as_mujoco(tmp_path):
    # a: 1 kg on j1; f: no <inertial>, a box (6 kg as MuJoCo weighs it), welded to a;
    # g: <inertial> of mass 0 but an inertia, and a box, welded to f (fused into a, its inertia
    # dropped: MuJoCo accumulates only a fused body of mass >= mjMINVAL); c: turns on j2 below g;
    # h: no <inertial> and no geometry, welded to c, carrying k's 2 kg on a slider
    def link(name, body=""):
        return f'<link name="{name}">{body}</link>'

    def joint(name, kind, parent, child, xyz, axis="0 1 0"):
        lim = '<limit lower="-1" upper="1" effort="1" velocity="1"/>' if kind != "fixed" else ""
        return (
            f'<joint name="{name}" type="{kind}"><parent link="{parent}"/><child link="{child}"/>'
            f'<origin xyz="{xyz}" rpy="0.3 0 0.2"/><axis xyz="{axis}"/>{lim}</joint>'
        )

    text = "".join(
        [
            '<robot name="r">',
            link("base", LINK_INERTIAL.format(m=1, i=0.01)),
            link("a", LINK_INERTIAL.format(m=1, i=0.01)),
            link("f", BOX),
            link("g", LINK_INERTIAL.format(m=0, i=0.05) + BOX),
            link("c", LINK_INERTIAL.format(m=0.5, i=0.002)),
            link("h"),
            link("k", LINK_INERTIAL.format(m=2, i=0.03)),
            joint("j1", "revolute", "base", "a", "0 0 0.5"),
            joint("jf", "fixed", "a", "f", "0.1 0 0.2"),
            joint("jg", "fixed", "f", "g", "0 0.2 0"),
            joint("j2", "revolute", "g", "c", "0 0 0.4", "1 0 0"),
            joint("jh", "fixed", "c", "h", "0 0.1 0"),
            joint("j3", "prismatic", "h", "k", "0 0 0.3", "0 0 1"),
            "</robot>",
        ]
    )
    f = tmp_path / "massless.urdf"
    f.write_text(text)
    m = mujoco.MjModel.from_xml_path(str(f))
    sim = kinegrad_urdf(f)
    names = list(sim.describe()["body_name"])
    assert "g" not in names and "h" not in names, names  # fused, as in MuJoCo
    assert "f" in names  # welded but with mass: kept (MuJoCo fuses it too; the dynamics are the same)
    assert_mass_matrices_match(m, sim)
    # the total mass: MuJoCo fuses the base into the world
    assert abs(sim.get_param("body_mass")[0][2:].sum() - m.body_mass.sum()) < 1e-12


def test_shadow_hand_mass_matrix_as_mujoco():
    # MuJoCo refuses the file for thumb_base and thumb_hub (no geometry, between two joints;
    # kinegrad gives them 1e-3 kg and warns): with that <inertial> written in, and its meshes
    # weighed by their convex hulls as kinegrad weighs them, MuJoCo loads it
    import re

    path = asset("genesis", "urdf", "shadow_hand", "shadow_hand.urdf")
    text = path.read_text()
    inertial = '<inertial><mass value="0.001"/><inertia ixx="4e-8" iyy="4e-8" izz="4e-8" ixy="0" ixz="0" iyz="0"/></inertial>'
    for link in ("thumb_base", "thumb_hub"):
        text, n = re.subn(rf'<link name="{link}"\s*/>', f'<link name="{link}">{inertial}</link>', text)
        if n == 0:
            text, n = re.subn(rf'<link name="{link}">', f'<link name="{link}">{inertial}', text)
        assert n == 1, link
    text = re.sub(r'filename="([^"]+)"', lambda mm: f'filename="{(path.parent / mm.group(1)).resolve()}"', text)
    spec = mujoco.MjSpec.from_string(text)
    for mesh in spec.meshes:
        mesh.inertia = mujoco.mjtMeshInertia.mjMESH_INERTIA_CONVEX
    m = spec.compile()
    sim = kinegrad_urdf(path)
    # MuJoCo keeps mesh vertices in single precision
    assert_mass_matrices_match(m, sim, rel=1e-6)


def test_urdf_spherical_joint_as_mujoco(tmp_path):
    # pybullet's `type="spherical"` (its humanoid.urdf), which MuJoCo's reader makes a ball joint;
    # a hinge hangs below it. Contacts off: the free swing from a tilted, spinning start.
    text = "".join(
        [
            '<?xml version="1.0"?>\n<robot name="r">',
            '<link name="base"/>',
            '<link name="a">' + LINK_INERTIAL.format(m=1.5, i=0.02) + "</link>",
            '<link name="b">' + LINK_INERTIAL.format(m=0.7, i=0.01) + "</link>",
            '<joint name="ball" type="spherical"><parent link="base"/><child link="a"/>'
            '<origin xyz="0 0 1" rpy="0.2 0 0"/></joint>',
            '<joint name="hinge" type="revolute"><parent link="a"/><child link="b"/>'
            '<origin xyz="0 0.1 -0.3"/><axis xyz="1 0 0"/></joint>',
            "</robot>",
        ]
    )
    f = tmp_path / "ball.urdf"
    f.write_text(text)
    m = mujoco.MjModel.from_xml_path(str(f))
    m.opt.disableflags |= int(mujoco.mjtDisableBit.mjDSBL_CONTACT)
    assert list(m.jnt_type) == [int(mujoco.mjtJoint.mjJNT_BALL), int(mujoco.mjtJoint.mjJNT_HINGE)]
    b = _native.SceneBuilder(enable_collision=False, timestep=float(m.opt.timestep), integrator="euler")
    b.add_urdf(str(f), 1.0, [0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0], True)
    sim = b.build(1)
    d = mujoco.MjData(m)
    d.qpos[:4] = np.array([0.9, 0.3, -0.2, 0.1]) / np.linalg.norm([0.9, 0.3, -0.2, 0.1])
    d.qvel[:] = [0.5, -1.0, 2.0, 0.3]
    sim.set_state(d.qpos[None].copy(), d.qvel[None].copy())
    for _ in range(500):
        mujoco.mj_step(m, d)
        sim.step(1)
    np.testing.assert_allclose(sim.get_qpos()[0], d.qpos, rtol=0, atol=1e-9)

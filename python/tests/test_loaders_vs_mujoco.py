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
    # mesh inertia: kinegrad integrates the convex hull, MuJoCo its own mesh volume -> 1e-6
    rel = 1e-6 if "franka" in str(path) else 1e-9
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

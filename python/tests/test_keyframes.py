"""Keyframes (MJCF ``<keyframe><key>``): named states an entity lists and can be set to,
read as MuJoCo reads them (unsaid positions are qpos0, unsaid velocities zero)."""

import os
import tempfile
import warnings

import mujoco
import numpy as np
import pytest
import torch

import kinegrad as gs
from _assets import asset


def build(path, n_envs=0):
    scene = gs.Scene(rigid_options=gs.options.RigidOptions(enable_collision=False))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ent = scene.add_entity(gs.morphs.MJCF(file=str(path)))
        scene.build(n_envs=n_envs)
    return scene, ent


def test_menagerie_panda_home_keyframe():
    path = asset("genesis", "xml", "franka_emika_panda", "panda.xml")
    m = mujoco.MjModel.from_xml_path(str(path))
    scene, panda = build(path, n_envs=2)
    assert panda.keyframes == ["home"]
    k = panda.get_keyframe("home")
    np.testing.assert_array_equal(k["qpos"].numpy(), m.key_qpos[0])
    np.testing.assert_array_equal(k["ctrl"].numpy(), m.key_ctrl[0])
    panda.set_keyframe("home", envs_idx=[1])
    q = panda.get_qpos().numpy()
    np.testing.assert_array_equal(q[1], m.key_qpos[0])
    np.testing.assert_array_equal(q[0], m.qpos0)  # the other env is untouched
    with pytest.raises(ValueError, match="no keyframe 'away'"):
        panda.get_keyframe("away")


XML = """<mujoco>
  <worldbody>
    <body name="a"><joint name="h" type="hinge" axis="0 1 0"/><geom type="sphere" size="0.1"/>
      <body name="b" pos="0 0 -0.3"><joint name="s" type="slide" axis="0 0 1"/><geom type="sphere" size="0.05"/></body>
    </body>
  </worldbody>
  <keyframe>
    <key name="moving" qvel="0.5 -1"/>
    <key name="bent" qpos="0.3 0.02"/>
    {extra}
  </keyframe>
</mujoco>"""


def write(extra=""):
    path = os.path.join(tempfile.gettempdir(), f"kinegrad_keys_{os.getpid()}_{len(extra)}.xml")
    with open(path, "w") as f:
        f.write(XML.format(extra=extra))
    return path


def test_unsaid_is_qpos0_and_rest_and_sizes_are_checked():
    scene, ent = build(write())
    assert ent.keyframes == ["moving", "bent"]
    ent.set_keyframe("moving")
    assert ent.get_qpos().tolist() == [0.0, 0.0]
    assert ent.get_dofs_velocity().tolist() == [0.5, -1.0]
    ent.set_keyframe("bent")
    assert ent.get_qpos().tolist() == [0.3, 0.02]
    assert ent.get_dofs_velocity().tolist() == [0.0, 0.0]
    with pytest.raises(Exception, match="keyframe 'short'.*qpos has 1 numbers, the entity has 2"):
        build(write('<key name="short" qpos="0.1"/>'))

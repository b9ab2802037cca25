"""Sites (MJCF ``<site>``): named frames fixed on links, readable as world poses that carry
gradients. Their poses against MuJoCo's ``site_xpos`` / ``site_xmat`` on dm_control files, at
random configurations; their gradients against central differences."""

import mujoco
import numpy as np
import pytest
import torch

import kinegrad as gs
from _assets import asset

# files with sites on many bodies, in default classes, frames and the worldbody
FILES = [
    ("dm_control", "suite", "manipulator.xml"),
    ("dm_control", "suite", "finger.xml"),
    ("dm_control", "suite", "humanoid.xml"),
    ("dm_control", "suite", "ball_in_cup.xml"),
]


def scene_of(path, requires_grad=False):
    scene = gs.Scene(
        sim_options=gs.options.SimOptions(requires_grad=requires_grad),
        rigid_options=gs.options.RigidOptions(enable_collision=False, enable_joint_limit=False),
    )
    with _quiet():
        ent = scene.add_entity(gs.morphs.MJCF(file=str(path)))
        scene.build()
    return scene, ent


class _quiet:
    def __enter__(self):
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore")

    def __exit__(self, *a):
        return self._w.__exit__(*a)


@pytest.mark.parametrize("parts", FILES, ids=[f[-1] for f in FILES])
def test_site_poses_match_mujoco(parts):
    path = asset(*parts)
    m = mujoco.MjModel.from_xml_path(str(path))
    d = mujoco.MjData(m)
    scene, ent = scene_of(path)
    names = [mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_SITE, i) for i in range(m.nsite)]
    assert m.nsite >= 2 and [s.name for s in ent.sites] == names
    rng = np.random.default_rng(1)
    for _ in range(3):
        q = m.qpos0 + 0.4 * rng.standard_normal(m.nq)
        d.qpos[:] = q
        mujoco.mj_kinematics(m, d)
        ent.set_qpos(torch.tensor(q))
        pos = ent.get_sites_pos().numpy()
        quat = ent.get_sites_quat().numpy()
        np.testing.assert_allclose(pos, d.site_xpos, rtol=0, atol=1e-12)
        for i in range(m.nsite):
            ref = np.zeros(4)
            mujoco.mju_mat2Quat(ref, d.site_xmat[i])
            # the same rotation: q and -q
            assert min(np.abs(quat[i] - ref).max(), np.abs(quat[i] + ref).max()) < 1e-12, (names[i], quat[i], ref)
    assert ent.get_site(names[0]).name == names[0]
    with pytest.raises(ValueError, match="no site 'nope'"):
        ent.get_site("nope")


def test_site_position_gradient_matches_central_differences():
    # the finger's tip after 30 steps from a given initial velocity
    path = asset("dm_control", "suite", "finger.xml")

    def run(v0, requires_grad):
        scene, ent = scene_of(path, requires_grad)
        ent.set_dofs_velocity(v0)
        for _ in range(30):
            scene.step()
        p = ent.get_site("tip").get_pos()
        return p[0] + 0.5 * p[2], ent  # the finger moves in the x-z plane

    v0 = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64, requires_grad=True)
    loss, _ = run(v0, True)
    loss.backward()
    d = torch.tensor([0.3, 1.0, -0.2], dtype=torch.float64)
    eps = 1e-6
    with torch.no_grad():
        fd = (run(v0 + eps * d, False)[0] - run(v0 - eps * d, False)[0]) / (2 * eps)
    an = (v0.grad * d).sum()

    assert abs(float(an)) > 1e-4
    assert abs(float(fd) - float(an)) < 1e-6 * abs(float(fd)), (float(fd), float(an))

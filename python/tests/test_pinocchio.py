"""M(q) and RNEA match Pinocchio at random states on URDF robots, to 1e-10."""

import re

import numpy as np
import pinocchio as pin
import pytest

from _assets import pybullet_data
from kinegrad import _native

ROBOTS = [("franka_panda", "panda.urdf"), ("kuka_iiwa", "model.urdf")]


def load(path):
    b = _native.SceneBuilder(gravity=[0.0, 0.0, -9.81], enable_collision=False)
    b.add_urdf(str(path), 1.0, [0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0], True)
    return b.build(1)


def pinocchio_model(path):
    """Pinocchio's model of the URDF at `path`, with the inertia of its links of mass 0 (all on
    fixed joints here) set to zero: kinegrad drops it as MuJoCo's fusion does (pybullet's
    panda_link8: mass 0 but an inertia of 0.1), Pinocchio would keep it."""
    text = path.read_text()
    text = re.sub(
        r'(<mass value="0(?:\.0*)?"\s*/>\s*<inertia)[^/]*/>',
        r'\1 ixx="0" ixy="0" ixz="0" iyy="0" iyz="0" izz="0"/>',
        text,
    )
    return pin.buildModelFromXML(text)


def dof_permutation(sim, pmodel):
    """Index of each Pinocchio velocity coordinate in kinegrad's v, matched by joint name."""
    desc = sim.describe()
    names = desc["jnt_name"]
    adr = desc["jnt_dof_adr"]
    perm = []
    for jid in range(1, pmodel.njoints):
        perm.append(adr[names.index(pmodel.names[jid])])
    return np.array(perm)


@pytest.mark.parametrize("robot", ROBOTS)
def test_mass_matrix_and_rnea_match_pinocchio(robot):
    path = pybullet_data(*robot)
    pmodel = pinocchio_model(path)
    pdata = pmodel.createData()
    sim = load(path)
    assert sim.nv == pmodel.nv
    perm = dof_permutation(sim, pmodel)
    rng = np.random.default_rng(1)
    for _ in range(5):
        qp = rng.uniform(-1.5, 1.5, pmodel.nq)
        vp = rng.standard_normal(pmodel.nv)
        ap = rng.standard_normal(pmodel.nv)
        q = np.zeros(sim.nq)
        v = np.zeros(sim.nv)
        a = np.zeros(sim.nv)
        q[perm] = qp  # hinge and slide only: q and v share addresses
        v[perm] = vp
        a[perm] = ap
        m_ref = pin.crba(pmodel, pdata, qp)
        m_ref = np.triu(m_ref) + np.triu(m_ref, 1).T
        tau_ref = pin.rnea(pmodel, pdata, qp, vp, ap)
        m = sim.mass_matrix(q)[np.ix_(perm, perm)]
        tau = sim.inverse_dynamics(q, v, a)[perm]
        scale = max(1.0, np.abs(m_ref).max())
        np.testing.assert_allclose(m, m_ref, rtol=0, atol=1e-10 * scale)
        np.testing.assert_allclose(tau, tau_ref, rtol=0, atol=1e-10 * max(1.0, np.abs(tau_ref).max()))

"""External forces and torques on links (Genesis's apply_links_external_force / _torque): one
step each, at the link origin or centre of mass, world or local axes; against MuJoCo's
xfrc_applied, and their gradient against finite differences."""

import mujoco
import numpy as np
import pytest
import torch

import kinegrad as gs
from _mujoco_pair import check_gradient, mujoco_and_kinegrad, write_xml

SCENE = """
<mujoco>
  <option timestep="0.004" integrator="implicitfast"/>
  <worldbody>
    <geom type="plane" size="2 2 0.1"/>
    <body name="a" pos="0 0 1"><joint type="hinge" axis="0 1 0" damping="0.1"/>
      <geom type="capsule" fromto="0 0 0 0.3 0 0" size="0.03" mass="1"/>
      <body name="b" pos="0.3 0 0"><joint type="hinge" axis="1 0 0"/>
        <geom type="capsule" fromto="0 0 0 0.25 0.05 0" size="0.03" mass="0.7"/>
      </body>
    </body>
    <body name="box" pos="0.8 0.1 0.3" euler="10 5 20"><freejoint/>
      <geom type="box" size="0.08 0.06 0.05" mass="0.5" pos="0.02 0.01 0"/>
    </body>
  </worldbody>
</mujoco>
"""


def test_forces_and_torques_match_mujoco_xfrc_applied():
    path = write_xml(SCENE, "xfrc")
    m, d, _ = mujoco_and_kinegrad(path)
    scene = gs.Scene(sim_options=gs.options.SimOptions(dt=0.004), show_viewer=False)
    ent = scene.add_entity(gs.morphs.MJCF(file=path))
    scene.build()
    rs = scene.sim.rigid_solver
    names = ["a", "b", "box"]
    links = [ent.get_link(n).idx for n in names]
    ids = [mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, n) for n in names]
    rng = np.random.default_rng(0)
    for k in range(150):
        f = rng.normal(0, 2.0, (3, 3))
        t = rng.normal(0, 0.2, (3, 3))
        local = k % 3 == 1
        ref = "link_com" if k % 2 else "link_origin"
        # MuJoCo: force and torque at the centre of mass, world axes (its poses at this state)
        mujoco.mj_kinematics(m, d)
        d.xfrc_applied[:] = 0
        for i, b in enumerate(ids):
            R = d.xmat[b].reshape(3, 3)  # (the poses at this state: mj_kinematics above)
            fw, tw = (R @ f[i], R @ t[i]) if local else (f[i], t[i])
            lever = d.xpos[b] - d.xipos[b] if ref == "link_origin" else np.zeros(3)
            d.xfrc_applied[b, :3] = fw
            d.xfrc_applied[b, 3:] = tw + np.cross(lever, fw)
        if k % 5 != 4:  # (some steps without: the wrenches last one step)
            rs.apply_links_external_force(torch.tensor(f), links_idx=links, ref=ref, local=local)
            rs.apply_links_external_torque(torch.tensor(t), links_idx=links, local=local)
        else:
            d.xfrc_applied[:] = 0
        mujoco.mj_step(m, d)
        scene.step()
        np.testing.assert_allclose(scene._qpos[0].numpy(), d.qpos, rtol=0, atol=1e-9)  # (float64)
    assert float(np.abs(d.qvel).max()) > 1.0


def pushed(x, requires_grad):
    """The chain and box pushed by forces `x` (4, 3, 3) for 4 steps each, then 40 free steps."""
    path = write_xml(SCENE, "xfrc_grad")
    scene = gs.Scene(sim_options=gs.options.SimOptions(dt=0.004, requires_grad=requires_grad), show_viewer=False)
    ent = scene.add_entity(gs.morphs.MJCF(file=path))
    scene.build()
    rs = scene.sim.rigid_solver
    links = [ent.get_link(n).idx for n in ("a", "b", "box")]
    for k in range(56):
        if k < 16:
            rs.apply_links_external_force(x[k // 4], links_idx=links)
        scene.step()
    w = torch.linspace(1.0, -1.0, ent.n_qs, dtype=torch.float64)
    return (ent.get_qpos().double() * w).sum()


def test_gradient_through_external_forces_matches_finite_differences():
    x0 = torch.tensor(np.random.default_rng(1).normal(0, 1.0, (4, 3, 3)))
    check_gradient(pushed, x0, seed=2, directions=3)


def test_bad_references_are_named():
    scene = gs.Scene(show_viewer=False)
    box = scene.add_entity(gs.morphs.Box(size=(0.1, 0.1, 0.1)))
    scene.build()
    with pytest.raises(gs.GenesisException, match="root_com"):
        scene.sim.rigid_solver.apply_links_external_force(torch.zeros(1, 3), links_idx=[box.base_link.idx], ref="root_com")
    with pytest.raises(gs.GenesisException, match="force"):
        scene.sim.rigid_solver.apply_links_external_force(torch.zeros(2, 3), links_idx=[box.base_link.idx])

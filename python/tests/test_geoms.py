"""Geoms as Genesis exposes them (entity.geoms / vgeoms, link.geoms, rigid_solver.geoms,
gs.GEOM_TYPE): kinds, sizes, world poses against MuJoCo's geom_xpos / geom_xmat, vertices and
boxes, friction writes, mesh triangles."""

import mujoco
import numpy as np
import pytest
import torch

import kinegrad as gs
from _assets import asset
from test_morph_options import cube_obj

PANDA = str(asset("genesis", "xml", "franka_emika_panda", "panda.xml"))
Q = [0.3, -0.5, 0.2, -2.0, 0.4, 1.8, 0.6, 0.02, 0.03]


def quat_mat(q):
    """MuJoCo's rotation matrix of q (row-major 9)."""
    R = np.zeros(9)
    mujoco.mju_quat2Mat(R, q)
    return R


def test_panda_geoms_sit_where_mujoco_puts_them():
    scene = gs.Scene(show_viewer=False)
    arm = scene.add_entity(gs.morphs.MJCF(file=PANDA))
    scene.build()
    arm.set_qpos(torch.tensor(Q, dtype=torch.float64))
    m = mujoco.MjModel.from_xml_path(PANDA)
    d = mujoco.MjData(m)
    d.qpos[:] = Q
    mujoco.mj_kinematics(m, d)
    # MuJoCo's geoms by body name, split as collision (contype or conaffinity) and visual:
    # a primitive's world pose, a mesh's world vertices' box (MuJoCo moves a mesh's frame to its
    # centroid and principal axes; kinegrad keeps the file's frame, so the vertices are compared)
    def mj(body, visual):
        out = []
        for g in range(m.ngeom):
            if mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_BODY, m.geom_bodyid[g]) != body:
                continue
            if (m.geom_contype[g] == 0 and m.geom_conaffinity[g] == 0) != visual:
                continue
            R = d.geom_xmat[g].reshape(3, 3)
            if m.geom_type[g] == mujoco.mjtGeom.mjGEOM_MESH:
                a, n = m.mesh_vertadr[m.geom_dataid[g]], m.mesh_vertnum[m.geom_dataid[g]]
                w = d.geom_xpos[g] + m.mesh_vert[a : a + n] @ R.T
                out.append(np.concatenate([w.min(0), w.max(0)]))
            else:
                out.append(np.concatenate([d.geom_xpos[g], R.ravel()]))
        return out

    n_col = sum(1 for g in range(m.ngeom) if m.geom_contype[g] or m.geom_conaffinity[g])
    assert arm.n_geoms == n_col and arm.n_vgeoms == m.ngeom - n_col
    assert scene.rigid_solver.n_geoms == n_col and len(scene.rigid_solver.links) == arm.n_links
    for visual, geoms in ((False, arm.geoms), (True, arm.vgeoms)):
        for g in geoms:
            assert g.is_visual == visual and isinstance(g.type, gs.GEOM_TYPE)
            if g.type == gs.GEOM_TYPE.MESH:
                w = g.get_verts().numpy()
                mine = np.concatenate([w.min(0), w.max(0)])
            else:
                mine = np.concatenate([g.get_pos().numpy(), quat_mat(g.get_quat().double().numpy())])
            cands = [c for c in mj(g.link.name, visual) if c.shape == mine.shape]
            best = min(np.abs(c - mine).max() for c in cands)
            # (MuJoCo keeps mesh vertices in float32: 6e-8 of their size)
            assert best < (1e-7 if g.type == gs.GEOM_TYPE.MESH else 1e-12), (g, best)
    assert {g.type for g in arm.geoms} >= {gs.GEOM_TYPE.MESH}
    hand = arm.get_link("hand")
    assert all(g.link is hand for g in hand.geoms) and hand.n_geoms >= 1


def test_box_geom_vertices_box_and_friction():
    scene = gs.Scene(show_viewer=False, sim_options=gs.options.SimOptions(requires_grad=True))
    box = scene.add_entity(gs.morphs.Box(size=(0.2, 0.4, 0.6), pos=(0.1, 0.2, 1.0), euler=(10, 20, 30)))
    scene.build()
    (g,) = box.geoms
    assert g.type == gs.GEOM_TYPE.BOX and np.allclose(g.data, [0.1, 0.2, 0.3])
    assert box.vgeoms == [g] or (len(box.vgeoms) == 1 and box.vgeoms[0].idx == g.idx)  # drawn with its collision geom
    v = g.get_verts()
    assert v.shape == (8, 3)
    aabb = g.get_AABB()
    torch.testing.assert_close(aabb[0], v.min(0).values.to(aabb.dtype), rtol=0, atol=1e-12)
    torch.testing.assert_close(aabb[1], v.max(0).values.to(aabb.dtype), rtol=0, atol=1e-12)
    g.set_friction(0.37)
    assert abs(g.friction - 0.37) < 1e-15
    with pytest.raises(gs.GenesisException, match="friction"):
        g.set_friction(-1.0)
    # a geom's pose carries the link reading's gradient
    f = torch.tensor([1.0, 0.0, 0.0, 0.0, 0.0, 0.5], dtype=torch.float64, requires_grad=True)
    box.control_dofs_force(f)
    scene.step()
    g.get_pos()[2].backward()
    assert f.grad is not None and float(f.grad.abs().sum()) > 0


def test_mesh_geom_gives_its_triangles(tmp_path):
    f = cube_obj(tmp_path / "cube.obj", 0.1)
    scene = gs.Scene(show_viewer=False)
    cube = scene.add_entity(gs.morphs.Mesh(file=f, pos=(0, 0, 0.5), scale=2.0))
    scene.build()
    (g,) = cube.geoms
    assert g.type == gs.GEOM_TYPE.MESH
    mesh = g.mesh
    assert mesh.verts.shape == (8, 3) and mesh.faces.shape == (12, 3)
    assert np.allclose(np.abs(mesh.verts), 0.2)  # scaled as loaded
    assert g.get_verts().shape == (8, 3)

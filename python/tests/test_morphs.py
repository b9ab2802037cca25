import math
import os

import pytest
import torch

import kinegrad as gs
from kinegrad._convert import quat_to_xyz, xyz_to_quat
from kinegrad.morphs import euler_to_quat, resolve_file

from conftest import franka_urdf


def qmul(a, b):
    w1, x1, y1, z1 = a
    w2, x2, y2, z2 = b
    return (
        w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
        w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
        w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
        w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2,
    )


def axis_quat(axis, deg):
    h = math.radians(deg) / 2
    q = [math.cos(h), 0.0, 0.0, 0.0]
    q[1 + axis] = math.sin(h)
    return tuple(q)


def test_euler_is_extrinsic_xyz_in_degrees():
    ex, ey, ez = 30.0, -45.0, 60.0
    expected = qmul(axis_quat(2, ez), qmul(axis_quat(1, ey), axis_quat(0, ex)))
    got = euler_to_quat((ex, ey, ez))
    assert all(abs(a - b) < 1e-12 for a, b in zip(got, expected))


def test_euler_quat_round_trip():
    e = torch.tensor([[0.3, -0.4, 1.2], [-2.0, 0.1, 0.5]], dtype=torch.float64)
    assert torch.allclose(quat_to_xyz(xyz_to_quat(e)), e, atol=1e-12)


def test_morph_pose_from_euler_or_quat():
    assert gs.morphs.Sphere(euler=(0, 0, 90)).quat == pytest.approx((math.sqrt(0.5), 0, 0, math.sqrt(0.5)))
    assert gs.morphs.Box(quat=(2, 0, 0, 0)).quat == (1.0, 0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="euler or quat"):
        gs.morphs.Box(euler=(0, 0, 0), quat=(1, 0, 0, 0))
    with pytest.raises(ValueError, match="pos"):
        gs.morphs.Sphere(pos=(0, 0))


def test_box_from_corners():
    b = gs.morphs.Box(lower=(0, 0, 0), upper=(1, 2, 4))
    assert b.size == (1.0, 2.0, 4.0) and b.pos == (0.5, 1.0, 2.0)
    with pytest.raises(ValueError, match="size"):
        gs.morphs.Box(size=(1, 0, 1))


def test_primitive_sizes_are_checked():
    with pytest.raises(ValueError, match="radius"):
        gs.morphs.Sphere(radius=-1)
    with pytest.raises(ValueError, match="height"):
        gs.morphs.Cylinder(radius=0.1, height=0)
    with pytest.raises(ValueError, match="normal"):
        gs.morphs.Plane(normal=(0, 0, 0))
    assert gs.morphs.Plane().fixed


def test_relative_file_resolves_against_cwd(tmp_path, monkeypatch):
    (tmp_path / "robot.urdf").write_text("<robot name='r'/>")
    monkeypatch.chdir(tmp_path)
    assert resolve_file("robot.urdf") == str((tmp_path / "robot.urdf").resolve())


def test_relative_file_resolves_against_asset_path(tmp_path, monkeypatch):
    (tmp_path / "xml").mkdir()
    (tmp_path / "xml" / "m.xml").write_text("<mujoco/>")
    monkeypatch.setenv("KINEGRAD_ASSET_PATH", str(tmp_path))
    assert resolve_file("xml/m.xml") == str((tmp_path / "xml" / "m.xml").resolve())


def test_missing_file_lists_the_places_tried(tmp_path, monkeypatch):
    monkeypatch.setenv("KINEGRAD_ASSET_PATH", str(tmp_path))
    with pytest.raises(FileNotFoundError) as e:
        gs.morphs.URDF(file="no/such/robot.urdf")
    assert "no/such/robot.urdf" in str(e.value) and str(tmp_path) in str(e.value)


def test_pybullet_data_is_on_the_search_path():
    path = franka_urdf()
    assert gs.morphs.URDF(file="franka_panda/panda.urdf", fixed=True).file == os.path.realpath(path)

"""Cameras: geometry of the images (projection, depth), colours, segmentation, recording, errors."""

import math
import os
import warnings

import numpy as np
import pytest
import torch

import kinegrad as gs
from kinegrad import _video

from _assets import asset

RED = (1.0, 0.0, 0.0)


def red_mask(rgb):
    r, g, b = (rgb[..., k].astype(int) for k in range(3))
    return (r > 80) & (g < 40) & (b < 40)


def sphere_scene(radius=0.5, centre=(0.0, 0.0, 0.0), cam_pos=(3.0, 0.0, 0.0), res=(200, 160), fov=40.0, **scene_kw):
    scene = gs.Scene(**scene_kw)
    ball = scene.add_entity(gs.morphs.Sphere(pos=centre, radius=radius, fixed=True), surface=gs.surfaces.Default(color=RED))
    cam = scene.add_camera(res=res, pos=cam_pos, lookat=centre, fov=fov)
    scene.build()
    return scene, ball, cam


def test_red_sphere_lands_in_the_image_centre_with_the_expected_radius():
    R, d = 0.5, 3.0
    scene, _, cam = sphere_scene(radius=R, cam_pos=(d, 0.0, 0.0))
    rgb, depth, seg, normal = cam.render()
    assert rgb.shape == (160, 200, 3) and rgb.dtype == np.uint8
    assert depth is None and seg is None and normal is None
    mask = red_mask(rgb)
    rows, cols = np.nonzero(mask)
    # centroid of the disc at the image centre (pixel centres at +0.5)
    assert abs(cols.mean() + 0.5 - 100.0) < 0.25 and abs(rows.mean() + 0.5 - 80.0) < 0.25
    # silhouette of a sphere seen from distance d: a circle of radius f R / sqrt(d^2 - R^2)
    f = 0.5 * 160 / math.tan(math.radians(20.0))
    assert abs(cam.f - f) < 1e-9
    expected = f * R / math.sqrt(d * d - R * R)
    radius = math.sqrt(mask.sum() / math.pi)
    assert abs(radius - expected) < 0.02 * expected, (radius, expected)
    # the radius measured along the middle row agrees too (within a pixel)
    row = np.nonzero(mask[80])[0]
    assert abs((row.max() - row.min() + 1) / 2 - expected) < 1.0


def test_depth_of_a_plane_at_a_known_distance():
    h = 2.5
    scene = gs.Scene()
    scene.add_entity(gs.morphs.Plane())
    # looking straight down: every pixel sees the plane at depth h along the axis
    down = scene.add_camera(res=(64, 48), pos=(0.3, -0.2, h), lookat=(0.3, -0.2, 0.0), up=(1.0, 0.0, 0.0), fov=60)
    # oblique view: the centre pixel's ray hits the plane at the lookat point
    oblique = scene.add_camera(res=(64, 48), pos=(2.0, 1.0, 1.5), lookat=(0.0, 0.0, 0.0), fov=50)
    scene.build()
    _, depth, seg, _ = down.render(rgb=False, depth=True, segmentation=True)
    assert depth.shape == (48, 64) and depth.dtype == np.float32
    assert np.all(seg == 0)  # link 0: the plane
    assert np.max(np.abs(depth - h)) < 0.01 * h
    _, depth, _, _ = oblique.render(rgb=False, depth=True)
    dist = math.sqrt(2.0**2 + 1.0**2 + 1.5**2)
    centre = depth[23:25, 31:33].mean()  # the 4 pixels around the optical axis
    assert abs(centre - dist) < 0.01 * dist
    # depth along the axis grows towards the top of the image (farther along the ground)
    assert depth[5, 32] > depth[24, 32] > depth[43, 32]


def test_depth_of_a_box_face_and_background():
    scene = gs.Scene()
    scene.add_entity(gs.morphs.Box(pos=(0.0, 0.0, 0.0), size=(0.4, 0.4, 0.4), fixed=True))
    cam = scene.add_camera(res=(80, 60), pos=(2.0, 0.0, 0.0), lookat=(0.0, 0.0, 0.0), fov=30, far=20.0)
    scene.build()
    _, depth, seg, normal = cam.render(rgb=False, depth=True, segmentation=True, normal=True)
    assert abs(depth[30, 40] - 1.8) < 1e-4  # the face at x = 0.2, 1.8 m from the camera
    assert np.allclose(normal[30, 40], [1.0, 0.0, 0.0], atol=1e-5)
    assert depth[0, 0] == 20.0 and seg[0, 0] == -1 and np.all(normal[0, 0] == 0)


def test_surface_colour_overrides_the_default_and_files_keep_theirs():
    scene = gs.Scene()
    grey = scene.add_entity(gs.morphs.Box(pos=(0.0, -0.3, 0.0), size=(0.2, 0.2, 0.2), fixed=True))
    blue = scene.add_entity(
        gs.morphs.Box(pos=(0.0, 0.3, 0.0), size=(0.2, 0.2, 0.2), fixed=True), surface=gs.surfaces.Default(color=(0, 0, 1))
    )
    cam = scene.add_camera(res=(120, 60), pos=(2.0, 0.0, 0.0), lookat=(0.0, 0.0, 0.0), fov=30)
    scene.build()
    rgb, _, seg, _ = cam.render(segmentation=True)
    # +y is to the right of a camera on +x looking at the origin (z up)
    left, right = rgb[30, 40].astype(int), rgb[30, 80].astype(int)
    assert seg[30, 40] == grey.link_start and seg[30, 80] == blue.link_start
    assert right[2] > 150 and right[0] == 0 and right[1] == 0
    assert abs(left[0] - left[1]) < 15 and left[0] > 100  # default grey


def test_franka_from_mjcf_renders_its_visual_meshes_in_their_colours():
    scene = gs.Scene()
    franka = scene.add_entity(gs.morphs.MJCF(file=str(asset("genesis", "xml", "franka_emika_panda", "panda_no_tendon.xml"))))
    cam = scene.add_camera(res=(160, 120), pos=(1.6, 0.0, 0.5), lookat=(0.0, 0.0, 0.5), fov=45)
    scene.build()
    rgb, _, seg, _ = cam.render(segmentation=True)
    hit = seg >= 0
    assert 0.03 < hit.mean() < 0.6
    # the arm is mostly white and off-white, with dark parts (materials "black")
    px = rgb[hit].astype(int)
    bright = (px.min(axis=1) > 140) & (px.max(axis=1) - px.min(axis=1) < 30)
    dark = px.max(axis=1) < 90
    assert bright.mean() > 0.4 and dark.mean() > 0.02
    # several links are seen, all of this entity
    links = set(np.unique(seg[hit]).tolist())
    assert len(links) >= 5 and links <= set(range(franka.link_start, franka.link_start + franka.n_links))
    # the segmentation levels
    scene.vis_options.segmentation_level = "entity"
    assert set(np.unique(cam.render(rgb=False, segmentation=True)[2]).tolist()) == {-1, 0}
    scene.vis_options.segmentation_level = "geom"
    geoms = np.unique(cam.render(rgb=False, segmentation=True)[2])
    assert len(geoms) > len(links)
    col = cam.render(rgb=False, segmentation=True, colorize_seg=True)[2]
    assert col.shape == (120, 160, 3) and col.dtype == np.uint8 and np.all(col[~hit] == 0)


def test_recording_a_falling_ball_writes_every_frame_at_its_resolution(tmp_path):
    scene = gs.Scene(sim_options=gs.options.SimOptions(dt=0.02))
    scene.add_entity(gs.morphs.Plane())
    ball = scene.add_entity(gs.morphs.Sphere(pos=(0.0, 0.0, 1.5), radius=0.1), surface=gs.surfaces.Default(color=RED))
    cam = scene.add_camera(res=(96, 128), pos=(4.0, 0.0, 1.0), lookat=(0.0, 0.0, 1.0), fov=40)
    scene.build()
    n = 25
    cam.start_recording()
    expected_rows = []
    for _ in range(n):
        scene.step()
        cam.render()
        # where the ball's centre projects: row = cy - f z_cam / x_cam
        z = float(ball.get_pos()[2])
        expected_rows.append(cam.cy - cam.f * (z - 1.0) / 4.0)
    path = cam.stop_recording(save_to_filename=str(tmp_path / "fall.mp4"), fps=25)
    assert path == str(tmp_path / "fall.mp4") and os.path.getsize(path) > 0
    assert not cam.is_recording
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(path)
    meta = next(reader)
    assert tuple(meta["size"]) == (96, 128)
    frames = [np.frombuffer(f, dtype=np.uint8).reshape(128, 96, 3) for f in reader]
    assert len(frames) == n
    # the decoded ball follows the simulated fall (within the codec's blur)
    for img, row in zip(frames, expected_rows):
        rows, _ = np.nonzero(red_mask(img))
        assert abs(rows.mean() + 0.5 - row) < 1.5
    assert expected_rows[-1] > expected_rows[0] + 10  # it did move down the image


def test_gif_fallback_without_imageio_ffmpeg(tmp_path, monkeypatch):
    from PIL import Image

    scene = gs.Scene()
    ball = scene.add_entity(gs.morphs.Sphere(radius=0.3), surface=gs.surfaces.Default(color=RED))
    cam = scene.add_camera(res=(40, 30), pos=(3.0, 0.0, 0.0), lookat=(0.0, 0.0, 0.0), fov=40)
    scene.build()
    cam.start_recording()
    for k in range(4):
        ball.set_pos(torch.tensor([0.0, 0.1 * k, 0.0], dtype=torch.float64))
        cam.render(rgb=False)  # recording renders RGB anyway
    monkeypatch.setattr(_video, "have_ffmpeg", lambda: False)
    path = cam.stop_recording(save_to_filename=str(tmp_path / "clip.mp4"), fps=10)
    assert path == str(tmp_path / "clip.gif") and not (tmp_path / "clip.mp4").exists()
    with Image.open(path) as im:
        assert im.size == (40, 30) and im.n_frames == 4
    # a .gif is written by Pillow whatever is installed
    p2 = gs.tools.animate([np.full((30, 40, 3), 50 * k, np.uint8) for k in range(3)], str(tmp_path / "b.gif"), fps=20)
    with Image.open(p2) as im:
        assert im.n_frames == 3


def test_render_sequence_matches_render_and_leaves_the_state_alone():
    scene = gs.Scene()
    scene.add_entity(gs.morphs.Plane())
    ball = scene.add_entity(gs.morphs.Sphere(pos=(0.0, 0.0, 0.5), radius=0.1), surface=gs.surfaces.Default(color=RED))
    cam = scene.add_camera(res=(48, 32), pos=(2.0, 0.0, 0.5), lookat=(0.0, 0.0, 0.5), fov=40)
    scene.build()
    q0 = scene.sim.rigid_solver.get_qpos().clone()
    q1 = q0.clone()
    q1[2] = 0.3
    frames = cam.render_sequence(torch.stack([q0, q1]))
    assert frames.shape == (2, 32, 48, 3)
    assert torch.equal(scene.sim.rigid_solver.get_qpos(), q0)
    assert np.array_equal(frames[0], cam.render()[0])
    ball.set_pos(torch.tensor([0.0, 0.0, 0.3], dtype=torch.float64))
    assert np.array_equal(frames[1], cam.render()[0])
    with pytest.raises(ValueError, match=r"qpos: expected shape \(T, 7\)"):
        cam.render_sequence(np.zeros((3, 5)))


def test_batched_scene_renders_the_chosen_env():
    scene = gs.Scene()
    ball = scene.add_entity(gs.morphs.Sphere(pos=(0.0, 0.0, 0.0), radius=0.2), surface=gs.surfaces.Default(color=RED))
    cam0 = scene.add_camera(res=(64, 64), pos=(3.0, 0.0, 0.0), lookat=(0.0, 0.0, 0.0), fov=40)
    cam1 = scene.add_camera(res=(64, 64), pos=(3.0, 0.0, 0.0), lookat=(0.0, 0.0, 0.0), fov=40, env_idx=1)
    scene.build(n_envs=2)
    ball.set_pos(torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, 0.4]], dtype=torch.float64))
    r0 = np.nonzero(red_mask(cam0.render()[0]))[0].mean()
    r1 = np.nonzero(red_mask(cam1.render()[0]))[0].mean()
    assert abs(r0 + 0.5 - 32) < 0.5 and r1 < r0 - 5  # env 1's ball is higher up
    bad = scene.add_camera(env_idx=5)
    with pytest.raises(ValueError, match="env_idx: 5 out of range"):
        bad.render()


def test_no_renderer_until_a_camera_renders():
    scene = gs.Scene()
    scene.add_entity(gs.morphs.Plane())
    scene.add_entity(gs.morphs.Sphere(pos=(0, 0, 1), radius=0.1))
    cam = scene.add_camera()
    scene.build()
    for _ in range(3):
        scene.step()
    assert scene._renderer is None
    cam.render()
    assert scene._renderer is not None


def test_pose_transform_and_intrinsics():
    scene, _, cam = sphere_scene()
    T = cam.transform
    assert T.shape == (4, 4) and np.allclose(T[:3, 3], [3, 0, 0])
    assert np.allclose(T[:3, 2], [1, 0, 0], atol=1e-6)  # z backwards: away from the lookat point
    before = cam.render()[0]
    cam.set_pose(pos=(0.0, 2.0, 0.0))  # nearer: a bigger disc
    assert red_mask(cam.render()[0]).sum() > 1.5 * red_mask(before).sum()
    cam.set_pose(transform=T)
    assert np.allclose(cam.pos, [3, 0, 0]) and np.array_equal(cam.render()[0], before)
    K = cam.intrinsics
    assert K[0, 0] == K[1, 1] == cam.f and K[0, 2] == 100 and K[1, 2] == 80
    # the extrinsics map the sphere centre onto the optical axis at depth 3
    p = cam.extrinsics @ np.array([0.0, 0.0, 0.0, 1.0])
    assert np.allclose(p[:3], [0, 0, 3], atol=1e-9)


def test_errors_name_the_argument(tmp_path):
    scene = gs.Scene()
    scene.add_entity(gs.morphs.Sphere(radius=0.1, fixed=True))
    for kw, msg in [
        (dict(res=(0, 10)), "res:"),
        (dict(res=(640,)), "res:"),
        (dict(res=(64.5, 48)), "res:"),
        (dict(fov=0), "fov:"),
        (dict(fov=180), "fov:"),
        (dict(pos=(1, 2)), "pos:"),
        (dict(pos=(1, 1, 1), lookat=(1, 1, 1)), "lookat:"),
        (dict(pos=(0, 0, 2), lookat=(0, 0, 0), up=(0, 0, 1)), "up:"),
        (dict(near=0), "near:"),
        (dict(near=1.0, far=0.5), "far:"),
        (dict(model="fisheye"), "model:"),
        (dict(transform=np.zeros((3, 3))), "transform:"),
    ]:
        with pytest.raises(ValueError, match=msg):
            scene.add_camera(**kw)
    with pytest.raises(ValueError, match="color:"):
        gs.surfaces.Default(color=(300, 0, 0))
    with pytest.raises(ValueError, match="segmentation_level"):
        gs.options.VisOptions(segmentation_level="pixel")
    cam = scene.add_camera(res=(16, 16), pos=(1, 0, 0), lookat=(0, 0, 0))
    with pytest.raises(RuntimeError, match="not built"):
        cam.render()
    scene.build()
    with pytest.raises(RuntimeError, match="recording was not started"):
        cam.stop_recording(str(tmp_path / "x.mp4"))
    with pytest.raises(RuntimeError, match="not recording"):
        cam.pause_recording()
    cam.start_recording()
    with pytest.raises(RuntimeError, match="no frames were recorded"):
        cam.stop_recording(str(tmp_path / "x.mp4"))
    cam.start_recording()
    cam.render()
    with pytest.raises(ValueError, match="save_to_filename: unsupported extension '.txt'"):
        cam.stop_recording(str(tmp_path / "x.txt"))
    with pytest.raises(ValueError, match="save_to_filename: folder"):
        cam.stop_recording(str(tmp_path / "missing" / "x.mp4"))
    with pytest.raises(ValueError, match="fps:"):
        cam.stop_recording(str(tmp_path / "x.mp4"), fps=0)
    # the frames survive a failed write
    assert cam.stop_recording(str(tmp_path / "x.mp4"), fps=5).endswith("x.mp4")


def test_examples_save_video_writes_a_trajectory(tmp_path):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
    try:
        from _common import save_video
    finally:
        sys.path.pop(0)
    scene = gs.Scene(sim_options=gs.options.SimOptions(dt=0.02), vis_options=gs.options.VisOptions(background_color=(1, 1, 1)))
    scene.add_entity(gs.morphs.Plane())
    ball = scene.add_entity(gs.morphs.Sphere(pos=(0.0, 0.0, 1.0), radius=0.1), surface=gs.surfaces.Default(color=RED))
    scene.build(n_envs=2)
    qs = []
    for _ in range(12):
        scene.step()
        qs.append(scene.sim.rigid_solver.get_qpos())  # (2, 7) per step
    path = save_video(scene, str(tmp_path / "out" / "fall.mp4"), qs, fps=50, res=(64, 48), env_idx=1, stride=2)
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(path)
    assert tuple(next(reader)["size"]) == (64, 48)
    frames = [np.frombuffer(f, dtype=np.uint8).reshape(48, 64, 3) for f in reader]
    assert len(frames) == 6
    assert all(red_mask(f).sum() > 5 for f in frames)  # the auto-framed view sees the ball
    assert torch.equal(scene.sim.rigid_solver.get_qpos(), qs[-1])  # state untouched
    with pytest.raises(ValueError, match="stride"):
        save_video(scene, str(tmp_path / "x.mp4"), qs, stride=0)


def test_urdf_robot_shows_its_visual_meshes_only_and_grad_scenes_render():
    from conftest import franka_urdf

    scene = gs.Scene(sim_options=gs.options.SimOptions(requires_grad=True))
    robot = scene.add_entity(gs.morphs.URDF(file=franka_urdf(), fixed=True))
    cam = scene.add_camera(res=(96, 96), pos=(1.5, 0.0, 0.5), lookat=(0.0, 0.0, 0.5), fov=50)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the loader's notes on unsupported URDF tags
        scene.build()
    target = torch.zeros(robot.n_dofs, dtype=torch.float64, requires_grad=True)
    robot.control_dofs_position(target)
    scene.step()  # the state now carries a graph
    _, _, seg, _ = cam.render(segmentation=True)
    scene.vis_options.segmentation_level = "geom"
    seen = set(np.unique(cam.render(rgb=False, segmentation=True)[2]).tolist()) - {-1}
    drawn = set(scene._get_renderer().drawn_geoms())
    assert seen and seen <= drawn
    # every link with a <visual> is drawn from it: fewer geoms than visual + collision
    assert len(drawn) < robot.n_geoms + robot.n_vgeoms and len(drawn) == robot.n_vgeoms
    assert (seg >= 0).mean() > 0.05

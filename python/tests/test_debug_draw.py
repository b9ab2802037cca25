"""Genesis's debug drawing in camera images: a debug sphere appears where the camera projects
it, with its colour and no segmentation index; clearing removes it; the other shapes draw."""

import math

import numpy as np
import pytest
import torch

import kinegrad as gs


def camera_scene():
    scene = gs.Scene(show_viewer=False, vis_options=gs.options.VisOptions(background_color=(0.0, 0.0, 0.0)))
    scene.add_entity(gs.morphs.Box(size=(0.2, 0.2, 0.2), pos=(0.0, 1.0, 0.1), fixed=True))
    cam = scene.add_camera(res=(120, 100), pos=(3.0, 0.0, 0.5), lookat=(0.0, 0.0, 0.5), fov=40)
    scene.build()
    return scene, cam


def test_a_debug_sphere_is_drawn_where_the_camera_projects_it_and_cleared():
    scene, cam = camera_scene()
    rgb0, _, _, _ = cam.render()
    s = scene.draw_debug_sphere(pos=(0.0, 0.0, 0.5), radius=0.2, color=(0.0, 1.0, 0.0, 1.0))
    rgb, _, seg, _ = cam.render(segmentation=True)
    green = (rgb[:, :, 1] > 100) & (rgb[:, :, 0] < 60) & (rgb[:, :, 2] < 60)
    rows, cols = np.nonzero(green)
    # at the image centre (the camera looks at it), a disc of the projected radius
    assert abs(cols.mean() + 0.5 - 60.0) < 0.5 and abs(rows.mean() + 0.5 - 50.0) < 0.5
    f = 0.5 * 100 / math.tan(math.radians(20.0))
    expected = f * 0.2 / math.sqrt(3.0**2 - 0.2**2)
    assert abs(math.sqrt(green.sum() / math.pi) - expected) < 0.05 * expected
    assert (seg[green] == -1).all()  # not part of the model: background in the segmentation
    scene.clear_debug_object(s)
    rgb2, _, _, _ = cam.render()
    np.testing.assert_array_equal(rgb2, rgb0)


def test_lines_arrows_frames_boxes_and_paths_draw():
    scene = gs.Scene(show_viewer=False, vis_options=gs.options.VisOptions(background_color=(0.0, 0.0, 0.0)))
    ball = scene.add_entity(gs.morphs.Sphere(radius=0.01, pos=(0.0, 0.0, -5.0)))  # out of view
    cam = scene.add_camera(res=(120, 100), pos=(3.0, 0.0, 0.5), lookat=(0.0, 0.0, 0.5), fov=40)
    scene.build()
    rgb0, _, _, _ = cam.render()
    path = np.zeros((20, 7))
    path[:, 1] = np.linspace(-0.5, 0.5, 20)
    path[:, 2] = 0.5
    path[:, 3] = 1.0
    draws = {
        "line": lambda: scene.draw_debug_line((0, -0.5, 0.3), (0, 0.5, 0.3), radius=0.02, color=(1, 1, 0, 1)),
        "arrow": lambda: scene.draw_debug_arrow((0, 0, 0.0), (0, 0, 0.6), radius=0.02),
        "frame": lambda: scene.draw_debug_frame(np.eye(4), axis_length=0.3, axis_radius=0.03),
        "box": lambda: scene.draw_debug_box(((-0.2, -0.2, 0.8), (0.2, 0.2, 1.0)), color=(255, 0, 255, 255)),
        "solid box": lambda: scene.draw_debug_box(((-0.2, -0.2, 0.8), (0.2, 0.2, 1.0)), wireframe=False),
        "spheres": lambda: scene.draw_debug_spheres(np.array([[0.0, -0.6, 0.6], [0.0, 0.6, 0.6]]), radius=0.05),
        "path": lambda: scene.draw_debug_path(path, ball, frame_scaling=10.0),
    }
    for name, draw in draws.items():
        obj = draw()
        changed = (cam.render()[0] != rgb0).any(axis=2).sum()
        assert changed > 30, (name, changed)
        scene.clear_debug_object(obj)
        np.testing.assert_array_equal(cam.render()[0], rgb0)
    scene.draw_debug_sphere((0, 0, 0.5), 0.1)
    scene.draw_debug_sphere((0, 0.3, 0.5), 0.1)
    scene.clear_debug_objects()
    np.testing.assert_array_equal(cam.render()[0], rgb0)
    with pytest.raises(gs.GenesisException, match="bounds"):
        scene.draw_debug_box(((0, 0, 1), (0, 0, 0)))

"""Robot files from the wild that used to hang ``scene.build()`` (issue 16 item 8: the convex
hull of some collision meshes never terminated: SO-101, Centauro, the Unitree G1 took 76 s).
Each builds, and a few steps of it stay finite. The build times are printed (``-s``); the
target (G1 < 2 s, MuJoCo 0.36 s) is measured by ``make bench``."""

import time

import numpy as np
import pytest

import kinegrad as gs

from _assets import asset

ROBOTS = [
    ("g1_description", "urdf", "g1_29dof_rev_1_0.urdf"),
    ("so_arm_description", "urdf", "so101.urdf"),
    ("centauro_description", "urdf", "centauro.urdf"),
]


@pytest.mark.parametrize("parts", ROBOTS, ids=[r[2] for r in ROBOTS])
def test_robot_file_that_hung_the_hull_builds_and_steps(parts):
    path = asset("example-robot-data", "robots", *parts)
    scene = gs.Scene(sim_options=gs.options.SimOptions(dt=0.005))
    scene.add_entity(gs.morphs.Plane())
    robot = scene.add_entity(gs.morphs.URDF(file=str(path), fixed=True, pos=(0.0, 0.0, 1.2)))  # clear of the floor
    t0 = time.perf_counter()
    scene.build()
    print(f"{parts[2]}: built in {time.perf_counter() - t0:.3f} s, {robot.n_dofs} dofs, {robot.n_links} links")
    for _ in range(10):
        scene.step()
    assert np.isfinite(robot.get_dofs_position().numpy()).all()
    assert robot.n_links > 5

import logging

import pytest
import torch

import kinegrad as gs


def test_precision_sets_reading_dtype():
    gs.init(precision="32")
    assert gs.tc_float == torch.float32
    gs.init(precision="64")
    assert gs.tc_float == torch.float64
    assert gs.device == torch.device("cpu")


def test_bad_precision_names_the_argument():
    with pytest.raises(ValueError, match="precision"):
        gs.init(precision="16")


def test_unknown_init_kwargs_are_ignored():
    gs.init(backend=gs.cpu, precision="64", theme="dark", eps=1e-12)
    assert gs.tc_float == torch.float64


def test_gpu_backend_falls_back_to_cpu_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="kinegrad"):
        gs.init(backend=gs.gpu, precision="64")
    assert any("CPU" in r.message for r in caplog.records)


def test_sim_options_defaults_and_checks():
    so = gs.options.SimOptions()
    assert so.dt == 1e-2 and so.substeps == 1 and so.gravity == (0.0, 0.0, -9.81) and so.requires_grad is False
    with pytest.raises(ValueError, match="dt"):
        gs.options.SimOptions(dt=-1.0)
    with pytest.raises(ValueError, match="substeps"):
        gs.options.SimOptions(substeps=0)
    with pytest.raises(ValueError, match="gravity"):
        gs.options.SimOptions(gravity=(0.0, float("nan"), -9.81))


def test_rigid_options_defaults_and_unknown_keys():
    ro = gs.options.RigidOptions(box_box_detection=True)
    assert ro.enable_collision and ro.enable_joint_limit and ro.enable_self_collision  # Genesis default
    assert ro.constraint_solver == gs.constraint_solver.Newton
    assert ro.integrator == gs.integrator.implicitfast
    assert ro.iterations == 100 and ro.tolerance == 1e-8
    with pytest.raises(ValueError, match="constraint_timeconst"):
        gs.options.RigidOptions(constraint_timeconst=0.0)


def test_viewer_and_vis_options_are_accepted():
    gs.options.ViewerOptions(camera_pos=(1, 2, 3), max_FPS=30)
    gs.options.VisOptions(show_world_frame=True)
    scene = gs.Scene(viewer_options=gs.options.ViewerOptions(), vis_options=gs.options.VisOptions(), show_viewer=False)
    assert not scene.is_built


def test_scene_rejects_wrong_option_types():
    with pytest.raises(ValueError, match="sim_options"):
        gs.Scene(sim_options=gs.options.RigidOptions())


def test_materials_and_surfaces():
    m = gs.materials.Rigid(rho=1000.0, friction=0.5, coup_friction=0.1)
    assert m.rho == 1000.0 and m.friction == 0.5
    with pytest.raises(ValueError, match="rho"):
        gs.materials.Rigid(rho=0.0)
    assert gs.surfaces.Default(color=(1, 0, 0)).color == (1.0, 0.0, 0.0)
    assert isinstance(gs.surfaces.Smooth(), gs.surfaces.Default)

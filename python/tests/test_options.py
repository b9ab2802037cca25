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


def test_unknown_init_kwargs_are_ignored_by_name():
    with pytest.warns(UserWarning, match="theme"):
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
    # an option kinegrad does not apply is named, never ignored silently
    with pytest.warns(UserWarning, match="box_box_detection"):
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
    with pytest.warns(UserWarning, match="coup_friction"):
        m = gs.materials.Rigid(rho=1000.0, friction=0.5, coup_friction=0.1)
    assert m.rho == 1000.0 and m.friction == 0.5
    with pytest.raises(ValueError, match="rho"):
        gs.materials.Rigid(rho=0.0)
    assert gs.surfaces.Default(color=(1, 0, 0)).color == (1.0, 0.0, 0.0)
    # Genesis scripts give colours in 0..255 too
    assert gs.surfaces.Default(color=(255, 51, 0)).color == (1.0, 0.2, 0.0)
    with pytest.warns(UserWarning, match="roughness"):
        gs.surfaces.Rough(roughness=0.5)
    assert isinstance(gs.surfaces.Smooth(), gs.surfaces.Default)


def test_mjcf_options_the_scene_overrides_are_named_and_matching_ones_are_silent(tmp_path):
    # a Genesis scene's options win over the file's <option>, as in Genesis; each setting the
    # file writes and the scene does differently is named, so results never change silently
    xml = tmp_path / "opts.xml"
    xml.write_text(
        """<mujoco><option timestep="0.002" gravity="0 0 -1.62" integrator="Euler" iterations="50">
        <flag contact="disable" frictionloss="disable"/></option>
        <worldbody><body><freejoint/><geom type="sphere" size="0.1"/></body></worldbody></mujoco>"""
    )
    import warnings

    def load(**kw):
        scene = gs.Scene(show_viewer=False, **kw)
        scene.add_entity(gs.morphs.MJCF(file=str(xml)))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            scene.build()
        return [str(w.message) for w in caught if "is not applied" in str(w.message)]

    msgs = load()
    for attr, scene_value in [
        ("timestep='0.002'", "0.01 s"),
        ("gravity='0 0 -1.62'", "(0, 0, -9.81)"),
        ("integrator='Euler'", "implicitfast"),
        ("iterations='50'", "100 iterations"),
        ("flag contact='disable'", "contacts enabled"),
        ("flag frictionloss='disable'", "joint friction enabled"),
    ]:
        assert any(attr in m and scene_value in m for m in msgs), (attr, msgs)
    # the scene set as the file says: only what the scene cannot set remains (frictionloss)
    msgs = load(
        sim_options=gs.options.SimOptions(dt=0.002, gravity=(0, 0, -1.62)),
        rigid_options=gs.options.RigidOptions(integrator=gs.integrator.Euler, iterations=50, enable_collision=False),
    )
    assert len(msgs) == 1 and "frictionloss" in msgs[0], msgs


def test_floor_height_is_named_when_set():
    with pytest.warns(UserWarning, match="floor_height"):
        gs.options.SimOptions(floor_height=-0.5)


def test_errors_are_genesis_exceptions_and_their_builtin_types(tmp_path):
    # Genesis scripts catch gs.GenesisException; code written for kinegrad catches ValueError
    with pytest.raises(gs.GenesisException, match="gravity"):
        gs.options.SimOptions(gravity=(0.0, 0.0))
    with pytest.raises(ValueError, match="gravity"):
        gs.options.SimOptions(gravity=(0.0, 0.0))
    with pytest.raises(gs.GenesisException) as e:
        gs.morphs.URDF(file="no_such_robot.urdf")
    assert isinstance(e.value, FileNotFoundError)
    scene = gs.Scene(show_viewer=False)
    scene.add_entity(gs.morphs.Sphere(radius=0.1))
    with pytest.raises(gs.GenesisException) as e:  # not built
        scene.step()
    assert isinstance(e.value, RuntimeError)
    scene.build()
    with pytest.raises(gs.GenesisException) as e:
        scene.sim.rigid_solver.set_mocap_pos([0.0, 0.0, 0.0], mocap_idx=[3])
    assert isinstance(e.value, IndexError)
    bad = tmp_path / "bad.xml"
    bad.write_text("<mujoco><worldbody><body><joint type='hinge' range='1'/></body></worldbody></mujoco>")
    scene = gs.Scene(show_viewer=False)
    scene.add_entity(gs.morphs.MJCF(file=str(bad)))
    with pytest.raises(gs.GenesisException, match="bad.xml") as e:  # raised by the engine
        scene.build()
    assert isinstance(e.value, ValueError)


def test_eps_backend_and_surface_aliases():
    gs.init(precision="64", logging_level="warning")
    assert gs.EPS == 1e-15 and gs.backend == gs.cpu
    gs.init(precision="32", logging_level="warning", eps=1e-12)
    assert gs.EPS == pytest.approx(1.1920929e-07)
    gs.init(precision="64", logging_level="warning")
    assert gs.surfaces.Reflective(color=(1, 0, 0)).color == (1.0, 0.0, 0.0)

import numpy as np
import pytest
import torch

import kinegrad as gs

G = 9.81


def drop_scene(n_envs=0, z=0.5, radius=0.1, dt=0.01):
    scene = gs.Scene(sim_options=gs.options.SimOptions(dt=dt))
    scene.add_entity(gs.morphs.Plane())
    ball = scene.add_entity(gs.morphs.Sphere(pos=(0.0, 0.0, z), radius=radius))
    scene.build(n_envs=n_envs)
    return scene, ball


def test_build_sizes_and_initial_state():
    scene, ball = drop_scene()
    assert scene.is_built and scene.n_envs == 0 and scene.dt == 0.01
    solver = scene.sim.rigid_solver
    assert solver.n_qs == 7 and solver.n_dofs == 6 and solver.n_links == 2
    q = solver.get_qpos()
    assert q.shape == (7,) and q.dtype == torch.float64
    assert torch.allclose(q, torch.tensor([0, 0, 0.5, 1, 0, 0, 0], dtype=torch.float64))
    assert solver.get_qvel().shape == (6,)


def test_batched_build_adds_env_dimension():
    scene, ball = drop_scene(n_envs=4)
    assert scene.n_envs == 4
    assert scene.sim.rigid_solver.get_qpos().shape == (4, 7)
    assert ball.get_dofs_position().shape == (4, 6)
    assert ball.get_dofs_position(envs_idx=[1, 3]).shape == (2, 6)


def test_state_snapshot_round_trip():
    scene, ball = drop_scene()
    s0 = scene.get_state()
    ball.set_dofs_position([1.0, 2.0, 3.0, 0.0, 0.0, 0.0])
    assert ball.get_qpos()[:3].tolist() == [1.0, 2.0, 3.0]
    scene.set_state(s0)
    assert ball.get_qpos()[:3].tolist() == [0.0, 0.0, 0.5]


def test_readings_are_float32_under_precision_32():
    gs.init(precision="32")
    scene, ball = drop_scene()
    assert scene.sim.rigid_solver.get_qpos().dtype == torch.float32
    assert ball.get_dofs_velocity().dtype == torch.float32


def test_free_box_falls_as_g_t2_over_2():
    scene = gs.Scene(sim_options=gs.options.SimOptions(dt=0.01))
    box = scene.add_entity(gs.morphs.Box(pos=(0.0, 0.0, 2.0), size=(0.2, 0.2, 0.2)))
    scene.build()
    for _ in range(30):
        scene.step()
    t = 0.3
    drop = 2.0 - float(box.get_pos()[2])
    # semi-implicit Euler is first-order: the error is at most g * dt * t
    assert abs(drop - G * t * t / 2) <= G * 0.01 * t + 1e-9
    assert float(box.get_vel()[2]) == pytest.approx(-G * t, rel=1e-9)
    assert torch.allclose(box.get_quat(), torch.tensor([1.0, 0, 0, 0], dtype=torch.float64), atol=1e-12)
    assert box.get_pos().dtype == torch.float64


def test_sphere_comes_to_rest_on_plane():
    scene, ball = drop_scene(z=0.5, radius=0.1)
    for _ in range(200):
        scene.step()
    pos, vel = ball.get_pos(), ball.get_vel()
    assert float(pos[2]) == pytest.approx(0.1, abs=5e-3)
    assert abs(float(pos[0])) < 1e-6 and abs(float(pos[1])) < 1e-6
    assert float(vel.norm()) < 1e-2
    contacts = ball.get_contacts()
    assert contacts["position"].shape[0] >= 1
    # the plane (a) pushes the ball (b) up with its weight; a receives the opposite force
    weight = float(ball.get_mass()) * 9.81
    on_ball = contacts["force_b"] if int(contacts["link_b"][0]) == ball.links[0].idx else -contacts["force_b"]
    total = on_ball.sum(dim=0)
    assert float(total[2]) == pytest.approx(weight, rel=1e-3)
    assert float(total[:2].norm()) < 1e-6 * weight
    assert torch.allclose(contacts["force_a"], -contacts["force_b"])


def test_batched_envs_match_single_env_scenes():
    heights = [0.3, 0.6, 1.0]
    scene, ball = drop_scene(n_envs=3)
    ball.set_dofs_position(torch.tensor([[0.0, 0.0, h, 0.0, 0.0, 0.0] for h in heights]))
    singles = []
    for h in heights:
        s, b = drop_scene(z=h)
        singles.append((s, b))
    for _ in range(60):
        scene.step()
        for s, _ in singles:
            s.step()
    batched_q = scene.sim.rigid_solver.get_qpos()
    for i, (s, b) in enumerate(singles):
        assert torch.allclose(batched_q[i], s.sim.rigid_solver.get_qpos(), atol=1e-12)
        assert torch.allclose(ball.get_pos()[i], b.get_pos(), atol=1e-12)


def test_reset_restores_the_initial_state():
    scene, ball = drop_scene()
    for _ in range(10):
        scene.step()
    assert scene.t == 10
    scene.reset()
    assert scene.t == 0
    assert torch.allclose(ball.get_qpos(), torch.tensor([0, 0, 0.5, 1, 0, 0, 0], dtype=torch.float64))
    assert float(ball.get_dofs_velocity().abs().max()) == 0.0


def test_substeps_match_a_finer_dt():
    coarse = gs.Scene(sim_options=gs.options.SimOptions(dt=0.01, substeps=4))
    a = coarse.add_entity(gs.morphs.Box(pos=(0, 0, 2), size=(0.1, 0.1, 0.1)))
    coarse.build()
    fine = gs.Scene(sim_options=gs.options.SimOptions(dt=0.0025))
    b = fine.add_entity(gs.morphs.Box(pos=(0, 0, 2), size=(0.1, 0.1, 0.1)))
    fine.build()
    for _ in range(10):
        coarse.step()
        for _ in range(4):
            fine.step()
    assert torch.allclose(a.get_pos(), b.get_pos(), atol=1e-12)


def test_native_step_on_a_pool_of_its_own_equals_the_global_pool():
    # Sim.step(n, threads=k) (the bench times 1 and 2 threads in turn with it) steps as the
    # global pool does, bit for bit, contacts included; a pool of no threads is refused
    heights = [0.3, 0.6, 1.0, 0.12]
    runs = []
    for threads in (None, 1, 2):
        scene, ball = drop_scene(n_envs=4)
        ball.set_dofs_position(torch.tensor([[0.1 * i, 0.0, h, 0.2, 0.0, 0.0] for i, h in enumerate(heights)]))
        scene.step()
        ball.get_qpos()  # the step runs: the native sim has the state written above
        sim = scene._native
        for _ in range(5):
            sim.step(7, threads)
        runs.append((sim.get_qpos(), sim.get_qvel(), [sim.contacts(i) for i in range(4)]))
    assert len({float(z) for z in runs[0][0][:, 2]}) == 4  # four different envs
    for q, v, c in runs[1:]:
        assert np.array_equal(q, runs[0][0]) and np.array_equal(v, runs[0][1])
        assert c == runs[0][2]
    assert any(len(c) for c in runs[0][2])
    with pytest.raises(ValueError, match="threads: must be at least 1"):
        sim.step(1, 0)
    with pytest.raises(ValueError, match="threads: at most"):
        sim.step(1, 100_000)

"""Render benchmark: a 10 s, 30 fps video of a moving Franka (Menagerie MJCF) at 640x480.

Times, separately: simulating the motion, rendering the 300 frames through a recording camera
(``cam.render()`` after each step, as a Genesis script does), encoding the MP4, and the
trajectory path (``cam.render_sequence`` on the stored qpos). Not a test; run it with
``python benches/render_bench.py [--frames N] [--res W H] [--out video.mp4]``.
"""

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import kinegrad as gs

REPO = Path(__file__).resolve().parents[1]
FRANKA = REPO / ".cache" / "assets" / "genesis" / "xml" / "franka_emika_panda" / "panda_no_tendon.xml"
HOME = [0.0, -0.3, 0.0, -2.2, 0.0, 2.0, 0.79, 0.04, 0.04]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=300, help="frames (default 300: 10 s at 30 fps)")
    p.add_argument("--fps", type=float, default=30.0)
    p.add_argument("--res", type=int, nargs=2, default=(640, 480), metavar=("W", "H"))
    p.add_argument("--out", default=None, help="keep the video here (default: a temporary file)")
    args = p.parse_args(argv)
    if not FRANKA.is_file():
        raise SystemExit(f"{FRANKA} is missing: run `make setup`")

    gs.init(precision="64", logging_level="warning")
    scene = gs.Scene(sim_options=gs.options.SimOptions(dt=1.0 / args.fps, substeps=4))
    scene.add_entity(gs.morphs.Plane())
    franka = scene.add_entity(gs.morphs.MJCF(file=str(FRANKA)))
    cam = scene.add_camera(res=tuple(args.res), pos=(1.9, 1.3, 1.2), lookat=(0.1, 0.0, 0.45), fov=40)
    scene.build()
    dofs = list(range(franka.n_dofs))
    home = torch.tensor(HOME, dtype=torch.float64)
    franka.set_dofs_position(home, dofs)
    franka.control_dofs_position(home, dofs)

    def target(k):
        t = k / args.fps
        d = torch.zeros(9, dtype=torch.float64)
        d[0] = 0.9 * np.sin(0.6 * t)
        d[1] = 0.4 * np.sin(0.9 * t)
        d[3] = 0.5 * np.sin(0.7 * t)
        d[5] = 0.5 * np.sin(1.1 * t)
        return home + d

    # 1. the motion alone
    state0 = scene.get_state()
    t0 = time.perf_counter()
    qs = []
    for k in range(args.frames):
        franka.control_dofs_position(target(k), dofs)
        scene.step()
        qs.append(scene.sim.rigid_solver.get_qpos().clone())
    t_sim = time.perf_counter() - t0

    # 2. the same motion, rendered into a recording after every step
    scene.reset(state0)
    t0 = time.perf_counter()
    c0 = time.process_time()
    cam.start_recording()
    t_render = 0.0
    for k in range(args.frames):
        franka.control_dofs_position(target(k), dofs)
        scene.step()
        t1 = time.perf_counter()
        cam.render()
        t_render += time.perf_counter() - t1
    t_loop = time.perf_counter() - t0
    cpu_loop = time.process_time() - c0
    out = args.out or os.path.join(tempfile.mkdtemp(), "franka.mp4")
    t0 = time.perf_counter()
    path = cam.stop_recording(save_to_filename=out, fps=args.fps)
    t_encode = time.perf_counter() - t0

    # 3. the stored trajectory in one call
    t0 = time.perf_counter()
    frames = cam.render_sequence(torch.stack(qs))
    t_seq = time.perf_counter() - t0
    assert frames.shape == (args.frames, args.res[1], args.res[0], 3)

    w, h = args.res
    n = args.frames
    print(f"render benchmark: Franka (Menagerie MJCF) + ground, {n} frames {w}x{h} "
          f"({n / args.fps:.0f} s at {args.fps:g} fps), {scene._get_renderer().triangle_count()} triangles; "
          f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}, load average {os.getloadavg()[0]:.1f}")
    print(f"  simulate only            {t_sim:6.2f} s")
    print(f"  step + render, recording {t_loop:6.2f} s  (render {t_render:.2f} s = {1e3 * t_render / n:.1f} ms/frame; "
          f"CPU time of all threads {cpu_loop:.2f} s)")
    print(f"  encode MP4               {t_encode:6.2f} s  ({os.path.getsize(path) / 1e6:.2f} MB, {path})")
    print(f"  total recording          {t_loop + t_encode:6.2f} s")
    print(f"  render_sequence          {t_seq:6.2f} s  ({1e3 * t_seq / n:.1f} ms/frame)")


if __name__ == "__main__":
    main()

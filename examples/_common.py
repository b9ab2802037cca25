"""Shared plumbing of the workflow examples: command line, progress bar, loss plot, summary line.

Every example is a module with ``main(argv=None) -> dict``: it parses ``--quick`` / ``--out`` /
``--seed``, runs its optimization, saves ``<out>/<name>_loss.png`` and returns its figures (the
tests in ``python/tests/test_examples*.py`` call ``main(["--quick", "--out", tmp])`` and assert on
the returned dict).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Dict, Iterable, Optional, Sequence

import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO, "outputs")


def parse_args(description: str, argv: Optional[Sequence[str]] = None, extra=None) -> argparse.Namespace:
    """The common flags; ``extra(parser)`` may add example-specific ones."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="the short run the tests use (under a minute on 2 cores)")
    p.add_argument("--out", default=DEFAULT_OUT, help="folder for plots and videos (default: outputs/)")
    p.add_argument("--seed", type=int, default=0, help="torch random seed")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (logs stay quiet)")
    if extra is not None:
        extra(p)
    args = p.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(args.seed)
    return args


class Progress:
    """A one-line progress bar with the current loss, written to stderr.

    >>> bar = Progress(100, "throw")
    >>> for it in bar: bar.set(loss=...)
    """

    def __init__(self, total: int, label: str, enabled: bool = True, width: int = 28):
        self.total, self.label, self.width = int(total), label, width
        self.enabled = enabled and sys.stderr is not None
        self.fields: Dict[str, float] = {}
        self.i = 0
        self.t0 = time.perf_counter()

    def __iter__(self) -> Iterable[int]:
        for self.i in range(self.total):
            yield self.i
            self._draw()
        self.close()

    def set(self, **fields: float) -> None:
        self.fields.update({k: float(v) for k, v in fields.items()})

    def _draw(self) -> None:
        if not self.enabled:
            return
        done = self.i + 1
        fill = int(self.width * done / max(self.total, 1))
        el = time.perf_counter() - self.t0
        eta = el / done * (self.total - done)
        vals = "  ".join(f"{k} {v:.4g}" for k, v in self.fields.items())
        sys.stderr.write(f"\r{self.label} [{'#' * fill}{'.' * (self.width - fill)}] {done}/{self.total}  {vals}  {el:.0f}s<{eta:.0f}s ")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()


def save_loss_plot(path: str, curves: Dict[str, Sequence[float]], title: str, xlabel: str = "iteration",
                   ylabel: str = "loss", logy: bool = True, x: Optional[Dict[str, Sequence[float]]] = None) -> str:
    """Plot one or more loss curves to a PNG (matplotlib's Agg backend: no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    for name, ys in curves.items():
        xs = x[name] if x is not None and name in x else range(len(ys))
        ax.plot(list(xs), [float(y) for y in ys], label=name, lw=1.6)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    if len(curves) > 1:
        ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def summary(name: str, **figures) -> str:
    """Print the one-line summary every example ends with, and return it."""
    parts = []
    for k, v in figures.items():
        parts.append(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}")
    line = f"[{name}] " + "  ".join(parts)
    print(line, flush=True)
    return line


def _frame_camera(scene, Q, fov: float):
    """A camera pose (pos, lookat) that frames the bodies of every non-plane entity over the
    first, middle and last configurations of ``Q`` (T, nq), seen from the front-right, above."""
    import math

    import numpy as np

    import kinegrad as gs

    bodies = []
    for ent in scene.entities:
        if not isinstance(ent.morph, gs.morphs.Plane):
            bodies += list(range(ent.link_start + 1, ent.link_start + 1 + ent.n_links))
    if not bodies:
        return (3.0, 2.0, 2.0), (0.0, 0.0, 0.0)
    n = scene._n
    pts = []
    for k in sorted({0, len(Q) // 2, len(Q) - 1}):
        qs = np.ascontiguousarray(np.repeat(Q[k][None, :], n, axis=0))
        vs = np.zeros((n, scene.sim.rigid_solver.n_dofs))
        pos = scene._native.kinematics(qs, vs)[0, :, :3]
        pts.append(pos[bodies])
    pts = np.concatenate(pts)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    centre = 0.5 * (lo + hi)
    radius = max(0.5 * float(np.linalg.norm(hi - lo)), 0.2) + 0.1  # links have some size
    dist = radius / math.sin(math.radians(0.5 * fov))
    d = np.array([1.0, 0.7, 0.55])
    d /= np.linalg.norm(d)
    return tuple(centre + dist * d), tuple(centre)


def save_video(scene, path: str, qpos, fps: float = 30.0, res=(640, 480), pos=None, lookat=None,
               up=(0.0, 0.0, 1.0), fov: float = 40.0, env_idx: int = 0, stride: int = 1) -> str:
    """Render a trajectory of configurations into a video and return the path written.

    ``qpos``: one configuration per frame: a tensor/array (T, n_qs) or (T, n_envs, n_qs), or a
    list of T tensors (n_qs,) or (n_envs, n_qs); ``env_idx`` picks the env of batched input.
    E.g. the qpos a ``scene.rollout`` returned (batched rollouts return (n_envs, T, n_qs): pass
    ``qpos[env]``), or ``scene.sim.rigid_solver.get_qpos()`` collected after each step. Nothing is differentiated and the scene's state is not touched (the frames
    are drawn by ``Camera.render_sequence``). ``pos`` / ``lookat`` default to a view framing the
    motion; ``stride`` keeps every stride-th configuration. ``path`` ending in .mp4 is written by
    imageio-ffmpeg, or as a .gif next to it when imageio-ffmpeg is missing; .gif by Pillow.

    >>> save_video(scene, os.path.join(args.out, "reach.mp4"), qpos_per_step, fps=1 / scene.dt)
    """
    import numpy as np

    import kinegrad as gs

    if isinstance(qpos, (list, tuple)):
        rows = []
        for q in qpos:
            q = q.detach().cpu().numpy() if isinstance(q, torch.Tensor) else np.asarray(q)
            rows.append(q[env_idx] if q.ndim == 2 else q)
        Q = np.stack(rows).astype(np.float64)
    else:
        Q = qpos.detach().cpu().numpy() if isinstance(qpos, torch.Tensor) else np.asarray(qpos)
        Q = Q.astype(np.float64)
        if Q.ndim == 3:
            Q = Q[:, env_idx]
    if int(stride) < 1:
        raise ValueError(f"stride: expected an integer >= 1, got {stride!r}")
    Q = np.ascontiguousarray(Q[:: int(stride)])
    if pos is None or lookat is None:
        auto_pos, auto_lookat = _frame_camera(scene, Q, fov)
        pos = auto_pos if pos is None else pos
        lookat = auto_lookat if lookat is None else lookat
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    cam = scene.add_camera(res=res, pos=pos, lookat=lookat, up=up, fov=fov,
                           env_idx=env_idx if scene.n_envs > 0 else None)
    frames = cam.render_sequence(Q)
    return gs.tools.animate(frames, path, fps=fps)

"""Cameras (Genesis ``scene.add_camera``): offscreen CPU rendering and video recording.

A camera renders the scene's current state with the rasterizer of the native module
(``kinegrad._native.Renderer``, pure CPU: no GPU, no OpenGL). The renderer is made by the
first ``render()`` of any camera of a scene, so scenes without cameras never pay for it.

Conventions follow Genesis: ``res=(width, height)``, ``fov`` is the vertical field of view in
degrees, the pose is ``pos`` / ``lookat`` / ``up`` (or a 4x4 ``transform`` whose columns are
the camera's x (right), y (up) and z (backwards) axes and position, OpenGL style), and
``render(rgb, depth, segmentation, normal)`` returns the 4-tuple ``(rgb, depth, seg, normal)``:

* rgb: (H, W, 3) uint8;
* depth: (H, W) float32, distance along the camera axis in metres, ``far`` where nothing is hit;
* segmentation: (H, W) int32 index of the link (default), entity or geom seen
  (``VisOptions.segmentation_level``), -1 for the background; ``colorize_seg=True`` gives an
  (H, W, 3) uint8 image instead;
* normal: (H, W, 3) float32 unit surface normal in the world frame, facing the camera (0 on
  the background).

While recording (``start_recording()``), every ``render()`` call appends its RGB frame;
``stop_recording(save_to_filename, fps)`` writes them as MP4 (imageio-ffmpeg) or GIF (Pillow).
"""

from __future__ import annotations

import inspect
import math
import os
import time
from typing import List, Optional, Sequence

import numpy as np
import torch

from . import _video
from ._globals import logger
from ._threads import serialized
from ._errors import GenesisRuntimeError, InvalidArgument

SEGMENTATION_LEVELS = ("link", "entity", "geom")


def _vec3(name: str, value) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    try:
        a = np.asarray(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise InvalidArgument(f"{name}: expected 3 numbers, got {value!r}") from None
    if a.shape != (3,):
        raise InvalidArgument(f"{name}: expected 3 numbers, got {a.size}")
    if not np.all(np.isfinite(a)):
        raise InvalidArgument(f"{name}: must be finite, got {tuple(a)}")
    return a


def _res(res) -> tuple:
    try:
        w, h = (int(x) for x in res)
        ok = all(float(x) == int(x) for x in res)
    except (TypeError, ValueError):
        raise InvalidArgument(f"res: expected (width, height) in pixels, got {res!r}") from None
    if not ok or not (1 <= w <= 16384 and 1 <= h <= 16384):
        raise InvalidArgument(f"res: expected (width, height) as integers between 1 and 16384, got {res!r}")
    return (w, h)


def _number(name: str, value, lo: float, hi: float, what: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InvalidArgument(f"{name}: expected {what}, got {value!r}") from None
    if not (lo < v < hi):
        raise InvalidArgument(f"{name}: expected {what}, got {value!r}")
    return v


def _seg_palette(n: int) -> np.ndarray:
    """Distinct colours for indices 0..n-1 (golden-ratio hues), black for the background."""
    k = np.arange(n)
    hue = (k * 0.618033988749895) % 1.0
    # HSV (s=0.65, v=0.95) to RGB
    i = np.floor(hue * 6).astype(int)
    f = hue * 6 - i
    v, s = 0.95, 0.65
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    table = np.stack([
        np.choose(i % 6, [v, q, p, p, t, v]),
        np.choose(i % 6, [t, v, v, q, p, p]),
        np.choose(i % 6, [p, p, t, v, v, q]),
    ], axis=1)
    return (table * 255 + 0.5).astype(np.uint8)


@serialized
class Camera:
    """An offscreen pinhole camera of a scene (Genesis ``scene.add_camera``).

    Render-quality options of Genesis (``model='thinlens'``, ``aperture``, ``focus_dist``,
    ``spp``, ``denoise``, ``antialiasing``) are accepted and ignored: the image is always that of
    a pinhole camera, one sample per pixel. ``GUI=True`` has no window to open (a warning).
    """

    def __init__(
        self,
        scene,
        idx: int,
        model: str = "pinhole",
        res=(320, 320),
        pos=(0.5, 2.5, 3.5),
        lookat=(0.5, 0.5, 0.5),
        up=(0.0, 0.0, 1.0),
        fov=30,
        aperture=2.8,
        focus_dist=None,
        GUI: bool = False,
        spp: int = 256,
        denoise: bool = True,
        near: float = 0.05,
        far: float = 100.0,
        transform=None,
        env_idx: Optional[int] = None,
        debug: bool = False,
    ):
        if model not in ("pinhole", "thinlens"):
            raise InvalidArgument(f"model: expected 'pinhole' or 'thinlens', got {model!r}")
        if model == "thinlens":
            logger.info("Camera model 'thinlens': kinegrad renders it as a pinhole camera (no depth of field)")
        if GUI:
            logger.warning("Camera GUI=True: kinegrad renders offscreen only; no window is opened")
        self._scene, self._lock = scene, scene._lock
        self._idx = int(idx)
        self._model = model
        self._res = _res(res)
        self._fov = _number("fov", fov, 0.0, 180.0, "a vertical field of view in (0, 180) degrees")
        self._near = _number("near", near, 0.0, math.inf, "a positive distance in metres")
        self._far = _number("far", far, self._near, math.inf, f"a finite distance beyond near={self._near}")
        self._aperture, self._spp, self._denoise, self._GUI, self._debug = aperture, spp, denoise, bool(GUI), debug
        if env_idx is not None and (int(env_idx) != env_idx or env_idx < 0):
            raise InvalidArgument(f"env_idx: expected a non-negative integer or None, got {env_idx!r}")
        self._env_idx = None if env_idx is None else int(env_idx)
        self._pos = self._lookat = self._up = None
        if transform is not None:
            self.set_pose(transform=transform)
        else:
            self.set_pose(pos=pos, lookat=lookat, up=up)
        self._focus_dist = float(np.linalg.norm(self._lookat - self._pos)) if focus_dist is None else focus_dist
        self._recording = False
        self._frames: List[np.ndarray] = []

    # ---- pose ----
    def set_pose(self, transform=None, pos=None, lookat=None, up=None, envs_idx=None) -> None:
        """Move the camera: either a 4x4 ``transform`` (columns: right, up, backwards, position)
        or any of ``pos``, ``lookat``, ``up`` (the others keep their values)."""
        if envs_idx is not None:
            raise InvalidArgument("envs_idx: kinegrad cameras render one env (env_idx); leave envs_idx as None")
        if transform is not None:
            if pos is not None or lookat is not None or up is not None:
                raise InvalidArgument("transform: give either transform or pos/lookat/up, not both")
            T = transform.detach().cpu().numpy() if isinstance(transform, torch.Tensor) else transform
            try:
                T = np.asarray(T, dtype=np.float64)
            except (TypeError, ValueError):
                raise InvalidArgument(f"transform: expected a 4x4 matrix, got {transform!r}") from None
            if T.shape != (4, 4) or not np.all(np.isfinite(T)):
                raise InvalidArgument(f"transform: expected a finite 4x4 matrix, got shape {T.shape}")
            R = T[:3, :3]
            if not np.allclose(R.T @ R, np.eye(3), atol=1e-5) or np.linalg.det(R) < 0:
                raise InvalidArgument("transform: the upper-left 3x3 block must be a rotation matrix")
            new_pos, new_lookat, new_up = T[:3, 3], T[:3, 3] - T[:3, 2], T[:3, 1]
        else:
            new_pos = self._pos if pos is None else _vec3("pos", pos)
            new_lookat = self._lookat if lookat is None else _vec3("lookat", lookat)
            new_up = self._up if up is None else _vec3("up", up)
        d = new_lookat - new_pos
        if np.linalg.norm(d) < 1e-9:
            raise InvalidArgument(f"lookat: must differ from pos, both are {tuple(new_pos)}")
        if np.linalg.norm(np.cross(d / np.linalg.norm(d), new_up)) < 1e-6:
            raise InvalidArgument(f"up: {tuple(new_up)} is parallel to the view direction lookat - pos; choose another up vector")
        self._pos, self._lookat, self._up = new_pos.copy(), new_lookat.copy(), new_up.copy()

    def get_pos(self, envs_idx=None) -> torch.Tensor:
        return torch.as_tensor(self._pos.copy())

    def get_lookat(self, envs_idx=None) -> torch.Tensor:
        return torch.as_tensor(self._lookat.copy())

    def get_up(self, envs_idx=None) -> torch.Tensor:
        return torch.as_tensor(self._up.copy())

    def get_transform(self, envs_idx=None) -> torch.Tensor:
        return torch.as_tensor(self._transform())

    def _transform(self) -> np.ndarray:
        f = self._lookat - self._pos
        f = f / np.linalg.norm(f)
        r = np.cross(f, self._up)
        r = r / np.linalg.norm(r)
        u = np.cross(r, f)
        T = np.eye(4)
        T[:3, 0], T[:3, 1], T[:3, 2], T[:3, 3] = r, u, -f, self._pos
        return T

    # ---- properties (Genesis names) ----
    @property
    def idx(self) -> int:
        """Index of the camera in its scene."""
        return self._idx

    @property
    def scene(self):
        return self._scene

    @property
    def is_built(self) -> bool:
        return self._scene.is_built

    @property
    def model(self) -> str:
        return self._model

    @property
    def res(self) -> tuple:
        """(width, height) in pixels."""
        return self._res

    @property
    def fov(self) -> float:
        """Vertical field of view (degrees)."""
        return self._fov

    @property
    def near(self) -> float:
        return self._near

    @property
    def far(self) -> float:
        return self._far

    @property
    def aperture(self):
        return self._aperture

    @property
    def focus_dist(self):
        return self._focus_dist

    @property
    def spp(self):
        return self._spp

    @property
    def denoise(self):
        return self._denoise

    @property
    def GUI(self) -> bool:
        return self._GUI

    @property
    def debug(self) -> bool:
        return self._debug

    @property
    def env_idx(self) -> Optional[int]:
        """The env this camera renders (None: env 0)."""
        return self._env_idx

    @property
    def aspect_ratio(self) -> float:
        return self._res[0] / self._res[1]

    @property
    def pos(self) -> np.ndarray:
        return self._pos.astype(np.float32)

    @property
    def lookat(self) -> np.ndarray:
        return self._lookat.astype(np.float32)

    @property
    def up(self) -> np.ndarray:
        return self._up.astype(np.float32)

    @property
    def transform(self) -> np.ndarray:
        """4x4 camera-to-world transform, OpenGL axes (x right, y up, z backwards)."""
        return self._transform().astype(np.float32)

    @property
    def f(self) -> float:
        """Focal length in pixels."""
        return 0.5 * self._res[1] / math.tan(math.radians(0.5 * self._fov))

    @property
    def cx(self) -> float:
        return 0.5 * self._res[0]

    @property
    def cy(self) -> float:
        return 0.5 * self._res[1]

    @property
    def intrinsics(self) -> np.ndarray:
        """3x3 pinhole intrinsics (OpenCV convention: x right, y down, pixel centres at +0.5)."""
        return np.array([[self.f, 0.0, self.cx], [0.0, self.f, self.cy], [0.0, 0.0, 1.0]])

    @property
    def extrinsics(self) -> np.ndarray:
        """4x4 world-to-camera transform, OpenCV axes (x right, y down, z forwards)."""
        T = self._transform()
        T[:3, 1:3] *= -1
        return np.linalg.inv(T)

    @property
    def projection_matrix(self) -> np.ndarray:
        """4x4 OpenGL projection matrix."""
        t = math.tan(math.radians(0.5 * self._fov))
        n, f, a = self._near, self._far, self.aspect_ratio
        return np.array([
            [1.0 / (a * t), 0.0, 0.0, 0.0],
            [0.0, 1.0 / t, 0.0, 0.0],
            [0.0, 0.0, (f + n) / (n - f), 2 * f * n / (n - f)],
            [0.0, 0.0, -1.0, 0.0],
        ])

    @property
    def is_recording(self) -> bool:
        return self._recording

    # ---- rendering ----
    def _env(self) -> int:
        sc = self._scene
        env = 0 if self._env_idx is None else self._env_idx
        if env >= sc._n:
            raise InvalidArgument(f"env_idx: {env} out of range for a scene with {sc._n} env(s)")
        return env

    def _cam(self) -> tuple:
        """The camera as the native renderer takes it: (pos, lookat, up, fov, width, height, near, far)."""
        w, h = self._res
        return (tuple(self._pos), tuple(self._lookat), tuple(self._up), float(self._fov), int(w), int(h), float(self._near), float(self._far))

    def render(self, rgb: bool = True, depth: bool = False, segmentation: bool = False, colorize_seg: bool = False,
               normal: bool = False, antialiasing: bool = False, force_render: bool = False):
        """Render the scene's current state (env ``env_idx``, default 0).

        Returns ``(rgb, depth, segmentation, normal)``, None for what was not requested. While
        recording, the RGB frame is also appended to the recording (rendered even if ``rgb=False``)."""
        sc = self._scene
        sc._require_built("camera.render")
        env = self._env()
        renderer = sc._get_renderer()
        q = sc._qpos[env].detach().cpu().numpy().astype(np.float64, copy=False)
        want_rgb = bool(rgb) or self._recording
        img, dep, seg, nrm = renderer.render(
            sc._native, np.ascontiguousarray(q), self._cam(), rgb=want_rgb, depth=bool(depth), seg=bool(segmentation),
            normal=bool(normal), env=env)
        if self._recording:
            self._frames.append(img)
        if seg is not None:
            seg = sc._seg_map()[seg + 1]
            if colorize_seg:
                pal = _seg_palette(int(seg.max()) + 1 if seg.size else 1)
                col = np.zeros(seg.shape + (3,), dtype=np.uint8)
                hit = seg >= 0
                col[hit] = pal[seg[hit]]
                seg = col
        return (img if rgb else None), dep, seg, nrm

    def render_sequence(self, qpos) -> np.ndarray:
        """kinegrad extension: RGB frames (T, H, W, 3) uint8 of a sequence of configurations
        ``qpos`` (T, n_qs) (e.g. a ``scene.rollout`` trajectory), rendered without touching the
        scene's state. While recording, the frames are appended to the recording."""
        sc = self._scene
        sc._require_built("camera.render_sequence")
        nq = sc.sim.rigid_solver.n_qs
        if isinstance(qpos, torch.Tensor):
            Q = qpos.detach().cpu().to(torch.float64).numpy()
        elif isinstance(qpos, (list, tuple)) and qpos and isinstance(qpos[0], torch.Tensor):
            Q = torch.stack([q.detach().cpu().to(torch.float64) for q in qpos]).numpy()
        else:
            Q = np.asarray(qpos, dtype=np.float64)
        if Q.ndim != 2 or Q.shape[1] != nq or Q.shape[0] < 1:
            raise InvalidArgument(f"qpos: expected shape (T, {nq}) with T >= 1, got {tuple(Q.shape)}")
        frames = sc._get_renderer().render_rgb_sequence(sc._native, np.ascontiguousarray(Q), self._cam(), env=self._env())
        if self._recording:
            self._frames.extend(list(frames))
        return frames

    # ---- recording ----
    def start_recording(self) -> None:
        """Start (or resume) recording: every following ``render()`` appends its RGB frame."""
        self._recording = True

    def pause_recording(self) -> None:
        """Stop appending frames; ``start_recording()`` resumes."""
        if not self._recording:
            raise GenesisRuntimeError("pause_recording: the camera is not recording; call cam.start_recording() first")
        self._recording = False

    def stop_recording(self, save_to_filename: Optional[str] = None, fps: float = 60) -> str:
        """Write the recorded frames to ``save_to_filename`` and stop recording; returns the path.

        ``.mp4`` (also .mov, .mkv, .avi) is encoded with H.264 by imageio-ffmpeg; ``.gif`` by
        Pillow. Without imageio-ffmpeg a video name is written as a GIF next to it (a warning
        says so). Default name: ``<script>_cam_<idx>_<date>_<time>.mp4`` in the current folder,
        as Genesis."""
        if not self._recording and not self._frames:
            raise GenesisRuntimeError("stop_recording: recording was not started; call cam.start_recording() first")
        if not self._frames:
            self._recording = False
            raise GenesisRuntimeError("stop_recording: no frames were recorded; call cam.render() after each scene.step()")
        if save_to_filename is None:
            caller = inspect.stack()[-1].filename
            base = os.path.splitext(os.path.basename(caller))[0] or "kinegrad"
            save_to_filename = f"{base}_cam_{self._idx}_{time.strftime('%Y%m%d_%H%M%S')}.mp4"
        path = _video.write_video(self._frames, save_to_filename, fps, name="save_to_filename")
        self._frames = []
        self._recording = False
        return path

    def __repr__(self) -> str:
        return (f"Camera(idx={self._idx}, res={self._res}, pos={tuple(self._pos)}, lookat={tuple(self._lookat)}, "
                f"fov={self._fov})")


def animate(imgs: Sequence[np.ndarray], filename: Optional[str] = None, fps: float = 60) -> str:
    """Write a list of RGB images to a video (Genesis ``gs.tools.animate``); returns the path."""
    if filename is None:
        caller = inspect.stack()[-1].filename
        filename = os.path.splitext(os.path.basename(caller))[0] + f"_{time.strftime('%Y%m%d_%H%M%S')}.mp4"
    return _video.write_video(list(imgs), filename, fps, name="filename")


class Visualizer:
    """``scene.visualizer`` (Genesis): the scene's cameras and, once issue 22's viewer exists,
    its viewer. kinegrad renders on demand: a camera draws the state when asked, so
    :meth:`update` only brings the state up to date (it runs the pending steps)."""

    def __init__(self, scene):
        self._scene = scene

    @property
    def cameras(self):
        return list(self._scene.cameras)

    @property
    def viewer(self):
        """None: kinegrad runs headless (``show_viewer=True`` warns)."""
        return None

    def update(self, force: bool = True, auto=None) -> None:
        """Bring the state the cameras draw up to date (Genesis redraws its viewer here)."""
        with self._scene._lock:
            self._scene._flush()

"""Writing frames to a video file: MP4 through imageio-ffmpeg, GIF through Pillow.

imageio-ffmpeg's wheels ship an ffmpeg binary (with libx264), so nothing is fetched at run
time. Without it, a requested .mp4 falls back to a GIF next to it (with a warning); a .gif is
always written by Pillow. Both are optional dependencies (``pip install kinegrad[video]``).
"""

from __future__ import annotations

import math
import os
from typing import Sequence

import numpy as np

from ._globals import logger
from ._errors import GenesisRuntimeError, InvalidArgument

#: containers written through ffmpeg
FFMPEG_EXTS = (".mp4", ".mov", ".mkv", ".avi")


def _check_fps(fps) -> float:
    try:
        f = float(fps)
    except (TypeError, ValueError):
        raise InvalidArgument(f"fps: expected a positive number, got {fps!r}") from None
    if not (f > 0 and math.isfinite(f)):
        raise InvalidArgument(f"fps: expected a positive number, got {fps!r}")
    return f


def _check_frames(frames: Sequence[np.ndarray]) -> list:
    if len(frames) == 0:
        raise InvalidArgument("frames: nothing to write (no frames were rendered)")
    out = []
    shape = None
    for k, f in enumerate(frames):
        a = np.asarray(f)
        if a.ndim != 3 or a.shape[2] != 3:
            raise InvalidArgument(f"frames: frame {k} has shape {a.shape}; expected (height, width, 3)")
        if shape is None:
            shape = a.shape
        elif a.shape != shape:
            raise InvalidArgument(f"frames: frame {k} has shape {a.shape}, frame 0 has {shape}; all frames need one resolution")
        if a.dtype != np.uint8:
            a = np.clip(np.asarray(a, dtype=np.float64) * (255.0 if a.dtype.kind == "f" else 1.0), 0, 255).astype(np.uint8)
        out.append(np.ascontiguousarray(a))
    return out


def have_ffmpeg() -> bool:
    """Whether MP4 can be written (imageio-ffmpeg is installed)."""
    try:
        import imageio_ffmpeg  # noqa: F401
    except ImportError:
        return False
    return True


def write_video(frames: Sequence[np.ndarray], filename: str, fps: float = 60, name: str = "filename") -> str:
    """Write RGB frames ((H, W, 3) uint8, one resolution) to ``filename`` at ``fps`` frames per
    second and return the path written: ``.mp4`` / ``.mov`` / ``.mkv`` / ``.avi`` through
    imageio-ffmpeg (H.264), ``.gif`` through Pillow. If imageio-ffmpeg is missing, a video
    request is written as a GIF with the same stem instead (a warning says so). ``name`` is the
    argument name used in error messages."""
    if not isinstance(filename, (str, os.PathLike)):
        raise InvalidArgument(f"{name}: expected a file name (str or path), got {type(filename).__name__}")
    path = os.fspath(filename)
    stem, ext = os.path.splitext(path)
    ext = ext.lower()
    if ext not in FFMPEG_EXTS + (".gif",):
        raise InvalidArgument(f"{name}: unsupported extension {ext or '(none)'!r} in {path!r}; use .mp4 (or .mov, .mkv, .avi) or .gif")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise InvalidArgument(f"{name}: folder {folder!r} does not exist")
    fps = _check_fps(fps)
    imgs = _check_frames(frames)
    if ext != ".gif" and not have_ffmpeg():
        gif = stem + ".gif"
        logger.warning("imageio-ffmpeg is not installed (pip install imageio-ffmpeg): writing %s instead of %s", gif, path)
        path, ext = gif, ".gif"
    if ext == ".gif":
        _write_gif(imgs, path, fps)
    else:
        _write_ffmpeg(imgs, path, fps)
    return path


def _write_ffmpeg(imgs: list, path: str, fps: float) -> None:
    import imageio_ffmpeg

    h, w = imgs[0].shape[:2]
    # yuv420p (what every player reads) needs even sizes; odd ones keep full chroma
    pix_fmt = "yuv420p" if w % 2 == 0 and h % 2 == 0 else "yuv444p"
    writer = imageio_ffmpeg.write_frames(
        path,
        (w, h),
        fps=fps,
        codec="libx264",
        pix_fmt_out=pix_fmt,
        quality=7,
        macro_block_size=1,
        ffmpeg_log_level="error",
        output_params=["-preset", "veryfast"],
    )
    writer.send(None)  # start ffmpeg
    try:
        for img in imgs:
            writer.send(img)
    finally:
        writer.close()


def _write_gif(imgs: list, path: str, fps: float) -> None:
    try:
        from PIL import Image
    except ImportError:
        raise GenesisRuntimeError(
            f"cannot write {path!r}: GIF needs Pillow and MP4 needs imageio-ffmpeg; "
            "install one of them (pip install kinegrad[video])"
        ) from None
    # GIF stores delays in hundredths of a second (Pillow rounds), and viewers slow down
    # delays under 20 ms: 30 fps plays at about 33 fps, 60 fps at 50 fps
    duration_ms = max(20, int(round(1000.0 / fps)))
    pics = [Image.fromarray(a).quantize(colors=256, method=Image.Quantize.MEDIANCUT) for a in imgs]
    pics[0].save(path, save_all=True, append_images=pics[1:], duration=duration_ms, loop=0, optimize=False)

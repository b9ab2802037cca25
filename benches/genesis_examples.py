"""Run Genesis's own example scripts unmodified with kinegrad as ``genesis``, and print which run.

    .venv/bin/python benches/genesis_examples.py --examples PATH/TO/Genesis/examples [--steps 20] [--list]

Each script of ``rigid/``, ``tutorials/``, ``collision/``, ``speed_benchmark/`` and the top folder
runs in its own process with ``sys.modules["genesis"]`` set to kinegrad, the viewer off (kinegrad
runs headless and says so), no arguments, and stops cleanly after ``--steps`` calls of
``scene.step()`` (its physics for the first steps; a script that ends before counts as run too).
A script that needs a solver other than the rigid one (MPM, SPH, PBD, FEM, SF), an RL library or
a GPU is out of scope and reported as such from its text, without running it. The others are
reported as run, or with the exception that stopped them.

The Genesis repository is not a dependency: pass the ``examples`` folder of a checkout of it.
"""

import argparse
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

FOLDERS = ["rigid", "tutorials", "collision", "speed_benchmark", ""]

#: text that puts a script out of scope, and why
OUT_OF_SCOPE = [
    (r"gs\.materials\.(MPM|SPH|PBD|FEM|SF|Tool|Hybrid|Avatar)|MPMOptions|SPHOptions|PBDOptions|FEMOptions|SFOptions|IPC", "another solver"),
    (r"import (rsl_rl|stable_baselines3|skrl|gymnasium)|from (rsl_rl|stable_baselines3|skrl)", "an RL library"),
    (r"torch\.distributed|multi_gpu|ddp|cuda\(\)|\.cuda\b|device=\"cuda\"", "a GPU or several"),
    (r"pynput|keyboard|input\(", "interactive input"),
]

SHIM = textwrap.dedent(
    """
    import runpy, sys, warnings
    import kinegrad
    sys.modules["genesis"] = kinegrad
    warnings.simplefilter("ignore")
    from kinegrad import scene as _scene

    class _Done(BaseException):
        pass

    _orig, _n, _max = _scene.Scene.step, [0], {steps}

    def _step(self, *a, **k):
        _n[0] += 1
        if _n[0] > _max:
            raise _Done()
        return _orig(self, *a, **k)

    _scene.Scene.step = _step
    sys.argv = [{path!r}]
    try:
        runpy.run_path({path!r}, run_name="__main__")
    except _Done:
        pass
    print("KINEGRAD-EXAMPLE-OK", _n[0])
    """
)


def classify(path: Path):
    text = path.read_text(errors="ignore")
    for pattern, why in OUT_OF_SCOPE:
        if re.search(pattern, text):
            return why
    return None


def run(path: Path, steps: int, timeout: float):
    code = SHIM.format(steps=steps, path=str(path))
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONWARNINGS="ignore")
    try:
        p = subprocess.run(
            [sys.executable, "-c", code], cwd=path.parent, capture_output=True, text=True, timeout=timeout, env=env
        )
    except subprocess.TimeoutExpired:
        return "timeout", f"more than {timeout:.0f} s"
    if "KINEGRAD-EXAMPLE-OK" in p.stdout:
        return "ok", ""
    lines = [l for l in p.stderr.strip().splitlines() if l.strip()]
    last = lines[-1] if lines else f"exit code {p.returncode}"
    return "error", last[:200]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--examples", required=True, help="the examples folder of a Genesis checkout")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--timeout", type=float, default=180.0)
    ap.add_argument("--only", default=None, help="a substring of the script paths to run")
    args = ap.parse_args()
    root = Path(args.examples)
    scripts = []
    for f in FOLDERS:
        scripts += sorted((root / f).glob("*.py")) if f else sorted(root.glob("*.py"))
    if args.only:
        scripts = [s for s in scripts if args.only in str(s)]
    counts = {}
    for s in scripts:
        name = str(s.relative_to(root))
        why = classify(s)
        if why:
            status, msg = "out of scope", why
        else:
            status, msg = run(s, args.steps, args.timeout)
        counts[status] = counts.get(status, 0) + 1
        print(f"{name:52s} {status:13s} {msg}", flush=True)
    print()
    for k, v in sorted(counts.items()):
        print(f"  {k:14s} {v}")
    print(f"  {'scripts':14s} {len(scripts)}")


if __name__ == "__main__":
    main()

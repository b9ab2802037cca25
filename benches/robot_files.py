"""Robot files from the wild: how many load in kinegrad and in MuJoCo, and how many step alike
(issue 19's table). Run: `.venv/bin/python benches/robot_files.py [--all-erd] [--list [--why]]`.

The files: every MJCF with a <worldbody> and every URDF under .cache/assets (the dm_control suite,
gymnasium's MuJoCo assets, Genesis's xml/ and urdf/, the example-robot-data robots `make setup`
fetches; `--all-erd` first extracts all 39 example-robot-data robots from the wheel, about
430 MB, into the same cache) and in the pybullet wheel's `pybullet_data` (but its 1,000
generated `random_urdfs`), named `pybullet_data/...` below.

For each file:
- MuJoCo loads it (a URDF through MjSpec, its `package://` paths resolved as kinegrad resolves
  them: MuJoCo's URDF reader has no package lookup);
- kinegrad loads and builds it (a URDF with a fixed base, as MuJoCo imports it);
- when both load, "as written" parity: both from the file's qpos0 at rest, the file's options
  (timestep, integrator, gravity, iterations, tolerance), no control, 200 steps; the largest
  |qpos difference| must stay under 1e-6. A file whose integrator kinegrad lacks (implicit) or whose
  model differs in size counts as not comparable.

Prints the counts, then the most common reasons for failing to load (each with one example).
`--list --why` names, for each file apart, what closes its gap (see RELAXATIONS).
"""

import argparse
import collections
import re
import sys
import zipfile
from pathlib import Path

import mujoco
import numpy as np

from kinegrad import _native

REPO = Path(__file__).resolve().parents[1]
ASSETS = REPO / ".cache" / "assets"
ERD = ASSETS / "example-robot-data" / "robots"
STEPS = 200
TOL = 1e-6
INTEGRATORS = {
    int(mujoco.mjtIntegrator.mjINT_EULER): "euler",
    int(mujoco.mjtIntegrator.mjINT_IMPLICITFAST): "implicitfast",
    int(mujoco.mjtIntegrator.mjINT_RK4): "RK4",
}


def extract_all_erd():
    wheels = sorted((REPO / ".cache" / "wheels").glob("example_robot_data-*.whl"))
    if not wheels:
        raise SystemExit("no example-robot-data wheel in .cache/wheels: run `make setup` first")
    inner = "cmeel.prefix/share/example-robot-data/robots/"
    with zipfile.ZipFile(wheels[-1]) as zf:
        for info in zf.infolist():
            if info.filename.startswith(inner) and not info.filename.endswith("/"):
                out = ERD / info.filename[len(inner) :]
                if not (out.exists() and out.stat().st_size == info.file_size):
                    out.parent.mkdir(parents=True, exist_ok=True)
                    out.write_bytes(zf.read(info))


def pybullet_data() -> Path | None:
    try:
        import pybullet_data as pd
    except ImportError:
        return None
    return Path(pd.getDataPath())


def robot_files():
    """(file, its name in the table) for every robot file of the survey."""
    out = []
    roots = [(ASSETS, "")]
    if (pb := pybullet_data()) is not None:
        roots.append((pb, "pybullet_data/"))
    for root, prefix in roots:
        for f in sorted(root.rglob("*")):
            if "random_urdfs" in f.parts:
                continue
            if f.suffix == ".urdf":
                out.append((f, prefix + str(f.relative_to(root))))
            elif f.suffix == ".xml":
                text = f.read_text(errors="ignore")
                if "<mujoco" in text and "<worldbody" in text:
                    out.append((f, prefix + str(f.relative_to(root))))
    return out


def resolve_package(fname: str, here: Path) -> str:
    """A URDF `package://pkg/sub` path as an existing file: `sub` under a folder named `pkg` above
    the file, or under any folder above it."""
    rest = fname[len("package://") :]
    pkg, _, sub = rest.partition("/")
    for a in [here, *here.parents]:
        for cand in ([a / sub] if a.name == pkg else []) + [a / pkg / sub, a / sub, a / rest]:
            if cand.is_file():
                return str(cand)
    return fname


def mujoco_model(path: Path, adjacent_filter: bool = False):
    """MuJoCo's model of `path`. With `adjacent_filter`, bodies welded to the world (a URDF's
    fixed base, an MJCF body without joints) do not collide with their children, as in kinegrad
    and Genesis (MuJoCo's parent-child filter exempts the world and what is welded to it)."""
    if path.suffix != ".urdf":
        if not adjacent_filter:
            return mujoco.MjModel.from_xml_path(str(path))
        spec = mujoco.MjSpec.from_file(str(path))
    else:
        spec = mujoco.MjSpec.from_string(mujoco_model_text(path))
    if adjacent_filter:
        # the links welded to the world (a jointless chain from it) fuse into the world body at
        # compile time: each is excluded against its children, as kinegrad filters them
        welded = list(spec.worldbody.bodies)
        while welded:
            body = welded.pop()
            for child in body.bodies:
                spec.add_exclude(bodyname1=body.name, bodyname2=child.name)
                if not child.joints:
                    welded.append(child)
    return spec.compile()


def mujoco_model_text(path: Path) -> str:
    """A URDF's text with its mesh paths made absolute, for MuJoCo's reader."""
    text = path.read_text(errors="ignore")
    text = re.sub(r'filename="(package://[^"]+)"', lambda m: f'filename="{resolve_package(m.group(1), path.parent)}"', text)
    text = re.sub(
        r'filename="([^"/][^":]*)"',
        lambda m: f'filename="{path.parent / m.group(1)}"' if not Path(m.group(1)).is_absolute() else m.group(0),
        text,
    )
    return text


def kinegrad_sim(path: Path, m, **overrides):
    """kinegrad's scene of `path` with `m`'s options (`overrides` win), every actuator held at 0."""
    opts = {}
    if m is not None:
        integrator = INTEGRATORS.get(int(m.opt.integrator))
        if integrator is None:
            return None, "integrator"
        off, flag = int(m.opt.disableflags), mujoco.mjtDisableBit
        constraint = not off & flag.mjDSBL_CONSTRAINT
        opts = dict(
            timestep=float(m.opt.timestep),
            integrator=integrator,
            gravity=[0.0, 0.0, 0.0] if off & flag.mjDSBL_GRAVITY else list(m.opt.gravity),
            iterations=int(m.opt.iterations),
            tolerance=float(m.opt.tolerance),
            enable_collision=bool(constraint and not off & flag.mjDSBL_CONTACT),
            enable_joint_limit=bool(constraint and not off & flag.mjDSBL_LIMIT),
            enable_equality=bool(constraint and not off & flag.mjDSBL_EQUALITY),
            euler_damping=not off & flag.mjDSBL_EULERDAMP,
            impratio=float(m.opt.impratio),
            cone="elliptic" if int(m.opt.cone) == int(mujoco.mjtCone.mjCONE_ELLIPTIC) else "pyramidal",
        )
    opts.update(overrides)
    b = _native.SceneBuilder(**opts) if opts else _native.SceneBuilder(timestep=0.002)
    if path.suffix == ".urdf":
        b.add_urdf(str(path), 1.0, [0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0], True)
    else:
        b.add_mjcf(str(path), 1.0, [0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0])
    sim = b.build(1)
    hold_actuators(sim)
    return sim, None


def hold_actuators(sim):
    """Every MJCF actuator at target 0 in its own mode, as MuJoCo's `ctrl = 0` drives it (a
    position servo holds 0); kinegrad's channels otherwise start in force mode at 0."""
    info = sim.describe()
    mode = np.zeros((sim.n_envs, info["nu"]), dtype=np.int8)
    for a in info["actuators"]:
        mode[:, a["dof"]] = a["mode"]
    sim.set_control(mode, np.zeros(mode.shape))


def parity(m, sim):
    """The largest |qpos difference| over STEPS steps from qpos0 at rest, or None when the two
    models differ in size."""
    if sim.nq != m.nq or sim.nv != m.nv:
        return None
    if m.nq == 0:
        return 0.0  # nothing moves
    d = mujoco.MjData(m)
    sim.set_state(m.qpos0[None].copy(), np.zeros((1, m.nv)))
    gap = 0.0
    for _ in range(STEPS // 20):
        mujoco.mj_step(m, d, nstep=20)
        try:
            sim.step(20)
        except Exception:  # noqa: BLE001 - a step that fails (diverges) does not match
            return float("inf")
        gap = max(gap, float(np.abs(sim.get_qpos()[0] - d.qpos).max()))
        if not np.isfinite(gap):
            return float("inf")
    return gap


# What a file that misses parity as written is compared again with, each step on top of the last:
# both solvers converged (MuJoCo's iterations at the file's count stop short of the solution that
# kinegrad's Newton polish reaches; MuJoCo's EPA run to 1e-12 of the depth instead of 1e-6), MuJoCo's body sleeping off (kinegrad has none), bodies welded
# to the world filtered against their children in MuJoCo too (kinegrad's and Genesis's
# adjacent-link rule), and
# contacts off in both. The first step at which the gap falls under TOL names the cause; with the
# first three applied, the largest relative velocity error of single steps re-synced to MuJoCo is
# printed too (contacts differ by their depths to ~1e-9 on meshes: MuJoCo's EPA stops at its
# ccd_tolerance).
RELAXATIONS = ["solvers converged", "sleep off", "adjacent filter", "contacts off"]


def diagnose(path: Path) -> str:
    """The gaps of a file that misses parity as written under RELAXATIONS, cumulatively."""
    out = []
    for k, name in enumerate(RELAXATIONS):
        active = RELAXATIONS[: k + 1]
        m = mujoco_model(path, adjacent_filter="adjacent filter" in active)
        over = {}
        if "solvers converged" in active:
            m.opt.iterations, m.opt.tolerance, m.opt.ls_iterations = 100, 1e-12, 50
            # MuJoCo's convex collision (GJK/EPA) too: it stops within ccd_tolerance (1e-6)
            # of the depth, where kinegrad's mesh contacts are exact
            m.opt.ccd_tolerance, m.opt.ccd_iterations = 1e-12, 1000
            over.update(iterations=100, tolerance=1e-12)
        if "sleep off" in active:
            m.opt.enableflags &= ~int(mujoco.mjtEnableBit.mjENBL_SLEEP)
        if "contacts off" in active:
            m.opt.disableflags |= int(mujoco.mjtDisableBit.mjDSBL_CONTACT)
            over.update(enable_collision=False)
        sim, _ = kinegrad_sim(path, m, **over)
        gap = parity(m, sim)
        if name == "adjacent filter":
            out.append(f"{name} {gap:.1e} (re-synced steps {resynced(m, sim):.0e})")
        else:
            out.append(f"{name} {gap:.1e}")
        if gap is not None and gap < TOL:
            break
    return "; ".join(out)


def resynced(m, sim) -> float:
    """The largest per-step velocity error over STEPS steps from qpos0 with kinegrad re-synced to
    MuJoCo's state before every step, relative to max(1, |qvel|): how far one step is apart, without
    the divergence of two free runs (a robot whose meshes interpenetrate deeply at qpos0 is
    thrown apart by kilonewton contact forces, and round-off differences grow from there)."""
    d = mujoco.MjData(m)
    worst = 0.0
    for _ in range(STEPS):
        sim.set_state(d.qpos[None].copy(), d.qvel[None].copy())
        mujoco.mj_step(m, d)
        try:
            sim.step(1)
        except Exception:  # noqa: BLE001
            return float("inf")
        worst = max(worst, float(np.abs(sim.get_qvel()[0] - d.qvel).max() / max(1.0, np.abs(d.qvel).max())))
    return worst


def reason(e: Exception) -> str:
    msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    msg = re.sub(r"\S*\.(xml|urdf|obj|stl|dae|STL|DAE|OBJ)\b\S*", "FILE", msg)
    msg = re.sub(r"'[^']*'", "'.'", msg)
    msg = re.sub(r"line \d+", "line N", msg)
    return msg[:120]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--all-erd", action="store_true", help="extract every example-robot-data robot first (~430 MB)")
    ap.add_argument("--list", action="store_true", help="print one line per file")
    ap.add_argument(
        "--why",
        action="store_true",
        help="with --list: for each file apart, the gaps with the solvers converged, sleep off, "
        "a URDF base filtered against its children, contacts off (cumulative)",
    )
    a = ap.parse_args()
    if a.all_erd:
        extract_all_erd()
    files = robot_files()
    counts = collections.Counter()
    fails = collections.defaultdict(list)
    for f, rel in files:
        try:
            m = mujoco_model(f)
        except Exception as e:  # noqa: BLE001 - MuJoCo's errors are the data here
            m, mj_err = None, reason(e)
        else:
            mj_err = None
        try:
            sim, skip = kinegrad_sim(f, m)
            kg_err = None
        except Exception as e:  # noqa: BLE001
            sim, skip, kg_err = None, None, reason(e)
        gap = None
        if m is not None and sim is not None:
            gap = parity(m, sim)
        counts["files"] += 1
        counts["MuJoCo loads"] += m is not None
        counts["kinegrad loads"] += sim is not None or skip is not None
        counts["both load"] += m is not None and (sim is not None or skip is not None)
        if m is not None and kg_err is not None:
            fails[("kinegrad fails where MuJoCo loads", kg_err)].append(rel)
        if m is None and kg_err is None:
            counts["kinegrad loads, MuJoCo does not"] += 1
        if skip is not None:
            counts[f"not comparable ({skip})"] += 1
        elif gap is None and m is not None and sim is not None:
            counts["not comparable (sizes differ)"] += 1
        elif gap is not None:
            counts["compared"] += 1
            counts[f"parity < {TOL:g} as written"] += gap < TOL
        if a.list:
            state = "ok" if (gap is not None and gap < TOL) else (kg_err or mj_err or skip or f"gap {gap:.1e}")
            if a.why and state.startswith("gap"):
                state += f" | {diagnose(f)}"
            print(f"{rel:<80} {state}")
    print(f"robot files from the registries' wheels ({STEPS} steps from qpos0, tolerance {TOL:g}):")
    for k in [
        "files",
        "MuJoCo loads",
        "kinegrad loads",
        "both load",
        "kinegrad loads, MuJoCo does not",
        "not comparable (integrator)",
        "not comparable (sizes differ)",
        "compared",
        f"parity < {TOL:g} as written",
    ]:
        print(f"  {k:<36} {counts[k]}")
    if fails:
        print("kinegrad fails to load where MuJoCo loads:")
        for (_, why), fs in sorted(fails.items(), key=lambda kv: -len(kv[1])):
            print(f"  {len(fs):>3}  {why}  (e.g. {fs[0]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

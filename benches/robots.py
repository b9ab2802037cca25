"""Step cost of humanoid robots from URDF files in the wild, standing under PD on a floor:
kinegrad next to MuJoCo on the same model, same process (issue 18's robot targets).

Each URDF (example-robot-data: Unitree G1, G1 with hands, TALOS) is compiled by MuJoCo's own URDF
reader (MjSpec: its static links fused, as MuJoCo does for URDF), given a free base, a floor
plane and a PD position actuator on every hinge (kp, kv as below), and written out as MJCF; both
engines then load that one file (self-collision on, but for link pairs whose meshes already
overlap at the zero pose). The robot starts at its zero pose with its feet on the floor and
holds that pose. implicitfast, dt 0.002, Newton, pyramidal cones. After `--settle` steps of
both engines, the per-step time is the median of `--repeats` runs of `--steps` steps, the two
engines timed in turn. Run: `.venv/bin/python benches/robots.py` (part of `make bench`).
"""

import argparse
import statistics
import tempfile
from pathlib import Path

import mujoco
import numpy as np

from bench import ERD, interleaved_times, ratio_range
from kinegrad import _native

ROBOTS = [
    ("Unitree G1", "g1_description", "urdf/g1_29dof_rev_1_0.urdf", 500.0, 20.0),
    ("Unitree G1 with hands", "g1_description", "urdf/g1_29dof_with_hand_rev_1_0.urdf", 500.0, 20.0),
    ("TALOS", "talos_data", "robots/talos_reduced.urdf", 2000.0, 50.0),
]


def standing_mjcf(desc: str, urdf: str, kp: float, kv: float) -> str:
    """The URDF as MuJoCo compiles it, on a free base over a floor, with PD actuators."""
    text = (ERD / desc / urdf).read_text().replace(f"package://example-robot-data/robots/{desc}/meshes/", "")
    spec = mujoco.MjSpec.from_string(text)
    spec.meshdir = str((ERD / desc / "meshes").resolve())
    spec.option.timestep = 0.002
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    spec.option.cone = mujoco.mjtCone.mjCONE_PYRAMIDAL
    root = spec.worldbody.first_body()
    root.add_freejoint()
    spec.worldbody.add_geom(type=mujoco.mjtGeom.mjGEOM_PLANE, size=[5, 5, 0.1])
    for j in spec.joints:
        if j.type == mujoco.mjtJoint.mjJNT_HINGE:
            a = spec.add_actuator(name=f"pd_{j.name}", target=j.name, trntype=mujoco.mjtTrn.mjTRN_JOINT)
            a.set_to_position(kp=kp, kv=kv)
    # the lowest point of the robot at its zero pose touches the floor
    m = spec.compile()
    d = mujoco.MjData(m)
    mujoco.mj_forward(m, d)
    low = min(
        (d.geom_xpos[g][2] - m.geom_rbound[g]) if m.geom_type[g] != mujoco.mjtGeom.mjGEOM_MESH else _mesh_low(m, d, g)
        for g in range(m.ngeom)
        if m.geom_bodyid[g] != 0
    )
    root.pos = [0.0, 0.0, root.pos[2] - low + 1e-3]
    # links whose collision meshes already overlap at the zero pose (TALOS's arm and hip
    # meshes, by up to 9 cm) would push apart against the PD: exclude those pairs, as a user
    # of the file does, and keep every other self-collision
    m = spec.compile()
    d = mujoco.MjData(m)
    mujoco.mj_forward(m, d)
    pairs = {tuple(sorted((int(m.geom_bodyid[c.geom1]), int(m.geom_bodyid[c.geom2])))) for c in d.contact[: d.ncon]}
    for b1, b2 in sorted(pairs):
        if b1 != 0 and c_dist(m, d, b1, b2) < -1e-3:
            spec.add_exclude(bodyname1=m.body(b1).name, bodyname2=m.body(b2).name)
    spec.compile()
    return spec.to_xml()


def c_dist(m, d, b1, b2):
    """The deepest contact between bodies b1 and b2."""
    return min(
        (c.dist for c in d.contact[: d.ncon] if {int(m.geom_bodyid[c.geom1]), int(m.geom_bodyid[c.geom2])} == {b1, b2}),
        default=0.0,
    )


def _mesh_low(m, d, g):
    mesh = m.geom_dataid[g]
    verts = m.mesh_vert[m.mesh_vertadr[mesh] : m.mesh_vertadr[mesh] + m.mesh_vertnum[mesh]]
    return float((verts @ d.geom_xmat[g].reshape(3, 3).T + d.geom_xpos[g])[:, 2].min())


def one(name, xml_path: Path, settle: int, steps: int, repeats: int):
    m = mujoco.MjModel.from_xml_path(str(xml_path))
    d = mujoco.MjData(m)
    mujoco.mj_forward(m, d)
    q0 = d.qpos.copy()
    d.ctrl[:] = q0[7:]
    b = _native.SceneBuilder(
        timestep=0.002, integrator="implicitfast", iterations=int(m.opt.iterations),
        tolerance=float(m.opt.tolerance), gravity=list(m.opt.gravity),
    )
    b.add_mjcf(str(xml_path), 1.0, [0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0])
    sim = b.build(1)
    assert sim.nv == m.nv, (sim.nv, m.nv)
    sim.set_state(q0[None], np.zeros((1, m.nv)))
    mode = np.zeros((1, m.nv), dtype=np.int8)
    mode[0, 6:] = 1  # position control on every hinge, none on the free base
    target = np.zeros((1, m.nv))
    target[0, 6:] = q0[7:]
    sim.set_control(mode, target)
    mujoco.mj_step(m, d, nstep=settle)
    sim.step(settle)
    n_kg = len(sim.contacts(0))
    gap = float(np.abs(sim.get_qpos()[0] - d.qpos).max())
    kg, mj = interleaved_times([lambda: sim.step(steps), lambda: mujoco.mj_step(m, d, nstep=steps)], repeats)
    t_kg, t_mj = statistics.median(kg) / steps, statistics.median(mj) / steps
    r, lo, hi = ratio_range(kg, mj)
    print(
        f"{name:<22} {m.nv:>4} {m.ngeom:>6} {d.ncon:>9} {n_kg:>7} {t_mj * 1e6:>10.1f} {t_kg * 1e6:>12.1f} "
        f"{r:>6.2f} ({lo:.2f}-{hi:.2f})   {gap:.1e} (base height {d.qpos[2]:.3f})",
        flush=True,
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--settle", type=int, default=500)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=7)
    a = ap.parse_args()
    print(f"robots standing under PD on a floor, after {a.settle} steps; median of {a.repeats} runs of {a.steps} steps")
    print(f"{'robot':<22} {'nv':>4} {'geoms':>6} {'MuJoCo con':>9} {'kg con':>7} {'MuJoCo us':>10} {'kinegrad us':>12} {'ratio (range)':>18}   qpos gap")
    with tempfile.TemporaryDirectory() as tmp:
        for name, desc, urdf, kp, kv in ROBOTS:
            if not (ERD / desc / urdf).exists():
                raise SystemExit(f"{ERD / desc / urdf} missing: run `make setup`")
            path = Path(tmp) / f"{desc}.xml"
            path.write_text(standing_mjcf(desc, urdf, kp, kv))
            one(name, path, a.settle, a.steps, a.repeats)


if __name__ == "__main__":
    main()

# MuJoCo reference for examples/franka_soak.rs: replays the targets that `franka_soak --dump FILE`
# wrote on the same MJCF file at dt 0.01 and prints the same per-period lines and summary.
# usage: python franka_soak_mujoco.py scene.xml targets.txt steps
import mujoco, numpy as np, sys
f = sys.argv[1]; targets = sys.argv[2]; steps = int(sys.argv[3])
m = mujoco.MjModel.from_xml_path(f); m.opt.timestep = 0.01
d = mujoco.MjData(m)
rows = [l.split() for l in open(targets)]
sched = {int(r[0]): np.array([float(x) for x in r[1:]]) for r in rows}
fing = [m.joint(n).dofadr[0] for n in ("finger_joint1", "finger_joint2")]
maxd = 0; maxc = 0; exc = 0; stuck = 0
# finger-finger pairs that MuJoCo considers
lf, rf = m.body("left_finger").id, m.body("right_finger").id
for t in range(steps):
    if t in sched:
        if t > 0:
            q = d.qpos[fing]; g = d.ctrl[7:9]
            jam = any(g[i] - q[i] > 0.01 and q[i] < 0.002 for i in range(2))
            stuck += jam
            print(f"step {t}: fingers q {np.round(q,4)} targets {np.round(g,4)} contacts {d.ncon}{'  JAMMED' if jam else ''}")
        d.ctrl[:] = sched[t]
    mujoco.mj_step(m, d)
    for k in range(d.ncon):
        maxd = max(maxd, -d.contact[k].dist)
        b = {m.geom_bodyid[d.contact[k].geom1], m.geom_bodyid[d.contact[k].geom2]}
        if b == {lf, rf} and not hasattr(sys, "ff"):
            sys.ff = t; print("first finger-finger contact at", t)
    maxc = max(maxc, d.ncon)
    for j in range(m.njnt):
        if m.jnt_limited[j]:
            q = d.qpos[m.jnt_qposadr[j]]; lo, hi = m.jnt_range[j]
            exc = max(exc, lo - q, q - hi)
print(f"{steps} steps: deepest penetration {maxd*1e3:.2f} mm, most contacts {maxc}, largest excursion past a joint limit {exc:.4f}, jammed periods {stuck}")

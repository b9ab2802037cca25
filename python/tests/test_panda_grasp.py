"""Issue 19: the Menagerie Panda (`panda.xml` as written: implicitfast, joint damping, arm PD,
the tendon gripper `split` driven by actuator8) grasps a box under PD with contacts on, and
holds it lifted for 2 s.

The script a user would write with the Genesis-style API: a plane, the Panda, a 5 cm cube of
0.1 kg with friction 1 on the floor 0.5 m in front of the base; open the gripper (tendon length
0.04), go down around the box, close (tendon target 0), lift by 0.2 m and hold. The arm follows
joint targets from a damped-least-squares IK on the same file in MuJoCo (hand pointing down,
the fingertip pads' centre above the box, then around its upper half, then 0.2 m up).

The gains are the file's: actuators 1-7 give the arm dofs kp 4500/3500/2000 with kv = kp / 10,
actuator8 (gain 0.0156862745, bias 0 -100 -10, a length target of 0.0156862745 * ctrl / 100)
gives the tendon kp 100, kv 10: closed on the box (tendon length 0.025) it squeezes with
100 * 0.025 = 2.5 N along the tendon, 1.25 N per finger, against 0.49 N of weight per side.

The soft contacts let the box creep down between the pads while it hangs, as MuJoCo's do on
the same file and script (at dt = 0.005 both end the hold with the box 7.6 mm below the pads'
centre, at 0.2166-0.2168 m). The creep grows with the step: the box ends 16 mm below the pads'
centre at dt = 0.01 (both engines), within 0.4 mm of the pads' upper edge leaving the box's
faces, so the test runs at dt = 0.005. The friction needed is 0.49 / 1.25 = 0.39: with the
Panda's geoms at friction 0.45 the box slides 25 mm (the vertical check fails), at 0.3 it stays
on the floor, in both engines.

The second test leaves the fingers open: the box stays on the floor and the grasp checks
report it, so they cannot pass on a failed grasp.
"""

import time

import mujoco
import numpy as np
import pytest
import torch

import kinegrad as gs
from _assets import asset

# the file's <keyframe> is not loaded (kinegrad warns); the test sets its own start pose
pytestmark = pytest.mark.filterwarnings("ignore:.*<keyframe> unsupported")

DT = 0.005
SIZE = 0.05  # box edge (m)
MASS = 0.1  # kg
FRICTION = 1.0
BOX_XY = (0.5, 0.0)
OPEN, CLOSED = 0.04, 0.0  # tendon length targets (actuator8's ctrl 255 and 0)
FINGER_IN_HAND, PAD_IN_FINGER = 0.0584, 0.0445  # along the hand's z: the finger bodies, the pads' centre in them
PAD = FINGER_IN_HAND + PAD_IN_FINGER  # fingertip pads' centre below the hand origin
PAD_HALF_HEIGHT = 0.0085  # the pads span +-8.5 mm about that centre along the hand's z
GRASP_Z = SIZE / 2 + 0.005  # pads' centre at the grasp: 5 mm above the box centre
LIFT = 0.2
ARM_KP = [4500.0, 4500.0, 3500.0, 3500.0, 2000.0, 2000.0, 2000.0]

# what the hold must show (see grasp_failures)
MIN_LIFT = 0.1  # box centre above its resting height all through the hold (m)
MAX_SIDEWAYS = 0.005  # box centre from the pads' midpoint, horizontally (m)
MAX_SLIP = SIZE / 2 - PAD_HALF_HEIGHT  # vertically: the pads stay within the box's faces (m)
WIDTH_TOL = 0.002  # tendon length (half the finger opening) within this of half the box width (m)


def panda_file() -> str:
    return str(asset("genesis", "xml", "franka_emika_panda", "panda.xml"))


def joint_targets(path: str):
    """Arm joint targets (7,) for the pre-grasp (pads 0.25 m up), grasp and lift poses: damped
    least squares on the pads' centre and the hand's orientation (z down, fingers along world x,
    as at the file's home keyframe), in MuJoCo, each solve starting from the previous one."""
    m = mujoco.MjModel.from_xml_path(path)
    d = mujoco.MjData(m)
    hand = m.body("hand").id
    lo, hi = m.jnt_range[:7, 0], m.jnt_range[:7, 1]
    r_goal = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, -1.0]])  # columns: hand axes in world

    def solve(target, q):
        for _ in range(300):
            d.qpos[:7], d.qpos[7:9] = q, OPEN
            mujoco.mj_kinematics(m, d)
            mujoco.mj_comPos(m, d)
            r = d.xmat[hand].reshape(3, 3)
            p = d.xpos[hand] + r @ np.array([0.0, 0.0, PAD])
            jp, jr = np.zeros((3, m.nv)), np.zeros((3, m.nv))
            mujoco.mj_jac(m, d, jp, jr, p, hand)
            err = np.concatenate([target - p, 0.5 * sum(np.cross(r[:, i], r_goal[:, i]) for i in range(3))])
            jac = np.vstack([jp, jr])[:, :7]
            dq = jac.T @ np.linalg.solve(jac @ jac.T + 1e-4 * np.eye(6), err)
            q = np.clip(q + np.clip(dq, -0.1, 0.1), lo, hi)
        assert np.linalg.norm(err) < 1e-8, f"IK did not converge for {target}: error {np.linalg.norm(err):.2e}"
        return q

    home = np.array([0.0, 0.0, 0.0, -1.57079, 0.0, 1.57079, -0.7853])  # the file's keyframe
    x, y = BOX_XY
    pre = solve(np.array([x, y, 0.25]), home)
    grasp = solve(np.array([x, y, GRASP_Z]), pre)
    lift = solve(np.array([x, y, GRASP_Z + LIFT]), grasp)
    return pre, grasp, lift


def rotate(quat, v):
    """v rotated by the unit quaternion (w, x, y, z)."""
    w, u = quat[0], quat[1:]
    return v + 2.0 * np.cross(u, np.cross(u, v) + w * v)


def run_grasp(close: bool) -> dict:
    """The scripted grasp (``close=False``: the gripper never closes); the figures of the hold."""
    t_start = time.perf_counter()
    path = panda_file()
    q_pre, q_grasp, q_lift = joint_targets(path)

    scene = gs.Scene(sim_options=gs.options.SimOptions(dt=DT), rigid_options=gs.options.RigidOptions(), show_viewer=False)
    scene.add_entity(gs.morphs.Plane())
    panda = scene.add_entity(gs.morphs.MJCF(file=path))
    box = scene.add_entity(
        gs.morphs.Box(pos=(*BOX_XY, SIZE / 2), size=(SIZE, SIZE, SIZE)),
        material=gs.materials.Rigid(rho=MASS / SIZE**3, friction=FRICTION),
    )
    scene.build()

    arm = [panda.get_joint(f"joint{i}").dof_idx_local for i in range(1, 8)]
    fingers = [panda.get_joint(f"finger_joint{i}").dof_idx_local for i in (1, 2)]
    assert panda.tendon_names == ["split"]
    # the file's gains: the arm's position actuators and actuator8 on the tendon
    assert np.allclose(panda.get_dofs_kp(arm).numpy(), ARM_KP)
    assert np.allclose(panda.get_dofs_kv(arm).numpy(), np.array(ARM_KP) / 10)
    assert np.allclose(panda.get_tendons_kp().numpy(), [100.0])
    assert np.allclose(panda.get_tendons_kv().numpy(), [10.0])
    assert abs(box.get_mass() - MASS) < 1e-12

    lf, rf, hand = panda.get_link("left_finger"), panda.get_link("right_finger"), panda.get_link("hand")
    finger_links = {lf.idx, rf.idx}

    def pads_centre():
        mid = 0.5 * (lf.get_pos() + rf.get_pos()).numpy()
        return mid + rotate(hand.get_quat().numpy(), np.array([0.0, 0.0, PAD_IN_FINGER]))

    # start at the pre-grasp pose, gripper open, box resting on the floor
    panda.set_dofs_position(torch.tensor([*q_pre, OPEN, OPEN], dtype=torch.float64), arm + fingers)
    panda.control_dofs_position(torch.tensor(q_pre), arm)
    panda.control_tendons_position(torch.tensor([OPEN]))

    hold = []

    def move(qa, qb, seconds, log=None):
        n = int(round(seconds / DT))
        for k in range(n):
            a = (k + 1) / n
            panda.control_dofs_position(torch.tensor((1 - a) * qa + a * qb), arm)
            scene.step()
            q, qb_ = panda.get_qpos(), box.get_qpos()
            if not (torch.isfinite(q).all() and torch.isfinite(qb_).all()):
                raise AssertionError(f"state not finite at t = {scene.t * DT:.3f} s: panda {q}, box {qb_}")
            if log is not None:
                log.append((box.get_pos().numpy().copy(), pads_centre(), float(panda.get_tendons_length()[0])))

    move(q_pre, q_pre, 0.5)  # settle
    rest = float(box.get_pos()[2])
    move(q_pre, q_grasp, 1.0)  # descend around the box
    move(q_grasp, q_grasp, 0.3)
    if close:
        panda.control_tendons_position(torch.tensor([CLOSED]))
    move(q_grasp, q_grasp, 1.0)  # close
    width_closed = float(panda.get_tendons_length()[0])
    move(q_grasp, q_lift, 1.0)  # lift by LIFT
    move(q_lift, q_lift, 2.0, hold)  # hold

    contacts = box.get_contacts(panda)
    touching = {int(a) for a in contacts["link_a"]} | {int(b) for b in contacts["link_b"]}
    box_pos = np.array([h[0] for h in hold])
    offset = box_pos - np.array([h[1] for h in hold])
    length = np.array([h[2] for h in hold])
    return dict(
        rest=rest,
        height=box_pos[:, 2],
        sideways=np.hypot(offset[:, 0], offset[:, 1]),
        slip=offset[:, 2],
        length=length,
        width_closed=width_closed,
        fingers_touching=sorted(finger_links & touching),
        finger_links=sorted(finger_links),
        wall=time.perf_counter() - t_start,
    )


def grasp_failures(r: dict) -> list:
    """What the hold shows that a grasp would not (empty: the box was held)."""
    out = []
    if r["height"].min() <= r["rest"] + MIN_LIFT:
        out.append(f"box height: lowest {r['height'].min():.4f} m during the hold, not above rest {r['rest']:.4f} + {MIN_LIFT}")
    if r["sideways"].max() >= MAX_SIDEWAYS:
        out.append(f"box off the pads' midpoint sideways by {r['sideways'].max():.4f} m (>= {MAX_SIDEWAYS})")
    if np.abs(r["slip"]).max() >= MAX_SLIP:
        out.append(f"box off the pads' centre vertically by {np.abs(r['slip']).max():.4f} m (>= {MAX_SLIP:.4f})")
    if np.abs(r["length"] - SIZE / 2).max() >= WIDTH_TOL:
        out.append(f"tendon length {r['length'].min():.4f}..{r['length'].max():.4f}, not the box's half width {SIZE / 2}")
    if r["fingers_touching"] != r["finger_links"]:
        out.append(f"box touched by finger links {r['fingers_touching']} at the end, not both {r['finger_links']}")
    return out


def summary(tag: str, r: dict) -> str:
    h = r["height"]
    return (
        f"{tag}: rest {r['rest']:.4f} m; hold height {h.min():.4f}..{h.max():.4f} m (end {h[-1]:.4f}, "
        f"{h.min() - r['rest']:.4f} above rest at the lowest); box from the pads' centre: sideways <= "
        f"{r['sideways'].max() * 1e3:.1f} mm, vertically {r['slip'].min() * 1e3:.1f}..{r['slip'].max() * 1e3:.1f} mm; "
        f"tendon length closed {r['width_closed']:.4f}, hold {r['length'].min():.4f}..{r['length'].max():.4f}; "
        f"fingers touching {r['fingers_touching']}; wall {r['wall']:.2f} s"
    )


def test_panda_tendon_gripper_grasps_box_and_holds_it_lifted_for_2s():
    r = run_grasp(close=True)
    print("\n" + summary("grasp", r))
    failures = grasp_failures(r)
    assert not failures, "; ".join(failures)


def test_panda_with_open_gripper_leaves_box_on_floor_and_checks_fail():
    r = run_grasp(close=False)
    print("\n" + summary("open fingers", r))
    assert r["height"].max() < r["rest"] + 0.005, r["height"].max()  # the box never left the floor
    failures = grasp_failures(r)
    assert any(f.startswith("box height") for f in failures), failures

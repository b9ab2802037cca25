//! What users read off a configuration besides the state itself: every body's pose and
//! velocity (Genesis's `get_links_pos` / `quat` / `vel` / `ang`), the tendons' lengths, the
//! joint-space mass matrix and inverse dynamics. Their reverse is [`crate::adjoint::readings`].

use crate::data::Data;
use crate::dynamics::{crba, rnea};
use crate::kinematics;
use crate::math::quat_to_wxyz;
use crate::model::{Model, Params};
use crate::pipeline;

/// The quantities of one body's reading in [`link_states`], in order: (name, offset, length).
/// World frame: position of the body origin, orientation quaternion (w, x, y, z), linear
/// velocity of the body origin, angular velocity. The Python package reads this table (its
/// `get_links_<name>` readings and their autograd node).
pub const LINK_FIELDS: [(&str, usize, usize); 4] =
    [("pos", 0, 3), ("quat", 3, 4), ("vel", 7, 3), ("ang", 10, 3)];

/// Floats of one body's reading.
pub const LINK_STATE: usize = 13;

/// The range of quantity `name` ([`LINK_FIELDS`]) in a body's reading.
pub fn field(name: &str) -> std::ops::Range<usize> {
    let (_, at, k) = LINK_FIELDS
        .iter()
        .find(|f| f.0 == name)
        .expect("a link reading");
    *at..at + k
}

/// Every body's reading at (q, v), `LINK_STATE` floats per body into `out` (nbody * 13).
/// `q` must have normalized quaternion blocks.
pub fn link_states(
    model: &Model,
    params: &Params,
    q: &[f64],
    v: &[f64],
    data: &mut Data,
    out: &mut [f64],
) {
    pipeline::kinematics(model, params, q, data);
    kinematics::com_vel(model, v, data);
    for (b, r) in out.chunks_mut(LINK_STATE).enumerate().take(model.nbody) {
        let p = data.xpos[b];
        let w = quat_to_wxyz(&data.xquat[b]);
        let c = data.cvel[b];
        let lin = c.point_velocity(&p);
        r[field("pos")].copy_from_slice(p.as_slice());
        r[field("quat")].copy_from_slice(&w);
        r[field("vel")].copy_from_slice(lin.as_slice());
        r[field("ang")].copy_from_slice(c.ang.as_slice());
    }
}

/// Every geom's world axis-aligned bounding box at `q` into `out` (ngeom x 6: min xyz, max
/// xyz; a plane's infinite but along a world axis its normal is aligned with, a mesh's its
/// hull's). `q` must have normalized quaternion blocks.
pub fn geom_aabbs(model: &Model, params: &Params, q: &[f64], data: &mut Data, out: &mut [f64]) {
    pipeline::kinematics(model, params, q, data);
    for (g, r) in out.chunks_mut(6).enumerate().take(model.ngeom) {
        let (lo, hi) =
            crate::collision::aabb(&crate::detect::geom_shape(model, g), &data.geom_frame(g));
        r[..3].copy_from_slice(lo.as_slice());
        r[3..].copy_from_slice(hi.as_slice());
    }
}

/// Every tendon's length at `q` into `out` (ntendon): a fixed tendon's `sum c q`, a spatial
/// tendon's path ([`crate::tendon`]). `q` must have normalized quaternion blocks.
pub fn tendon_lengths(model: &Model, params: &Params, q: &[f64], data: &mut Data, out: &mut [f64]) {
    pipeline::kinematics(model, params, q, data);
    out.copy_from_slice(&data.ten_length);
}

/// The joint-space mass matrix M(q), armature included, into `out` (nv * nv, row-major).
pub fn mass_matrix(model: &Model, params: &Params, q: &[f64], data: &mut Data, out: &mut [f64]) {
    pipeline::kinematics(model, params, q, data);
    crba::crba(model, params, data);
    crate::dynamics::mass::to_dense(model, &data.qm, out);
}

/// Inverse dynamics M(q) a + c(q, v), armature excluded, into `out` (nv).
pub fn inverse_dynamics(
    model: &Model,
    params: &Params,
    q: &[f64],
    v: &[f64],
    a: &[f64],
    data: &mut Data,
    out: &mut [f64],
) {
    pipeline::kinematics(model, params, q, data);
    kinematics::com_vel(model, v, data);
    rnea::rnea(model, params, data, v, Some(a), out);
}

/// Every body's acceleration at `(q, v)` under the joint accelerations `a` (nv) into `out`
/// (nbody x 6): the classical linear acceleration of the body's origin, then its angular
/// acceleration, world frame (Genesis's `get_links_acc` and `get_links_acc_ang`; gravity is
/// not in it). `q` must have normalized quaternion blocks.
pub fn link_accelerations(
    model: &Model,
    params: &Params,
    q: &[f64],
    v: &[f64],
    a: &[f64],
    data: &mut Data,
    out: &mut [f64],
) {
    pipeline::kinematics(model, params, q, data);
    kinematics::com_vel(model, v, data);
    // spatial accelerations at the world origin, parents first (bodies are numbered so)
    let mut cacc = vec![crate::math::spatial::Motion::zero(); model.nbody];
    for b in 1..model.nbody {
        let mut c = cacc[model.body_parent[b]];
        let d0 = model.body_dof_adr[b];
        for d in d0..d0 + model.body_dof_num[b] {
            c += data.cdof_dot[d] * v[d] + data.cdof[d] * a[d];
        }
        cacc[b] = c;
    }
    for (b, r) in out.chunks_mut(6).enumerate().take(model.nbody) {
        let p = data.xpos[b];
        let (c, w) = (cacc[b], data.cvel[b]);
        // the origin's classical acceleration: the spatial one at the point plus w x v_point
        let lin = c.point_velocity(&p) + w.ang.cross(&w.point_velocity(&p));
        r[..3].copy_from_slice(lin.as_slice());
        r[3..].copy_from_slice(c.ang.as_slice());
    }
}

/// The actuator forces (nv) the controls `control` give at `(q, v)` with activations `act`
/// (Genesis's `get_dofs_control_force`: the force law of each channel, clamped; tendon channels
/// along their Jacobians).
#[allow(clippy::too_many_arguments)]
pub fn actuator_forces(
    model: &Model,
    params: &Params,
    q: &[f64],
    v: &[f64],
    act: &[f64],
    control: &crate::state::Control,
    data: &mut Data,
    out: &mut [f64],
) {
    pipeline::kinematics(model, params, q, data);
    kinematics::com_vel(model, v, data);
    let h = model.opt.timestep / model.opt.substeps as f64;
    crate::dynamics::forces::actuation(model, params, q, v, act, control, data, h);
    out.copy_from_slice(&data.qfrc_actuator);
}

/// Every joint's anchor and axis (world) at `q` into `out` (njnt x 6), MuJoCo's `xanchor` and
/// `xaxis`: where the joint is before its own motion is applied (a slide joint's anchor does
/// not move with it). `q` must have normalized quaternion blocks.
pub fn joint_anchors(model: &Model, params: &Params, q: &[f64], data: &mut Data, out: &mut [f64]) {
    kinematics::body_kinematics(model, params, q, data);
    for (j, r) in out.chunks_mut(6).enumerate().take(model.njnt) {
        r[..3].copy_from_slice(data.xanchor[j].as_slice());
        r[3..].copy_from_slice(data.xaxis[j].as_slice());
    }
}

/// The Jacobian of a point of body `body` (`point` in the body's frame) at `q` into `out`
/// (6 x nv, row-major): the point's linear velocity (rows 0-2) and the body's angular velocity
/// (rows 3-5), world frame, per unit velocity of each dof (Genesis's `get_jacobian`). `q` must
/// have normalized quaternion blocks.
pub fn point_jacobian(
    model: &Model,
    params: &Params,
    q: &[f64],
    body: usize,
    point: &crate::math::Vec3,
    data: &mut Data,
    out: &mut [f64],
) {
    pipeline::kinematics(model, params, q, data);
    out.iter_mut().for_each(|x| *x = 0.0);
    let nv = model.nv;
    let x = data.xpos[body] + data.xmat[body] * point;
    let mut d = data.body_dof_last[body];
    while d != usize::MAX {
        let s = &data.cdof[d];
        let lin = s.lin + s.ang.cross(&x);
        for k in 0..3 {
            out[k * nv + d] = lin[k];
            out[(3 + k) * nv + d] = s.ang[k];
        }
        d = model.dof_parent[d];
    }
}

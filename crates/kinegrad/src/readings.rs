//! What users read off a configuration besides the state itself: every body's pose and
//! velocity (Genesis's `get_links_pos` / `quat` / `vel` / `ang`), the joint-space mass matrix
//! and inverse dynamics. Their reverse is [`crate::adjoint::readings`].

use crate::data::Data;
use crate::dynamics::{crba, rnea};
use crate::kinematics;
use crate::math::quat_to_wxyz;
use crate::model::{Model, Params};
use crate::pipeline;

/// Floats of one body's reading in [`link_states`]: position (3), quaternion (w, x, y, z) (4),
/// linear velocity of the body origin (3) and angular velocity (3), world frame.
pub const LINK_STATE: usize = 13;

/// Where each quantity starts in a body's [`LINK_STATE`] floats, and its length.
pub const LINK_FIELDS: [(usize, usize); 4] = [(0, 3), (3, 4), (7, 3), (10, 3)];

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
        r.copy_from_slice(&[
            p.x, p.y, p.z, w[0], w[1], w[2], w[3], lin.x, lin.y, lin.z, c.ang.x, c.ang.y, c.ang.z,
        ]);
    }
}

/// The joint-space mass matrix M(q), armature included, into `out` (nv * nv, row-major).
pub fn mass_matrix(model: &Model, params: &Params, q: &[f64], data: &mut Data, out: &mut [f64]) {
    pipeline::kinematics(model, params, q, data);
    crba::crba(model, params, data);
    out.copy_from_slice(&data.qm);
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

//! Semi-implicit Euler: v' = v + h a, q' = q (+) h v', with the quaternion
//! exponential map for ball and free joints (angular velocity in the local frame; per joint
//! kind in [`crate::joint`]).

use crate::model::Model;

/// `q <- q (+) h v` on the configuration manifold (quaternions stay unit length), joint by
/// joint ([`crate::joint::JointType::integrate`]).
pub fn integrate_pos(model: &Model, q: &mut [f64], v: &[f64], h: f64) {
    for j in 0..model.njnt {
        let kind = model.jnt_type[j];
        let a = model.jnt_qpos_adr[j];
        let d = model.jnt_dof_adr[j];
        kind.integrate(&mut q[a..a + kind.nq()], &v[d..d + kind.nv()], h);
    }
}

/// `v <- v + h a`.
pub fn integrate_vel(v: &mut [f64], a: &[f64], h: f64) {
    for (vi, ai) in v.iter_mut().zip(a) {
        *vi += h * ai;
    }
}

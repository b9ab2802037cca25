//! Reverse of the semi-implicit Euler update ([`crate::integrator`]): `v' = v + h a`
//! ([`integrate_vel_vjp`]) and `q' = q (+) h v'` ([`integrate_pos_vjp`]), joint by joint
//! ([`crate::joint::JointType::integrate_vjp`], with the quaternion exponential map).

use crate::model::Model;

/// Reverse of [`crate::integrator::integrate_pos`], `q' = q (+) h v'`: given dL/dq' (nq),
/// accumulate dL/dq (nq) and dL/dv' (nv).
pub fn integrate_pos_vjp(
    model: &Model,
    q: &[f64],
    v_new: &[f64],
    h: f64,
    q_new_bar: &[f64],
    q_bar: &mut [f64],
    v_new_bar: &mut [f64],
) {
    for j in 0..model.njnt {
        let kind = model.jnt_type[j];
        let qa = model.jnt_qpos_adr[j]..model.jnt_qpos_adr[j] + kind.nq();
        let da = model.jnt_dof_adr[j]..model.jnt_dof_adr[j] + kind.nv();
        kind.integrate_vjp(
            &q[qa.clone()],
            &v_new[da.clone()],
            h,
            &q_new_bar[qa.clone()],
            &mut q_bar[qa],
            &mut v_new_bar[da],
        );
    }
}

/// Reverse of [`crate::integrator::integrate_vel`], `v' = v + h a`: given dL/dv' (nv),
/// accumulate dL/dv and dL/da (nv each).
pub fn integrate_vel_vjp(h: f64, v_new_bar: &[f64], v_bar: &mut [f64], a_bar: &mut [f64]) {
    for i in 0..v_new_bar.len() {
        v_bar[i] += v_new_bar[i];
        a_bar[i] += h * v_new_bar[i];
    }
}

//! Reverse of the semi-implicit Euler update ([`crate::integrator`]): `v' = v + h a`
//! ([`integrate_vel_vjp`]) and `q' = q (+) h v'` ([`integrate_pos_vjp`]), joint by joint
//! ([`crate::joint::JointType::integrate_vjp`], with the quaternion exponential map); and of a
//! Runge-Kutta combination ([`rk_combine_vjp`]).

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

/// Reverse of [`crate::integrator::rk_combine`] from the stages' start `(q0, v0)` = stage 0:
/// given dL/dq_out and dL/dv_out, accumulate dL/dq0 (`q0_bar`), dL/dv_j (`v_bars[j]`, stage 0's
/// including the `v0` term) and dL/da_j (`a_bars[j]`). `u`, `u_bar` are scratch (nv).
#[allow(clippy::too_many_arguments)]
pub fn rk_combine_vjp(
    model: &Model,
    q0: &[f64],
    vs: &[Vec<f64>],
    w: &[f64],
    h: f64,
    q_out_bar: &[f64],
    v_out_bar: &[f64],
    q0_bar: &mut [f64],
    v_bars: &mut [Vec<f64>],
    a_bars: &mut [Vec<f64>],
    u: &mut [f64],
    u_bar: &mut [f64],
) {
    u.iter_mut().for_each(|x| *x = 0.0);
    for (j, &wj) in w.iter().enumerate() {
        for i in 0..u.len() {
            u[i] += wj * vs[j][i];
        }
    }
    u_bar.iter_mut().for_each(|x| *x = 0.0);
    integrate_pos_vjp(model, q0, u, h, q_out_bar, q0_bar, u_bar);
    for i in 0..u.len() {
        v_bars[0][i] += v_out_bar[i];
    }
    for (j, &wj) in w.iter().enumerate() {
        for i in 0..u.len() {
            v_bars[j][i] += wj * u_bar[i];
            a_bars[j][i] += h * wj * v_out_bar[i];
        }
    }
}

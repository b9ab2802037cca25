//! Semi-implicit Euler: v' = v + h a, q' = q (+) h v', with the quaternion
//! exponential map for ball and free joints (angular velocity in the local frame; per joint
//! kind in [`crate::joint`]); and the classic Runge-Kutta 4 on (q, v) as MuJoCo's
//! `mj_RungeKutta`: stage i starts from `(q0 (+) h sum_j A_ij v_j, v0 + h sum_j A_ij a_j)`,
//! the result is the same combination with the weights B ([`rk_combine`]).

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

/// Runge-Kutta 4's tableau (MuJoCo's): the weights of stages 1..3 on the earlier stages.
pub const RK4_A: [[f64; 3]; 3] = [[0.5, 0.0, 0.0], [0.0, 0.5, 0.0], [0.0, 0.0, 1.0]];

/// Runge-Kutta 4's weights of the four stages in the result.
pub const RK4_B: [f64; 4] = [1.0 / 6.0, 1.0 / 3.0, 1.0 / 3.0, 1.0 / 6.0];

/// A Runge-Kutta combination: `q_out = q0 (+) h sum_j w_j v_j` (on the manifold, the combined
/// velocity in `u`), `v_out = v0 + h sum_j w_j a_j`, over the stages `j < w.len()` with
/// velocities `vs[j]` and accelerations `acc[j]`.
#[allow(clippy::too_many_arguments)]
pub fn rk_combine(
    model: &Model,
    q0: &[f64],
    v0: &[f64],
    vs: &[Vec<f64>],
    acc: &[Vec<f64>],
    w: &[f64],
    h: f64,
    q_out: &mut [f64],
    v_out: &mut [f64],
    u: &mut [f64],
) {
    u.iter_mut().for_each(|x| *x = 0.0);
    v_out.copy_from_slice(v0);
    for (j, &wj) in w.iter().enumerate() {
        if wj == 0.0 {
            continue;
        }
        for i in 0..u.len() {
            u[i] += wj * vs[j][i];
            v_out[i] += h * wj * acc[j][i];
        }
    }
    q_out.copy_from_slice(q0);
    integrate_pos(model, q_out, u, h);
}

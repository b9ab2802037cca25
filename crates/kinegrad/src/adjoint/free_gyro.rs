//! Reverse of [`crate::dynamics::free_gyro`]: a standalone free body's block
//! `(M_h + h B(q, v, p)) a = M_h a_0` under `implicitfast`. In the step's implicit-function
//! reverse (`adjoint/step.rs::accel_vjp`) the block's adjoint solve takes the transposed
//! (unsymmetric) block, `w = (M_h + h B)^-T a_bar` ([`solve_transposed`]), and the inputs of
//! `h B a` get `-(d(h B a)/d theta)^T w` ([`bias_vjp`]): the body's quaternion, its angular
//! velocity, mass, centre of mass and inertia, by the forward routine run on dual numbers.

use crate::data::Data;
use crate::dynamics::free_gyro::{applies, bias_times, block_matrix};
use crate::math::dual::Dual;
use crate::model::{Model, Params};

/// The tangents of [`bias_vjp`]: quaternion (4), angular velocity (3), mass, centre of mass
/// (3), inertia (9).
const N: usize = 20;

/// Overwrite each standalone free body's block of `w` (already `M_h^-1 a_bar`, block-diagonal
/// there) with `(M_h + h B)^-T a_bar`, `a_bar` the blocks `saved` before that solve (6 per body,
/// in `model.free_gyro`'s order).
#[allow(clippy::too_many_arguments)]
pub fn solve_transposed(
    model: &Model,
    params: &Params,
    data: &Data,
    q: &[f64],
    v: &[f64],
    h: f64,
    saved: &[f64],
    w: &mut [f64],
) {
    if !applies(model) {
        return;
    }
    for (k, &bj) in model.free_gyro.iter().enumerate() {
        let adr = model.jnt_dof_adr[bj.1];
        let a = block_matrix(model, params, data, bj, q, v, h);
        let rhs = nalgebra::Vector6::from_column_slice(&saved[6 * k..6 * k + 6]);
        if let Some(x) = a.transpose().lu().solve(&rhs) {
            if x.iter().all(|y| y.is_finite()) {
                w[adr..adr + 6].copy_from_slice(x.as_slice());
            }
        }
    }
}

/// Accumulate `-(d(h B a)/d theta)^T w` of each standalone free body into `q_bar` (its
/// quaternion), `v_bar` (its angular velocity) and `pb` (its mass, centre of mass and
/// inertia), with `a = data.qacc_int`.
#[allow(clippy::too_many_arguments)]
pub fn bias_vjp(
    model: &Model,
    params: &Params,
    data: &Data,
    (q, v, h): (&[f64], &[f64], f64),
    w: &[f64],
    q_bar: &mut [f64],
    v_bar: &mut [f64],
    pb: &mut Params,
) {
    if !applies(model) {
        return;
    }
    for &(b, j) in &model.free_gyro {
        let adr = model.jnt_dof_adr[j];
        let qa = model.jnt_qpos_adr[j];
        let var = |x: f64, k: usize| Dual::<N>::var(x, k);
        let quat = [0, 1, 2, 3].map(|k| var(q[qa + 3 + k], k));
        let wl = [0, 1, 2].map(|k| var(v[adr + 3 + k], 4 + k));
        let m = var(params.body_mass[b], 7);
        let ip = params.body_ipos[b];
        let ipos = [0, 1, 2].map(|k| var(ip[k], 8 + k));
        let ii = params.body_inertia[b];
        let inertia = [0, 1, 2].map(|r| [0, 1, 2].map(|c| var(ii[(r, c)], 11 + 3 * r + c)));
        let ar = [0, 1, 2].map(|k| Dual::<N> {
            v: data.qacc_int[adr + 3 + k],
            d: [0.0; N],
        });
        let (f, t) = bias_times(&quat, &wl, m, &ipos, &inertia, &ar);
        let mut g = [0.0; N];
        for (r, y) in f.iter().chain(t.iter()).enumerate() {
            let wr = h * w[adr + r];
            for (gk, dk) in g.iter_mut().zip(&y.d) {
                *gk += dk * wr;
            }
        }
        for k in 0..4 {
            q_bar[qa + 3 + k] -= g[k];
        }
        for k in 0..3 {
            v_bar[adr + 3 + k] -= g[4 + k];
            pb.body_ipos[b][k] -= g[8 + k];
        }
        pb.body_mass[b] -= g[7];
        for r in 0..3 {
            for c in 0..3 {
                pb.body_inertia[b][(r, c)] -= g[11 + 3 * r + c];
            }
        }
    }
}

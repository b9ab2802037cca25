//! Reverse of the constraint solve ([`crate::constraint::solver::solve`]) by the implicit
//! function theorem.
//!
//! The solution `c` satisfies the optimality condition
//! `F(c, theta) = M c - f_smooth + J_A^T D_A (J_A c - aref_A) = 0` on its active set A, with
//! `H = dF/dc = M + J_A^T D_A J_A` factored by the forward pass (`data.hess`; `M_h` in M's
//! place under `Options::implicit_constraints`). For a fixed active set,
//! `theta_bar += -(dF/dtheta)^T lambda` with `lambda = H^-1 c_bar` ([`solve_vjp`]; `c_bar`
//! from the integrated acceleration's equation, see `adjoint/step.rs::accel_vjp`). The terms of
//! `-(dF/dtheta)^T lambda`: `f_smooth_bar = lambda`, `M_bar = -lambda c^T` (taken by the stages
//! that build `M c`), and
//! per active row the adjoints of its Jacobian, reference acceleration and inverse
//! regularizer ([`row_seed`], handed to `adjoint/constraint_rows.rs`).

use crate::constraint::cone::MAX_DIM;
use crate::constraint::{row_force, row_state};
use crate::data::{Data, RowKind, RowState};
use crate::model::Model;

/// The adjoints of one row's scalar inputs: its reference acceleration, its inverse
/// regularizer `D` and its force bound (friction rows).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RowBar {
    /// dL/d aref.
    pub aref: f64,
    /// dL/d D.
    pub d: f64,
    /// dL/d frictionloss (friction rows).
    pub floss: f64,
    /// dL/d (sliding, torsional, rolling friction) of the contact through the force law of an
    /// elliptic cone's middle zone (given with the contact's first row).
    pub friction: [f64; 3],
}

/// Scaled solver residual above which a solve is not an optimum and the implicit function
/// theorem does not apply (converged solves end near round-off after the final Newton polish).
pub const NOT_CONVERGED: f64 = 1e-6;

/// Whether the solve in `data` ended at an optimum (its scaled residual at most
/// [`NOT_CONVERGED`]), so that [`solve_vjp`] applies.
#[inline]
pub fn converged(data: &Data) -> bool {
    // a NaN residual passes (as it always has): the non-finite adjoints it leads to are
    // reported instead
    !(data.solver_residual > NOT_CONVERGED)
}

/// Reverse of [`crate::constraint::solver::solve`], first half: `lambda <- H^-1 lambda`, with
/// `lambda` holding the solution's adjoint `c_bar` (nv) on entry. `lambda` is then F's adjoint
/// (see `adjoint/step.rs::accel_vjp` for how it combines with the integrator's). Needs `hess`
/// of the solve.
pub fn solve_vjp(model: &Model, data: &Data, lambda: &mut [f64]) {
    data.hess.solve(model, lambda);
}

/// Reverse of [`crate::constraint::solver::solve`], second half, for row `r`: the adjoints of
/// the row's Jacobian entries (written into `j_bar[..k]`, aligned with the row's `k` non-zero
/// dofs, see [`Data::efc_row`]) and of its scalar inputs ([`RowBar`]); `None` for a row without
/// force (its terms vanish). With `z = J a - aref`, `s = J lambda` and the row's force `phi`:
/// in the quadratic piece (`phi = -D z`) `J_bar = -(D z lambda + s D a)`, `aref_bar = s D`,
/// `D_bar = -s z`; a saturated friction row (`phi = +-frictionloss`) has `J_bar = phi lambda`
/// and `frictionloss_bar = +-s`. Needs the rows and `qacc` of the solve.
///
/// The rows of an elliptic contact share one force law `phi(z)` ([`crate::constraint::Elliptic`]): with
/// its Hessian `H = -dphi/dz` and `s = J_c lambda` over its rows, row k gets
/// `J_bar = phi_k lambda - (H s)_k a`, `aref_bar = (H s)_k`; in the bottom zone each row's
/// `D_bar = -s_k z_k`, in the middle zone the first row's `D_bar = s . dphi/dD0` and
/// `friction = s . dphi/d(slide, spin, roll)`.
#[inline]
pub fn row_seed(data: &Data, lambda: &[f64], r: usize, j_bar: &mut [f64]) -> Option<RowBar> {
    let a = &data.qacc;
    if let RowKind::ContactElliptic(c, k) = data.efc_kind[r] {
        let r0 = r - k;
        let cone = data.efc_cone[c];
        let dim = cone.dim;
        let (mut z, mut s) = ([0.0; MAX_DIM], [0.0; MAX_DIM]);
        for j in 0..dim {
            z[j] = data.efc_row_dot(r0 + j, a) - data.efc_aref[r0 + j];
            s[j] = data.efc_row_dot(r0 + j, lambda);
        }
        let state = cone.state(&z);
        if state == RowState::Inactive {
            return None;
        }
        let phi = cone.force(&z, state);
        let h = cone.hessian(&z, state);
        let hs: f64 = (0..dim).map(|j| h[k][j] * s[j]).sum();
        for (jb, &i) in j_bar.iter_mut().zip(data.efc_row(r).0) {
            *jb = phi[k] * lambda[i] - hs * a[i];
        }
        let dot = |x: &[f64; MAX_DIM]| (0..dim).map(|j| x[j] * s[j]).sum::<f64>();
        let (d, friction) = match state {
            RowState::Quadratic => (-s[k] * z[k], [0.0; 3]),
            _ if k == 0 => {
                let (dp, dd0) = cone.force_derivatives(&z, state);
                (dot(&dd0), dp.map(|x| dot(&x)))
            }
            _ => (0.0, [0.0; 3]),
        };
        return Some(RowBar {
            aref: hs,
            d,
            floss: 0.0,
            friction,
        });
    }
    let z = data.efc_row_dot(r, a) - data.efc_aref[r];
    let state = row_state(data, r, z);
    let s = data.efc_row_dot(r, lambda);
    match state {
        RowState::Inactive | RowState::Cone => None,
        RowState::Quadratic => {
            let d = data.efc_d[r];
            for (jb, &i) in j_bar.iter_mut().zip(data.efc_row(r).0) {
                *jb = -(d * z * lambda[i] + s * d * a[i]);
            }
            Some(RowBar {
                aref: s * d,
                d: -s * z,
                floss: 0.0,
                friction: [0.0; 3],
            })
        }
        RowState::LinearNeg | RowState::LinearPos => {
            let phi = row_force(data, r, z, state);
            for (jb, &i) in j_bar.iter_mut().zip(data.efc_row(r).0) {
                *jb = phi * lambda[i];
            }
            let sign = if state == RowState::LinearNeg {
                1.0
            } else {
                -1.0
            };
            Some(RowBar {
                aref: 0.0,
                d: 0.0,
                floss: sign * s,
                friction: [0.0; 3],
            })
        }
    }
}

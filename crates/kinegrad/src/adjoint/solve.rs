//! Reverse of the constraint solve ([`crate::constraint::solver::solve`]) by the implicit
//! function theorem.
//!
//! The solution `a` satisfies the optimality condition
//! `F(a, theta) = M_h a - f_smooth + J_A^T D_A (J_A a - aref_A) = 0` on its active set A, with
//! `H = dF/da = M_h + J_A^T D_A J_A` factored by the forward pass (`data.hess`). For a
//! fixed active set, `theta_bar += -(dF/dtheta)^T lambda` with `lambda = H^-1 a_bar`
//! ([`solve_vjp`]). The terms of `-(dF/dtheta)^T lambda`: `f_smooth_bar = lambda`,
//! `M_h_bar = -lambda a^T` (taken by the stages that build `M_h a`, see `adjoint/step.rs`), and
//! per active row the adjoints of its Jacobian, reference acceleration and inverse
//! regularizer ([`row_seed`], handed to `adjoint/constraint_rows.rs`).

use crate::data::Data;
use crate::model::Model;

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
/// `lambda` holding `a_bar` (nv) on entry. `lambda` is then the adjoint of `f_smooth`, and
/// `-lambda` seeds every stage that builds `M_h a`. Needs `hess` of the solve.
pub fn solve_vjp(model: &Model, data: &Data, lambda: &mut [f64]) {
    data.hess.solve(model, lambda);
}

/// Reverse of [`crate::constraint::solver::solve`], second half, for row `r`: the adjoints of
/// the row's Jacobian entries (written into `j_bar[..k]`, aligned with the row's `k` non-zero
/// dofs, see [`Data::efc_row`]), reference acceleration and inverse regularizer `D`, returned
/// as `(aref_bar, d_bar)`; `None` for an inactive row (its terms vanish). With `z = J a - aref`
/// and `s = J lambda`: `J_bar = -(D z lambda + s D a)`, `aref_bar = s D`, `D_bar = -s z`.
/// Needs the rows and `qacc` of the solve.
#[inline]
pub fn row_seed(data: &Data, lambda: &[f64], r: usize, j_bar: &mut [f64]) -> Option<(f64, f64)> {
    let a = &data.qacc;
    let z = data.efc_row_dot(r, a) - data.efc_aref[r];
    if z >= 0.0 {
        return None; // inactive
    }
    let d = data.efc_d[r];
    let s = data.efc_row_dot(r, lambda);
    for (jb, &i) in j_bar.iter_mut().zip(data.efc_row(r).0) {
        *jb = -(d * z * lambda[i] + s * d * a[i]);
    }
    Some((s * d, -s * z))
}

//! The joint-space mass matrix in its tree sparsity, and its L^T D L factorization.
//!
//! `M_ij` can be non-zero only when dof j is dof i or one of its ancestors (or the reverse): the
//! lower triangle is stored by row over that pattern (`Model::dof_m_adr`, `dof_m_col`: row i
//! holds its ancestors ascending, then the diagonal last), `Σ depth` entries instead of `nv²`.
//! The factorization `M = L^T D L` (L unit lower triangular) eliminates dofs from the leaves to
//! the root, so it makes no fill: L has M's pattern and is stored in place, with D on the
//! diagonal (Featherstone's LTDL; MuJoCo's `mj_factorM`). It costs O(Σ depth²), the solves
//! O(Σ depth).

use crate::model::Model;

/// Factor `m` (M's lower tree pattern, see the module) into `L^T D L` in place. Returns the
/// first dof (in elimination order: the highest index first) whose pivot is not positive,
/// where M stops being positive definite, or `None` when the factorization succeeds.
pub fn factor(model: &Model, m: &mut [f64]) -> Option<usize> {
    let adr = &model.dof_m_adr;
    for k in (0..model.nv).rev() {
        let (start, diag) = (adr[k], adr[k + 1] - 1);
        let dk = m[diag];
        if !(dk > 0.0) {
            return Some(k);
        }
        // eliminate dof k: each ancestor i = col[start + t] of row k has row i's pattern equal
        // to row k's first t + 1 entries (the chain up to i, i's diagonal at t); the entries of
        // row k left of t are still unscaled as t runs down
        for p in (start..diag).rev() {
            let i = model.dof_m_col[p];
            let t = p - start;
            let s = m[p] / dk;
            let row_i = adr[i];
            for u in 0..=t {
                m[row_i + u] -= s * m[start + u];
            }
            m[p] = s;
        }
    }
    None
}

/// Solve `M x = b` in place (`b` becomes `x`) with the factor [`factor`] left in `ld`.
pub fn solve(model: &Model, ld: &[f64], b: &mut [f64]) {
    let (adr, col) = (&model.dof_m_adr, &model.dof_m_col);
    let nv = model.nv;
    // L^T y = b, leaves first
    for k in (0..nv).rev() {
        let bk = b[k];
        for p in adr[k]..adr[k + 1] - 1 {
            b[col[p]] -= ld[p] * bk;
        }
    }
    // D z = y
    for k in 0..nv {
        b[k] /= ld[adr[k + 1] - 1];
    }
    // L x = z, root first
    for k in 0..nv {
        let mut s = b[k];
        for p in adr[k]..adr[k + 1] - 1 {
            s -= ld[p] * b[col[p]];
        }
        b[k] = s;
    }
}

/// `y = M x`, `m` in M's lower tree pattern.
pub fn mul_vec(model: &Model, m: &[f64], x: &[f64], y: &mut [f64]) {
    let (adr, col) = (&model.dof_m_adr, &model.dof_m_col);
    for i in 0..model.nv {
        let diag = adr[i + 1] - 1;
        y[i] = m[diag] * x[i];
    }
    for i in 0..model.nv {
        let diag = adr[i + 1] - 1;
        let mut s = 0.0;
        for p in adr[i]..diag {
            let j = col[p];
            s += m[p] * x[j];
            y[j] += m[p] * x[i];
        }
        y[i] += s;
    }
}

/// Position of `M_ii` in the pattern.
#[inline]
pub fn diag(model: &Model, i: usize) -> usize {
    model.dof_m_adr[i + 1] - 1
}

/// `m` (M's lower tree pattern) as a dense symmetric row-major nv x nv matrix in `out`.
pub fn to_dense(model: &Model, m: &[f64], out: &mut [f64]) {
    let nv = model.nv;
    out[..nv * nv].iter_mut().for_each(|x| *x = 0.0);
    for i in 0..nv {
        for p in model.dof_m_adr[i]..model.dof_m_adr[i + 1] {
            let j = model.dof_m_col[p];
            out[i * nv + j] = m[p];
            out[j * nv + i] = m[p];
        }
    }
}

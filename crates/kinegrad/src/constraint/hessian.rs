//! The Newton Hessian `H = M_h + J_A^T D_A J_A` of the constraint solve: assembled from the
//! mass matrix's tree pattern and the sparse rows, factored, and solved with.
//!
//! Two storages, chosen per model by its size (measured: `benches/scale.py` and `bench.py`):
//! - **dense** (nv <= [`DENSE_MAX_NV`]): H row-major nv x nv, factored by the envelope Cholesky
//!   of [`crate::dynamics::chol`]; for one robot the dense loops beat any sparse bookkeeping.
//! - **sparse**: H's lower triangle in compressed columns over the pattern of M and of the
//!   contacts' body pairs (every pair of dofs two bodies in contact move), factored by faer's
//!   sparse Cholesky after an approximate-minimum-degree ordering. The symbolic analysis
//!   (ordering, elimination tree, supernodes) and the place of every entry of M and of every
//!   pair's block in the compressed columns are kept while the set of body pairs in contact
//!   holds, so a step whose contacts touch the same pairs as the last one only fills values.
//!
//! Without rows H is `M_h`, factored in its tree pattern ([`crate::dynamics::mass`]).
//!
//! The storage ([`Hessian`]) is declared with the rest of the scratch in `data.rs`.

use std::sync::{Arc, Mutex};

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt::factor::LltRegularization;
use faer::sparse::linalg::cholesky::{factorize_symbolic_cholesky, LltRef, SymmetricOrdering};
use faer::sparse::{SparseColMatRef, SymbolicSparseColMat};
use faer::{Conj, MatMut, Par, Side};

use super::cone::{Rows, MAX_DIM};
use super::{elliptic_at, row_state};
use crate::data::{Data, HessianKind as Kind, HessianPattern as Pattern, RowKind, RowState};
pub use crate::data::{Hessian, DENSE_MAX_NV};
use crate::dynamics::{chol, mass};
use crate::model::Model;

impl Hessian {
    /// Factor `H = M + J_Q^T D_Q J_Q` ([`Data::solver_mass`]) for the rows of `data` in their
    /// quadratic piece at `jar`, plus `J_c^T H_c J_c` for each elliptic contact in its cone's
    /// middle zone ([`super::cone`])
    /// (= J a - aref, nefc; [`super::row_state`]), or `M_h` alone without rows. Returns false if it is not positive definite.
    pub fn factor(&mut self, model: &Model, data: &Data, jar: &[f64]) -> bool {
        if data.nefc == 0 {
            // M_h alone (the rows' matrix does not matter without rows); factored here so that
            // the Hessian does not depend on the caller having factored `qm_h_ldl`
            self.kind = Kind::Mass;
            self.mass_ldl.copy_from_slice(&data.qm_h);
            return mass::factor(model, &mut self.mass_ldl).is_none();
        }
        if model.nv <= DENSE_MAX_NV {
            self.kind = Kind::Dense;
            return self.factor_dense(model, data, jar);
        }
        self.kind = Kind::Sparse;
        if self.rows_version != Some(data.efc_version) || self.pattern.is_none() {
            // once per set of rows, not per Newton iteration
            self.prepare(model, data);
            self.rows_version = Some(data.efc_version);
        }
        self.factor_sparse(model, data, jar)
    }

    /// `H = M_h` without rows, its factor the `L^T D L` of `M_h` the step already made
    /// (`qm_h_ldl`, copied).
    pub fn set_mass(&mut self, qm_h_ldl: &[f64]) {
        self.kind = Kind::Mass;
        self.mass_ldl.copy_from_slice(qm_h_ldl);
    }

    /// Solve `H x = b` in place with the last factor.
    pub fn solve(&self, model: &Model, b: &mut [f64]) {
        match self.kind {
            Kind::None => panic!("Hessian::solve before Hessian::factor"),
            Kind::Mass => mass::solve(model, &self.mass_ldl, b),
            Kind::Dense => chol::solve(&self.dense, model.nv, &self.start, b),
            Kind::Sparse => {
                let p = self
                    .pattern
                    .as_ref()
                    .expect("a sparse factor has a pattern");
                let mut mem = self.mem.lock().unwrap_or_else(|e| e.into_inner());
                let mem = mem.get_or_insert_with(|| MemBuffer::new(p.req));
                let rhs = MatMut::from_column_major_slice_mut(&mut b[..model.nv], model.nv, 1);
                LltRef::new(&p.symbolic, &self.factor).solve_in_place_with_conj(
                    Conj::No,
                    rhs,
                    Par::Seq,
                    MemStack::new(mem),
                );
            }
        }
    }

    fn factor_dense(&mut self, model: &Model, data: &Data, jar: &[f64]) -> bool {
        let nv = model.nv;
        let h = &mut self.dense;
        h.iter_mut().for_each(|x| *x = 0.0);
        // the lower triangle only: the factorization reads no other entry
        for i in 0..nv {
            for p in model.dof_m_adr[i]..model.dof_m_adr[i + 1] {
                h[i * nv + model.dof_m_col[p]] = data.solver_mass()[p];
            }
        }
        let mut r = 0;
        while r < jar.len() {
            if let Some((k, z, state)) = elliptic_at(data, jar, r) {
                // J_c^T H_c J_c over the contact's dofs (its rows share them)
                if state != RowState::Inactive {
                    let hc = k.hessian(&z, state);
                    let nz = data.efc_row(r).0;
                    let rows: Vec<&[f64]> = (0..k.dim).map(|j| data.efc_row(r + j).1).collect();
                    for (a, &i) in nz.iter().enumerate() {
                        // w = H_c (J_c e_i)
                        let w = cone_column(&hc, &rows, a);
                        let hi = &mut h[i * nv..];
                        for (b, &kk) in nz[..=a].iter().enumerate() {
                            hi[kk] += (0..k.dim).map(|j| w[j] * rows[j][b]).sum::<f64>();
                        }
                    }
                }
                r += k.dim;
                continue;
            }
            if row_state(data, r, jar[r]) == RowState::Quadratic {
                let dr = data.efc_d[r];
                let (nz, row) = data.efc_row(r);
                for (a, &i) in nz.iter().enumerate() {
                    let ji = row[a] * dr;
                    let hi = &mut h[i * nv..];
                    for (&k, jk) in nz[..=a].iter().zip(row) {
                        hi[k] += ji * jk;
                    }
                }
            }
            r += 1;
        }
        chol::factor(h, nv, &mut self.start)
    }

    /// The pattern for this step's body pairs in contact (kept if they are the last step's) and
    /// the model's fixed cliques ([`static_cliques`]: equalities, tendons), and each row's pair.
    fn prepare(&mut self, model: &Model, data: &Data) {
        self.pairs.clear();
        for c in &data.contacts {
            let (b1, b2) = (model.geom_body[c.geom1], model.geom_body[c.geom2]);
            self.pairs.push((b1.min(b2), b1.max(b2)));
        }

        self.pairs.sort_unstable();
        self.pairs.dedup();
        if self.pattern.as_ref().is_none_or(|p| p.pairs != self.pairs) {
            let p = Pattern::new(model, data, &self.pairs);
            self.values = vec![0.0; p.csc.row_idx().len()];
            self.factor = vec![0.0; p.symbolic.len_val()];
            self.mem = Mutex::new(Some(MemBuffer::new(p.req)));
            self.pattern = Some(Arc::new(p));
            self.analyses += 1;
        }
        let p = self.pattern.as_ref().expect("set above");
        self.row_pair.clear();
        let mut r = 0;
        while r < data.nefc {
            let end = super::row_group_end(data, r);
            let k = match data.efc_kind[r] {
                RowKind::Limit(_)
                | RowKind::TendonLimit(_)
                | RowKind::Friction(_)
                | RowKind::TendonFriction(_)
                | RowKind::Equality(..) => usize::MAX,
                RowKind::ContactNormal(c)
                | RowKind::ContactPyramid(c, _)
                | RowKind::ContactElliptic(c, _) => {
                    let con = &data.contacts[c];
                    let (b1, b2) = (model.geom_body[con.geom1], model.geom_body[con.geom2]);
                    let key = (b1.min(b2), b1.max(b2));
                    p.pairs
                        .binary_search(&key)
                        .expect("every contact's pair is in the pattern")
                }
            };
            self.row_pair.extend(std::iter::repeat_n(k, end - r));
            r = end;
        }
    }

    fn factor_sparse(&mut self, model: &Model, data: &Data, jar: &[f64]) -> bool {
        let p = self.pattern.as_ref().expect("prepared");
        let vals = &mut self.values;
        vals.iter_mut().for_each(|x| *x = 0.0);
        for (&pos, m) in p.m_pos.iter().zip(data.solver_mass()) {
            vals[pos] += m;
        }
        // the rows of one contact (consecutive, over the same dofs) are summed into a dense block
        // first, which then lands in the values once
        let block = &mut self.block;
        let mut r = 0;
        while r < jar.len() {
            let k = self.row_pair[r];
            if k == usize::MAX {
                // a row of its own (limit, friction, equality): its entries found one by one
                if row_state(data, r, jar[r]) == RowState::Quadratic {
                    let dr = data.efc_d[r];
                    let (nz, row) = data.efc_row(r);
                    if nz.len() == 1 {
                        vals[p.m_pos[mass::diag(model, nz[0])]] += dr * row[0] * row[0];
                    } else {
                        for (a, &i) in nz.iter().enumerate() {
                            for (b, &j) in nz[..=a].iter().enumerate() {
                                vals[p.position(i, j)] += dr * row[a] * row[b];
                            }
                        }
                    }
                }
                r += 1;
                continue;
            }
            let end = super::row_group_end(data, r);
            let pos = &p.pair_pos[p.pair_adr[k]..p.pair_adr[k + 1]];
            block.clear();
            block.resize(pos.len(), 0.0);
            let mut any = false;
            if let Some((k, z, state)) = elliptic_at(data, jar, r) {
                if state != RowState::Inactive {
                    any = true;
                    let hc = k.hessian(&z, state);
                    let rows: Vec<&[f64]> = (0..k.dim).map(|j| data.efc_row(r + j).1).collect();
                    let mut at = 0;
                    for a in 0..rows[0].len() {
                        let w = cone_column(&hc, &rows, a);
                        for (b, x) in block[at..=at + a].iter_mut().enumerate() {
                            *x += (0..k.dim).map(|j| w[j] * rows[j][b]).sum::<f64>();
                        }
                        at += a + 1;
                    }
                }
            }
            for rr in r..end {
                if data.efc_elliptic && matches!(data.efc_kind[rr], RowKind::ContactElliptic(..)) {
                    break; // added above
                }
                if row_state(data, rr, jar[rr]) != RowState::Quadratic {
                    continue;
                }
                any = true;
                let dr = data.efc_d[rr];
                let row = data.efc_row(rr).1;
                let mut at = 0;
                for a in 0..row.len() {
                    let ja = row[a] * dr;
                    for (x, jb) in block[at..=at + a].iter_mut().zip(&row[..=a]) {
                        *x += ja * jb;
                    }
                    at += a + 1;
                }
            }
            if any {
                for (&q, x) in pos.iter().zip(block.iter()) {
                    vals[q] += x;
                }
            }
            r = end;
        }
        let mem = self.mem.get_mut().unwrap_or_else(|e| e.into_inner());
        let mem = mem.get_or_insert_with(|| MemBuffer::new(p.req));
        p.symbolic
            .factorize_numeric_llt::<f64>(
                &mut self.factor,
                SparseColMatRef::new(p.csc.as_ref(), vals),
                Side::Lower,
                LltRegularization::default(),
                Par::Seq,
                MemStack::new(mem),
                Default::default(),
            )
            .is_ok()
    }
}

/// `H_c J_c e_a`: the cone Hessian `hc` times column `a` of the contact's rows `rows`.
#[inline]
fn cone_column(hc: &[Rows; MAX_DIM], rows: &[&[f64]], a: usize) -> Rows {
    let mut w = [0.0; MAX_DIM];
    for (wi, hrow) in w.iter_mut().zip(hc).take(rows.len()) {
        *wi = rows.iter().zip(hrow).map(|(row, h)| h * row[a]).sum();
    }
    w
}

/// The sets of dofs that rows other than contacts can couple, whatever the step: each equality's
/// (connect and weld: the two bodies' paths; joint: the two dofs; tendon: the tendons' dofs)
/// and each tendon's (its friction and limit rows), each ascending.
fn static_cliques(model: &Model, body_dof_last: &[usize]) -> Vec<Vec<usize>> {
    use crate::model::EqType;
    let mut out = Vec::new();
    for (e, eq) in model.equalities.iter().enumerate() {
        let mut dofs = Vec::new();
        match eq.kind {
            EqType::Connect | EqType::Weld => {
                let (b1, b2) = model.eq_bodies(e);
                super::contact_dofs(model, body_dof_last, b1, b2, &mut dofs);
            }
            EqType::Joint => {
                dofs.extend(
                    eq.obj
                        .iter()
                        .filter(|&&j| j != usize::MAX)
                        .map(|&j| model.jnt_dof_adr[j]),
                );
            }
            EqType::Tendon => {
                for &t in eq.obj.iter().filter(|&&t| t != usize::MAX) {
                    dofs.extend(model.tendons[t].jac.iter().map(|x| x.0));
                }
            }
        }
        dofs.sort_unstable();
        dofs.dedup();
        out.push(dofs);
    }
    for t in &model.tendons {
        out.push(t.jac.iter().map(|x| x.0).collect());
    }
    out
}

impl Pattern {
    /// Where entry (i, j), i >= j, of H's lower triangle sits in the compressed columns.
    fn position(&self, i: usize, j: usize) -> usize {
        let (col_ptr, row_idx) = (self.csc.col_ptr(), self.csc.row_idx());
        col_ptr[j]
            + row_idx[col_ptr[j]..col_ptr[j + 1]]
                .binary_search(&i)
                .expect("every row's dof pairs are in the pattern")
    }

    fn new(model: &Model, data: &Data, pairs: &[(usize, usize)]) -> Self {
        let nv = model.nv;
        // rows (>= the column) of each column of H's lower triangle
        let mut cols: Vec<Vec<usize>> = vec![Vec::new(); nv];
        for i in 0..nv {
            for &j in &model.dof_m_col[model.dof_m_adr[i]..model.dof_m_adr[i + 1]] {
                cols[j].push(i);
            }
        }
        for clique in static_cliques(model, &data.body_dof_last) {
            for (a, &i) in clique.iter().enumerate() {
                for &j in &clique[..=a] {
                    cols[j].push(i);
                }
            }
        }
        let mut dofs = Vec::new();
        let mut pair_dof_lists = Vec::with_capacity(pairs.len());
        for &(b1, b2) in pairs {
            super::contact_dofs(model, &data.body_dof_last, b1, b2, &mut dofs);
            for (a, &i) in dofs.iter().enumerate() {
                for &j in &dofs[..=a] {
                    cols[j].push(i);
                }
            }
            pair_dof_lists.push(dofs.clone());
        }
        let mut col_ptr = Vec::with_capacity(nv + 1);
        let mut row_idx = Vec::new();
        col_ptr.push(0);
        for c in &mut cols {
            c.sort_unstable();
            c.dedup();
            row_idx.extend_from_slice(c);
            col_ptr.push(row_idx.len());
        }
        let at = |i: usize, j: usize| {
            col_ptr[j]
                + row_idx[col_ptr[j]..col_ptr[j + 1]]
                    .binary_search(&i)
                    .expect("in the pattern")
        };
        let mut m_pos = Vec::with_capacity(model.dof_m_col.len());
        for i in 0..nv {
            for &j in &model.dof_m_col[model.dof_m_adr[i]..model.dof_m_adr[i + 1]] {
                m_pos.push(at(i, j));
            }
        }
        let mut pair_adr = vec![0];
        let mut pair_pos = Vec::new();
        for dofs in &pair_dof_lists {
            for (a, &i) in dofs.iter().enumerate() {
                for &j in &dofs[..=a] {
                    pair_pos.push(at(i, j));
                }
            }
            pair_adr.push(pair_pos.len());
        }
        let csc = SymbolicSparseColMat::new_checked(nv, nv, col_ptr, None, row_idx);
        let symbolic = factorize_symbolic_cholesky(
            csc.as_ref(),
            Side::Lower,
            SymmetricOrdering::Amd,
            Default::default(),
        )
        .expect("the symbolic analysis of a valid pattern only fails out of memory");
        let req = symbolic
            .factorize_numeric_llt_scratch::<f64>(Par::Seq, Default::default())
            .or(symbolic.solve_in_place_scratch::<f64>(1, Par::Seq));
        Self {
            pairs: pairs.to_vec(),
            csc,
            m_pos,
            pair_adr,
            pair_pos,
            symbolic,
            req,
        }
    }
}

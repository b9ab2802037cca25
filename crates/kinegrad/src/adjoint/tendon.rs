//! Reverse of the tendons' lengths and Jacobians ([`crate::tendon`]).
//!
//! The stages that read a tendon's length `L` or its Jacobian `J` (passive springs and dampers,
//! actuator channels, friction and limit rows) hand their adjoints to a [`TendonBar`]: a fixed
//! tendon's length adjoint goes straight to its joints' positions (`L = sum c q`; its `J` is
//! constant), a spatial tendon's are kept and [`tendons_vjp`] sends them to the bodies: with
//! `u_i = d_i / |d_i|` along segment `i` from `p_a` (body `a`) to `p_b` (body `b`), branch weight
//! `w = 1/divisor` and `xi_e = sum_{dof on e's path} J_bar_d S_d` per end `e` (sign `s_e`,
//! `+w` at `p_b`, `-w` at `p_a`):
//!
//! - `L_bar`: `p_b_bar += w L_bar u_i`, `p_a_bar -= w L_bar u_i`;
//! - `J_d = sum s_e u_i . (S_d.lin + S_d.ang x p_e)`: `cdof_bar_d += s_e J_bar_d (p_e x u_i, u_i)`,
//!   `u_bar += s_e xi_e(p_e)` (the twist's velocity at the point), `p_e_bar += s_e u_i x xi_e.ang`;
//! - `u = d / |d|`: `d_bar = (u_bar - u (u . u_bar)) / |d|`, `p_b_bar += d_bar`, `p_a_bar -= d_bar`;
//! - a point `p` on body `e`: the body wrench `(p x p_bar, p_bar)`.

use super::kinematics::PosAdjoint;
use crate::data::Data;
use crate::math::{Force, Motion, Vec3};
use crate::model::Model;

/// The adjoints of the spatial tendons' lengths and Jacobian values, kept until
/// [`tendons_vjp`].
#[derive(Clone, Debug, Default)]
pub struct TendonBar {
    /// dL/d length. (ntendon)
    pub length: Vec<f64>,
    /// dL/d (Jacobian values), aligned with `Data::ten_jac`. (ntendon)
    pub jac: Vec<Vec<f64>>,
}

impl TendonBar {
    /// Zeroed for `model`.
    pub fn new(model: &Model) -> Self {
        Self {
            length: vec![0.0; model.tendons.len()],
            jac: model
                .tendons
                .iter()
                .map(|t| vec![0.0; t.jac.len()])
                .collect(),
        }
    }

    /// Zero every entry.
    pub fn clear(&mut self) {
        self.length.iter_mut().for_each(|x| *x = 0.0);
        for j in &mut self.jac {
            j.iter_mut().for_each(|x| *x = 0.0);
        }
    }

    /// Add `l_bar` to tendon `t`'s length adjoint: a fixed tendon's into `q_bar` (nq) through
    /// its terms, a spatial tendon's kept.
    #[inline]
    pub fn add_length(&mut self, model: &Model, t: usize, l_bar: f64, q_bar: &mut [f64]) {
        let ten = &model.tendons[t];
        if ten.is_spatial() {
            self.length[t] += l_bar;
        } else {
            for &(a, c) in &ten.terms {
                q_bar[a] += c * l_bar;
            }
        }
    }

    /// Add `s x_d` to the adjoint of each of tendon `t`'s Jacobian entries (dof `d`; `x` nv),
    /// as `J^T f` (`x` the force's adjoint, `s = f`) and `J v` (`x = v`) give: kept for a
    /// spatial tendon, nothing for a fixed one (its Jacobian is constant).
    #[inline]
    pub fn add_jac(&mut self, model: &Model, t: usize, s: f64, x: &[f64]) {
        if s == 0.0 || !model.tendons[t].is_spatial() {
            return;
        }
        for (jb, &(d, _)) in self.jac[t].iter_mut().zip(&model.tendons[t].jac) {
            *jb += s * x[d];
        }
    }

    /// Add `jbar` (aligned with the tendon's Jacobian entries) to tendon `t`'s Jacobian
    /// adjoint, times `s`: kept for a spatial tendon.
    #[inline]
    pub fn add_jac_entries(&mut self, model: &Model, t: usize, s: f64, jbar: &[f64]) {
        if !model.tendons[t].is_spatial() {
            return;
        }
        for (a, b) in self.jac[t].iter_mut().zip(jbar) {
            *a += s * b;
        }
    }
}

/// Reverse of [`crate::tendon::tendons`] for the spatial tendons: their kept length and
/// Jacobian adjoints (`adj.tendon_bar`) into body wrenches and `cdof_bar`. Needs the kinematics
/// and `cdof` of the forward pass.
pub fn tendons_vjp(model: &Model, data: &Data, adj: &mut PosAdjoint) {
    for (t, ten) in model.tendons.iter().enumerate() {
        if !ten.is_spatial() {
            continue;
        }
        let l_bar = adj.tendon_bar.length[t];
        let jbar = std::mem::take(&mut adj.tendon_bar.jac[t]);
        if l_bar != 0.0 || jbar.iter().any(|x| *x != 0.0) {
            let site = |s: usize| {
                let b = model.site_body[s];
                (b, data.xpos[b] + data.xmat[b] * model.site_pos[s])
            };
            for branch in &ten.spatial {
                let w = 1.0 / branch.divisor;
                for pair in branch.sites.windows(2) {
                    let ((ba, pa), (bb, pb)) = (site(pair[0]), site(pair[1]));
                    let d = pb - pa;
                    let len = d.norm();
                    if !(len > 0.0) {
                        continue;
                    }
                    let u = d / len;
                    let mut p_bar = [u * (-w * l_bar), u * (w * l_bar)];
                    let mut u_bar = Vec3::zeros();
                    if ba != bb {
                        for (e, (b, p, sign)) in [(ba, pa, -w), (bb, pb, w)].into_iter().enumerate()
                        {
                            let mut xi = Motion::zero();
                            let mut dof = data.body_dof_last[b];
                            while dof != usize::MAX {
                                let k = ten
                                    .jac
                                    .binary_search_by_key(&dof, |x| x.0)
                                    .expect("a site body's dofs are in the tendon's Jacobian");
                                let jb = jbar[k] * sign;
                                if jb != 0.0 {
                                    xi += data.cdof[dof] * jb;
                                    adj.cdof_bar[dof] += Force::new(p.cross(&u), u) * jb;
                                }
                                dof = model.dof_parent[dof];
                            }
                            u_bar += xi.point_velocity(&p);
                            p_bar[e] += u.cross(&xi.ang);
                        }
                    }
                    let d_bar = (u_bar - u * u.dot(&u_bar)) / len;
                    p_bar[1] += d_bar;
                    p_bar[0] -= d_bar;
                    for ((b, p), pbar) in [(ba, pa), (bb, pb)].into_iter().zip(p_bar) {
                        adj.body_wrench[b] += Force::new(p.cross(&pbar), pbar);
                    }
                }
            }
        }
        let mut jbar = jbar;
        jbar.iter_mut().for_each(|x| *x = 0.0);
        adj.tendon_bar.jac[t] = jbar;
        adj.tendon_bar.length[t] = 0.0;
    }
}

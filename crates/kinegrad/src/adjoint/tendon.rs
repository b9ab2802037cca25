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
use crate::math::dual::{Dual, Real};
use crate::math::{Force, Mat3, Motion, Vec3};
use crate::model::tendon_path::{self, segment, Wrap};
use crate::model::{GeomType, Model, TendonWrap};
use crate::tendon::wrap_geom_pose;

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
            let site_pos = |s: usize| {
                data.xpos[model.site_body[s]] + data.xmat[model.site_body[s]] * model.site_pos[s]
            };
            let geom_pose = |g: usize| wrap_geom_pose(model, &data.xpos, &data.xmat, g);
            for branch in &ten.spatial {
                let w = 1.0 / branch.divisor;
                for k in 0..branch.sites.len() - 1 {
                    let seg = segment(model, branch, k, &site_pos, &geom_pose);
                    // each point's adjoint, from the straight pieces
                    let mut p_bar = [Vec3::zeros(); 4];
                    for i in seg.pieces() {
                        let ((ba, pa), (bb, pb)) = (seg.pts[i], seg.pts[i + 1]);
                        let d = pb - pa;
                        let len = d.norm();
                        if !(len > 0.0) {
                            continue;
                        }
                        let u = d / len;
                        p_bar[i] -= u * (w * l_bar);
                        p_bar[i + 1] += u * (w * l_bar);
                        if ba == bb {
                            continue;
                        }
                        let mut u_bar = Vec3::zeros();
                        for (e, b, p, sign) in [(i, ba, pa, -w), (i + 1, bb, pb, w)] {
                            let mut xi = Motion::zero();
                            let mut dof = data.body_dof_last[b];
                            while dof != usize::MAX {
                                let kk = ten
                                    .jac
                                    .binary_search_by_key(&dof, |x| x.0)
                                    .expect("a path body's dofs are in the tendon's Jacobian");
                                let jb = jbar[kk] * sign;
                                if jb != 0.0 {
                                    xi += data.cdof[dof] * jb;
                                    adj.cdof_bar[dof] += Force::new(p.cross(&u), u) * jb;
                                }
                                dof = model.dof_parent[dof];
                            }
                            u_bar += xi.point_velocity(&p);
                            p_bar[e] += u.cross(&xi.ang);
                        }
                        let d_bar = (u_bar - u * u.dot(&u_bar)) / len;
                        p_bar[i + 1] += d_bar;
                        p_bar[i] -= d_bar;
                    }
                    let last = seg.n - 1;
                    if seg.n == 4 {
                        // the wrap points and the arc move with both sites and the geom
                        let wrap = branch.wraps[k].expect("a wrapped segment has its geom");
                        let (x0_bar, x1_bar, g_bar) = wrap_vjp(
                            model,
                            &wrap,
                            (&seg.pts[0].1, &seg.pts[3].1),
                            &geom_pose,
                            wrap.side.map(&site_pos).as_ref(),
                            (&p_bar[1], &p_bar[2], w * l_bar),
                        );
                        p_bar[0] += x0_bar;
                        p_bar[3] += x1_bar;
                        adj.body_wrench[model.geom_body[wrap.geom]] += g_bar;
                    }
                    // the sites are points of their bodies
                    for e in [0, last] {
                        let (b, p) = seg.pts[e];
                        adj.body_wrench[b] += Force::new(p.cross(&p_bar[e]), p_bar[e]);
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

/// Reverse of a segment's wrap ([`crate::model::tendon_path::wrap`]) from `x0` to `x1` around
/// `wrap`'s geom (pose by `geom_pose`; `side`: the side site's position, whose motion only
/// changes discrete choices): the adjoints of the wrap points and of the arc length
/// (`bars`) into those of the two sites and the wrench on the geom's body. Exact, by dual
/// numbers over the sites' positions and the geom's translation and rotation.
fn wrap_vjp(
    model: &Model,
    wrap: &TendonWrap,
    (x0, x1): (&Vec3, &Vec3),
    geom_pose: &impl Fn(usize) -> (Vec3, Mat3),
    side: Option<&Vec3>,
    (w0_bar, w1_bar, arc_bar): (&Vec3, &Vec3, f64),
) -> (Vec3, Vec3, Force) {
    type D = Dual<12>;
    let (gp, gr) = geom_pose(wrap.geom);
    let var3 = |v: &Vec3, at: usize| [0, 1, 2].map(|i| D::var(v[i], at + i));
    // a rotation dtheta (tangents 9..12) turns the geom: d rot = [dtheta]x rot
    let rot = [0, 1, 2].map(|r| {
        [0, 1, 2].map(|c| {
            let col: Vec3 = gr.column(c).into_owned();
            let mut x = D::c(gr[(r, c)]);
            for a in 0..3 {
                x.d[9 + a] = Vec3::ith(a, 1.0).cross(&col)[r];
            }
            x
        })
    });
    let g = Wrap {
        pos: var3(&gp, 6),
        rot,
        radius: model.geom_size[wrap.geom].x,
        cylinder: model.geom_type[wrap.geom] == GeomType::Cylinder,
    };
    let side = side.map(|s| [0, 1, 2].map(|i| D::c(s[i])));
    let Some((w0, w1, arc)) = tendon_path::wrap(&var3(x0, 0), &var3(x1, 3), &g, side.as_ref())
    else {
        return (Vec3::zeros(), Vec3::zeros(), Force::zero());
    };
    // the adjoint of each tangent
    let mut t_bar = [0.0; 12];
    for (k, tb) in t_bar.iter_mut().enumerate() {
        *tb = arc_bar * arc.d[k]
            + (0..3)
                .map(|i| w0_bar[i] * w0[i].d[k] + w1_bar[i] * w1[i].d[k])
                .sum::<f64>();
    }
    let x0_bar = Vec3::new(t_bar[0], t_bar[1], t_bar[2]);
    let x1_bar = Vec3::new(t_bar[3], t_bar[4], t_bar[5]);
    // the geom moves with its body's twist (w, v): dpos = v + w x pos, dtheta = w
    let dp_bar = Vec3::new(t_bar[6], t_bar[7], t_bar[8]);
    let dth_bar = Vec3::new(t_bar[9], t_bar[10], t_bar[11]);
    (
        x0_bar,
        x1_bar,
        Force::new(dth_bar + gp.cross(&dp_bar), dp_bar),
    )
}

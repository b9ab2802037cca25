//! Reverse of the constraint rows ([`crate::constraint::make_rows`]: joint limits and
//! contacts), with the active set and the contact features frozen.
//!
//! Each row's adjoints (of its Jacobian row, reference acceleration and inverse regularizer D)
//! come from a seed: in a step, [`super::solve::row_seed`] (the implicit function theorem at
//! the solve's solution); in the stage tests, anything. [`rows_vjp`] sends them to the
//! velocities, the joint positions of limits, the dof subspaces of the contact Jacobians, and
//! each contact's point, frame, distance and friction (`PosAdjoint::contact_bar`, finished by
//! [`super::contact_geom::contacts_vjp`]).

use super::contact_geom::ContactBar;
use super::kinematics::PosAdjoint;
use crate::constraint::{
    impedance, impedance_derivative, pyramid_regularizer, ref_gains, PyramidEdge,
};
use crate::data::{Data, RowKind};
use crate::math::{Force, Motion, Vec3};
use crate::model::Model;

/// Reverse of [`crate::constraint::make_rows`] at velocities `v` and substep `h`, for the row
/// adjoints given by `seed(r, j_bar)`: it writes the adjoints of row `r`'s Jacobian entries
/// into `j_bar` (aligned with the row's non-zero dofs, [`Data::efc_row`]) and returns `(aref_bar, d_bar)`, or `None` to skip the row (all its adjoints zero).
/// Accumulates `q_bar` (limits), `v_bar`, `adj.cdof_bar`, and fills `adj.contact_bar` (one per
/// contact of `data`). Needs the rows, contacts, `cdof` and `body_dof_last` of the forward pass.
#[allow(clippy::too_many_arguments)]
pub fn rows_vjp(
    model: &Model,
    data: &Data,
    v: &[f64],
    h: f64,
    mut seed: impl FnMut(usize, &mut [f64]) -> Option<(f64, f64)>,
    adj: &mut PosAdjoint,
    q_bar: &mut [f64],
    v_bar: &mut [f64],
) {
    let mut jbar = std::mem::take(&mut adj.jbar);
    let mut coef = std::mem::take(&mut adj.coef);
    let mut cbar = std::mem::take(&mut adj.contact_bar);
    cbar.clear();
    cbar.resize(data.contacts.len(), ContactBar::default());

    for r in 0..data.nefc {
        let Some((aref_bar, d_bar)) = seed(r, &mut jbar) else {
            continue;
        };
        let (dofs, row) = data.efc_row(r);
        let jbar = &mut jbar[..dofs.len()];
        let d = data.efc_d[r];
        match data.efc_kind[r] {
            RowKind::Limit(j) => {
                let dof = model.jnt_dof_adr[j];
                let jsign = row[0];
                let dist = data.efc_pos[r];
                let margin = model.jnt_margin[j];
                let solimp = &model.jnt_solimp[j];
                let imp = impedance(solimp, dist - margin);
                let dimp = impedance_derivative(solimp, dist - margin);
                let (k, b) = ref_gains(&model.jnt_solref[j], solimp[1], h);
                // aref = -b (jsign v) - k imp (dist - margin)
                v_bar[dof] += aref_bar * (-b) * jsign;
                let mut dist_bar = aref_bar * (-k) * (imp + (dist - margin) * dimp);
                dist_bar += d_bar * d / (imp * (1.0 - imp)) * dimp;
                // dist = q - lo (lower side, J = +1) or hi - q (upper side, J = -1)
                q_bar[model.jnt_qpos_adr[j]] += dist_bar * jsign;
                // the Jacobian row (+-1 at the dof) is constant: j_bar has nowhere to go
            }
            RowKind::ContactNormal(c) | RowKind::ContactPyramid(c, _) => {
                let con = &data.contacts[c];
                let n: Vec3 = con.frame.row(0).transpose();
                let edge = match data.efc_kind[r] {
                    RowKind::ContactPyramid(_, e) => {
                        Some(PyramidEdge::new(&con.frame, con.friction, e))
                    }
                    _ => None,
                };
                let dir = edge.map_or(n, |e| e.dir);
                let solimp = &con.solimp;
                let imp = impedance(solimp, con.dist - con.margin);
                let dimp = impedance_derivative(solimp, con.dist - con.margin);
                let (k, b) = ref_gains(&con.solref, solimp[1], h);
                // aref = -b (J v) - k imp (dist - margin)
                for ((jb, &i), jv) in jbar.iter_mut().zip(dofs).zip(row) {
                    *jb += aref_bar * (-b) * v[i];
                    v_bar[i] += aref_bar * (-b) * jv;
                }
                let mut dist_bar = aref_bar * (-k) * (imp + (con.dist - con.margin) * dimp);
                dist_bar += d_bar * d / (imp * (1.0 - imp)) * dimp;
                let cb = &mut cbar[c];
                cb.dist += dist_bar;
                // D = 1/R of pyramid rows depends on mu through R (constraint::pyramid_regularizer)
                if edge.is_some() {
                    let tw = model.body_invweight0[model.geom_body[con.geom1]][0]
                        + model.body_invweight0[model.geom_body[con.geom2]][0];
                    let (_, dlnr) = pyramid_regularizer(con.friction, tw, imp, model.opt.impratio);
                    cb.friction += d_bar * (-d) * dlnr;
                }
                // J row: J[d] = dir . coef_d u_d, u_d = S_d.lin + S_d.ang x p
                let b1 = model.geom_body[con.geom1];
                let b2 = model.geom_body[con.geom2];
                for &i in dofs {
                    coef[i] = 0.0;
                }
                let mut dd = data.body_dof_last[b2];
                while dd != usize::MAX {
                    coef[dd] += 1.0;
                    dd = model.dof_parent[dd];
                }
                let mut dd = data.body_dof_last[b1];
                while dd != usize::MAX {
                    coef[dd] -= 1.0;
                    dd = model.dof_parent[dd];
                }
                let p = con.pos;
                let mut xi = Motion::zero();
                for (jb, &i) in jbar.iter().zip(dofs) {
                    let w = jb * coef[i];
                    if w != 0.0 {
                        xi += data.cdof[i] * w;
                        adj.cdof_bar[i] += Force::new(p.cross(&dir), dir) * w;
                    }
                }
                let dir_bar = xi.point_velocity(&p);
                cb.pos += dir.cross(&xi.ang);
                cb.normal += dir_bar;
                if let Some(e) = edge {
                    let (t_bar, mu_bar) = e.dir_vjp(con.friction, &dir_bar);
                    cb.tangent[e.tangent] += t_bar;
                    cb.friction += mu_bar;
                }
            }
        }
    }
    adj.jbar = jbar;
    adj.coef = coef;
    adj.contact_bar = cbar;
}

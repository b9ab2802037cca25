//! Reverse of the constraint solve (implicit function theorem at the Newton solution) and of
//! the constraint rows (limits and contacts), with the active set and the contact features frozen.
//!
//! At the solution F(a) = M_h a - f + sum_A J_i^T D_i (J_i a - aref_i) = 0, so with
//! lambda = H^-1 a_bar every input theta gets theta_bar -= (dF/dtheta)^T lambda. For an
//! active row with z = J a - aref and s = J lambda: J_bar = -(D z lambda + s D a),
//! aref_bar = s D, D_bar = -s z (GRADIENTS.md).

use super::contact_geom::contact_point_vjp;
use super::dynamics::PosAdjoint;
use crate::collision::ContactPoint;
use crate::constraint::{impedance, impedance_derivative, ref_gains};
use crate::data::{Data, RowKind};
use crate::detect::geom_shape;
use crate::math::{Force, Motion, Pose, Vec3};
use crate::model::{Model, Params};

/// Reverse of the rows for multiplier `lambda` (nv) at the solved acceleration `data.qacc`.
#[allow(clippy::too_many_arguments)]
pub fn rows_vjp(
    model: &Model,
    params: &Params,
    data: &Data,
    v: &[f64],
    h: f64,
    lambda: &[f64],
    adj: &mut PosAdjoint,
    q_bar: &mut [f64],
    v_bar: &mut [f64],
    params_bar: &mut Params,
) {
    let nv = model.nv;
    let a = &data.qacc;
    let mut jbar = std::mem::take(&mut adj.jbar);
    let mut coef = std::mem::take(&mut adj.coef);
    // per-contact geometry adjoints (pos, normal, dist)
    let nc = data.contacts.len();
    let mut cpos_bar = std::mem::take(&mut adj.cpos_bar);
    let mut cnorm_bar = std::mem::take(&mut adj.cnorm_bar);
    let mut ct_bar = std::mem::take(&mut adj.ct_bar);
    let mut cdist_bar = std::mem::take(&mut adj.cdist_bar);
    let mut cmu_bar = std::mem::take(&mut adj.cmu_bar);
    for (x, z) in [
        (&mut cpos_bar, Vec3::zeros()),
        (&mut cnorm_bar, Vec3::zeros()),
    ] {
        x.clear();
        x.resize(nc, z);
    }
    ct_bar.clear();
    ct_bar.resize(nc, [Vec3::zeros(); 2]);
    for x in [&mut cdist_bar, &mut cmu_bar] {
        x.clear();
        x.resize(nc, 0.0);
    }

    for r in 0..data.nefc {
        let row = &data.efc_j[r * nv..(r + 1) * nv];
        let ja: f64 = row.iter().zip(a).map(|(x, y)| x * y).sum();
        let z = ja - data.efc_aref[r];
        if z >= 0.0 {
            continue; // inactive
        }
        let d = data.efc_d[r];
        let s: f64 = row.iter().zip(lambda).map(|(x, y)| x * y).sum();
        let aref_bar = s * d;
        let d_bar = -s * z;
        for i in 0..nv {
            jbar[i] = -(d * z * lambda[i] + s * d * a[i]);
        }
        match data.efc_kind[r] {
            RowKind::Limit(j) => {
                let dof = model.jnt_dof_adr[j];
                let jsign = row[dof];
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
            }
            RowKind::ContactNormal(c) | RowKind::ContactPyramid(c, _) => {
                let con = &data.contacts[c];
                let n: Vec3 = con.frame.row(0).transpose();
                let (dir, edge) = match data.efc_kind[r] {
                    RowKind::ContactPyramid(_, e) => {
                        let t: Vec3 = con.frame.row(1 + e / 2).transpose();
                        let sg = if e % 2 == 0 { 1.0 } else { -1.0 };
                        (n + t * (sg * con.friction), Some((e / 2, sg, t)))
                    }
                    _ => (n, None),
                };
                let solimp = &con.solimp;
                let imp = impedance(solimp, con.dist - con.margin);
                let dimp = impedance_derivative(solimp, con.dist - con.margin);
                let (k, b) = ref_gains(&con.solref, solimp[1], h);
                // aref = -b (J v) - k imp (dist - margin)
                for i in 0..nv {
                    jbar[i] += aref_bar * (-b) * v[i];
                    v_bar[i] += aref_bar * (-b) * row[i];
                }
                let mut dist_bar = aref_bar * (-k) * (imp + (con.dist - con.margin) * dimp);
                dist_bar += d_bar * d / (imp * (1.0 - imp)) * dimp;
                cdist_bar[c] += dist_bar;
                // R of pyramid rows depends on mu: R ~ mu^2 (1 + mu^2)
                if let Some((_, _, _)) = edge {
                    let mu = con.friction;
                    cmu_bar[c] += d_bar * (-d) * (2.0 / mu + 2.0 * mu / (1.0 + mu * mu));
                }
                // J row: J[d] = dir . coef_d u_d, u_d = S_d.lin + S_d.ang x p
                let b1 = model.geom_body[con.geom1];
                let b2 = model.geom_body[con.geom2];
                coef.iter_mut().for_each(|x| *x = 0.0);
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
                for i in 0..nv {
                    let w = jbar[i] * coef[i];
                    if w != 0.0 {
                        xi += data.cdof[i] * w;
                        adj.cdof_bar[i] += Force::new(p.cross(&dir), dir) * w;
                    }
                }
                let dir_bar = xi.point_velocity(&p);
                cpos_bar[c] += dir.cross(&xi.ang);
                cnorm_bar[c] += dir_bar;
                if let Some((ti, sg, t)) = edge {
                    ct_bar[c][ti] += dir_bar * (sg * con.friction);
                    cmu_bar[c] += sg * t.dot(&dir_bar);
                }
            }
        }
    }

    // contact frames, friction, geometry
    for c in 0..nc {
        let con = &data.contacts[c];
        let n: Vec3 = con.frame.row(0).transpose();
        let t1: Vec3 = con.frame.row(1).transpose();
        let mut n_bar = cnorm_bar[c];
        // t2 = n x t1
        let [t1_bar0, t2_bar] = ct_bar[c];
        n_bar += t1.cross(&t2_bar);
        let t1_bar = t1_bar0 + t2_bar.cross(&n);
        // t1 = u / |u|, u = a - n (n . a), with the fixed helper axis a of contact_frame
        let ax = if n.x.abs() < 0.6 {
            Vec3::x()
        } else if n.y.abs() < 0.6 {
            Vec3::y()
        } else {
            Vec3::z()
        };
        let u = ax - n * n.dot(&ax);
        let un = u.norm();
        let u_bar = (t1_bar - t1 * t1.dot(&t1_bar)) / un;
        n_bar -= u_bar * n.dot(&ax) + ax * n.dot(&u_bar);
        // friction = max of the two geoms' sliding coefficients
        if cmu_bar[c] != 0.0 {
            let (f1, f2) = (
                params.geom_friction[con.geom1][0],
                params.geom_friction[con.geom2][0],
            );
            let g = if f1 >= f2 { con.geom1 } else { con.geom2 };
            params_bar.geom_friction[g][0] += cmu_bar[c];
        }
        // geometry: point, normal, distance as functions of the two geom poses
        if cpos_bar[c] == Vec3::zeros() && n_bar == Vec3::zeros() && cdist_bar[c] == 0.0 {
            continue;
        }
        let (g1, g2) = (con.geom1, con.geom2);
        let p1 = Pose {
            pos: data.geom_xpos[g1],
            rot: data.geom_xmat[g1],
        };
        let p2 = Pose {
            pos: data.geom_xpos[g2],
            rot: data.geom_xmat[g2],
        };
        let cp = ContactPoint {
            pos: con.pos,
            normal: n,
            dist: con.dist,
            ..con.point
        };
        let (w1, w2) = contact_point_vjp(
            &geom_shape(model, g1),
            &p1,
            &geom_shape(model, g2),
            &p2,
            &cp,
            &cpos_bar[c],
            &n_bar,
            cdist_bar[c],
        );
        adj.body_wrench[model.geom_body[g1]] += w1;
        adj.body_wrench[model.geom_body[g2]] += w2;
    }
    adj.jbar = jbar;
    adj.coef = coef;
    adj.cpos_bar = cpos_bar;
    adj.cnorm_bar = cnorm_bar;
    adj.ct_bar = ct_bar;
    adj.cdist_bar = cdist_bar;
    adj.cmu_bar = cmu_bar;
}

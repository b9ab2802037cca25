//! Reverse of the equality constraint rows ([`crate::constraint::equality`]).
//!
//! Quaternion products are reversed with `P = X Y`: `X_bar = P_bar conj(Y)`,
//! `Y_bar = conj(X) P_bar` (the 4-vector pairing), and a frame's quaternion adjoint `Q_bar`
//! becomes the world rotation adjoint `0.5 vec(Q_bar conj(Q))` (the frame turned by a small
//! world rotation `d`: `Q + 0.5 (0, d) Q`), a torque on its body.

use super::kinematics::PosAdjoint;
use super::solve::RowBar;
use crate::constraint::equality::{
    bias_acc, joint_error, path_coefficients, polynomial, pure, tendon_error, PointPair,
};
use crate::constraint::{impedance, impedance_derivative, ref_gains};
use crate::data::Data;
use crate::math::{Force, Vec3};
use crate::model::{EqType, Model, Params};
use nalgebra::Quaternion;

/// Reverse of [`ref_gains`] (`k`, `b` from `solref`): the adjoint of `solref` from those of
/// `k` and `b`. A time constant held at `2 h` has none.
pub fn ref_gains_vjp(solref: &[f64; 2], dmax: f64, h: f64, k_bar: f64, b_bar: f64) -> [f64; 2] {
    let (k, b) = ref_gains(solref, dmax, h);
    if solref[0] > 0.0 {
        // k = 1 / (dmax^2 tc^2 dr^2), b = 2 / (dmax tc), tc = max(solref[0], 2 h)
        let tc_bar = if solref[0] > 2.0 * h {
            k_bar * (-2.0 * k / solref[0]) + b_bar * (-b / solref[0])
        } else {
            0.0
        };
        [tc_bar, k_bar * (-2.0 * k / solref[1])]
    } else {
        // k = -solref[0] / dmax^2, b = -solref[1] / dmax, dmax clamped as in `ref_gains`
        let dmax = dmax.clamp(crate::constraint::MIN_IMP, crate::constraint::MAX_IMP);
        [-k_bar / (dmax * dmax), -b_bar / dmax]
    }
}

/// Reverse of a joint or tendon equality's polynomial in `x` (`pos = ... - c0 - sum c_k x^k`,
/// the Jacobian's `deriv = sum k c_k x^(k-1)`; only `c0` without a second joint): accumulates
/// the coefficients' adjoints from those of `pos` and `deriv`.
fn polycoef_vjp(x: f64, second: bool, pos_bar: f64, deriv_bar: f64, c_bar: &mut [f64; 5]) {
    c_bar[0] -= pos_bar;
    if !second {
        return;
    }
    let mut xk = 1.0; // x^(k-1)
    for (k, cb) in c_bar.iter_mut().enumerate().skip(1) {
        *cb += -pos_bar * xk * x + deriv_bar * k as f64 * xk;
        xk *= x;
    }
}

/// The world rotation adjoint of the frame `q` from its quaternion adjoint `q_bar`.
#[inline]
fn turn_bar(q_bar: &Quaternion<f64>, q: &Quaternion<f64>) -> Vec3 {
    (q_bar * q.conjugate()).imag() * 0.5
}

/// Reverse of equality `e`'s rows, which start at row `r0`, for their adjoints `bars` (one per
/// row, `None` for a row without) and `jbar` (row by row, each aligned with the row's
/// non-zero dofs). Accumulates `q_bar`, `v_bar`, the position and velocity adjoints in
/// `adj` (body wrenches, `cdof_bar`, `cdof_dot_bar`, `cvel_bar`) and the equality's
/// `eq_solref` and `eq_polycoef` adjoints in `params_bar`.
#[allow(clippy::too_many_arguments)]
pub fn equality_vjp(
    model: &Model,
    params: &Params,
    data: &Data,
    q: &[f64],
    v: &[f64],
    h: f64,
    e: usize,
    r0: usize,
    bars: &[Option<RowBar>],
    jbar: &[f64],
    adj: &mut PosAdjoint,
    q_bar: &mut [f64],
    v_bar: &mut [f64],
    params_bar: &mut Params,
) {
    let eq = &model.equalities[e];
    let solref = params.eq_solref[e];
    let (k, b) = ref_gains(&solref, eq.solimp[1], h);
    let nrow = eq.kind.nrow();
    let bar = |t: usize| bars[t].unwrap_or_default();
    // J v: the row entries and the velocities; b's adjoint
    let mut jb = jbar.to_vec();
    let mut at = 0;
    let mut b_bar = 0.0;
    for t in 0..nrow {
        let (dofs, row) = data.efc_row(r0 + t);
        let mut vel = 0.0;
        for ((x, &i), jv) in jb[at..at + dofs.len()].iter_mut().zip(dofs).zip(row) {
            *x += bar(t).aref * (-b) * v[i];
            v_bar[i] += bar(t).aref * (-b) * jv;
            vel += jv * v[i];
        }
        b_bar -= bar(t).aref * vel;
        at += dofs.len();
    }
    // the error through -k imp err and the impedance of its norm (aref and D)
    let err: Vec<f64> = (0..nrow).map(|t| data.efc_pos[r0 + t]).collect();
    let norm = err.iter().map(|x| x * x).sum::<f64>().sqrt();
    // a scalar equality's impedance reads its signed error, a connect's or weld's the norm
    let signed = match eq.kind {
        EqType::Joint | EqType::Tendon => err[0],
        EqType::Connect | EqType::Weld => norm,
    };
    let imp = impedance(&eq.solimp, signed);
    let dimp = impedance_derivative(&eq.solimp, signed);
    // aref = -b J v - k imp err: the softness' adjoint
    let k_bar: f64 = (0..nrow).map(|t| -bar(t).aref * imp * err[t]).sum();
    let sr_bar = ref_gains_vjp(&solref, eq.solimp[1], h, k_bar, b_bar);
    params_bar.eq_solref[e][0] += sr_bar[0];
    params_bar.eq_solref[e][1] += sr_bar[1];
    let mut err_bar: Vec<f64> = (0..nrow).map(|t| bar(t).aref * (-k) * imp).collect();
    let sig_bar: f64 = (0..nrow)
        .map(|t| {
            let d = data.efc_d[r0 + t];
            (bar(t).aref * (-k) * err[t] + bar(t).d * d / (imp * (1.0 - imp))) * dimp
        })
        .sum();
    if eq.kind == EqType::Tendon {
        err_bar[0] += sig_bar;
        let c = &params.eq_polycoef[e];
        let (_, deriv) = tendon_error(model, q, eq, c);
        let [t1, t2] = eq.obj;
        let ten = &model.tendons;
        let mut l2_bar = 0.0;
        for &(a, cc) in &ten[t1].terms {
            q_bar[a] += cc * err_bar[0];
        }
        let mut x = 0.0;
        let mut deriv_bar = 0.0;
        if t2 != usize::MAX {
            x = ten[t2].length(q) - ten[t2].length0;
            let deriv2 = polynomial(c, x)[2];
            l2_bar -= deriv * err_bar[0];
            // the entries -deriv c2_k at tendon 2's dofs
            let dofs = data.efc_row(r0).0;
            for &(d, c2) in &ten[t2].jac {
                let k = dofs
                    .binary_search(&d)
                    .expect("tendon 2's dofs are in the row");
                l2_bar -= deriv2 * c2 * jb[k];
                deriv_bar -= c2 * jb[k];
            }
            for &(a, cc) in &ten[t2].terms {
                q_bar[a] += cc * l2_bar;
            }
        }
        polycoef_vjp(
            x,
            t2 != usize::MAX,
            err_bar[0],
            deriv_bar,
            &mut params_bar.eq_polycoef[e],
        );
        return;
    }
    if eq.kind == EqType::Joint {
        err_bar[0] += sig_bar;
        let c = &params.eq_polycoef[e];
        let (_, deriv, [_, d2]) = joint_error(model, q, eq, c);
        let [j1, j2] = eq.obj;
        q_bar[model.jnt_qpos_adr[j1]] += err_bar[0];
        let mut x = 0.0;
        let mut deriv_bar = 0.0;
        if j2 != usize::MAX {
            let a2 = model.jnt_qpos_adr[j2];
            x = q[a2] - model.qpos0[a2];
            let deriv2 = polynomial(c, x)[2];
            q_bar[a2] -= deriv * err_bar[0];
            // the entry -deriv at dof d2 (1 - deriv if both joints are one)
            let dofs = data.efc_row(r0).0;
            let k2 = dofs
                .iter()
                .position(|&d| d == d2)
                .expect("d2 is in the row");
            q_bar[a2] -= deriv2 * jb[k2];
            deriv_bar = -jb[k2];
        }
        polycoef_vjp(
            x,
            j2 != usize::MAX,
            err_bar[0],
            deriv_bar,
            &mut params_bar.eq_polycoef[e],
        );
        return;
    }
    if norm > 0.0 {
        for t in 0..nrow {
            err_bar[t] += sig_bar * err[t] / norm;
        }
    }
    let pp = PointPair::of(data, eq);
    let weld = eq.kind == EqType::Weld;
    let dofs = data.efc_row(r0).0;
    let m = dofs.len();
    let coef = path_coefficients(model, data, pp.body, dofs);
    let mut p_bar = [Vec3::zeros(); 2];
    p_bar[0] += Vec3::new(err_bar[0], err_bar[1], err_bar[2]);
    p_bar[1] -= Vec3::new(err_bar[0], err_bar[1], err_bar[2]);
    // translational Jacobian: per dof, sum over the sides holding it of s (S.lin + S.ang x p)
    for (a, &d) in dofs.iter().enumerate() {
        let g = Vec3::new(jb[a], jb[m + a], jb[2 * m + a]);
        if g == Vec3::zeros() {
            continue;
        }
        let s = &data.cdof[d];
        for (i, sign) in [(0, 1.0), (1, -1.0)] {
            if on_path(model, data, pp.body[i], d) {
                adj.cdof_bar[d] += Force::new(pp.p[i].cross(&g), g) * sign;
                p_bar[i] += g.cross(&s.ang) * sign;
            }
        }
    }
    // Jdot v of the points (each row's aref subtracts it)
    let jdv_bar = Vec3::new(-bar(0).aref, -bar(1).aref, -bar(2).aref);
    let acc = pp.body.map(|bb| bias_acc(model, data, v, bb));
    for (i, g) in [(0, jdv_bar), (1, -jdv_bar)] {
        let bb = pp.body[i];
        let (p, vel, a) = (pp.p[i], data.cvel[bb], acc[i]);
        let w = vel.ang;
        let vp = vel.lin + w.cross(&p);
        p_bar[i] += g.cross(&a.ang) + g.cross(&w).cross(&w);
        let w_bar = vp.cross(&g) + p.cross(&g.cross(&w));
        adj.cvel_bar[bb] += Force::new(w_bar, g.cross(&w));
        bias_acc_vjp(model, data, v, bb, &Force::new(p.cross(&g), g), adj, v_bar);
    }
    if weld {
        let ts = eq.torquescale;
        let q1 = *pp.q[0].quaternion();
        let q2 = *pp.q[1].quaternion();
        let c2 = q2.conjugate();
        let mut q1_bar = Quaternion::new(0.0, 0.0, 0.0, 0.0);
        let mut c2_bar = Quaternion::new(0.0, 0.0, 0.0, 0.0);
        // the error ts vec(c2 q1)
        let e_bar = pure(&Vec3::new(err_bar[3], err_bar[4], err_bar[5])) * ts;
        c2_bar += e_bar * q1.conjugate();
        q1_bar += c2.conjugate() * e_bar;
        // the rotational Jacobian 0.5 ts vec(c2 (0, c_d S_d.ang) q1)
        for (a, &d) in dofs.iter().enumerate() {
            let g = Vec3::new(jb[3 * m + a], jb[4 * m + a], jb[5 * m + a]);
            if g == Vec3::zeros() || coef[a] == 0.0 {
                continue;
            }
            let w = pure(&(data.cdof[d].ang * coef[a]));
            let pb = pure(&g) * (0.5 * ts);
            c2_bar += pb * (w * q1).conjugate();
            q1_bar += (c2 * w).conjugate() * pb;
            let w_bar = (c2.conjugate() * pb * q1.conjugate()).imag();
            adj.cdof_bar[d].ang += w_bar * coef[a];
        }
        // the rotational Jdot v: 0.5 ts vec(conj(qd2) dw q1 + c2 (0, dA) q1 + c2 dw qd1) with
        // qd_i = 0.5 q_i (0, w_i), dw = (0, w1 - w2), dA = A1.ang - A2.ang
        let (w1, w2) = (data.cvel[pp.body[0]].ang, data.cvel[pp.body[1]].ang);
        let dw = pure(&(w1 - w2));
        let da = pure(&(acc[0].ang - acc[1].ang));
        let qd1 = pure(&w1) * q1 * 0.5;
        let qd2 = pure(&w2) * q2 * 0.5;
        let cqd2 = qd2.conjugate();
        let pb = pure(&Vec3::new(-bar(3).aref, -bar(4).aref, -bar(5).aref)) * (0.5 * ts);
        let mut dw_bar = Quaternion::new(0.0, 0.0, 0.0, 0.0);
        // term 1: cqd2 dw q1
        let cqd2_bar = pb * (dw * q1).conjugate();
        dw_bar += cqd2.conjugate() * pb * q1.conjugate();
        q1_bar += (cqd2 * dw).conjugate() * pb;
        // term 2: c2 da q1
        c2_bar += pb * (da * q1).conjugate();
        let da_bar = (c2.conjugate() * pb * q1.conjugate()).imag();
        q1_bar += (c2 * da).conjugate() * pb;
        // term 3: c2 dw qd1
        c2_bar += pb * (dw * qd1).conjugate();
        dw_bar += c2.conjugate() * pb * qd1.conjugate();
        let qd1_bar = (c2 * dw).conjugate() * pb;
        // qd_i = 0.5 (0, w_i) q_i, cqd2 = conj(qd2)
        q1_bar += pure(&w1).conjugate() * qd1_bar * 0.5;
        let mut w1_bar = (qd1_bar * q1.conjugate()).imag() * 0.5;
        let qd2_bar = cqd2_bar.conjugate();
        let mut w2_bar = (qd2_bar * q2.conjugate()).imag() * 0.5;
        w1_bar += dw_bar.imag();
        w2_bar -= dw_bar.imag();
        adj.cvel_bar[pp.body[0]].ang += w1_bar;
        adj.cvel_bar[pp.body[1]].ang += w2_bar;
        for (i, s) in [(0, 1.0), (1, -1.0)] {
            let f = Force::new(da_bar * s, Vec3::zeros());
            bias_acc_vjp(model, data, v, pp.body[i], &f, adj, v_bar);
        }
        // the frames: q2's adjoint is conj(c2_bar) (c2 = conj(q2)) and its share through qd2
        let q2_bar = c2_bar.conjugate() + pure(&w2).conjugate() * qd2_bar * 0.5;
        adj.body_wrench[pp.body[0]].ang += turn_bar(&q1_bar, &q1);
        adj.body_wrench[pp.body[1]].ang += turn_bar(&q2_bar, &q2);
    }
    // the points move with their bodies
    for i in 0..2 {
        let p = pp.p[i];
        adj.body_wrench[pp.body[i]] += Force::new(p.cross(&p_bar[i]), p_bar[i]);
    }
}

/// Whether dof `d` is on body `b`'s path to the root.
fn on_path(model: &Model, data: &Data, b: usize, d: usize) -> bool {
    let last = data.body_dof_last[b];
    last != usize::MAX && model.dof_is_ancestor(d, last)
}

/// Reverse of [`bias_acc`] for the adjoint `a_bar` of body `b`'s bias acceleration.
fn bias_acc_vjp(
    model: &Model,
    data: &Data,
    v: &[f64],
    b: usize,
    a_bar: &Force,
    adj: &mut PosAdjoint,
    v_bar: &mut [f64],
) {
    let mut d = data.body_dof_last[b];
    while d != usize::MAX {
        adj.cdof_dot_bar[d] += *a_bar * v[d];
        v_bar[d] += data.cdof_dot[d].dot(a_bar);
        d = model.dof_parent[d];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ref_gains_vjp` against central differences of `ref_gains`, in the standard format
    /// (free and held at 2 h) and the direct one.
    #[test]
    fn ref_gains_vjp_matches_central_differences() {
        let (h, dmax, kb, bb) = (0.002, 0.95, 0.7, -1.3);
        for solref in [[0.02, 1.1], [0.003, 0.8], [-800.0, -30.0]] {
            let g = ref_gains_vjp(&solref, dmax, h, kb, bb);
            for i in 0..2 {
                let eps = 1e-7 * solref[i].abs();
                let f = |s: f64| {
                    let mut r = solref;
                    r[i] += s;
                    let (k, b) = ref_gains(&r, dmax, h);
                    kb * k + bb * b
                };
                let fd = (f(eps) - f(-eps)) / (2.0 * eps);
                let scale = fd.abs().max(g[i].abs()).max(1e-12);
                assert!(
                    (fd - g[i]).abs() < 1e-6 * scale,
                    "{solref:?}[{i}]: fd {fd} adjoint {}",
                    g[i]
                );
            }
        }
        // held at 2 h, the time constant has no adjoint
        assert_eq!(ref_gains_vjp(&[0.003, 0.8], dmax, h, kb, bb)[0], 0.0);
    }
}

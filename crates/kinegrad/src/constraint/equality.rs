//! Equality constraint rows in MuJoCo's formulation (`mj_instantiateEquality`,
//! `mj_makeImpedance`, `mj_Jdotv`); the reverse is `adjoint/equality.rs`.
//!
//! - **connect** (3 rows): `pos = p1 - p2`, the world points `p_i = x_i + R_i anchor_i` of the
//!   two bodies; `J = J_p1 - J_p2` (point Jacobians).
//! - **weld** (6 rows): the connect rows of the frames' origins, then the rotational error
//!   `torquescale * vec(conj(q2 f2) (q1 f1))` with the Jacobian
//!   `0.5 torquescale * vec(conj(q2 f2) (0, Jr1 - Jr2) (q1 f1))` (Jr: angular Jacobians).
//! - **joint** (1 row): `pos = q1 - q1_0 - poly(q2 - q2_0)`, `J = e1 - poly'(q2 - q2_0) e2`.
//!
//! All rows are two-sided (always in their quadratic piece). The impedance of a connect or
//! weld reads the norm of its whole error (3 or 6 components), each row's regularizer the
//! translational or rotational inverse weights of the two bodies (joint: the dofs'). The
//! reference acceleration of connect and weld rows subtracts `Jdot v`, the acceleration the
//! velocities alone give the error (MuJoCo 3.10 and later), so that a constraint held at rest
//! is held in motion too.

use super::{impedance, push_row, ref_gains};
use crate::data::{Data, RowKind};
use crate::kinematics::add_point_jacobian;
use crate::math::{Motion, Quat, Vec3};
use crate::model::{EqType, Equality, Model, Params};
use nalgebra::Quaternion;

/// The pieces of a connect or weld at the current kinematics that its rows and their reverse
/// read.
#[derive(Clone, Copy, Debug)]
pub struct PointPair {
    /// The two world points.
    pub p: [Vec3; 2],
    /// The two bodies.
    pub body: [usize; 2],
    /// Weld: the two world frames `q_i f_i`.
    pub q: [Quat; 2],
}

impl PointPair {
    /// The world points and frames of connect or weld `eq` from the body poses in `data`.
    pub fn of(data: &Data, eq: &Equality) -> Self {
        let body = eq.obj;
        let p = [0, 1].map(|i| data.xpos[body[i]] + data.xmat[body[i]] * eq.anchor[i]);
        let q = [0, 1].map(|i| data.xquat[body[i]] * eq.frame[i]);
        Self { p, body, q }
    }

    /// The weld's rotational error quaternion `conj(q2 f2) (q1 f1)`.
    pub fn rot_error(&self) -> Quat {
        self.q[1].inverse() * self.q[0]
    }
}

/// `(0, w)` as a quaternion.
#[inline]
pub fn pure(w: &Vec3) -> Quaternion<f64> {
    Quaternion::from_imag(*w)
}

/// The spatial acceleration of `body` that the velocities `v` alone give it (`qacc = 0`): the
/// sum of `cdof_dot v` over its path, at the world origin.
pub fn bias_acc(model: &Model, data: &Data, v: &[f64], body: usize) -> Motion {
    let mut a = Motion::zero();
    let mut d = data.body_dof_last[body];
    while d != usize::MAX {
        a += data.cdof_dot[d] * v[d];
        d = model.dof_parent[d];
    }
    a
}

/// `Jdot v` of the world point `p` attached to `body`: its acceleration at `qacc = 0`,
/// `A.lin + A.ang x p + w x (V.lin + w x p)` for the bias acceleration `A` and velocity `V`.
pub fn point_jdot_v(acc: &Motion, vel: &Motion, p: &Vec3) -> Vec3 {
    let w = vel.ang;
    acc.lin + acc.ang.cross(p) + w.cross(&(vel.lin + w.cross(p)))
}

/// The weld's rotational `Jdot v` (before `torquescale`), MuJoCo's three product-rule terms
/// of `d/dt 0.5 vec(conj(Q2) (0, w1 - w2) Q1)` for the world frames `Q_i = q_i f_i`, whose
/// rates are `0.5 (0, w_i) Q_i` (world angular velocities `w_i`).
pub fn weld_rot_jdot_v(pp: &PointPair, w: [Vec3; 2], acc_ang: [Vec3; 2]) -> Vec3 {
    let q1 = pp.q[0].quaternion();
    let c2 = pp.q[1].quaternion().conjugate();
    let dw = pure(&(w[0] - w[1]));
    let qdot1 = pure(&w[0]) * q1 * 0.5;
    let cqdot2 = (pure(&w[1]) * pp.q[1].quaternion() * 0.5).conjugate();
    let t = cqdot2 * dw * q1 + c2 * pure(&(acc_ang[0] - acc_ang[1])) * q1 + c2 * dw * qdot1;
    t.imag() * 0.5
}

/// Append the rows of every active equality to `data` (the first rows: see [`super::make_rows`]).
pub fn equality_rows(
    model: &Model,
    params: &Params,
    q: &[f64],
    v: &[f64],
    h: f64,
    data: &mut Data,
) {
    if !model.opt.enable_equality {
        return;
    }
    for (e, eq) in model.equalities.iter().enumerate() {
        if !eq.active {
            continue;
        }
        match eq.kind {
            EqType::Joint => joint_row(model, params, q, v, h, e, data),
            EqType::Tendon => tendon_row(model, params, q, v, h, e, data),
            EqType::Connect | EqType::Weld => point_rows(model, params, v, h, e, data),
        }
    }
}

/// The equality polynomial's part in the second object, `c1 x + c2 x^2 + c3 x^3 + c4 x^4`,
/// with its first and second derivatives in `x` (the rows' Jacobian and its reverse).
pub fn polynomial(c: &[f64; 5], x: f64) -> [f64; 3] {
    [
        x * (c[1] + x * (c[2] + x * (c[3] + x * c[4]))),
        c[1] + x * (2.0 * c[2] + x * (3.0 * c[3] + x * 4.0 * c[4])),
        2.0 * c[2] + x * (6.0 * c[3] + x * 12.0 * c[4]),
    ]
}

/// The joint equality's error for the polynomial `c`, `d pos / d q2` and the two dofs (the
/// second `usize::MAX` if absent).
pub fn joint_error(
    model: &Model,
    q: &[f64],
    eq: &Equality,
    c: &[f64; 5],
) -> (f64, f64, [usize; 2]) {
    let [j1, j2] = eq.obj;
    let a1 = model.jnt_qpos_adr[j1];
    let mut pos = q[a1] - model.qpos0[a1] - c[0];
    let mut deriv = 0.0;
    let mut dofs = [model.jnt_dof_adr[j1], usize::MAX];
    if j2 != usize::MAX {
        let a2 = model.jnt_qpos_adr[j2];
        let x = q[a2] - model.qpos0[a2];
        let [value, slope, _] = polynomial(c, x);
        pos -= value;
        deriv = slope;
        dofs[1] = model.jnt_dof_adr[j2];
    }
    (pos, deriv, dofs)
}

fn joint_row(
    model: &Model,
    params: &Params,
    q: &[f64],
    v: &[f64],
    h: f64,
    e: usize,
    data: &mut Data,
) {
    let eq = &model.equalities[e];
    let (pos, deriv, [d1, d2]) = joint_error(model, q, eq, &params.eq_polycoef[e]);
    let mut a = model.dof_invweight0[d1];
    if d2 == usize::MAX {
        data.efc_nz.push(d1);
        data.efc_j.push(1.0);
    } else {
        a += model.dof_invweight0[d2];
        if d1 == d2 {
            data.efc_nz.push(d1);
            data.efc_j.push(1.0 - deriv);
        } else {
            let (lo, hi) = if d1 < d2 { (d1, d2) } else { (d2, d1) };
            let entry = |d: usize| if d == d1 { 1.0 } else { -deriv };
            data.efc_nz.extend([lo, hi]);
            data.efc_j.extend([entry(lo), entry(hi)]);
        }
    }
    let r = data.nefc;
    close_scalar_row(params, v, h, e, eq, pos, a, data);
    debug_assert_eq!(data.nefc, r + 1);
}

/// The tendon equality's error for the polynomial `c` and `d pos / d L2` (`L2` the second
/// tendon's length).
pub fn tendon_error(model: &Model, q: &[f64], eq: &Equality, c: &[f64; 5]) -> (f64, f64) {
    let [t1, t2] = eq.obj;
    let ten = &model.tendons;
    let mut pos = ten[t1].length(q) - ten[t1].length0 - c[0];
    let mut deriv = 0.0;
    if t2 != usize::MAX {
        let x = ten[t2].length(q) - ten[t2].length0;
        let [value, slope, _] = polynomial(c, x);
        pos -= value;
        deriv = slope;
    }
    (pos, deriv)
}

/// The tendon equality's Jacobian `J1 - deriv J2` over the union of the two tendons' dofs,
/// ascending, into `dofs` and `vals`.
pub fn tendon_eq_jacobian(
    model: &Model,
    eq: &Equality,
    deriv: f64,
    dofs: &mut Vec<usize>,
    vals: &mut Vec<f64>,
) {
    dofs.clear();
    vals.clear();
    let [t1, t2] = eq.obj;
    let mut terms: Vec<(usize, f64)> = model.tendons[t1].jac.clone();
    if t2 != usize::MAX {
        terms.extend(model.tendons[t2].jac.iter().map(|&(d, c)| (d, -deriv * c)));
    }
    terms.sort_by_key(|x| x.0);
    for (d, c) in terms {
        if dofs.last() == Some(&d) {
            *vals.last_mut().expect("paired") += c;
        } else {
            dofs.push(d);
            vals.push(c);
        }
    }
}

fn tendon_row(
    model: &Model,
    params: &Params,
    q: &[f64],
    v: &[f64],
    h: f64,
    e: usize,
    data: &mut Data,
) {
    let eq = &model.equalities[e];
    let (pos, deriv) = tendon_error(model, q, eq, &params.eq_polycoef[e]);
    let mut dofs = std::mem::take(&mut data.row_dofs);
    let mut vals = Vec::new();
    tendon_eq_jacobian(model, eq, deriv, &mut dofs, &mut vals);
    data.efc_nz.extend_from_slice(&dofs);
    data.efc_j.extend_from_slice(&vals);
    data.row_dofs = dofs;
    let [t1, t2] = eq.obj;
    let mut a = model.tendons[t1].invweight0;
    if t2 != usize::MAX {
        a += model.tendons[t2].invweight0;
    }
    close_scalar_row(params, v, h, e, eq, pos, a, data);
}

/// Close the row of joint or tendon equality `e` whose Jacobian entries were just pushed:
/// error `pos`, inverse weight `a` (the sum of the two sides'), `aref = -b J v - k imp pos`.
#[allow(clippy::too_many_arguments)]
fn close_scalar_row(
    params: &Params,
    v: &[f64],
    h: f64,
    e: usize,
    eq: &Equality,
    pos: f64,
    a: f64,
    data: &mut Data,
) {
    let vel = data_row_dot_last(data, v);
    let imp = impedance(&eq.solimp, pos);
    let (k, b) = ref_gains(&params.eq_solref[e], eq.solimp[1], h);
    let reg = ((1.0 - imp) / imp * a).max(1e-15);
    push_row(
        data,
        RowKind::Equality(e, 0),
        pos,
        -b * vel - k * imp * pos,
        reg,
    );
}

/// `J v` of the row being built (its entries pushed, its start not yet).
fn data_row_dot_last(data: &Data, v: &[f64]) -> f64 {
    let start = *data.efc_nz_adr.last().expect("starts with 0");
    data.efc_nz[start..]
        .iter()
        .zip(&data.efc_j[start..])
        .map(|(&i, j)| j * v[i])
        .sum()
}

fn point_rows(model: &Model, params: &Params, v: &[f64], h: f64, e: usize, data: &mut Data) {
    let eq = &model.equalities[e];
    let pp = PointPair::of(data, eq);
    let [b1, b2] = pp.body;
    let weld = eq.kind == EqType::Weld;
    let nrow = eq.kind.nrow();
    // errors: translation, then the weld's rotation
    let mut err = [0.0; 6];
    let dp = pp.p[0] - pp.p[1];
    err[..3].copy_from_slice(dp.as_slice());
    if weld {
        let rot = pp.rot_error().imag() * eq.torquescale;
        err[3..].copy_from_slice(rot.as_slice());
    }
    let norm = err[..nrow].iter().map(|x| x * x).sum::<f64>().sqrt();
    let imp = impedance(&eq.solimp, norm);
    let (k, b) = ref_gains(&params.eq_solref[e], eq.solimp[1], h);
    // Jdot v
    let acc = [b1, b2].map(|bb| bias_acc(model, data, v, bb));
    let vel = [b1, b2].map(|bb| data.cvel[bb]);
    let mut jdv = [0.0; 6];
    let t = point_jdot_v(&acc[0], &vel[0], &pp.p[0]) - point_jdot_v(&acc[1], &vel[1], &pp.p[1]);
    jdv[..3].copy_from_slice(t.as_slice());
    if weld {
        let r = weld_rot_jdot_v(&pp, [vel[0].ang, vel[1].ang], [acc[0].ang, acc[1].ang])
            * eq.torquescale;
        jdv[3..].copy_from_slice(r.as_slice());
    }
    // Jacobians over the two bodies' paths
    let mut dofs = std::mem::take(&mut data.row_dofs);
    super::contact_dofs(model, &data.body_dof_last, b1, b2, &mut dofs);
    let jac = &mut data.scratch_jac;
    for &d in &dofs {
        jac[d] = Vec3::zeros();
    }
    add_point_jacobian(
        model,
        &data.body_dof_last,
        &data.cdof,
        b1,
        &pp.p[0],
        1.0,
        jac,
    );
    add_point_jacobian(
        model,
        &data.body_dof_last,
        &data.cdof,
        b2,
        &pp.p[1],
        -1.0,
        jac,
    );
    let mut jrot = Vec::new();
    if weld {
        jrot = rot_jacobian(model, data, &pp, eq.torquescale, &dofs);
    }
    for row in 0..nrow {
        let mut jv = 0.0;
        for (a, &d) in dofs.iter().enumerate() {
            let x = if row < 3 {
                data.scratch_jac[d][row]
            } else {
                jrot[a][row - 3]
            };
            data.efc_j.push(x);
            jv += x * v[d];
        }
        data.efc_nz.extend_from_slice(&dofs);
        let w = if row < 3 { 0 } else { 1 };
        let a = model.body_invweight0[b1][w] + model.body_invweight0[b2][w];
        let reg = ((1.0 - imp) / imp * a).max(1e-15);
        let aref = -b * jv - k * imp * err[row] - jdv[row];
        push_row(data, RowKind::Equality(e, row), err[row], aref, reg);
    }
    data.row_dofs = dofs;
}

/// The weld's rotational Jacobian over `dofs` (ascending): per dof,
/// `0.5 torquescale * vec(conj(q2 f2) (0, jr) (q1 f1))` with `jr` the dof's angular
/// Jacobian difference (body 1's path minus body 2's).
pub fn rot_jacobian(
    model: &Model,
    data: &Data,
    pp: &PointPair,
    torquescale: f64,
    dofs: &[usize],
) -> Vec<Vec3> {
    let coef = path_coefficients(model, data, pp.body, dofs);
    let c2 = pp.q[1].quaternion().conjugate();
    let q1 = pp.q[0].quaternion();
    dofs.iter()
        .zip(&coef)
        .map(|(&d, &c)| {
            let jr = data.cdof[d].ang * c;
            (c2 * pure(&jr) * q1).imag() * (0.5 * torquescale)
        })
        .collect()
}

/// For each of `dofs`: +1 if only body 1's path holds it, -1 if only body 2's, 0 if both.
pub fn path_coefficients(model: &Model, data: &Data, body: [usize; 2], dofs: &[usize]) -> Vec<f64> {
    let mut coef = vec![0.0; dofs.len()];
    for (bb, s) in [(body[0], 1.0), (body[1], -1.0)] {
        let mut d = data.body_dof_last[bb];
        while d != usize::MAX {
            let k = dofs.binary_search(&d).expect("the dof is on a path");
            coef[k] += s;
            d = model.dof_parent[d];
        }
    }
    coef
}

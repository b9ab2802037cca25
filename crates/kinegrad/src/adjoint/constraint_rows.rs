//! Reverse of the constraint rows ([`crate::constraint::make_rows`]: equalities, dof
//! friction, joint limits and contacts), with the rows' states and the contact features frozen.
//!
//! Each row's adjoints (of its Jacobian row, reference acceleration and inverse regularizer D)
//! come from a seed: in a step, [`super::solve::row_seed`] (the implicit function theorem at
//! the solve's solution); in the stage tests, anything. [`rows_vjp`] sends them to the
//! velocities, the joint positions of limits, the dof subspaces of the contact Jacobians, and
//! each contact's point, frame, distance and friction (`PosAdjoint::contact_bar`, finished by
//! [`super::contact_geom::contacts_vjp`]).

use super::contact_geom::ContactBar;
use super::kinematics::PosAdjoint;
use super::solve::RowBar;
use crate::constraint::{
    impedance, impedance_derivative, pyramid_regularizer, ref_gains, ContactDir,
};
use crate::data::{Data, RowKind};
use crate::joint::JointType;
use crate::math::{Force, Motion, Vec3};
use crate::model::{Model, Params};

/// Reverse of [`crate::constraint::make_rows`] at positions `q`, velocities `v` and substep
/// `h`, for the row adjoints given by `seed(r, j_bar)`: it writes the adjoints of row `r`'s
/// Jacobian entries into `j_bar` (aligned with the row's non-zero dofs, [`Data::efc_row`]) and
/// returns the adjoints of its scalar inputs, or `None` to skip the row (all its adjoints
/// zero). Accumulates `q_bar`, `v_bar`, the position and velocity adjoints of `adj` (body
/// wrenches, `cdof_bar`, `cdof_dot_bar`, `cvel_bar`), `params_bar.dof_frictionloss`, and fills
/// `adj.contact_bar` (one per contact of `data`). Needs the rows, contacts, `cdof`, `cvel`,
/// `cdof_dot` and `body_dof_last` of the forward pass.
#[allow(clippy::too_many_arguments)]
pub fn rows_vjp(
    model: &Model,
    params: &Params,
    data: &Data,
    q: &[f64],
    v: &[f64],
    h: f64,
    mut seed: impl FnMut(usize, &mut [f64]) -> Option<RowBar>,
    adj: &mut PosAdjoint,
    q_bar: &mut [f64],
    v_bar: &mut [f64],
    params_bar: &mut Params,
) {
    let mut jbar = std::mem::take(&mut adj.jbar);
    let mut coef = std::mem::take(&mut adj.coef);
    let mut cbar = std::mem::take(&mut adj.contact_bar);
    cbar.clear();
    cbar.resize(data.contacts.len(), ContactBar::default());

    let mut eq_bars = Vec::new();
    let mut eq_jbar = Vec::new();
    for r in 0..data.nefc {
        if let RowKind::Equality(e, k) = data.efc_kind[r] {
            // an equality's rows share their error's norm: reversed together at the first
            if k == 0 {
                let n = model.equalities[e].kind.nrow();
                eq_bars.clear();
                eq_jbar.clear();
                for t in 0..n {
                    let m = data.efc_row(r + t).0.len();
                    let b = seed(r + t, &mut jbar[..m]);
                    if b.is_none() {
                        jbar[..m].iter_mut().for_each(|x| *x = 0.0);
                    }
                    eq_bars.push(b);
                    eq_jbar.extend_from_slice(&jbar[..m]);
                }
                super::equality::equality_vjp(
                    model, params, data, q, v, h, e, r, &eq_bars, &eq_jbar, adj, q_bar, v_bar,
                    params_bar,
                );
            }
            continue;
        }
        let Some(RowBar {
            aref: aref_bar,
            d: d_bar,
            floss: floss_bar,
            friction: friction_bar,
        }) = seed(r, &mut jbar)
        else {
            continue;
        };
        let (dofs, row) = data.efc_row(r);
        let jbar = &mut jbar[..dofs.len()];
        let d = data.efc_d[r];
        match data.efc_kind[r] {
            RowKind::Equality(..) => unreachable!("handled above"),
            RowKind::Friction(dof) => {
                // aref = -b v (J = +1 at the dof), R fixed by the model: only the velocity and
                // the bound have adjoints
                let j = model.dof_jnt[dof];
                let (_, b) = ref_gains(&model.jnt_solref_fri[j], model.jnt_solimp_fri[j][1], h);
                v_bar[dof] += aref_bar * (-b);
                params_bar.dof_frictionloss[dof] += floss_bar;
            }
            RowKind::TendonFriction(t) => {
                // aref = -b J v with the tendon's J (a spatial tendon's depends on q)
                let ten = &model.tendons[t];
                let (_, b) = ref_gains(&ten.solref_fri, ten.solimp_fri[1], h);
                for &(dof, c) in &data.ten_jac[t] {
                    v_bar[dof] += aref_bar * (-b) * c;
                }
                adj.tendon_bar.add_jac_entries(model, t, 1.0, jbar);
                adj.tendon_bar.add_jac(model, t, aref_bar * (-b), v);
                params_bar.tendon_frictionloss[t] += floss_bar;
            }
            RowKind::TendonLimit(t) => {
                // as a joint limit, on the tendon's length L along J = +-J_tendon
                let ten = &model.tendons[t];
                let jt = &data.ten_jac[t];
                let Some(k0) = jt.iter().position(|x| x.1 != 0.0) else {
                    continue; // a Jacobian of zeros: nothing depends on q or v
                };
                let jsign = row[k0] / jt[k0].1;
                let (dist_bar, b) = soft_row_dist_bar(
                    (&ten.solref_lim, &ten.solimp_lim),
                    data.efc_pos[r] - ten.margin,
                    h,
                    (aref_bar, d_bar, d),
                );
                for (&dof, jv) in dofs.iter().zip(row) {
                    v_bar[dof] += aref_bar * (-b) * jv;
                }
                adj.tendon_bar.add_length(model, t, dist_bar * jsign, q_bar);
                adj.tendon_bar.add_jac_entries(model, t, jsign, jbar);
                adj.tendon_bar.add_jac(model, t, aref_bar * (-b) * jsign, v);
            }
            RowKind::Limit(j) if model.jnt_type[j] == JointType::Ball => {
                // J = -a (a the rotation's unit axis), dist = max(range) - angle, both
                // functions of the joint's quaternion (constraint::ball_angle_axis)
                let d0 = model.jnt_dof_adr[j];
                let (dist_bar, b) = soft_row_dist_bar(
                    (&model.jnt_solref[j], &model.jnt_solimp[j]),
                    data.efc_pos[r] - model.jnt_margin[j],
                    h,
                    (aref_bar, d_bar, d),
                );
                let mut a_bar = Vec3::zeros();
                for (kk, (jb, jv)) in jbar.iter().zip(row).enumerate() {
                    v_bar[d0 + kk] += aref_bar * (-b) * jv;
                    a_bar[kk] = -(jb + aref_bar * (-b) * v[d0 + kk]);
                }
                let a = model.jnt_qpos_adr[j];
                ball_angle_axis_vjp(&q[a..a + 4], -dist_bar, &a_bar, &mut q_bar[a..a + 4]);
            }
            RowKind::Limit(j) => {
                let dof = model.jnt_dof_adr[j];
                let jsign = row[0];
                let (dist_bar, b) = soft_row_dist_bar(
                    (&model.jnt_solref[j], &model.jnt_solimp[j]),
                    data.efc_pos[r] - model.jnt_margin[j],
                    h,
                    (aref_bar, d_bar, d),
                );
                v_bar[dof] += aref_bar * (-b) * jsign;
                // dist = q - lo (lower side, J = +1) or hi - q (upper side, J = -1)
                q_bar[model.jnt_qpos_adr[j]] += dist_bar * jsign;
                // the Jacobian row (+-1 at the dof) is constant: j_bar has nowhere to go
            }
            RowKind::ContactNormal(c)
            | RowKind::ContactPyramid(c, _)
            | RowKind::ContactElliptic(c, _) => {
                let con = &data.contacts[c];
                let f_rows = con.friction_rows();
                // the row's direction; whether its aref has the position term (the normal's
                // and the pyramid's rows, not an elliptic contact's friction rows)
                let (dir, positional) = match data.efc_kind[r] {
                    RowKind::ContactPyramid(_, e) => {
                        (ContactDir::pyramid(&con.frame, &f_rows, e), true)
                    }
                    RowKind::ContactElliptic(_, k) => (ContactDir::elliptic(&con.frame, k), k == 0),
                    _ => (ContactDir::normal(&con.frame), true),
                };
                let solimp = &con.solimp;
                let imp = impedance(solimp, con.dist - con.margin);
                let dimp = impedance_derivative(solimp, con.dist - con.margin);
                let (k, b) = ref_gains(&con.solref, solimp[1], h);
                // aref = -b (J v) - k imp (dist - margin)
                for ((jb, &i), jv) in jbar.iter_mut().zip(dofs).zip(row) {
                    *jb += aref_bar * (-b) * v[i];
                    v_bar[i] += aref_bar * (-b) * jv;
                }
                let mut dist_bar = if positional {
                    aref_bar * (-k) * (imp + (con.dist - con.margin) * dimp)
                } else {
                    0.0
                };
                // every row's D is the normal's (imp / ((1 - imp) A)) times a constant
                dist_bar += d_bar * d / (imp * (1.0 - imp)) * dimp;
                let cb = &mut cbar[c];
                cb.dist += dist_bar;
                // the friction through an elliptic cone's force law
                cb.friction += friction_bar[0];
                cb.spin += friction_bar[1];
                cb.roll += friction_bar[2];
                // and through D: a pyramid's R (constraint::pyramid_regularizer), an elliptic
                // contact's torsion and rolling rows, D_k = D_1 f_k^2 / f_1^2
                match data.efc_kind[r] {
                    RowKind::ContactPyramid(..) => {
                        let tw = model.body_invweight0[model.geom_body[con.geom1]][0]
                            + model.body_invweight0[model.geom_body[con.geom2]][0];
                        let (_, dlnr) =
                            pyramid_regularizer(con.friction, tw, imp, model.opt.impratio);
                        cb.friction += d_bar * (-d) * dlnr;
                    }
                    RowKind::ContactElliptic(_, kk) if kk >= 3 => {
                        add_friction_bar(cb, kk - 1, d_bar * d * 2.0 / f_rows[kk - 1]);
                        cb.friction -= d_bar * d * 2.0 / f_rows[0];
                    }
                    _ => {}
                }
                // J row: J[d] = coef_d (lin . (S_d.lin + S_d.ang x p) + ang . S_d.ang)
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
                let wrench = Force::new(p.cross(&dir.lin) + dir.ang, dir.lin);
                for (jb, &i) in jbar.iter().zip(dofs) {
                    let w = jb * coef[i];
                    if w != 0.0 {
                        xi += data.cdof[i] * w;
                        adj.cdof_bar[i] += wrench * w;
                    }
                }
                let (lin_bar, ang_bar) = (xi.point_velocity(&p), xi.ang);
                cb.pos += dir.lin.cross(&xi.ang);
                match dir.friction {
                    // the normal alone
                    None => cb.normal += lin_bar,
                    // an elliptic row: the frame row itself
                    Some(fp) if fp.sign == 0.0 => {
                        let bar = if fp.angular { ang_bar } else { lin_bar };
                        add_frame_bar(cb, fp.axis, bar);
                    }
                    // a pyramid edge: n along the translation, sign f_j d_j along its part
                    Some(fp) => {
                        cb.normal += lin_bar;
                        let bar = if fp.angular { ang_bar } else { lin_bar };
                        let f = f_rows[fp.index];
                        add_frame_bar(cb, fp.axis, bar * (fp.sign * f));
                        let axis: Vec3 = con.frame.row(fp.axis).transpose();
                        add_friction_bar(cb, fp.index, fp.sign * axis.dot(&bar));
                    }
                }
            }
        }
    }
    adj.jbar = jbar;
    adj.coef = coef;
    adj.contact_bar = cbar;
}

/// Adds `bar` to the adjoint of the contact frame's row `axis` (0 normal, 1 and 2 tangents).
#[inline]
fn add_frame_bar(cb: &mut ContactBar, axis: usize, bar: Vec3) {
    if axis == 0 {
        cb.normal += bar;
    } else {
        cb.tangent[axis - 1] += bar;
    }
}

/// Adds `bar` to the adjoint of the contact's friction row `index`
/// ([`crate::data::Contact::friction_rows`]: 0 and 1 sliding, 2 torsion, 3 and 4 rolling).
#[inline]
fn add_friction_bar(cb: &mut ContactBar, index: usize, bar: f64) {
    match index {
        0 | 1 => cb.friction += bar,
        2 => cb.spin += bar,
        _ => cb.roll += bar,
    }
}

/// The right derivative at `frictionloss = 0`, where [`crate::constraint::make_rows`] builds no
/// row (MuJoCo's rule): the step is not differentiable there (no negative friction), but an
/// optimizer starting from a frictionless joint needs the derivative for a small positive
/// value. A dry-friction row of bound `eps -> 0+` on a dof or tendon whose residual
/// `z = J a + b J v` is non-zero is saturated, its force `-eps sign(z)`, and leaves the Newton
/// Hessian alone, so `frictionloss_bar = -sign(z) J lambda` (as a saturated row's in
/// [`super::solve::row_seed`]); at `z = 0` the row would open a quadratic piece and the
/// derivative is left at 0. `lambda` is the rows' seed `mu` of `adjoint/step.rs::accel_vjp`
/// and `a = qacc` the solver's solution.
pub fn frictionloss_onset_vjp(
    model: &Model,
    params: &Params,
    data: &Data,
    v: &[f64],
    h: f64,
    lambda: &[f64],
    params_bar: &mut Params,
) {
    if !model.opt.enable_frictionloss {
        return;
    }
    let a = &data.qacc;
    let bar = |z: f64, s: f64| {
        if z > 0.0 {
            -s
        } else if z < 0.0 {
            s
        } else {
            0.0
        }
    };
    for d in 0..model.nv {
        if params.dof_frictionloss[d] != 0.0 {
            continue;
        }
        let j = model.dof_jnt[d];
        let (_, b) = ref_gains(&model.jnt_solref_fri[j], model.jnt_solimp_fri[j][1], h);
        params_bar.dof_frictionloss[d] += bar(a[d] + b * v[d], lambda[d]);
    }
    for (t, ten) in model.tendons.iter().enumerate() {
        if params.tendon_frictionloss[t] != 0.0 {
            continue;
        }
        let (_, b) = ref_gains(&ten.solref_fri, ten.solimp_fri[1], h);
        params_bar.tendon_frictionloss[t] += bar(
            data.ten_velocity(t, a) + b * data.ten_velocity(t, v),
            data.ten_velocity(t, lambda),
        );
    }
}

/// Reverse of [`crate::constraint::ball_angle_axis`]: adds to `q_bar` (the raw quaternion's
/// adjoint) the adjoints `angle_bar` of the angle and `axis_bar` of the unit axis. With
/// `qn = q / |q| = (w, u)`, `s = |u|`, `theta = 2 atan2(s, w)` (`d theta = 2 (w ds - s dw)` on
/// the unit sphere) wrapped to the shortest rotation of sign `sigma`: `angle = sigma theta
/// (+ 2 pi)`, `axis = sigma u / s`.
pub fn ball_angle_axis_vjp(q: &[f64], angle_bar: f64, axis_bar: &Vec3, q_bar: &mut [f64]) {
    let n = (q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]).sqrt();
    let w = q[0] / n;
    let u = Vec3::new(q[1], q[2], q[3]) / n;
    let s = u.norm();
    if !(s > 1e-15) {
        return; // no rotation: the axis is a fixed convention and the angle has a kink
    }
    let e = u / s;
    let sigma = if 2.0 * s.atan2(w) > std::f64::consts::PI {
        -1.0
    } else {
        1.0
    };
    let u_bar = (axis_bar - e * e.dot(axis_bar)) * (sigma / s) + e * (angle_bar * sigma * 2.0 * w);
    let w_bar = angle_bar * sigma * 2.0 * (-s);
    let qn_bar = [w_bar, u_bar.x, u_bar.y, u_bar.z];
    let qn = [w, u.x, u.y, u.z];
    let dot: f64 = (0..4).map(|i| qn[i] * qn_bar[i]).sum();
    for i in 0..4 {
        q_bar[i] += (qn_bar[i] - qn[i] * dot) / n;
    }
}

/// The adjoint of a limit row's distance from the adjoints of its reference acceleration
/// `aref = -b J v - k imp (dist - margin)` and inverse regularizer `D = imp / ((1 - imp) A)`
/// (`bars = (aref_bar, D_bar, D)`), at the violation `x = dist - margin`; with the row's
/// velocity gain `b` (the caller sends `-b aref_bar` to `J v`).
fn soft_row_dist_bar(
    (solref, solimp): (&[f64; 2], &[f64; 5]),
    x: f64,
    h: f64,
    (aref_bar, d_bar, d): (f64, f64, f64),
) -> (f64, f64) {
    let imp = impedance(solimp, x);
    let dimp = impedance_derivative(solimp, x);
    let (k, b) = ref_gains(solref, solimp[1], h);
    let dist_bar = aref_bar * (-k) * (imp + x * dimp) + d_bar * d / (imp * (1.0 - imp)) * dimp;
    (dist_bar, b)
}

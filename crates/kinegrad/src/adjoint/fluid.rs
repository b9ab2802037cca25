//! Reverse of [`crate::dynamics::fluid`] (MuJoCo's inertia-box fluid model).
//!
//! Body `b` feels `F_b = [t + p x f; f]` at the world origin, `t = R lt(R^T w)`,
//! `f = R lf(R^T (v_O + w x p - wind))`, with `R` its principal frame in the world, `p` its
//! centre of mass and `(w, v_O)` its velocity `cvel`; the dofs get `sum_b J_b^T F_b`. Seeded
//! with `mu` (the adjoint of `qfrc_passive`), the adjoint of `F_b` is the motion
//! `sum_{d on b's path} mu_d cdof_d`, and of `cdof_d` the wrench of `d`'s subtree times `mu_d`.
//! From `F_bar = (a, c)`: `t_bar = a`, `f_bar = c + a x p`, `p_bar = f x a`; through the local
//! laws `lw_bar_k = (-c_w - 2 D_k |lw_k|) lt_bar_k` (likewise the force); a rotation `R -> (I +
//! [e]x) R` of the frame sends `y x x` to the pose for each product `x . (R y)` (`t x t_bar`,
//! `f x f_bar`, `(R lw_bar) x w`, `(R lv_bar) x v`). The body pose gets the wrench
//! `[p x p_bar + rotations; p_bar]`, `cvel` gets `(w_bar, v_O_bar)`, and the parameters:
//! density, viscosity, wind, the centre of mass (`R_b^T p_bar`), the mass and the inertia's
//! diagonal in the principal frame through the box sides.

use super::kinematics::PosAdjoint;
use crate::data::Data;
use crate::dynamics::fluid::{
    box_sides, coefficients, local_drag, principal_moments, world_frame, MINVAL,
};
use crate::math::{Force, Mat3, Motion, Vec3};
use crate::model::{Model, Params};
use std::f64::consts::PI;

/// Reverse of [`crate::dynamics::fluid::fluid`] seeded with `mu` (nv, the adjoint of
/// `qfrc_passive`): accumulates `adj.cdof_bar`, `adj.cvel_bar`, `adj.body_wrench` and the
/// parameter adjoints `pb` (density and viscosity also where both are 0: the force is linear
/// in them). Needs the forward's kinematics, `cvel` and `cdof`.
pub fn fluid_vjp(
    model: &Model,
    params: &Params,
    data: &Data,
    mu: &[f64],
    adj: &mut PosAdjoint,
    pb: &mut Params,
) {
    body_wrenches_vjp(model, data, mu, adj, |b, fbar, adj| {
        Some(body_vjp(model, params, data, b, fbar, adj, pb))
    });
}

/// The reverse of joint forces made of body wrenches at the world origin, `qfrc_d += cdof_d .
/// F_b` over the dofs of each body's path (the fluid's, the external wrenches'), seeded with
/// `mu` (nv): `wrench_vjp(b, m_b, adj)` gets body b's wrench adjoint `m_b = sum_{d on b's path}
/// mu_d cdof_d`, accumulates what the wrench depends on and returns the wrench (None: zero);
/// then `cdof_bar_d += mu_d` times the wrench of d's subtree. Reuses `adj`'s scratch.
fn body_wrenches_vjp(
    model: &Model,
    data: &Data,
    mu: &[f64],
    adj: &mut PosAdjoint,
    mut wrench_vjp: impl FnMut(usize, &Motion, &mut PosAdjoint) -> Option<Force>,
) {
    let nb = model.nbody;
    if nb <= 1 || mu.iter().all(|&x| x == 0.0) {
        return;
    }
    let mut fbar = std::mem::take(&mut adj.fluid_motion);
    let mut sub = std::mem::take(&mut adj.fluid_force);
    fbar.clear();
    fbar.resize(nb, Motion::zero());
    sub.clear();
    sub.resize(nb, Force::zero());
    // the adjoint of each body's wrench: the dofs of its path, root to leaf
    for b in 1..nb {
        let mut m = fbar[model.body_parent[b]];
        let d0 = model.body_dof_adr[b];
        for d in d0..d0 + model.body_dof_num[b] {
            m += data.cdof[d] * mu[d];
        }
        fbar[b] = m;
    }
    let mut any = false;
    for b in 1..nb {
        if let Some(f) = wrench_vjp(b, &fbar[b], adj) {
            sub[b] = f;
            any = true;
        }
    }
    if any {
        // cdof_bar: mu_d times the wrench of d's subtree
        for b in (1..nb).rev() {
            let f = sub[b];
            sub[model.body_parent[b]] += f;
        }
        for d in 0..model.nv {
            adj.cdof_bar[d] += sub[model.dof_body[d]] * mu[d];
        }
    }
    adj.fluid_motion = fbar;
    adj.fluid_force = sub;
}

/// One body's reverse for the adjoint `fb` of its wrench; returns the wrench (the forward's).
fn body_vjp(
    model: &Model,
    params: &Params,
    data: &Data,
    b: usize,
    fb: &Motion,
    adj: &mut PosAdjoint,
    pb: &mut Params,
) -> Force {
    let m = params.body_mass[b];
    if !(m >= MINVAL) {
        return Force::zero();
    }
    let moments = principal_moments(model, params, b);
    let sides = box_sides(m, &moments);
    let c = coefficients(params, &sides);
    let r = world_frame(model, data, b);
    let p = data.xipos[b];
    let (w, vo) = (data.cvel[b].ang, data.cvel[b].lin);
    let vc = vo + w.cross(&p) - params.wind;
    let (lw, lv) = (r.transpose() * w, r.transpose() * vc);
    let (lt, lf) = local_drag(&c, &lw, &lv);
    let (t, f) = (r * lt, r * lf);
    // F = [t + p x f; f]
    let (a, cc) = (fb.ang, fb.lin);
    let t_bar = a;
    let f_bar = cc + a.cross(&p);
    let mut p_bar = f.cross(&a);
    let mut rot = t.cross(&t_bar) + f.cross(&f_bar);
    let (lt_bar, lf_bar) = (r.transpose() * t_bar, r.transpose() * f_bar);
    // the local laws
    let (cw, cv, dd, ee) = c;
    let lw_bar = Vec3::from_fn(|k, _| (-cw - 2.0 * dd[k] * lw[k].abs()) * lt_bar[k]);
    let lv_bar = Vec3::from_fn(|k, _| (-cv - 2.0 * ee[k] * lv[k].abs()) * lf_bar[k]);
    let cw_bar = -lw.dot(&lt_bar);
    let cv_bar = -lv.dot(&lf_bar);
    let dd_bar = Vec3::from_fn(|k, _| -lw[k].abs() * lw[k] * lt_bar[k]);
    let ee_bar = Vec3::from_fn(|k, _| -lv[k].abs() * lv[k] * lf_bar[k]);
    // lw = R^T w, lv = R^T vc
    let mut w_bar = r * lw_bar;
    let vc_bar = r * lv_bar;
    rot += (r * lw_bar).cross(&w) + (r * lv_bar).cross(&vc);
    // vc = v_O + w x p - wind
    w_bar += p.cross(&vc_bar);
    p_bar += vc_bar.cross(&w);
    pb.wind -= vc_bar;
    adj.cvel_bar[b] += Force::new(w_bar, vc_bar);
    adj.body_wrench[b] += Force::new(rot + p.cross(&p_bar), p_bar);
    pb.body_ipos[b] += data.xmat[b].transpose() * p_bar;
    coefficients_vjp(
        model,
        params,
        &sides,
        (cw_bar, cv_bar, dd_bar, ee_bar),
        m,
        &moments,
        b,
        pb,
    );
    Force::new(t + p.cross(&f), f)
}

/// Reverse of the coefficients and box sides of body `b` (mass `m`, principal moments
/// `moments`, sides `s`): density, viscosity, mass and inertia adjoints.
#[allow(clippy::too_many_arguments)]
fn coefficients_vjp(
    model: &Model,
    params: &Params,
    s: &Vec3,
    (cw_bar, cv_bar, dd_bar, ee_bar): (f64, f64, Vec3, Vec3),
    m: f64,
    moments: &Vec3,
    b: usize,
    pb: &mut Params,
) {
    let (rho, mu) = (params.fluid_density, params.fluid_viscosity);
    let d = (s.x + s.y + s.z) / 3.0;
    let q = s.map(|x| x.powi(4));
    let q3 = s.map(|x| 4.0 * x.powi(3));
    // c_w = pi d^3 mu, c_v = 3 pi d mu
    pb.fluid_viscosity += PI * d * d * d * cw_bar + 3.0 * PI * d * cv_bar;
    let d_bar = 3.0 * PI * d * d * mu * cw_bar + 3.0 * PI * mu * cv_bar;
    let mut s_bar = Vec3::repeat(d_bar / 3.0);
    // D_k = rho s_k (s_j^4 + s_l^4) / 64, E_k = rho s_j s_l / 2
    let idx = [(0, 1, 2), (1, 0, 2), (2, 0, 1)];
    for &(k, j, l) in &idx {
        pb.fluid_density += dd_bar[k] * s[k] * (q[j] + q[l]) / 64.0;
        pb.fluid_density += ee_bar[k] * 0.5 * s[j] * s[l];
        s_bar[k] += dd_bar[k] * rho * (q[j] + q[l]) / 64.0;
        s_bar[j] += dd_bar[k] * rho * s[k] * q3[j] / 64.0;
        s_bar[l] += dd_bar[k] * rho * s[k] * q3[l] / 64.0;
        s_bar[j] += ee_bar[k] * 0.5 * rho * s[l];
        s_bar[l] += ee_bar[k] * 0.5 * rho * s[j];
    }
    // s_k = sqrt(max(MINVAL, x_k) / m * 6), x = (I1 + I2 - I0, I0 + I2 - I1, I0 + I1 - I2)
    let i = moments;
    let x = Vec3::new(i.y + i.z - i.x, i.x + i.z - i.y, i.x + i.y - i.z);
    let mut i_bar = Vec3::zeros();
    for k in 0..3 {
        if s[k] == 0.0 {
            continue;
        }
        pb.body_mass[b] += s_bar[k] * (-s[k] / (2.0 * m));
        if x[k] > MINVAL {
            let x_bar = s_bar[k] * 3.0 / (m * s[k]);
            for (j, ib) in i_bar.iter_mut().enumerate() {
                *ib += if j == k { -x_bar } else { x_bar };
            }
        }
    }
    // moments = diag(R_p^T I R_p): I_bar += R_p diag(i_bar) R_p^T
    let rp = &model.body_fluid_frame[b];
    pb.body_inertia[b] += rp * Mat3::from_diagonal(&i_bar) * rp.transpose();
}

/// Reverse of [`crate::dynamics::forces::applied`] seeded with `mu` (nv, the adjoint of
/// `qfrc_passive`): with `m_b = sum_{d on b's path} mu_d cdof_d = (a, c)`, the wrench's adjoint
/// gives `t_bar = a`, `f_bar = c + a x p` (into `pb.body_xfrc`), the centre of mass `p_bar = f x
/// a` (the body pose and `body_ipos`), and `cdof_bar_d += mu_d F_b` summed over d's subtree.
/// Written beside the fluid's reverse, whose body-wrench pattern it shares.
pub fn applied_vjp(
    model: &Model,
    params: &Params,
    data: &Data,
    mu: &[f64],
    adj: &mut PosAdjoint,
    pb: &mut Params,
) {
    body_wrenches_vjp(model, data, mu, adj, |b, m, adj| {
        let w = &params.body_xfrc[b];
        let (a, c) = (m.ang, m.lin);
        let p = data.xipos[b];
        let f_bar = c + a.cross(&p);
        let xb = &mut pb.body_xfrc[b];
        for k in 0..3 {
            xb[k] += f_bar[k];
            xb[3 + k] += a[k];
        }
        if w.iter().all(|&x| x == 0.0) {
            return None;
        }
        let f = Vec3::new(w[0], w[1], w[2]);
        let p_bar = f.cross(&a);
        adj.body_wrench[b] += Force::new(p.cross(&p_bar), p_bar);
        pb.body_ipos[b] += data.xmat[b].transpose() * p_bar;
        Some(crate::dynamics::forces::applied_wrench(data, b, w))
    });
}

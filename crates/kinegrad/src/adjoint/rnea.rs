//! Reverse of [`crate::dynamics::rnea`] (inverse dynamics), and of the armature term that
//! [`crate::dynamics::crba`] adds to the mass matrix. The mass matrix itself has no reverse of
//! its own: `M a` is inverse dynamics at (q, 0, a) without gravity, so the reverse pass goes
//! through [`rnea_vjp`] and never forms dM/dq.

use super::kinematics::{InertiaBar, PosAdjoint};
use crate::data::Data;
use crate::math::{Force, Inertia, Motion, Vec3};
use crate::model::{Model, Params};

/// VJP of `f = I m` for `f_bar`: returns `m_bar` and accumulates the inertia adjoint.
#[inline]
pub fn inertia_product_vjp(
    inert: &Inertia,
    m: &Motion,
    f_bar: &Motion,
    ibar: &mut InertiaBar,
) -> Force {
    // f.ang = i_o w + h x v ; f.lin = mass v - h x w
    let (a, l) = (f_bar.ang, f_bar.lin);
    ibar.i_o += a * m.ang.transpose();
    ibar.h += m.lin.cross(&a) + l.cross(&m.ang);
    ibar.mass += l.dot(&m.lin);
    // m_bar = I^T f_bar = I f_bar (the operator is symmetric)
    inert.mul_motion(f_bar)
}

/// Reverse of [`crate::dynamics::rnea::rnea`], `tau = ID(q, v, a)`, seeded with `tau_bar`: accumulates `v_bar`, `cdof_bar`,
/// `cdof_dot_bar`, `cvel_bar`, `inert_bar` and `gravity_bar`. Needs the forward quantities at
/// (q, v) in `data` (`cdof`, `cdof_dot`, `cinert`, `cvel`); `a` is the acceleration ID was
/// evaluated at (None for the bias force).
#[allow(clippy::too_many_arguments)]
pub fn rnea_vjp(
    model: &Model,
    params: &Params,
    data: &Data,
    v: &[f64],
    a: Option<&[f64]>,
    tau_bar: &[f64],
    adj: &mut PosAdjoint,
    v_bar: &mut [f64],
    gravity_bar: &mut Vec3,
) {
    let nb = model.nbody;
    // Bodies with no dof between them and the world (`body_dof_last` unset) feel no joint
    // force: their force adjoint is zero, so they only pass acceleration adjoints on.
    let fixed = |b: usize| data.body_dof_last[b] == usize::MAX;
    // recompute body accelerations and local forces (forward pass of RNEA)
    let mut acc = std::mem::take(&mut adj.acc);
    let mut total = std::mem::take(&mut adj.total);
    let mut mom = std::mem::take(&mut adj.mom);
    acc[0] = Motion::new(Vec3::zeros(), -params.gravity);
    for b in 1..nb {
        let mut x = acc[model.body_parent[b]];
        for d in model.body_dof_adr[b]..model.body_dof_adr[b] + model.body_dof_num[b] {
            x += data.cdof_dot[d] * v[d];
            if let Some(a) = a {
                x += data.cdof[d] * a[d];
            }
        }
        acc[b] = x;
    }
    // subtree force totals F_b at this acceleration (the momenta I V are kept for the reverse)
    total[0] = Force::zero();
    for b in 1..nb {
        if fixed(b) {
            total[b] = Force::zero();
            continue;
        }
        let (inert, vel) = (&data.cinert[b], &data.cvel[b]);
        let p = inert.mul_motion(vel);
        mom[b] = p;
        total[b] = inert.mul_motion(&acc[b]) + vel.cross_force(&p);
    }
    for b in (1..nb).rev() {
        let p = model.body_parent[b];
        if p != 0 {
            let f = total[b];
            total[p] += f;
        }
    }
    // tau_d = <S_d, F_body(d)>
    for b in 0..nb {
        adj.frc_bar[b] = Motion::zero();
    }
    for d in 0..model.nv {
        let b = model.dof_body[d];
        adj.frc_bar[b] += data.cdof[d] * tau_bar[d];
        adj.cdof_bar[d] += total[b] * tau_bar[d];
    }
    // reverse of the force accumulation: a subtree force feeds every ancestor's total
    for b in 1..nb {
        let p = model.body_parent[b];
        if p != 0 {
            let up = adj.frc_bar[p];
            adj.frc_bar[b] += up;
        }
    }
    // local forces f_b = I acc + V x* (I V), then accelerations, leaves to root
    for b in 0..nb {
        adj.acc_bar[b] = Force::zero();
    }
    for b in (1..nb).rev() {
        let p = model.body_parent[b];
        if fixed(b) {
            // zero force adjoint, no dofs: only the children's acceleration adjoints pass on
            let ab = adj.acc_bar[b];
            adj.acc_bar[p] += ab;
            continue;
        }
        let fb = adj.frc_bar[b];
        let inert = &data.cinert[b];
        let vel = data.cvel[b];
        let mut ib = adj.inert_bar[b];
        // I acc
        let acc_b = inertia_product_vjp(inert, &acc[b], &fb, &mut ib);
        // V x* p, p = I V
        // <fb, dV x* p> = -<dV, fb x* p> ; <fb, V x* dp> = -<V x fb, dp>
        let mut vel_bar = -(fb.cross_force(&mom[b]));
        let p_bar = -(vel.cross_motion(&fb));
        vel_bar += inertia_product_vjp(inert, &vel, &p_bar, &mut ib);
        adj.inert_bar[b] = ib;
        adj.cvel_bar[b] += vel_bar;
        // acc_b = acc_parent + sum (cdof_dot v + cdof a)
        let mut ab = adj.acc_bar[b];
        ab += acc_b;
        for d in model.body_dof_adr[b]..model.body_dof_adr[b] + model.body_dof_num[b] {
            adj.cdof_dot_bar[d] += ab * v[d];
            v_bar[d] += data.cdof_dot[d].dot(&ab);
            if let Some(a) = a {
                adj.cdof_bar[d] += ab * a[d];
            }
        }
        adj.acc_bar[p] += ab;
    }
    // the world's acceleration is -g
    *gravity_bar -= adj.acc_bar[0].lin;
    adj.acc = acc;
    adj.total = total;
    adj.mom = mom;
}

/// Reverse of the armature term of [`crate::dynamics::crba::crba`] (`M += diag(armature)`)
/// in the product `M a`, seeded with `f_bar` (the adjoint of `M a`): accumulates
/// `armature_bar += f_bar a`.
pub fn armature_vjp(a: &[f64], f_bar: &[f64], armature_bar: &mut [f64]) {
    for ((x, ai), fb) in armature_bar.iter_mut().zip(a).zip(f_bar) {
        *x += fb * ai;
    }
}

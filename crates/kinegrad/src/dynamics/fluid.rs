//! MuJoCo's inertia-box fluid model (`mj_inertiaBoxFluidModel`): each body moving through a
//! medium of density `rho` and viscosity `mu` (optionally blowing at `wind`) feels, in the frame
//! of its principal axes of inertia, a linear (viscous) and a quadratic (drag) force and torque
//! of the box that has its mass and principal moments.
//!
//! For a body of mass `m` and principal moments `I_0, I_1, I_2`, the box has sides
//! `b_k = sqrt(max(eps, I_j + I_l - I_k) / m * 6)` (`j, l` the other axes). With `w` and `v`
//! the angular velocity and the velocity of the centre of mass relative to the wind, both in
//! the principal frame, `d = (b_0 + b_1 + b_2) / 3`:
//!
//! * torque `t_k = -pi d^3 mu w_k - D_k |w_k| w_k`, `D_k = rho b_k (b_j^4 + b_l^4) / 64`;
//! * force `f_k = -3 pi d mu v_k - E_k |v_k| v_k`, `E_k = rho b_j b_l / 2`;
//!
//! applied at the centre of mass and mapped to the dofs by `J^T`. Bodies lighter than `1e-15`
//! feel nothing. The principal frame is [`Model::body_fluid_frame`] (built with the model); a
//! changed inertia parameter enters through its diagonal in that frame. The reverse is
//! [`crate::adjoint::fluid`]. MuJoCo's geom-level ellipsoid model (`fluidshape`) is not built.

use crate::data::Data;
use crate::math::{Force, Mat3, Vec3};
use crate::model::{Model, Params};
use std::f64::consts::PI;

/// Lighter bodies feel no fluid; the box sides' floor.
pub use crate::math::MINVAL;

/// Whether the medium acts at all (a density or a viscosity).
pub fn active(params: &Params) -> bool {
    params.fluid_density > 0.0 || params.fluid_viscosity > 0.0
}

/// The principal moments of body `b`'s inertia parameter: its diagonal in the body's fluid
/// frame.
pub fn principal_moments(model: &Model, params: &Params, b: usize) -> Vec3 {
    let r = &model.body_fluid_frame[b];
    (r.transpose() * params.body_inertia[b] * r).diagonal()
}

/// Box sides `b_k = sqrt(max(MINVAL, I_j + I_l - I_k) / m * 6)`.
pub fn box_sides(mass: f64, moments: &Vec3) -> Vec3 {
    let i = moments;
    let s = Vec3::new(i.y + i.z - i.x, i.x + i.z - i.y, i.x + i.y - i.z);
    s.map(|x| (x.max(MINVAL) / mass * 6.0).sqrt())
}

/// The drag coefficients of a box with sides `b`: `(c_w, c_v, D, E)` with the torque
/// `t_k = -c_w w_k - D_k |w_k| w_k` and the force `f_k = -c_v v_k - E_k |v_k| v_k`.
pub fn coefficients(params: &Params, b: &Vec3) -> (f64, f64, Vec3, Vec3) {
    let (rho, mu) = (params.fluid_density, params.fluid_viscosity);
    let d = (b.x + b.y + b.z) / 3.0;
    let q = b.map(|x| x.powi(4));
    (
        PI * d * d * d * mu,
        3.0 * PI * d * mu,
        Vec3::new(
            rho * b.x * (q.y + q.z) / 64.0,
            rho * b.y * (q.x + q.z) / 64.0,
            rho * b.z * (q.x + q.y) / 64.0,
        ),
        Vec3::new(
            0.5 * rho * b.y * b.z,
            0.5 * rho * b.x * b.z,
            0.5 * rho * b.x * b.y,
        ),
    )
}

/// The local torque and force of [`coefficients`] at the local angular velocity `w` and
/// relative velocity `v`.
pub fn local_drag(c: &(f64, f64, Vec3, Vec3), w: &Vec3, v: &Vec3) -> (Vec3, Vec3) {
    let (cw, cv, dd, ee) = c;
    (
        Vec3::from_fn(|k, _| -cw * w[k] - dd[k] * w[k].abs() * w[k]),
        Vec3::from_fn(|k, _| -cv * v[k] - ee[k] * v[k].abs() * v[k]),
    )
}

/// Body `b`'s principal frame in the world (`R_b R_p`, MuJoCo's `ximat`).
pub fn world_frame(model: &Model, data: &Data, b: usize) -> Mat3 {
    data.xmat[b] * model.body_fluid_frame[b]
}

/// The fluid's wrench on body `b` at the world origin (torque about the origin, force), zero
/// for a body lighter than [`MINVAL`]. Needs kinematics and `cvel`.
pub fn body_wrench(model: &Model, params: &Params, data: &Data, b: usize) -> Force {
    let m = params.body_mass[b];
    if !(m >= MINVAL) {
        return Force::zero();
    }
    let sides = box_sides(m, &principal_moments(model, params, b));
    let c = coefficients(params, &sides);
    let r = world_frame(model, data, b);
    let p = data.xipos[b];
    let (w, vo) = (data.cvel[b].ang, data.cvel[b].lin);
    let vc = vo + w.cross(&p) - params.wind;
    let (lt, lf) = local_drag(&c, &(r.transpose() * w), &(r.transpose() * vc));
    let (t, f) = (r * lt, r * lf);
    Force::new(t + p.cross(&f), f)
}

/// Add the fluid's generalized forces `J^T F` to `data.qfrc_passive` (nothing without a
/// medium; `data.fluid_frc` then keeps the last medium's wrenches). Needs kinematics, `cvel`
/// and `cdof`.
pub fn fluid(model: &Model, params: &Params, data: &mut Data) {
    if !active(params) {
        return;
    }
    let mut frc = std::mem::take(&mut data.fluid_frc);
    frc[0] = Force::zero();
    for (b, f) in frc.iter_mut().enumerate().skip(1) {
        *f = body_wrench(model, params, data, b);
    }
    // subtree sums: a dof carries the wrenches of every body it moves
    for b in (1..model.nbody).rev() {
        let f = frc[b];
        frc[model.body_parent[b]] += f;
    }
    for d in 0..model.nv {
        data.qfrc_passive[d] += data.cdof[d].dot(&frc[model.dof_body[d]]);
    }
    data.fluid_frc = frc;
}

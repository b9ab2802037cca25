//! Reverse of [`crate::readings`]: the adjoint of every body's reading, and of the tendons'
//! lengths, pulled back to the configuration, the velocity and the parameters.

use super::kinematics::{com_vel_vjp, position_vjp, PosAdjoint};
use super::state::normalize_quaternions_vjp;
use super::StepGrad;
use crate::data::Data;
use crate::math::{Force, Vec3};
use crate::model::{Model, Params};
use crate::readings::{field, LINK_STATE};
use crate::state::normalize_quaternions;

/// Reverse of [`crate::readings::link_states`] at (q, v) (`q` with normalized quaternion
/// blocks): `bar` holds the adjoint of every body's reading (nbody * [`LINK_STATE`], packed
/// as the forward packs them). Overwrites `grad.q`, `grad.v`; accumulates parameter adjoints
/// (the centre of mass does not enter these readings, so they stay zero).
pub fn link_states_vjp_at(
    model: &Model,
    params: &Params,
    q: &[f64],
    v: &[f64],
    data: &mut Data,
    bar: &[f64],
    grad: &mut StepGrad,
) {
    crate::pipeline::kinematics(model, params, q, data);
    crate::kinematics::com_vel(model, v, data);
    let mut adj = PosAdjoint::new(model);
    let v3 = |x: &[f64]| Vec3::from_column_slice(x);
    for (b, r) in bar
        .chunks(LINK_STATE)
        .enumerate()
        .skip(1)
        .take(model.nbody - 1)
    {
        let p = data.xpos[b];
        let qt = data.xquat[b];
        let qq = [qt.w, qt.i, qt.j, qt.k];
        let qbr = &r[field("quat")];
        // position: the body origin moves as a body point
        let mut p_bar = v3(&r[field("pos")]);
        // quaternion: dQ = (0, w/2) (x) Q  =>  W.ang += Im(qb (x) Q*) / 2
        let conj = [qq[0], -qq[1], -qq[2], -qq[3]];
        let im = [
            qbr[0] * conj[1] + qbr[1] * conj[0] + qbr[2] * conj[3] - qbr[3] * conj[2],
            qbr[0] * conj[2] - qbr[1] * conj[3] + qbr[2] * conj[0] + qbr[3] * conj[1],
            qbr[0] * conj[3] + qbr[1] * conj[2] - qbr[2] * conj[1] + qbr[3] * conj[0],
        ];
        let mut w = Force::new(Vec3::new(im[0], im[1], im[2]) * 0.5, Vec3::zeros());
        // origin velocity = cvel.lin + cvel.ang x p
        let l = v3(&r[field("vel")]);
        adj.cvel_bar[b] += Force::new(p.cross(&l) + v3(&r[field("ang")]), l);
        p_bar += l.cross(&data.cvel[b].ang);
        w += Force::new(p.cross(&p_bar), p_bar);
        adj.body_wrench[b] += w;
    }
    grad.q.iter_mut().for_each(|x| *x = 0.0);
    grad.v.iter_mut().for_each(|x| *x = 0.0);
    com_vel_vjp(model, data, v, &mut adj, &mut grad.v);
    position_vjp(
        model,
        params,
        data,
        q,
        &mut adj,
        &mut grad.q,
        &mut grad.params,
    );
}

/// [`link_states_vjp_at`] at the raw `q` a caller gave (the forward normalizes its quaternion
/// blocks first, and the adjoint is pulled back through that normalization).
pub fn link_states_vjp(
    model: &Model,
    params: &Params,
    q: &[f64],
    v: &[f64],
    data: &mut Data,
    bar: &[f64],
    grad: &mut StepGrad,
) {
    let mut qn = q.to_vec();
    normalize_quaternions(model, &mut qn);
    link_states_vjp_at(model, params, &qn, v, data, bar, grad);
    normalize_quaternions_vjp(model, q, &mut grad.q);
}

/// Reverse of [`crate::readings::tendon_lengths`] at the raw `q` a caller gave (normalized
/// first, as the forward does): `bar` (ntendon) the lengths' adjoint. Overwrites `grad.q`
/// (`grad.v` zero); no parameter enters the lengths.
pub fn tendon_lengths_vjp(
    model: &Model,
    params: &Params,
    q: &[f64],
    data: &mut Data,
    bar: &[f64],
    grad: &mut StepGrad,
) {
    let mut qn = q.to_vec();
    normalize_quaternions(model, &mut qn);
    crate::pipeline::kinematics(model, params, &qn, data);
    let mut adj = PosAdjoint::new(model);
    grad.q.iter_mut().for_each(|x| *x = 0.0);
    grad.v.iter_mut().for_each(|x| *x = 0.0);
    for (t, &b) in bar.iter().enumerate() {
        adj.tendon_bar.add_length(model, t, b, &mut grad.q);
    }
    super::tendon::tendons_vjp(model, data, &mut adj);
    position_vjp(
        model,
        params,
        data,
        &qn,
        &mut adj,
        &mut grad.q,
        &mut grad.params,
    );
    normalize_quaternions_vjp(model, q, &mut grad.q);
}

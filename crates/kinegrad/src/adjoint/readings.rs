//! Reverse of [`crate::readings`]: the adjoint of every body's reading pulled back to the
//! configuration, the velocity and the parameters.

use super::kinematics::kinematics_vjp;
use super::state::normalize_quaternions_vjp;
use super::StepGrad;
use crate::data::Data;
use crate::math::Vec3;
use crate::model::{Model, Params};
use crate::readings::{LINK_FIELDS, LINK_STATE};
use crate::state::normalize_quaternions;

/// Reverse of [`crate::readings::link_states`] at the raw `q` a caller gave (the forward
/// normalizes its quaternion blocks first, and so the adjoint is pulled back through that
/// normalization): `bar` holds the adjoint of every body's reading (nbody * 13). Writes
/// `grad.q` and `grad.v`, accumulates `grad.params`.
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
    let field = |f: usize| -> Vec<&[f64]> {
        let (lo, k) = LINK_FIELDS[f];
        bar.chunks(LINK_STATE).map(|r| &r[lo..lo + k]).collect()
    };
    let v3 =
        |f: usize| -> Vec<Vec3> { field(f).into_iter().map(Vec3::from_column_slice).collect() };
    let quat: Vec<[f64; 4]> = field(1)
        .into_iter()
        .map(|c| [c[0], c[1], c[2], c[3]])
        .collect();
    kinematics_vjp(
        model,
        params,
        &qn,
        v,
        data,
        &v3(0),
        &quat,
        &v3(2),
        &v3(3),
        grad,
    );
    normalize_quaternions_vjp(model, q, &mut grad.q);
}

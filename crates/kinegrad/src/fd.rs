//! Finite-difference twins of the step, for tests and debugging.

use crate::data::Data;
use crate::error::Result;
use crate::model::{Model, Params};
use crate::pipeline;
use crate::state::{Control, State, StepCarry};

/// `p + s * dp`, field by field.
pub fn params_axpy(p: &Params, s: f64, dp: &Params) -> Params {
    let mut out = p.clone();
    out.gravity += dp.gravity * s;
    let add = |x: &mut [f64], y: &[f64]| x.iter_mut().zip(y).for_each(|(a, b)| *a += s * b);
    add(&mut out.body_mass, &dp.body_mass);
    add(&mut out.dof_damping, &dp.dof_damping);
    add(&mut out.dof_armature, &dp.dof_armature);
    add(&mut out.dof_kp, &dp.dof_kp);
    add(&mut out.dof_kv, &dp.dof_kv);
    add(&mut out.dof_stiffness, &dp.dof_stiffness);
    out.body_ipos
        .iter_mut()
        .zip(&dp.body_ipos)
        .for_each(|(a, b)| *a += b * s);
    out.body_inertia
        .iter_mut()
        .zip(&dp.body_inertia)
        .for_each(|(a, b)| *a += b * s);
    out.geom_friction
        .iter_mut()
        .zip(&dp.geom_friction)
        .for_each(|(a, b)| (0..3).for_each(|k| a[k] += s * b[k]));
    out.dof_force_range
        .iter_mut()
        .zip(&dp.dof_force_range)
        .for_each(|(a, b)| (0..2).for_each(|k| a[k] += s * b[k]));
    out
}

/// Inner product of two parameter sets (the directions a gradient pairs with).
pub fn params_dot(a: &Params, b: &Params) -> f64 {
    let dot = |x: &[f64], y: &[f64]| x.iter().zip(y).map(|(p, q)| p * q).sum::<f64>();
    a.gravity.dot(&b.gravity)
        + dot(&a.body_mass, &b.body_mass)
        + dot(&a.dof_damping, &b.dof_damping)
        + dot(&a.dof_armature, &b.dof_armature)
        + dot(&a.dof_kp, &b.dof_kp)
        + dot(&a.dof_kv, &b.dof_kv)
        + dot(&a.dof_stiffness, &b.dof_stiffness)
        + a.body_ipos
            .iter()
            .zip(&b.body_ipos)
            .map(|(p, q)| p.dot(q))
            .sum::<f64>()
        + a.body_inertia
            .iter()
            .zip(&b.body_inertia)
            .map(|(p, q)| p.component_mul(q).sum())
            .sum::<f64>()
        + a.geom_friction
            .iter()
            .zip(&b.geom_friction)
            .map(|(p, q)| dot(p, q))
            .sum::<f64>()
        + a.dof_force_range
            .iter()
            .zip(&b.dof_force_range)
            .filter(|(p, _)| p.iter().all(|x| x.is_finite()))
            .map(|(p, q)| dot(p, q))
            .sum::<f64>()
}

/// A direction in the inputs of a step.
#[derive(Clone, Debug)]
pub struct StepDirection {
    /// Direction in q (nq).
    pub q: Vec<f64>,
    /// Direction in v (nv).
    pub v: Vec<f64>,
    /// Direction in the control targets (nv).
    pub target: Vec<f64>,
    /// Direction in the parameters.
    pub params: Params,
}

/// Central finite-difference directional derivative of `step` along `dir`: (dq', dv'), each
/// step solved cold.
pub fn step_jvp_fd(
    model: &Model,
    params: &Params,
    state: &State,
    control: &Control,
    dir: &StepDirection,
    eps: f64,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let eval = |s: f64| -> Result<State> {
        let mut st = state.clone();
        st.q.iter_mut().zip(&dir.q).for_each(|(a, b)| *a += s * b);
        st.v.iter_mut().zip(&dir.v).for_each(|(a, b)| *a += s * b);
        let mut c = control.clone();
        c.target
            .iter_mut()
            .zip(&dir.target)
            .for_each(|(a, b)| *a += s * b);
        let p = params_axpy(params, s, &dir.params);
        let mut d = Data::new(model);
        pipeline::step(model, &p, &mut st, &c, &mut StepCarry::new(model), &mut d)?;
        Ok(st)
    };
    let plus = eval(eps)?;
    let minus = eval(-eps)?;
    let dq = plus
        .q
        .iter()
        .zip(&minus.q)
        .map(|(a, b)| (a - b) / (2.0 * eps))
        .collect();
    let dv = plus
        .v
        .iter()
        .zip(&minus.v)
        .map(|(a, b)| (a - b) / (2.0 * eps))
        .collect();
    Ok((dq, dv))
}

//! Finite-difference twins of the step, for tests and debugging.

use crate::data::Data;
use crate::error::Result;
use crate::model::params::PARAM_FIELDS;
use crate::model::{Model, Params};
use crate::pipeline;
use crate::state::{Control, State, StepCarry};

/// `p + s * dp`, field by field ([`PARAM_FIELDS`]).
pub fn params_axpy(p: &Params, s: f64, dp: &Params) -> Params {
    let mut out = p.clone();
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for f in &PARAM_FIELDS {
        x.clear();
        y.clear();
        f.read(p, &mut x);
        f.read(dp, &mut y);
        x.iter_mut().zip(&y).for_each(|(a, b)| *a += s * b);
        f.write_unchecked(&mut out, &x);
    }
    out
}

/// Inner product of two parameter sets (the directions a gradient pairs with), field by field
/// ([`PARAM_FIELDS`]); a force range with an infinite bound in `a` (no limit) adds nothing.
pub fn params_dot(a: &Params, b: &Params) -> f64 {
    let (mut x, mut y) = (Vec::new(), Vec::new());
    let mut sum = 0.0;
    for f in &PARAM_FIELDS {
        x.clear();
        y.clear();
        f.read(a, &mut x);
        f.read(b, &mut y);
        let k = if f.name.ends_with("force_range") {
            2
        } else {
            1
        };
        for (p, q) in x.chunks(k).zip(y.chunks(k)) {
            if p.iter().all(|v| v.is_finite()) {
                sum += p.iter().zip(q).map(|(u, w)| u * w).sum::<f64>();
            }
        }
    }
    sum
}

/// A direction in the inputs of a step.
#[derive(Clone, Debug)]
pub struct StepDirection {
    /// Direction in q (nq).
    pub q: Vec<f64>,
    /// Direction in v (nv).
    pub v: Vec<f64>,
    /// Direction in the control targets (nu; a shorter one leaves the last channels alone).
    pub target: Vec<f64>,
    /// Direction in the parameters.
    pub params: Params,
}

impl StepDirection {
    /// The change of a loss along this direction that the step gradient `g` predicts: the sum
    /// of each input's direction times its adjoint (the right side of a dot-product test).
    pub fn dot(&self, g: &crate::adjoint::StepGrad) -> f64 {
        let d = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
        d(&self.q, &g.q)
            + d(&self.v, &g.v)
            + d(&self.target, &g.target)
            + params_dot(&self.params, &g.params)
    }
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

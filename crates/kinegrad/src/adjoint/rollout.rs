//! Whole trajectories: roll out T steps keeping the states, then run the reverse pass from
//! per-step seed adjoints. Memory is O(T (nq + nv)); substep internals are recomputed.

use super::step::step_vjp;
use super::{params_zeros, StepGrad};
use crate::data::Data;
use crate::error::{Error, Result};
use crate::model::{Model, Params};
use crate::pipeline;
use crate::state::{Control, State};

/// Roll out `controls.len()` steps from `init`; returns the T + 1 states (the first is `init`).
pub fn rollout(
    model: &Model,
    params: &Params,
    init: &State,
    controls: &[Control],
    data: &mut Data,
) -> Result<Vec<State>> {
    let mut states = Vec::with_capacity(controls.len() + 1);
    states.push(init.clone());
    let mut s = init.clone();
    for (t, c) in controls.iter().enumerate() {
        pipeline::step(model, params, &mut s, c, data).map_err(|e| match e {
            Error::Diverged { step, message } => Error::Diverged {
                step,
                message: format!("rollout step {t}: {message}"),
            },
            other => other,
        })?;
        states.push(s.clone());
    }
    Ok(states)
}

/// Adjoints of a trajectory's inputs.
#[derive(Clone, Debug)]
pub struct RolloutGrad {
    /// dL/dq of the initial state (nq).
    pub q0: Vec<f64>,
    /// dL/dv of the initial state (nv).
    pub v0: Vec<f64>,
    /// dL/d(control target) of each step (T x nv).
    pub targets: Vec<Vec<f64>>,
    /// dL/d(parameters), summed over the steps.
    pub params: Params,
}

/// Reverse pass over a trajectory from [`rollout`]. `seed(t, state, q_bar, v_bar)` adds the
/// direct adjoint dL/d(state t) for t = 1..=T into `q_bar`, `v_bar` (zeroed before each call).
pub fn rollout_vjp(
    model: &Model,
    params: &Params,
    states: &[State],
    controls: &[Control],
    data: &mut Data,
    mut seed: impl FnMut(usize, &State, &mut [f64], &mut [f64]),
) -> Result<RolloutGrad> {
    let t_end = controls.len();
    if states.len() != t_end + 1 {
        return Err(Error::invalid(
            "rollout_vjp",
            format!(
                "expected {} states for {} controls, got {}",
                t_end + 1,
                t_end,
                states.len()
            ),
        ));
    }
    let mut qb = vec![0.0; model.nq];
    let mut vb = vec![0.0; model.nv];
    let mut direct_q = vec![0.0; model.nq];
    let mut direct_v = vec![0.0; model.nv];
    let mut grad = StepGrad::zeros(model);
    let mut targets = vec![vec![0.0; model.nv]; t_end];
    for t in (0..t_end).rev() {
        direct_q.iter_mut().for_each(|x| *x = 0.0);
        direct_v.iter_mut().for_each(|x| *x = 0.0);
        seed(t + 1, &states[t + 1], &mut direct_q, &mut direct_v);
        qb.iter_mut().zip(&direct_q).for_each(|(a, b)| *a += b);
        vb.iter_mut().zip(&direct_v).for_each(|(a, b)| *a += b);
        grad.target.iter_mut().for_each(|x| *x = 0.0);
        step_vjp(
            model,
            params,
            &states[t],
            &controls[t],
            data,
            &qb,
            &vb,
            &mut grad,
        )
        .map_err(|e| match e {
            Error::Diverged { step, message } => Error::Diverged {
                step,
                message: format!("backward through step {t}: {message}"),
            },
            other => other,
        })?;
        targets[t].copy_from_slice(&grad.target);
        qb.copy_from_slice(&grad.q);
        vb.copy_from_slice(&grad.v);
    }
    let mut params_bar = params_zeros(model);
    std::mem::swap(&mut params_bar, &mut grad.params);
    Ok(RolloutGrad {
        q0: qb,
        v0: vb,
        targets,
        params: params_bar,
    })
}

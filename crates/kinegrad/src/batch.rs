//! Many independent copies of one model stepped in parallel (one per env).

use crate::data::Data;
use crate::error::{Error, Result};
use crate::model::{Model, Params};
use crate::pipeline;
use crate::state::{Control, State};
use rayon::prelude::*;
use std::sync::Mutex;

/// One env: its state, control, parameters and scratch.
#[derive(Clone, Debug)]
pub struct Env {
    /// State.
    pub state: State,
    /// Control.
    pub control: Control,
    /// Physical parameters.
    pub params: Params,
    /// Scratch.
    pub data: Data,
}

impl Env {
    /// An env at the model's reference configuration with default parameters.
    pub fn new(model: &Model) -> Self {
        Self {
            state: State::new(model),
            control: Control::new(model),
            params: model.params0.clone(),
            data: Data::new(model),
        }
    }
}

/// Step every env once, in parallel over the rayon pool (a single env is stepped on the
/// calling thread). Every env is stepped even if one fails; a failing env keeps its state
/// and the error of the lowest-numbered failing env is returned, naming it.
pub fn step_all(model: &Model, envs: &mut [Env]) -> Result<()> {
    step_all_n(model, envs, 1)
}

/// Step every env `nsteps` times, each env's steps one task of the rayon pool (a single env
/// on the calling thread). Envs are independent, so this equals `nsteps` calls of
/// [`step_all`]; running them env by env keeps an env's scratch in cache for all its steps
/// instead of sweeping every env's scratch at every step (which, at a thousand envs, no
/// longer fits in the caches). A failing env stops at its failing step, keeping the state
/// before it; the others run all their steps; the error of the lowest-numbered failing env is
/// returned, naming it.
pub fn step_all_n(model: &Model, envs: &mut [Env], nsteps: usize) -> Result<()> {
    let run = |e: &mut Env| -> Result<()> {
        for _ in 0..nsteps {
            pipeline::step(model, &e.params, &mut e.state, &e.control, &mut e.data)?;
        }
        Ok(())
    };
    if let [e] = envs {
        return run(e);
    }
    let first_error: Mutex<Option<(usize, Error)>> = Mutex::new(None);
    envs.par_iter_mut().enumerate().for_each(|(i, e)| {
        if let Err(err) = run(e) {
            let mut slot = first_error.lock().unwrap_or_else(|p| p.into_inner());
            if slot.as_ref().is_none_or(|(j, _)| i < *j) {
                *slot = Some((i, err));
            }
        }
    });
    match first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        None => Ok(()),
        Some((i, err)) => Err(err.in_env(i)),
    }
}

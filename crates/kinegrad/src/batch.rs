//! Many independent copies of one model stepped in parallel (one per env).

use crate::data::Data;
use crate::error::Result;
use crate::model::{Model, Params};
use crate::pipeline;
use crate::state::{Control, State};
use rayon::prelude::*;

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
/// calling thread). Stops at the first failing env's error.
pub fn step_all(model: &Model, envs: &mut [Env]) -> Result<()> {
    if let [e] = envs {
        return pipeline::step(model, &e.params, &mut e.state, &e.control, &mut e.data);
    }
    envs.par_iter_mut()
        .try_for_each(|e| pipeline::step(model, &e.params, &mut e.state, &e.control, &mut e.data))
}

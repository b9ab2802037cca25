//! `step`: composes the stages. No physics lives here.

use crate::data::Data;
use crate::error::Result;
use crate::model::{Model, Params};
use crate::state::{Control, State};

/// Advance `state` by one step (`model.opt.substeps` substeps of `timestep / substeps`).
pub fn step(model: &Model, params: &Params, state: &mut State, control: &Control, data: &mut Data) -> Result<()> {
    let _ = (model, params, state, control, data);
    unimplemented!("being written")
}

/// Position-dependent quantities only (poses of bodies and geoms): what readings need.
pub fn kinematics(model: &Model, params: &Params, q: &[f64], data: &mut Data) {
    let _ = (model, params, q, data);
    unimplemented!("being written")
}

//! `step_vjp`: the reverse of [`crate::pipeline::step`]. (Being written.)

use super::StepGrad;
use crate::data::Data;
use crate::error::Result;
use crate::model::{Model, Params};
use crate::state::{Control, State};

/// Reverse of one `step` from `state` (the state before the step) under `control`:
/// given dL/dq' and dL/dv' of the state after the step, fill `grad.q`, `grad.v` (overwritten)
/// and accumulate into `grad.target` and `grad.params`. Recomputes the forward substeps.
pub fn step_vjp(
    model: &Model,
    params: &Params,
    state: &State,
    control: &Control,
    data: &mut Data,
    q_out_bar: &[f64],
    v_out_bar: &[f64],
    grad: &mut StepGrad,
) -> Result<()> {
    let _ = (model, params, state, control, data, q_out_bar, v_out_bar, grad);
    unimplemented!("being written")
}

//! Activation dynamics (MuJoCo's `dyntype`): a channel with an activation state `a` drives its
//! actuator law with `a` instead of its target `u`, and `a` follows `u` through a filter or an
//! integrator, one update per substep:
//!
//! - filter: `a' = a + h (u - a) / tau` (explicit Euler, as MuJoCo integrates it);
//! - exact filter: `a' = a + (u - a) (1 - exp(-h / tau))`;
//! - integrator: `a' = a + h u`;
//!
//! then `a'` clamped to the activation's range. `u` is the target as the law would read it
//! ([`channel_target`]: clamped to the channel's range). The law reads `a` (the activation at
//! the start of the substep, so a control acts one substep later) or, for an `actearly`
//! activation, `a'`.
//!
//! [`next_law`] is written once with its partial derivatives; [`integrate`] and
//! [`law_input`] call it for the values, their reverse (`adjoint/forces.rs`,
//! `adjoint/step.rs`) for the partials.

use super::forces::channel_target;
use crate::model::{ActDyn, Model};
use crate::state::Control;

/// The next activation `a'` of activation `k` after a substep of length `h` from `a` under
/// target `u` (already clamped), with `d a'/d a` and `d a'/d u` (both 0 where the range
/// clamps `a'`).
#[inline]
pub fn next_law(model: &Model, k: usize, a: f64, u: f64, h: f64) -> (f64, f64, f64) {
    let act = &model.activations[k];
    let (next, da, du) = match act.dynamics {
        ActDyn::Filter { tau } => (a + h * (u - a) / tau, 1.0 - h / tau, h / tau),
        ActDyn::FilterExact { tau } => {
            let w = 1.0 - (-h / tau).exp();
            (a + (u - a) * w, 1.0 - w, w)
        }
        ActDyn::Integrator => (a + h * u, 1.0, h),
    };
    let [lo, hi] = act.range;
    if next < lo {
        (lo, 0.0, 0.0)
    } else if next > hi {
        (hi, 0.0, 0.0)
    } else {
        (next, da, du)
    }
}

/// The target of activation `k`'s channel as its dynamics read it, and its derivative with
/// respect to the control target.
#[inline]
pub fn dyn_target(model: &Model, k: usize, control: &Control) -> (f64, f64) {
    let ch = model.activations[k].channel;
    channel_target(model, ch, control.mode[ch], control.target[ch])
}

/// What the actuator law of channel `ch` reads in the place of its target: the clamped target
/// (no activation), the activation, or (actearly) the next activation. Returns the value, its
/// derivative with respect to the control target of `ch`, and, for a channel with an
/// activation, the activation's index and the derivative with respect to it.
#[inline]
pub fn law_input(
    model: &Model,
    ch: usize,
    control: &Control,
    act: &[f64],
    h: f64,
) -> (f64, f64, Option<(usize, f64)>) {
    match model.ch_act.get(ch).copied().flatten() {
        None => {
            let (u, du) = channel_target(model, ch, control.mode[ch], control.target[ch]);
            (u, du, None)
        }
        Some(k) if model.activations[k].early => {
            let (u, du) = dyn_target(model, k, control);
            let (next, da, dnu) = next_law(model, k, act[k], u, h);
            (next, dnu * du, Some((k, da)))
        }
        Some(k) => (act[k], 0.0, Some((k, 1.0))),
    }
}

/// Advance every activation of `act` by one substep of length `h` under `control`.
pub fn integrate(model: &Model, control: &Control, act: &mut [f64], h: f64) {
    for (k, a) in act.iter_mut().enumerate() {
        let (u, _) = dyn_target(model, k, control);
        *a = next_law(model, k, *a, u, h).0;
    }
}

/// Reverse of [`integrate`] from `act` (the activations before the substep): with `act_bar`
/// the adjoint of the activations after it, overwrites `act_bar` with the adjoint of those
/// before, and accumulates the control targets' adjoint into `target_bar`.
pub fn integrate_vjp(
    model: &Model,
    control: &Control,
    act: &[f64],
    h: f64,
    act_bar: &mut [f64],
    target_bar: &mut [f64],
) {
    for (k, ab) in act_bar.iter_mut().enumerate() {
        let (u, du) = dyn_target(model, k, control);
        let (_, da, dnu) = next_law(model, k, act[k], u, h);
        target_bar[model.activations[k].channel] += dnu * du * *ab;
        *ab *= da;
    }
}

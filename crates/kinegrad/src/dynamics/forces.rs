//! Applied forces: actuators (Genesis control modes) and passive joint forces.

use crate::data::Data;
use crate::model::{CtrlMode, JointType, Model, Params};
use crate::state::Control;

/// Position of dof `d` for PD control: q of hinge/slide joints; 0 error for ball/free dofs.
#[inline]
fn dof_position(model: &Model, q: &[f64], d: usize) -> Option<f64> {
    let j = model.dof_jnt[d];
    match model.jnt_type[j] {
        JointType::Hinge | JointType::Slide => Some(q[model.jnt_qpos_adr[j]]),
        _ => None,
    }
}

/// Actuator forces from the controls, clamped to the force range.
/// Force: u. Position: kp (u - q) - kv v. Velocity: kv (u - v).
/// Position control of ball/free dofs acts as pure damping (-kv v).
pub fn actuation(
    model: &Model,
    params: &Params,
    q: &[f64],
    v: &[f64],
    control: &Control,
    data: &mut Data,
) {
    for d in 0..model.nv {
        let u = control.target[d];
        let f = match control.mode[d] {
            CtrlMode::Force => u,
            CtrlMode::Position => {
                let e = dof_position(model, q, d).map_or(0.0, |qd| u - qd);
                params.dof_kp[d] * e - params.dof_kv[d] * v[d]
            }
            CtrlMode::Velocity => params.dof_kv[d] * (u - v[d]),
        };
        let [lo, hi] = params.dof_force_range[d];
        data.actuator_clamped[d] = f < lo || f > hi;
        // max/min rather than clamp: never panics, even on a range the builder would reject
        data.qfrc_actuator[d] = f.max(lo).min(hi);
    }
}

/// Passive forces: joint springs and damping.
pub fn passive(model: &Model, params: &Params, q: &[f64], v: &[f64], data: &mut Data) {
    for d in 0..model.nv {
        let mut f = -params.dof_damping[d] * v[d];
        let k = params.dof_stiffness[d];
        if k != 0.0 {
            if let Some(qd) = dof_position(model, q, d) {
                f -= k * (qd - model.jnt_qpos_spring[model.dof_jnt[d]]);
            }
        }
        data.qfrc_passive[d] = f;
    }
}

/// Velocity derivative of the forces that the integrator treats implicitly, per dof
/// (`-d f / d v`, a diagonal): damping always, plus unclamped actuator velocity gains
/// under `implicitfast`.
#[inline]
pub fn implicit_damping(
    model: &Model,
    params: &Params,
    control: &Control,
    data: &Data,
    d: usize,
) -> f64 {
    let mut k = params.dof_damping[d];
    if model.opt.integrator == crate::model::Integrator::ImplicitFast && !data.actuator_clamped[d] {
        match control.mode[d] {
            CtrlMode::Position | CtrlMode::Velocity => k += params.dof_kv[d],
            CtrlMode::Force => {}
        }
    }
    k
}

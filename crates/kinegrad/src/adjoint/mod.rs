//! The reverse pass: vector-Jacobian products of each forward stage, one file per stage, and
//! [`step_vjp`](step::step_vjp) composing them over the substeps of one step.
//!
//! | forward | reverse |
//! |---|---|
//! | `kinematics/mod.rs` (`forward_kinematics`, `com_pos`, `com_vel`) | [`kinematics`] |
//! | `dynamics/rnea.rs` (and `crba.rs`'s armature) | [`rnea`] |
//! | `dynamics/forces.rs` (actuators, passive, implicit damping) | [`forces`] |
//! | `collision/` (narrowphase, `detect::contact`) | [`contact_geom`] |
//! | `constraint/mod.rs::make_rows` | [`constraint_rows`] |
//! | `constraint/equality.rs` (connect, weld, joint rows) | [`equality`] |
//! | `constraint/solver.rs` | [`solve`] |
//! | `integrator.rs` | [`integrator`] |
//! | `pipeline.rs::step` | [`step`] |
//! | `state.rs::normalize_quaternions` | [`state`] |
//! | `batch.rs` / rollouts | [`rollout`] |
//!
//! Conventions. An adjoint `x_bar` is dL/dx. Adjoints of body poses are carried as
//! wrenches at the world origin (`Force`): for a rigid twist `xi` (world frame, at the
//! origin) applied to a body, the loss changes by `<xi, W>`; the adjoint of a joint
//! coordinate is then the projection of the subtree's summed wrench on the joint's motion
//! subspace, the same algebra as RNEA's force pass. Input adjoints of controls and
//! parameters are accumulated (`+=`) because one tensor can feed many steps.

pub mod constraint_rows;
pub mod contact_geom;
pub mod equality;
pub mod fluid;
pub mod forces;
pub mod free_gyro;
pub mod integrator;
pub mod kinematics;
pub mod readings;
pub mod rnea;
pub mod rollout;
pub mod solve;
pub mod state;
pub mod step;
pub mod tendon;

use crate::model::params::PARAM_FIELDS;
use crate::model::{Model, Params};

/// Adjoints of everything a step reads.
#[derive(Clone, Debug)]
pub struct StepGrad {
    /// dL/dq of the input state (nq); quaternion blocks are 4-vectors (not projected).
    pub q: Vec<f64>,
    /// dL/dv of the input state (nv).
    pub v: Vec<f64>,
    /// dL/dact of the input state (na).
    pub act: Vec<f64>,
    /// dL/d(control target) (nu: dofs, then tendons), accumulated.
    pub target: Vec<f64>,
    /// dL/d(parameters), accumulated.
    pub params: Params,
}

impl StepGrad {
    /// Zero adjoints shaped for `model`.
    pub fn zeros(model: &Model) -> Self {
        Self {
            q: vec![0.0; model.nq],
            v: vec![0.0; model.nv],
            act: vec![0.0; model.na()],
            target: vec![0.0; model.nu()],
            params: params_zeros(model),
        }
    }
}

/// A [`Params`] of zeros (the shape of a parameter adjoint).
pub fn params_zeros(model: &Model) -> Params {
    let mut z = model.params0.clone();
    for f in &PARAM_FIELDS {
        f.write_unchecked(&mut z, &vec![0.0; f.size(model)]);
    }
    z
}

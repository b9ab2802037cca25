//! kinegrad: differentiable rigid-body physics for robots.
//!
//! Structure (see DESIGN.md): an immutable [`model::Model`], per-step scratch
//! [`data::Data`], the evolving [`state::State`] and what a step hands the next,
//! [`state::StepCarry`]; each pipeline stage is a function of (model, params, inputs) writing
//! into `Data`, and [`pipeline::step`] only composes them.
#![warn(missing_docs)]
// Numeric kernels index several arrays in lockstep, and `!(x > 0.0)` is used on purpose so
// that NaN fails the check.
#![allow(clippy::needless_range_loop, clippy::neg_cmp_op_on_partial_ord)]

pub mod adjoint;
pub mod batch;
pub mod collision;
pub mod constraint;
pub mod data;
pub mod detect;
pub mod diagnostics;
pub mod dynamics;
pub mod error;
pub mod fd;
pub mod ik;
pub mod integrator;
pub mod interrupt;
pub mod joint;
pub mod kinematics;
pub mod math;
pub mod model;
pub mod pipeline;
pub mod plan;
pub mod readings;
pub mod sim;
pub mod state;
pub mod tendon;

pub use batch::{Carry, Env, StepView, Workers};
pub use data::{Contact, Data};
pub use error::{Error, Result};
pub use interrupt::Interrupt;
pub use model::{CtrlMode, Model, ModelBuilder, Params};
pub use sim::Sim;
pub use state::{Control, State, StepCarry};

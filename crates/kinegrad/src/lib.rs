//! kinegrad: differentiable rigid-body physics for robots.
//!
//! Structure (see DESIGN.md): an immutable [`model::Model`], per-step scratch
//! [`data::Data`], the evolving [`state::State`]; each pipeline stage is a
//! function of (model, params, inputs) writing into `Data`, and
//! [`pipeline::step`] only composes them.
#![warn(missing_docs)]

pub mod batch;
pub mod collision;
pub mod constraint;
pub mod data;
pub mod dynamics;
pub mod error;
pub mod integrator;
pub mod kinematics;
pub mod math;
pub mod model;
pub mod pipeline;
pub mod state;

pub use batch::Env;
pub use data::{Contact, Data};
pub use error::{Error, Result};
pub use model::{CtrlMode, Model, ModelBuilder, Params};
pub use state::{Control, State};

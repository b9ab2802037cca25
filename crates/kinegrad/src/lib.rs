//! kinegrad: differentiable rigid-body physics for robots.
//!
//! Structure (see DESIGN.md): an immutable [`model::Model`], per-step scratch
//! [`data::Data`], the evolving [`state::State`]; each pipeline stage is a
//! function of (model, params, inputs) writing into `Data`, and
//! [`pipeline::step`] only composes them.
#![warn(missing_docs)]

pub mod collision;
pub mod error;
pub mod math;
pub mod model;

pub use error::{Error, Result};

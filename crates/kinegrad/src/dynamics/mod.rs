//! Joint-space dynamics: mass matrix (CRBA), bias forces and inverse dynamics
//! (RNEA), applied forces (actuators and their activations, passive), the mass matrix's tree-sparse storage and
//! factorization, and a dense (envelope) Cholesky factorization.

pub mod activation;
pub mod chol;
pub mod crba;
pub mod fluid;
pub mod forces;
pub mod free_gyro;
pub mod rnea;

/// The mass matrix's storage in the tree pattern (defined with the model, whose pattern it is,
/// so the compile stage can factor M at `qpos0` too).
pub use crate::model::mass;

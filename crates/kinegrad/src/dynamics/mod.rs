//! Joint-space dynamics: mass matrix (CRBA), bias forces and inverse dynamics
//! (RNEA), applied forces (actuators, passive), the mass matrix's tree-sparse storage and
//! factorization, and a dense (envelope) Cholesky factorization.

pub mod chol;
pub mod crba;
pub mod forces;
pub mod mass;
pub mod rnea;

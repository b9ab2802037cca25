//! Joint-space dynamics: mass matrix (CRBA), bias forces and inverse dynamics
//! (RNEA), applied forces (actuators, passive), dense Cholesky factorization.

pub mod chol;
pub mod crba;
pub mod forces;
pub mod rnea;

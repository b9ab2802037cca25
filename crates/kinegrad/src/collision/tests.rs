//! Tests of the collision module.

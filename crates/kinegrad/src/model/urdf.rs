//! URDF loader. (Being filled in.)

use super::EntitySpec;
use crate::error::{Error, Result};
use std::path::Path;

/// Load a URDF file into an entity (bodies = links, in topological order from the root link).
/// `scale` multiplies every length.
pub fn load(path: &Path, scale: f64) -> Result<EntitySpec> {
    let _ = scale;
    Err(Error::load(path, "URDF loading is not built yet"))
}

//! MJCF loader. (Being filled in.)

use super::EntitySpec;
use crate::error::{Error, Result};
use std::path::Path;

/// Load an MJCF file into an entity (the world body's children become roots).
/// `scale` multiplies every length.
pub fn load(path: &Path, scale: f64) -> Result<EntitySpec> {
    let _ = scale;
    Err(Error::load(path, "MJCF loading is not built yet"))
}

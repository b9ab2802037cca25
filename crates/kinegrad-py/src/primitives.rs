//! Primitive entities for `SceneBuilder::add_primitive`.
//!
//! Argument checking in front of `kinegrad::model::primitives`.

use kinegrad::math::Vec3;
use kinegrad::model::{primitives, EntitySpec};
use pyo3::exceptions::PyValueError;
use pyo3::PyResult;

/// The entity for primitive `kind` with dimensions `dims` and density `rho` (kg/m^3):
/// plane: normal (3); box: full sizes (3); sphere: radius (1); cylinder, capsule: radius, height (2).
pub fn entity(kind: &str, dims: &[f64], rho: f64) -> PyResult<EntitySpec> {
    let want = match kind {
        "plane" | "box" => 3,
        "sphere" => 1,
        "cylinder" | "capsule" => 2,
        other => {
            return Err(PyValueError::new_err(format!(
            "kind: unknown primitive '{other}'; expected plane, box, sphere, cylinder or capsule"
        )))
        }
    };
    if dims.len() != want {
        return Err(PyValueError::new_err(format!(
            "{kind}: expected {want} dimensions, got {}",
            dims.len()
        )));
    }
    if dims.iter().any(|x| !x.is_finite()) {
        return Err(PyValueError::new_err(format!(
            "{kind}: dimensions must be finite, got {dims:?}"
        )));
    }
    if kind != "plane" && dims.iter().any(|&x| x <= 0.0) {
        return Err(PyValueError::new_err(format!(
            "{kind}: dimensions must be positive, got {dims:?}"
        )));
    }
    if !(rho > 0.0) || !rho.is_finite() {
        return Err(PyValueError::new_err(format!(
            "rho: must be positive, got {rho}"
        )));
    }
    if kind == "plane" && dims.iter().all(|&x| x == 0.0) {
        return Err(PyValueError::new_err("plane: normal must be non-zero"));
    }
    let v = |i: usize| dims[i];
    Ok(match kind {
        "plane" => primitives::plane(Vec3::new(v(0), v(1), v(2))),
        "box" => primitives::box_(Vec3::new(v(0), v(1), v(2)), rho),
        "sphere" => primitives::sphere(v(0), rho),
        "cylinder" => primitives::cylinder(v(0), v(1), rho),
        _ => primitives::capsule(v(0), v(1), rho),
    })
}

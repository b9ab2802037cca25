//! Primitive entities for `SceneBuilder::add_primitive`.
//!
//! Stand-in for `kinegrad::model::primitives` (plane, box_, sphere, cylinder,
//! capsule), which is being written in the engine: when it lands, the body of
//! [`entity`] becomes one call per kind and the `local` module goes away.

use kinegrad::model::EntitySpec;
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
        return Err(PyValueError::new_err(format!("{kind}: expected {want} dimensions, got {}", dims.len())));
    }
    if dims.iter().any(|x| !x.is_finite()) {
        return Err(PyValueError::new_err(format!("{kind}: dimensions must be finite, got {dims:?}")));
    }
    if kind != "plane" && dims.iter().any(|&x| x <= 0.0) {
        return Err(PyValueError::new_err(format!("{kind}: dimensions must be positive, got {dims:?}")));
    }
    if !(rho > 0.0) || !rho.is_finite() {
        return Err(PyValueError::new_err(format!("rho: must be positive, got {rho}")));
    }
    Ok(match kind {
        "plane" => local::plane([dims[0], dims[1], dims[2]])?,
        "box" => local::box_([dims[0], dims[1], dims[2]], rho),
        "sphere" => local::sphere(dims[0], rho),
        "cylinder" => local::cylinder(dims[0], dims[1], rho),
        _ => local::capsule(dims[0], dims[1], rho),
    })
}

mod local {
    use kinegrad::math::{Mat3, Quat, Vec3};
    use kinegrad::model::{BodySpec, EntitySpec, GeomSpec, GeomType};
    use pyo3::exceptions::PyValueError;
    use pyo3::PyResult;
    use std::f64::consts::PI;

    /// One body with one geom, mass and principal inertia about its centre.
    fn single(name: &str, geom: GeomSpec, mass: f64, inertia_diag: [f64; 3]) -> EntitySpec {
        let mut body = BodySpec::new(name, None);
        body.mass = mass;
        body.inertia = Mat3::from_diagonal(&Vec3::from(inertia_diag));
        body.geoms.push(geom);
        EntitySpec { name: name.into(), bodies: vec![body], ..Default::default() }
    }

    pub fn plane(normal: [f64; 3]) -> PyResult<EntitySpec> {
        let n = Vec3::from(normal);
        if !(n.norm() > 1e-12) {
            return Err(PyValueError::new_err("normal: must be non-zero"));
        }
        let n = n.normalize();
        let quat = Quat::rotation_between(&Vec3::z(), &n)
            .unwrap_or_else(|| Quat::from_axis_angle(&Vec3::x_axis(), PI));
        let mut g = GeomSpec::new(GeomType::Plane, Vec3::new(0.0, 0.0, 1.0));
        g.quat = quat;
        Ok(single("plane", g, 0.0, [0.0; 3]))
    }

    pub fn box_(size: [f64; 3], rho: f64) -> EntitySpec {
        let [x, y, z] = size;
        let m = rho * x * y * z;
        let g = GeomSpec::new(GeomType::Box, Vec3::new(x / 2.0, y / 2.0, z / 2.0));
        single("box", g, m, [m * (y * y + z * z) / 12.0, m * (x * x + z * z) / 12.0, m * (x * x + y * y) / 12.0])
    }

    pub fn sphere(r: f64, rho: f64) -> EntitySpec {
        let m = rho * 4.0 / 3.0 * PI * r.powi(3);
        let i = 0.4 * m * r * r;
        single("sphere", GeomSpec::new(GeomType::Sphere, Vec3::new(r, 0.0, 0.0)), m, [i, i, i])
    }

    pub fn cylinder(r: f64, h: f64, rho: f64) -> EntitySpec {
        let m = rho * PI * r * r * h;
        let ixx = m * (3.0 * r * r + h * h) / 12.0;
        let g = GeomSpec::new(GeomType::Cylinder, Vec3::new(r, h / 2.0, 0.0));
        single("cylinder", g, m, [ixx, ixx, 0.5 * m * r * r])
    }

    /// `h` is the length of the cylindrical segment (between the hemisphere centres).
    pub fn capsule(r: f64, h: f64, rho: f64) -> EntitySpec {
        let mc = rho * PI * r * r * h;
        let ms = rho * 4.0 / 3.0 * PI * r.powi(3);
        // cylinder plus two hemispheres whose centres of mass sit 3r/8 beyond the segment ends
        let d = h / 2.0 + 3.0 * r / 8.0;
        let ixx = mc * (3.0 * r * r + h * h) / 12.0 + ms * (0.4 * r * r - (3.0 * r / 8.0).powi(2) + d * d);
        let izz = 0.5 * mc * r * r + 0.4 * ms * r * r;
        let g = GeomSpec::new(GeomType::Capsule, Vec3::new(r, h / 2.0, 0.0));
        single("capsule", g, mc + ms, [ixx, ixx, izz])
    }
}

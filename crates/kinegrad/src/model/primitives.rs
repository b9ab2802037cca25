//! Primitive entities (Genesis morphs Plane, Box, Sphere, Cylinder, Capsule).
//!
//! Each is one jointless body with one colliding geom whose mass properties
//! come from the shape at density `rho` (kg/m^3). Base joints are added by the
//! builder (`BaseMode::Free`), not here.

use super::builder::{BodySpec, EntitySpec, GeomSpec};
use super::inertia::primitive_mass_props;
use super::GeomType;
use crate::error::{Error, Result};
use crate::math::{Quat, Vec3};

/// Default colour of primitive geoms.
pub const DEFAULT_RGBA: [f32; 4] = [0.6, 0.6, 0.65, 1.0];

/// An infinite ground plane through the origin whose +z axis is `normal` (static; no mass).
pub fn plane(normal: Vec3) -> EntitySpec {
    let n = normal.try_normalize(1e-12).unwrap_or_else(Vec3::z);
    let quat = Quat::rotation_between(&Vec3::z(), &n)
        .unwrap_or_else(|| Quat::from_axis_angle(&Vec3::x_axis(), std::f64::consts::PI));
    let mut g = GeomSpec::new(GeomType::Plane, Vec3::zeros());
    g.name = "plane".into();
    g.quat = quat;
    g.rgba = DEFAULT_RGBA;
    let mut b = BodySpec::new("plane", None);
    b.geoms.push(g);
    EntitySpec {
        name: "plane".into(),
        bodies: vec![b],
        ..Default::default()
    }
}

fn solid(name: &str, kind: GeomType, size: Vec3, rho: f64) -> EntitySpec {
    let mp = primitive_mass_props(kind, &size, rho);
    let mut g = GeomSpec::new(kind, size);
    g.name = name.into();
    g.rgba = DEFAULT_RGBA;
    // the link is named as Genesis names a primitive's ("box_baselink")
    let mut b = BodySpec::new(format!("{name}_baselink"), None);
    b.mass = mp.mass;
    b.ipos = mp.com;
    b.inertia = mp.inertia;
    b.geoms.push(g);
    EntitySpec {
        name: name.into(),
        bodies: vec![b],
        ..Default::default()
    }
}

/// A box with full side lengths `size_full`.
pub fn box_(size_full: Vec3, rho: f64) -> EntitySpec {
    solid("box", GeomType::Box, size_full / 2.0, rho)
}

/// A sphere.
pub fn sphere(radius: f64, rho: f64) -> EntitySpec {
    solid("sphere", GeomType::Sphere, Vec3::new(radius, 0.0, 0.0), rho)
}

/// A cylinder along local z with total height `height`.
pub fn cylinder(radius: f64, height: f64, rho: f64) -> EntitySpec {
    solid(
        "cylinder",
        GeomType::Cylinder,
        Vec3::new(radius, height / 2.0, 0.0),
        rho,
    )
}

/// A capsule along local z; `height` is the length of the cylindrical part (between the cap centres).
pub fn capsule(radius: f64, height: f64, rho: f64) -> EntitySpec {
    solid(
        "capsule",
        GeomType::Capsule,
        Vec3::new(radius, height / 2.0, 0.0),
        rho,
    )
}

/// The primitive `kind` with dimensions `dims` and density `rho` (kg/m^3), arguments checked
/// (Genesis's morphs by name): plane: normal (3); box: full sizes (3); sphere: radius (1);
/// cylinder, capsule: radius, height (2).
pub fn by_name(kind: &str, dims: &[f64], rho: f64) -> Result<EntitySpec> {
    let bad = |what: &str, message: String| Err(Error::invalid(what, message));
    let want = match kind {
        "plane" | "box" => 3,
        "sphere" => 1,
        "cylinder" | "capsule" => 2,
        other => {
            return bad(
                "kind",
                format!(
                    "unknown primitive '{other}'; expected plane, box, sphere, cylinder or capsule"
                ),
            )
        }
    };
    if dims.len() != want {
        return bad(
            kind,
            format!("expected {want} dimensions, got {}", dims.len()),
        );
    }
    if dims.iter().any(|x| !x.is_finite()) {
        return bad(kind, format!("dimensions must be finite, got {dims:?}"));
    }
    if kind != "plane" && dims.iter().any(|&x| x <= 0.0) {
        return bad(kind, format!("dimensions must be positive, got {dims:?}"));
    }
    if !(rho > 0.0) || !rho.is_finite() {
        return bad("rho", format!("must be positive, got {rho}"));
    }
    if kind == "plane" && dims.iter().all(|&x| x == 0.0) {
        return bad("plane", "normal must be non-zero".into());
    }
    let v = |i: usize| dims[i];
    Ok(match kind {
        "plane" => plane(Vec3::new(v(0), v(1), v(2))),
        "box" => box_(Vec3::new(v(0), v(1), v(2)), rho),
        "sphere" => sphere(v(0), rho),
        "cylinder" => cylinder(v(0), v(1), rho),
        _ => capsule(v(0), v(1), rho),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primitive_masses() {
        let b = box_(Vec3::new(1.0, 2.0, 3.0), 10.0);
        assert!((b.bodies[0].mass - 60.0).abs() < 1e-12);
        assert!((b.bodies[0].inertia[(0, 0)] - 60.0 * (4.0 + 9.0) / 12.0).abs() < 1e-12);
        let s = sphere(0.5, 1000.0);
        assert!(
            (s.bodies[0].mass - 1000.0 * 4.0 / 3.0 * std::f64::consts::PI * 0.125).abs() < 1e-9
        );
        let p = plane(Vec3::new(0.0, 0.0, -1.0));
        assert!((p.bodies[0].geoms[0].quat * Vec3::z() - Vec3::new(0.0, 0.0, -1.0)).norm() < 1e-12);
        let p = plane(Vec3::new(1.0, 0.0, 0.0));
        assert!((p.bodies[0].geoms[0].quat * Vec3::z() - Vec3::x()).norm() < 1e-12);
        assert_eq!(capsule(0.1, 1.0, 1.0).bodies[0].geoms[0].size.y, 0.5);
        assert_eq!(cylinder(0.1, 1.0, 1.0).bodies[0].geoms[0].size.y, 0.5);
    }
}

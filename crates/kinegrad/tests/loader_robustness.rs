//! Hostile model files: deep nesting, invalid physical values, and errors that must name the
//! file (and line). Every case must give a clear `Err`, never a panic or a stack overflow.

use kinegrad::math::Pose;
use kinegrad::model::builder::BaseMode;
use kinegrad::model::{mjcf, urdf, Model, ModelBuilder};
use std::path::{Path, PathBuf};

fn tmp_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kinegrad-robust-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn build(spec: kinegrad::model::EntitySpec) -> kinegrad::Result<Model> {
    let mut b = ModelBuilder::new();
    b.add_entity(spec, Pose::identity(), BaseMode::AsIs);
    b.build()
}

fn nested_bodies(n: usize) -> String {
    let mut s = String::from("<mujoco><worldbody>");
    for i in 0..n {
        s.push_str(&format!(
            "<body name='b{i}' pos='0 0 0.01'><joint type='hinge' axis='0 1 0'/>\
             <inertial pos='0 0 0' mass='0.1' diaginertia='1e-3 1e-3 1e-3'/>"
        ));
    }
    for _ in 0..n {
        s.push_str("</body>");
    }
    s.push_str("</worldbody></mujoco>");
    s
}

#[test]
fn deep_mjcf_body_nesting_does_not_overflow_the_stack() {
    // 4,000 nested bodies segfaulted in add_mjcf (recursive body walk); run on a test thread
    // (2 MB stack), so 20,000 levels leave no doubt (no geoms: a colliding chain's pair list
    // is quadratic by nature)
    let p = tmp_file("deep_bodies.xml", &nested_bodies(20_000));
    let spec = mjcf::load(&p, 1.0).unwrap();
    assert_eq!(spec.bodies.len(), 20_000);
    let m = build(spec).unwrap();
    assert_eq!(m.nv, 20_000);
}

#[test]
fn deep_mjcf_frame_nesting_does_not_overflow_the_stack() {
    let n = 50_000;
    let mut s = String::from("<mujoco><worldbody><body name='b'><freejoint/>");
    for _ in 0..n {
        s.push_str("<frame pos='0 0 0.001'>");
    }
    s.push_str("<geom size='0.1'/>");
    for _ in 0..n {
        s.push_str("</frame>");
    }
    s.push_str("</body></worldbody></mujoco>");
    let spec = mjcf::load_str(&s, Path::new("deep_frames.xml"), 1.0).unwrap();
    let g = &spec.bodies[0].geoms[0];
    assert!((g.pos.z - n as f64 * 0.001).abs() < 1e-6, "{}", g.pos.z);
    assert!(spec.bodies[0].mass > 0.0);
    // nested frames in the world body, and nested defaults
    let mut s = String::from("<mujoco><default>");
    for i in 0..n {
        s.push_str(&format!("<default class='c{i}'>"));
    }
    for _ in 0..n {
        s.push_str("</default>");
    }
    s.push_str("</default><worldbody>");
    for _ in 0..n {
        s.push_str("<frame>");
    }
    s.push_str("<geom type='plane' size='1 1 1'/>");
    for _ in 0..n {
        s.push_str("</frame>");
    }
    s.push_str("</worldbody></mujoco>");
    let spec = mjcf::load_str(&s, Path::new("deep_world.xml"), 1.0).unwrap();
    assert_eq!(spec.bodies[0].geoms.len(), 1);
}

#[test]
fn very_deep_xml_gives_an_error_or_loads_but_never_overflows() {
    // 300,000 nested unknown elements: whatever roxmltree decides, the answer names the file
    let n = 300_000;
    let mut s = String::from("<mujoco><worldbody>");
    s.push_str(&"<a>".repeat(n));
    s.push_str(&"</a>".repeat(n));
    s.push_str("</worldbody></mujoco>");
    match mjcf::load_str(&s, Path::new("million.xml"), 1.0) {
        Ok(spec) => assert!(spec.bodies.is_empty()),
        Err(e) => assert!(e.to_string().contains("million.xml"), "{e}"),
    }
    let mut u = String::from("<robot name='r'><link name='a'>");
    u.push_str(&"<x>".repeat(n));
    u.push_str(&"</x>".repeat(n));
    u.push_str("</link></robot>");
    match urdf::load_str(&u, Path::new("million.urdf"), 1.0) {
        Ok(spec) => assert_eq!(spec.bodies.len(), 1),
        Err(e) => assert!(e.to_string().contains("million.urdf"), "{e}"),
    }
}

//! Time the convex hull on synthetic meshes of 10k, 100k and 1M triangles, and optionally the
//! loading of mesh files (hull included) and of URDF / MJCF models (load + build).
//! `cargo run --release --example hull_time -- [file.stl|file.obj|robot.urdf|scene.xml ...]`
//!
//! Synthetic meshes (vertex sets of closed triangle meshes with `t` triangles):
//! * `sphere`: a latitude-longitude sphere, every vertex on the hull (the largest output);
//! * `cylinder`: a dense grid on a cylinder's side and caps, each vertex stored three times
//!   (as unindexed STL triangles give them): long collinear rows and coplanar caps;
//! * `noisy cylinder`: the same with a 1e-12 m jitter (near-coplanar, near-collinear);
//! * `far cube`: a tessellated cube at 1e6 m from the origin.

use kinegrad::collision::ConvexHull;
use kinegrad::math::{Pose, Vec3};
use kinegrad::model::builder::BaseMode;
use kinegrad::ModelBuilder;
use std::f64::consts::PI;
use std::path::Path;
use std::time::Instant;

/// Small deterministic generator (xorshift) for the jitter.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Vertices of a UV sphere of radius 0.1 m with about `t` triangles (2 per quad).
fn sphere(t: usize) -> Vec<Vec3> {
    let n = ((t as f64 / 4.0).sqrt() as usize).max(3);
    let mut v = vec![Vec3::new(0.0, 0.0, 0.1), Vec3::new(0.0, 0.0, -0.1)];
    for i in 1..n {
        let th = PI * i as f64 / n as f64;
        for j in 0..2 * n {
            let ph = PI * j as f64 / n as f64;
            v.push(Vec3::new(th.sin() * ph.cos(), th.sin() * ph.sin(), th.cos()) * 0.1);
        }
    }
    v
}

/// Vertices of a cylinder (radius 0.05 m, height 0.2 m) gridded into about `t` triangles,
/// each vertex three times; `jitter` (m) moves every copy randomly.
fn cylinder(t: usize, jitter: f64, rng: &mut Rng) -> Vec<Vec3> {
    // side: nr x nz quads, caps: nr x nc quads each
    let nr = ((t as f64 / 4.0).sqrt() as usize).max(3);
    let nz = nr;
    let nc = nr / 2;
    let mut v = Vec::new();
    for i in 0..nr {
        let a = 2.0 * PI * i as f64 / nr as f64;
        let (c, s) = (a.cos(), a.sin());
        for k in 0..=nz {
            v.push(Vec3::new(
                0.05 * c,
                0.05 * s,
                -0.1 + 0.2 * k as f64 / nz as f64,
            ));
        }
        for k in 1..nc {
            let r = 0.05 * k as f64 / nc as f64;
            v.push(Vec3::new(r * c, r * s, -0.1));
            v.push(Vec3::new(r * c, r * s, 0.1));
        }
    }
    v.push(Vec3::new(0.0, 0.0, -0.1));
    v.push(Vec3::new(0.0, 0.0, 0.1));
    let mut out = Vec::with_capacity(3 * v.len());
    for p in &v {
        for _ in 0..3 {
            let d = Vec3::new(rng.next() - 0.5, rng.next() - 0.5, rng.next() - 0.5) * 2.0 * jitter;
            out.push(p + d);
        }
    }
    out
}

/// Vertices of a cube of side 0.3 m centred at (1e6, 1e6, 1e6) m, each face an n x n grid.
fn far_cube(t: usize) -> Vec<Vec3> {
    let n = ((t as f64 / 12.0).sqrt() as usize).max(1);
    let c = Vec3::repeat(1e6);
    let mut v = Vec::new();
    for i in 0..=n {
        for j in 0..=n {
            let (a, b) = (
                -0.15 + 0.3 * i as f64 / n as f64,
                -0.15 + 0.3 * j as f64 / n as f64,
            );
            for s in [-0.15, 0.15] {
                v.push(c + Vec3::new(s, a, b));
                v.push(c + Vec3::new(a, s, b));
                v.push(c + Vec3::new(a, b, s));
            }
        }
    }
    v
}

fn time_hull(name: &str, t: usize, pts: &[Vec3]) {
    let t0 = Instant::now();
    let h = ConvexHull::from_points(pts);
    let dt = t0.elapsed().as_secs_f64();
    match h {
        Ok(h) => println!(
            "{name:>15} {t:>8} triangles ({:>8} points): {dt:8.3} s, hull {} vertices {} faces, volume {:.6e} m^3",
            pts.len(),
            h.vertices.len(),
            h.faces.len(),
            h.volume()
        ),
        Err(e) => println!("{name:>15} {t:>8} triangles: error after {dt:.3} s: {e}"),
    }
}

fn main() -> kinegrad::Result<()> {
    let files: Vec<String> = std::env::args().skip(1).collect();
    if files.is_empty() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for t in [10_000, 100_000, 1_000_000] {
            time_hull("sphere", t, &sphere(t));
            time_hull("cylinder", t, &cylinder(t, 0.0, &mut rng));
            time_hull("noisy cylinder", t, &cylinder(t, 1e-12, &mut rng));
            time_hull("far cube", t, &far_cube(t));
        }
    }
    for f in &files {
        let p = Path::new(f);
        let ext = p
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        let t0 = Instant::now();
        match ext.as_str() {
            "urdf" | "xml" => {
                let spec = if ext == "urdf" {
                    kinegrad::model::urdf::load(p, 1.0)?
                } else {
                    kinegrad::model::mjcf::load(p, 1.0)?
                };
                let t1 = t0.elapsed().as_secs_f64();
                let mut b = ModelBuilder::new();
                b.add_entity(spec, Pose::default(), BaseMode::AsIs);
                let m = b.build()?;
                let hulls = m
                    .meshes
                    .iter()
                    .filter(|m| m.hull_if_computed().is_some())
                    .count();
                println!(
                    "{f}: load {t1:.3} s, load + build {:.3} s ({} meshes, {hulls} hulled, {} geoms)",
                    t0.elapsed().as_secs_f64(),
                    m.meshes.len(),
                    m.ngeom
                );
            }
            _ => {
                let (v, tri) = kinegrad::model::mesh_io::load_mesh(p, Vec3::repeat(1.0))?;
                let t1 = t0.elapsed().as_secs_f64();
                let t2 = Instant::now();
                let h = ConvexHull::from_points(&v)?;
                println!(
                    "{f}: {} triangles, {} vertices: read {t1:.3} s, hull {:.3} s ({} vertices)",
                    tri.len(),
                    v.len(),
                    t2.elapsed().as_secs_f64(),
                    h.vertices.len()
                );
            }
        }
    }
    Ok(())
}

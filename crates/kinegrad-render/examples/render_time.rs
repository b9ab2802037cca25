//! Time rendering a moving model: `cargo run --release -p kinegrad-render --example render_time
//! -- path/to/model.xml|plane [frames] [width] [height] [out.ppm]`. Prints ms per frame; writes the
//! last frame as a PPM when a path is given.

use kinegrad::math::{Pose, Vec3};
use kinegrad::model::builder::BaseMode;
use kinegrad::model::{mjcf, primitives, ModelBuilder};
use kinegrad::{pipeline, Data};
use kinegrad_render::{Camera, Frame, Outputs, RenderScene, Renderer};
use std::path::Path;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = args
        .get(1)
        .expect("usage: render_time MODEL.xml [frames] [w] [h] [out.ppm]");
    let frames: usize = args.get(2).map_or(300, |s| s.parse().unwrap());
    let w: usize = args.get(3).map_or(640, |s| s.parse().unwrap());
    let h: usize = args.get(4).map_or(480, |s| s.parse().unwrap());
    let mut b = ModelBuilder::new();
    b.add_entity(
        primitives::plane(Vec3::z()),
        Pose::identity(),
        BaseMode::Fixed,
    );
    if path != "plane" {
        let spec = mjcf::load(Path::new(path), 1.0).unwrap();
        b.add_entity(spec, Pose::identity(), BaseMode::AsIs);
    }
    let m = b.build().unwrap();
    let t0 = Instant::now();
    let scene = RenderScene::new(&m);
    println!(
        "scene: {} drawables ({} closed shapes of {}), {} triangles, built in {:.1} ms",
        scene.drawables.len(),
        scene.shapes.iter().filter(|s| s.closed).count(),
        scene.shapes.len(),
        scene.triangle_count(),
        t0.elapsed().as_secs_f64() * 1e3
    );
    let cam = Camera {
        pos: Vec3::new(1.9, 1.3, 1.2),
        lookat: Vec3::new(0.1, 0.0, 0.45),
        fovy_deg: 40.0,
        width: w,
        height: h,
        ..Camera::default()
    };
    let mut data = Data::new(&m);
    let mut r = Renderer::new();
    let mut f = Frame::default();
    let t0 = Instant::now();
    for k in 0..frames {
        let q: Vec<f64> = (0..m.nq)
            .map(|i| m.qpos0[i] + 0.5 * (0.05 * k as f64 + i as f64).sin())
            .collect();
        pipeline::kinematics(&m, &m.params0, &q, &mut data);
        let out = Outputs {
            rgb: true,
            depth: false,
            seg: false,
            normal: false,
        };
        r.render(&scene, &data.geom_xpos, &data.geom_xmat, &cam, out, &mut f)
            .unwrap();
    }
    let dt = t0.elapsed().as_secs_f64();
    println!(
        "{frames} frames {w}x{h}: {:.2} s, {:.2} ms/frame ({} threads)",
        dt,
        dt / frames as f64 * 1e3,
        rayon::current_num_threads()
    );
    let ph = r.phase_seconds.map(|x| x / frames as f64 * 1e3);
    println!(
        "per frame: setup {:.2} ms, raster {:.2} ms, shading {:.2} ms",
        ph[0], ph[1], ph[2]
    );
    if let Some(out) = args.get(5) {
        let mut bytes = format!("P6\n{w} {h}\n255\n").into_bytes();
        bytes.extend_from_slice(&f.rgb);
        std::fs::write(out, bytes).unwrap();
    }
}

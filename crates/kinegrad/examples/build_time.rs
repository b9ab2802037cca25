//! Time to load and build a URDF chain of n links (revolute joints, explicit inertials), for
//! n = 1,000, 5,000 and 10,000 (or the sizes given as arguments). Loading and building are
//! timed separately; `--geoms` gives every link a colliding sphere (self-collision makes the
//! pair list itself quadratic then).
//!
//! `cargo run --release --example build_time [--geoms] [n ...]`

use kinegrad::math::Pose;
use kinegrad::model::builder::BaseMode;
use kinegrad::model::{urdf, ModelBuilder};
use std::fmt::Write;
use std::path::Path;
use std::time::Instant;

fn chain_urdf(n: usize, geoms: bool) -> String {
    let mut s = String::from("<robot name='chain'>\n");
    for i in 0..n {
        let geom = if geoms {
            "<collision><geometry><sphere radius='0.02'/></geometry></collision>"
        } else {
            ""
        };
        writeln!(
            s,
            "<link name='l{i}'><inertial><origin xyz='0 0 0.05'/><mass value='0.1'/>\
             <inertia ixx='1e-4' iyy='1e-4' izz='1e-5' ixy='0' ixz='0' iyz='0'/></inertial>{geom}</link>"
        )
        .unwrap();
        if i > 0 {
            let axis = ["1 0 0", "0 1 0", "0 0 1"][i % 3];
            writeln!(
                s,
                "<joint name='j{i}' type='revolute'><parent link='l{}'/><child link='l{i}'/>\
                 <origin xyz='0 0 0.1'/><axis xyz='{axis}'/><limit lower='-1' upper='1' effort='10' velocity='1'/></joint>",
                i - 1
            )
            .unwrap();
        }
    }
    s.push_str("</robot>\n");
    s
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let geoms = args.iter().any(|a| a == "--geoms");
    let mut sizes: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
    if sizes.is_empty() {
        sizes = vec![1000, 5000, 10000];
    }
    for n in sizes {
        let text = chain_urdf(n, geoms);
        let t0 = Instant::now();
        let spec = urdf::load_str(&text, Path::new("chain.urdf"), 1.0).expect("load");
        let t1 = Instant::now();
        let mut b = ModelBuilder::new();
        b.add_entity(spec, Pose::identity(), BaseMode::Fixed);
        let m = b.build().expect("build");
        let t2 = Instant::now();
        println!(
            "links {n:>6}{}: load {:.3} s, build {:.3} s, total {:.3} s (nv {}, pairs {})",
            if geoms { " (spheres)" } else { "" },
            (t1 - t0).as_secs_f64(),
            (t2 - t1).as_secs_f64(),
            (t2 - t0).as_secs_f64(),
            m.nv,
            m.collision_pairs.len()
        );
    }
}

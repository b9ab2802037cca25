use kinegrad::math::Pose;
use kinegrad::model::builder::BaseMode;
use kinegrad::model::{mjcf, urdf, ModelBuilder};
use std::path::Path;
fn main() {
    for line in std::io::stdin().lines() {
        let p = line.unwrap();
        let path = Path::new(&p);
        let r = if p.ends_with(".urdf") {
            urdf::load(path, 1.0)
        } else {
            mjcf::load(path, 1.0)
        };
        let r = r.and_then(|spec| {
            let mut b = ModelBuilder::new();
            b.add_entity(
                spec,
                Pose::identity(),
                if p.ends_with(".urdf") {
                    BaseMode::Fixed
                } else {
                    BaseMode::AsIs
                },
            );
            b.build()
        });
        match r {
            Ok(_) => println!("OK {p}"),
            Err(e) => println!("ERR {p}: {e}"),
        }
    }
}

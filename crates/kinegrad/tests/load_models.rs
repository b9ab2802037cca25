//! Loading real model files (pybullet_data URDFs, dm_control / gymnasium / Genesis MJCF)
//! and malformed files. The asset folders come from `make setup`; missing assets fail loudly.

use kinegrad::math::Pose;
use kinegrad::model::builder::BaseMode;
use kinegrad::model::{mjcf, urdf, EntitySpec, Model, ModelBuilder};
use std::path::{Path, PathBuf};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn assets() -> PathBuf {
    let p = std::env::var_os("KINEGRAD_ASSETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".cache/assets"));
    assert!(
        p.join("dm_control/suite/pendulum.xml").is_file(),
        "model assets not found at {} (set KINEGRAD_ASSETS or run `make setup`, which runs scripts/fetch_assets.py)",
        p.display()
    );
    p
}

fn pybullet_data() -> PathBuf {
    if let Some(p) = std::env::var_os("KINEGRAD_PYBULLET_DATA") {
        return PathBuf::from(p);
    }
    let lib = repo_root().join(".venv/lib");
    let found = std::fs::read_dir(&lib).ok().and_then(|rd| {
        rd.filter_map(|e| e.ok())
            .map(|e| e.path().join("site-packages/pybullet_data"))
            .find(|p| p.join("r2d2.urdf").is_file())
    });
    match found {
        Some(p) => p,
        None => panic!(
            "pybullet_data not found under {} (set KINEGRAD_PYBULLET_DATA or run `make setup`)",
            lib.display()
        ),
    }
}

fn build(spec: EntitySpec, base: BaseMode) -> Model {
    let mut b = ModelBuilder::new();
    b.add_entity(spec, Pose::identity(), base);
    b.build().expect("build")
}

fn load_urdf(rel: &str) -> (EntitySpec, Model) {
    let p = pybullet_data().join(rel);
    let spec = urdf::load(&p, 1.0).unwrap_or_else(|e| panic!("{rel}: {e}"));
    let m = build(spec.clone(), BaseMode::AsIs);
    (spec, m)
}

/// (file, links, movable joints (all 1-dof here), colliding geoms)
#[test]
fn pybullet_urdfs() {
    let cases = [
        ("franka_panda/panda.urdf", 13, 9),
        ("kuka_iiwa/model.urdf", 8, 7),
        ("racecar/racecar.urdf", 13, 6),
        ("laikago/laikago_toes.urdf", 17, 12),
        ("r2d2.urdf", 16, 8),
        ("a1/a1.urdf", 22, 12),
    ];
    for (rel, nlink, njnt) in cases {
        let (spec, m) = load_urdf(rel);
        assert_eq!(m.nbody, nlink + 1, "{rel}: nbody");
        assert_eq!(m.njnt, njnt, "{rel}: njnt");
        assert_eq!(m.nv, njnt, "{rel}: nv");
        assert_eq!(m.nq, njnt, "{rel}: nq");
        assert!(m.ngeom > 0, "{rel}: geoms");
        for b in 1..m.nbody {
            assert!(m.body_parent[b] < b);
        }
        eprintln!(
            "{rel}: {} warnings: {:?}",
            spec.warnings.len(),
            spec.warnings
        );
    }
}

/// Debug helper: `KINEGRAD_DUMP=file.xml cargo test --test load_models dump -- --ignored --nocapture`
/// prints body masses, centres of mass and principal inertias (compare with MuJoCo's compiled model).
#[test]
#[ignore]
fn dump() {
    let Some(f) = std::env::var_os("KINEGRAD_DUMP") else {
        return;
    };
    let p = PathBuf::from(f);
    let spec = if p.extension().is_some_and(|e| e == "urdf") {
        urdf::load(&p, 1.0)
    } else {
        mjcf::load(&p, 1.0)
    }
    .unwrap();
    let m = build(spec.clone(), BaseMode::AsIs);
    println!(
        "nq {} nv {} nbody {} njnt {} ngeom {}",
        m.nq, m.nv, m.nbody, m.njnt, m.ngeom
    );
    for b in 0..m.nbody {
        let mut e: Vec<f64> = m.params0.body_inertia[b]
            .symmetric_eigenvalues()
            .iter()
            .copied()
            .collect();
        e.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let c = m.params0.body_ipos[b];
        println!(
            "{} {:.15e} [{:.12e} {:.12e} {:.12e}] [{:.15e} {:.15e} {:.15e}]",
            m.body_name[b], m.params0.body_mass[b], c.x, c.y, c.z, e[0], e[1], e[2]
        );
    }
    for w in &spec.warnings {
        println!("warning: {w}");
    }
}

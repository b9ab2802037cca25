//! URDF links without mass, as MuJoCo compiles them (`mujoco.MjModel.from_xml_path` on the
//! same URDF, MuJoCo 4.0: its numbers are written below): a link without `<inertial>` weighs
//! its collision geometry at 1000 kg/m^3 whatever its joint, a massless link on a fixed joint
//! is fused into its parent (MuJoCo's fusestatic), and a moving link that weighs nothing once
//! the links welded to it are counted is named in a warning or an error.

use kinegrad::math::{Mat3, Pose, Vec3};
use kinegrad::model::builder::BaseMode;
use kinegrad::model::{urdf, EntitySpec, Model, ModelBuilder};
use std::path::{Path, PathBuf};

fn path(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kinegrad-masses-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

fn build(spec: EntitySpec) -> Model {
    let mut b = ModelBuilder::new();
    b.add_entity(spec, Pose::identity(), BaseMode::AsIs);
    b.build().unwrap()
}

const BASE: &str = r#"<link name="base"><inertial><origin xyz="0 0 0.1"/><mass value="1"/><inertia ixx="0.01" iyy="0.01" izz="0.01" ixy="0" ixz="0" iyz="0"/></inertial></link>"#;
const COL: &str = r#"<collision><origin xyz="0 0 0.05"/><geometry><box size="0.1 0.2 0.3"/></geometry></collision>"#;
const VIS: &str = r#"<visual><geometry><box size="0.1 0.2 0.3"/></geometry></visual>"#;

fn inertial(m: f64, i: f64) -> String {
    format!(
        r#"<inertial><origin xyz="0 0 0.1"/><mass value="{m}"/><inertia ixx="{i}" iyy="{i}" izz="{i}" ixy="0" ixz="0" iyz="0"/></inertial>"#
    )
}

fn link(name: &str, body: &str) -> String {
    format!(r#"<link name="{name}">{body}</link>"#)
}

fn joint(name: &str, kind: &str, parent: &str, child: &str, xyz: &str) -> String {
    let limit = if kind == "revolute" {
        r#"<limit lower="-1" upper="1" effort="1" velocity="1"/>"#
    } else {
        ""
    };
    format!(
        r#"<joint name="{name}" type="{kind}"><parent link="{parent}"/><child link="{child}"/><origin xyz="{xyz}"/><axis xyz="0 1 0"/>{limit}</joint>"#
    )
}

fn load(name: &str, body: &str) -> kinegrad::Result<EntitySpec> {
    let text = format!(r#"<robot name="r">{BASE}{body}</robot>"#);
    urdf::load_str(&text, &path(name), 1.0)
}

/// Mass, centre of mass and inertia (about it) of body `b` and everything welded to it, in
/// `b`'s frame at qpos0: what MuJoCo reports for the body once it has fused them.
fn welded(m: &Model, b: usize) -> (f64, Vec3, Mat3) {
    let p = &m.params0;
    let mut parts = vec![(b, Vec3::zeros(), kinegrad::math::Quat::identity())];
    let mut out = Vec::new();
    while let Some((i, pos, quat)) = parts.pop() {
        out.push((i, pos, quat));
        for c in 0..m.nbody {
            if m.body_parent[c] == i && c != i && m.body_jnt_num[c] == 0 {
                parts.push((c, quat * m.body_pos[c] + pos, quat * m.body_quat[c]));
            }
        }
    }
    let mass: f64 = out.iter().map(|(i, _, _)| p.body_mass[*i]).sum();
    let com = out
        .iter()
        .map(|(i, pos, q)| (q * p.body_ipos[*i] + pos) * p.body_mass[*i])
        .sum::<Vec3>()
        / mass;
    let mut inertia = Mat3::zeros();
    for (i, pos, q) in &out {
        let r = q.to_rotation_matrix().into_inner();
        let d = q * p.body_ipos[*i] + pos - com;
        inertia += r * p.body_inertia[*i] * r.transpose()
            + p.body_mass[*i] * (Mat3::identity() * d.dot(&d) - d * d.transpose());
    }
    (mass, com, inertia)
}

fn principal(i: &Mat3) -> Vec<f64> {
    let mut e: Vec<f64> = i.symmetric_eigenvalues().iter().copied().collect();
    e.sort_by(|a, b| b.total_cmp(a));
    e
}

fn body(m: &Model, name: &str) -> usize {
    m.body_name
        .iter()
        .position(|n| n == name)
        .unwrap_or_else(|| panic!("no body '{name}' in {:?}", m.body_name))
}

#[test]
fn welded_links_without_inertial_weigh_their_collision_geometry() {
    // a (1 kg) carries f (no <inertial>, a 0.1 x 0.2 x 0.3 box: 6 kg) on a fixed joint;
    // MuJoCo: body 'a' of 7 kg, centre at z 0.4857, principal inertia 0.2486 0.2336 0.035
    let s = load(
        "welded_col.urdf",
        &[
            link("a", &inertial(1.0, 0.01)),
            link("f", COL),
            joint("j1", "revolute", "base", "a", "0 0 0.5"),
            joint("jf", "fixed", "a", "f", "0 0 0.5"),
        ]
        .concat(),
    )
    .unwrap();
    let m = build(s);
    let (mass, com, i) = welded(&m, body(&m, "a"));
    assert!((mass - 7.0).abs() < 1e-12, "mass {mass}");
    assert!(
        (com - Vec3::new(0.0, 0.0, 0.48571428571428577)).amax() < 1e-12,
        "{com:?}"
    );
    let want = [
        0.24857142857142867,
        0.23357142857142865,
        0.03500000000000001,
    ];
    for (g, w) in principal(&i).iter().zip(want) {
        assert!((g - w).abs() < 1e-12, "{:?} != {want:?}", principal(&i));
    }

    // a chain of two welded links, one weighing its box, one with an <inertial>: MuJoCo's 'a'
    // is 9 kg at (0.0889, 0.0444, 0.0667) with principal moments 0.1630 0.1302 0.0890
    let s = load(
        "welded_chain.urdf",
        &[
            link("a", &inertial(1.0, 0.01)),
            link("f", COL),
            link("g", &inertial(2.0, 0.02)),
            joint("j1", "revolute", "base", "a", "0 0 0.5"),
            joint("jf", "fixed", "a", "f", "0.1 0 0"),
            joint("jg", "fixed", "f", "g", "0 0.2 0"),
        ]
        .concat(),
    )
    .unwrap();
    let m = build(s);
    let (mass, com, i) = welded(&m, body(&m, "a"));
    assert!((mass - 9.0).abs() < 1e-12, "mass {mass}");
    let want_com = Vec3::new(
        0.08888888888888889,
        0.044444444444444446,
        0.06666666666666668,
    );
    assert!((com - want_com).amax() < 1e-12, "{com:?}");
    let want = [0.1630193840984222, 0.13024369877138398, 0.08895913935241628];
    for (g, w) in principal(&i).iter().zip(want) {
        assert!((g - w).abs() < 1e-12, "{:?} != {want:?}", principal(&i));
    }
}

#[test]
fn massless_welded_links_are_fused_into_their_parent() {
    // f: <inertial> of mass 0 and a box to collide with and one to draw, on a fixed joint;
    // its child c turns on j2. MuJoCo keeps bodies a and c (f fused into a, with its geoms):
    // so does kinegrad (and the base link, which MuJoCo fuses into the world)
    let s = load(
        "fused.urdf",
        &[
            link("a", &inertial(1.0, 0.01)),
            link("f", &format!("{}{COL}{VIS}", inertial(0.0, 0.0))),
            link("c", &inertial(1.0, 0.01)),
            joint("j1", "revolute", "base", "a", "0 0 0.5"),
            joint("jf", "fixed", "a", "f", "0.1 0 0.5"),
            joint("j2", "revolute", "f", "c", "0 0 0.5"),
        ]
        .concat(),
    )
    .unwrap();
    assert!(
        s.warnings
            .iter()
            .any(|w| w.contains("'f'") && w.contains("fused")),
        "{:?}",
        s.warnings
    );
    let m = build(s);
    assert_eq!(m.body_name, ["world", "base", "a", "c"]);
    let (a, c) = (body(&m, "a"), body(&m, "c"));
    // f's two geoms are a's now, placed through f's joint
    let on_a: Vec<usize> = (0..m.ngeom).filter(|&g| m.geom_body[g] == a).collect();
    assert_eq!(on_a.len(), 2);
    for g in on_a {
        let want = if m.geom_contype[g] == 0 {
            Vec3::new(0.1, 0.0, 0.5)
        } else {
            Vec3::new(0.1, 0.0, 0.55)
        };
        assert!((m.geom_pos[g] - want).amax() < 1e-12, "{:?}", m.geom_pos[g]);
    }
    // c hangs from a through f
    assert_eq!(m.body_parent[c], a);
    assert!((m.body_pos[c] - Vec3::new(0.1, 0.0, 1.0)).amax() < 1e-12);
    assert_eq!(m.params0.body_mass[a], 1.0);
}

#[test]
fn moving_links_weigh_what_is_welded_to_them() {
    // a moving link without mass whose welded child weighs 1 kg: MuJoCo loads it as one body of
    // 1 kg centred at z 0.6, and so does kinegrad, without the 1e-3 kg of a link with nothing
    for a_body in [inertial(0.0, 0.0), String::new()] {
        let s = load(
            "moving_welded.urdf",
            &[
                link("a", &a_body),
                link("f", &inertial(1.0, 0.01)),
                joint("j1", "revolute", "base", "a", "0 0 0.5"),
                joint("jf", "fixed", "a", "f", "0 0 0.5"),
            ]
            .concat(),
        )
        .unwrap();
        assert!(
            !s.warnings.iter().any(|w| w.contains("'a'")),
            "{:?}",
            s.warnings
        );
        let m = build(s);
        let (mass, com, _) = welded(&m, body(&m, "a"));
        assert!((mass - 1.0).abs() < 1e-12 && (com.z - 0.6).abs() < 1e-12);
    }
}

#[test]
fn moving_links_without_mass_are_named() {
    // <inertial> mass 0 on a revolute leaf: MuJoCo refuses ("mass and inertia of moving bodies
    // must be larger than mjMINVAL", element 'a'); kinegrad too, naming the link, joint and line
    let e = load(
        "mass0_leaf.urdf",
        &[
            link("a", &inertial(0.0, 0.0)),
            joint("j1", "revolute", "base", "a", "0 0 0.5"),
        ]
        .concat(),
    )
    .map(|_| ())
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("mass0_leaf.urdf: line 1")
            && e.contains("link 'a'")
            && e.contains("joint 'j1'")
            && e.contains("mjMINVAL"),
        "{e}"
    );
    // the same with a collision box: the <inertial> wins, as in MuJoCo
    let e = load(
        "mass0_col_leaf.urdf",
        &[
            link("a", &format!("{}{COL}", inertial(0.0, 0.0))),
            joint("j1", "revolute", "base", "a", "0 0 0.5"),
        ]
        .concat(),
    )
    .map(|_| ())
    .unwrap_err()
    .to_string();
    assert!(e.contains("link 'a'"), "{e}");

    // mass 0 between two joints, the child weighing 1 kg: MuJoCo refuses it; kinegrad can
    // simulate it (the child gives both joints inertia) and loads it with a warning naming it
    let s = load(
        "mass0_mid.urdf",
        &[
            link("a", &inertial(0.0, 0.0)),
            link("c", &inertial(1.0, 0.01)),
            joint("j1", "revolute", "base", "a", "0 0 0.5"),
            joint("j2", "revolute", "a", "c", "0 0 0.5"),
        ]
        .concat(),
    )
    .unwrap();
    assert!(
        s.warnings
            .iter()
            .any(|w| w.contains("link 'a'") && w.contains("MuJoCo refuses")),
        "{:?}",
        s.warnings
    );
    build(s);

    // no <inertial> and nothing to weigh (a link between two joints, as the Shadow hand's
    // thumb has): 1e-3 kg, with a warning naming it
    for (file, extra) in [("nothing_leaf.urdf", ""), ("visual_only_leaf.urdf", VIS)] {
        let s = load(
            file,
            &[
                link("a", extra),
                joint("j1", "revolute", "base", "a", "0 0 0.5"),
            ]
            .concat(),
        )
        .unwrap();
        assert!(
            s.warnings
                .iter()
                .any(|w| w.contains("link 'a'") && w.contains("1e-3 kg")),
            "{:?}",
            s.warnings
        );
        let m = build(s);
        assert_eq!(m.params0.body_mass[body(&m, "a")], 1e-3);
    }
}

fn assets() -> PathBuf {
    let p = std::env::var_os("KINEGRAD_ASSETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache/assets"));
    assert!(
        p.join("genesis/urdf/shadow_hand/shadow_hand.urdf")
            .is_file(),
        "model assets not found at {} (set KINEGRAD_ASSETS or run `make setup`)",
        p.display()
    );
    p
}

#[test]
fn shadow_hand_masses_as_mujoco() {
    // Genesis's Shadow hand: no link has an <inertial>; the links weigh their collision STLs.
    // MuJoCo refuses the file for thumb_base and thumb_hub (no geometry, between two joints);
    // with an <inertial> of 1e-3 kg added to those two it loads, and these are its masses
    // with its meshes' inertia="convex" (set through MjSpec: kinegrad weighs a mesh by its
    // convex hull; MuJoCo's default weighs these non-convex STLs up to 38 % lighter)
    let f = assets().join("genesis/urdf/shadow_hand/shadow_hand.urdf");
    let spec = urdf::load(&f, 1.0).unwrap();
    for l in ["thumb_base", "thumb_hub"] {
        assert!(
            spec.warnings
                .iter()
                .any(|w| w.contains(&format!("link '{l}'")) && w.contains("1e-3 kg")),
            "{:#?}",
            spec.warnings
        );
    }
    let m = build(spec);
    let mujoco = [
        ("wrist", 0.0720820173855544),
        ("palm", 0.19422637498868497),
        ("thumb_proximal", 0.022979938203368626),
        ("thumb_middle", 0.016798554351560788),
        ("index_finger_knuckle", 0.003282513975549168),
        ("index_finger_proximal", 0.014735217622075787),
        ("little_finger_metacarpal", 0.0315911445590942),
        ("thumb_base", 0.001),
    ];
    for (name, want) in mujoco {
        let got = m.params0.body_mass[body(&m, name)];
        // MuJoCo keeps mesh vertices in single precision
        assert!((got - want).abs() < 1e-6 * want, "{name}: {got} != {want}");
    }
    assert_eq!(m.nv, 24);
}

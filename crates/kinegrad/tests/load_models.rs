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

/// (file, bodies (links but those of mass 0 fused into their parent by a fixed joint, as MuJoCo
/// fuses them), movable joints (all 1-dof here))
#[test]
fn pybullet_urdfs() {
    let cases = [
        // panda_link8 and panda_grasptarget: mass 0, welded
        ("franka_panda/panda.urdf", 11, 9),
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

/// Model sizes as MuJoCo reports them: (file, nq, nv, nbody, njnt, ngeom). kinegrad adds one
/// jointless body for `<worldbody>` geoms, which is accounted for below.
#[test]
fn mjcf_counts_match_mujoco() {
    let a = assets();
    let cases = [
        ("dm_control/suite/pendulum.xml", 1, 1, 2, 1, 4),
        ("dm_control/suite/cartpole.xml", 2, 2, 3, 2, 5),
        ("dm_control/suite/acrobot.xml", 2, 2, 3, 2, 4),
        ("dm_control/suite/reacher.xml", 2, 2, 4, 2, 10),
        ("dm_control/suite/cheetah.xml", 9, 9, 8, 9, 9),
        ("dm_control/suite/walker.xml", 9, 9, 8, 9, 8),
        ("dm_control/suite/humanoid.xml", 28, 27, 17, 22, 20),
        ("gymnasium/ant.xml", 15, 14, 14, 9, 14),
        ("gymnasium/half_cheetah.xml", 9, 9, 8, 9, 9),
        ("gymnasium/hopper.xml", 6, 6, 5, 6, 5),
        ("gymnasium/humanoid.xml", 24, 23, 14, 18, 18),
        ("genesis/xml/franka_emika_panda/panda.xml", 9, 9, 12, 9, 81),
        (
            "genesis/xml/franka_emika_panda/scene_no_tendon.xml",
            9,
            9,
            12,
            9,
            82,
        ),
    ];
    for (rel, nq, nv, nbody, njnt, ngeom) in cases {
        let spec = mjcf::load(&a.join(rel), 1.0).unwrap_or_else(|e| panic!("{rel}: {e}"));
        let world = usize::from(
            spec.bodies[0].name.ends_with("_world")
                && spec.bodies[0].joints.is_empty()
                && spec.bodies[0].parent.is_none(),
        );
        let m = build(spec.clone(), BaseMode::AsIs);
        assert_eq!(
            (m.nq, m.nv, m.nbody - world, m.njnt, m.ngeom),
            (nq, nv, nbody, njnt, ngeom),
            "{rel}: (nq, nv, nbody, njnt, ngeom)"
        );
        assert!(spec.options.is_some(), "{rel}: options");
        eprintln!("{rel}: warnings {:?}", spec.warnings);
    }
}

#[test]
fn mjcf_panda_reads_its_finger_equality_tendon_and_tendon_actuator() {
    let spec = mjcf::load(
        &assets().join("genesis/xml/franka_emika_panda/panda.xml"),
        1.0,
    )
    .unwrap();
    let w = spec.warnings.join("\n");
    assert!(!w.contains("<tendon>") && !w.contains("<equality>"), "{w}");
    assert_eq!(spec.tendons.len(), 1);
    assert_eq!(spec.tendons[0].name, "split");
    let joints: Vec<(&str, f64)> = spec.tendons[0]
        .joints
        .iter()
        .map(|(j, c)| (j.as_str(), *c))
        .collect();
    assert_eq!(joints, [("finger_joint1", 0.5), ("finger_joint2", 0.5)]);
    let eq = &spec.equalities;
    assert_eq!(eq.len(), 1);
    assert_eq!(eq[0].kind, kinegrad::model::EqType::Joint);
    assert_eq!(eq[0].obj, ["finger_joint1", "finger_joint2"]);
    assert_eq!(eq[0].polycoef, [0.0, 1.0, 0.0, 0.0, 0.0]);
    assert!(!w.contains("transmission"), "{w}");
    assert_eq!(spec.actuators.len(), 8);
    assert!(spec
        .actuators
        .iter()
        .all(|a| a.mode == kinegrad::CtrlMode::Position && a.kp > 0.0 && a.kv > 0.0));
    // the gripper: gainprm 0.0157 biasprm "0 -100 -10" on the tendon, a PD of kp 100, kv 10
    let g = &spec.actuators[7];
    assert!(
        g.tendon && g.joint == "split" && g.kp == 100.0 && g.kv == 10.0,
        "{g:?}"
    );
    let model =
        mjcf::load_model(&assets().join("genesis/xml/franka_emika_panda/panda.xml")).unwrap();
    assert_eq!(model.nu(), model.nv + 1);
    assert_eq!(model.actuators[7].dof, model.nv);
    assert_eq!(model.params0.tendon_kp, [100.0]);
    assert_eq!(model.params0.tendon_force_range, [[-100.0, 100.0]]);
}

fn principal(m: &kinegrad::math::Mat3) -> [f64; 3] {
    let mut e: Vec<f64> = m.symmetric_eigenvalues().iter().copied().collect();
    e.sort_by(f64::total_cmp);
    [e[0], e[1], e[2]]
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()) + 1e-300
}

/// Masses, centres of mass and principal inertias printed by MuJoCo 4.0
/// (`body_mass`, `body_ipos`, sorted `body_inertia`).
#[test]
fn dm_control_inertias_match_mujoco() {
    type Row = (&'static str, f64, [f64; 3], [f64; 3]);
    let cases: [(&str, &[Row]); 3] = [
        (
            "pendulum",
            &[("pole", 1.0, [0.0, 0.0, 0.5], [0.0010000000000000002; 3])],
        ),
        (
            "acrobot",
            &[
                (
                    "upper_arm",
                    1.0,
                    [0.0, 0.0, 0.5],
                    [0.0012343750000000002, 0.0955703125, 0.0955703125],
                ),
                (
                    "lower_arm",
                    1.0,
                    [0.0, 0.0, 0.5],
                    [
                        0.0011857754693366711,
                        0.09530365719649561,
                        0.09530365719649561,
                    ],
                ),
            ],
        ),
        (
            "cartpole",
            &[
                (
                    "cart",
                    1.0,
                    [0.0, 0.0, 0.0],
                    [
                        0.010833333333333334,
                        0.01666666666666667,
                        0.020833333333333332,
                    ],
                ),
                (
                    "pole_1",
                    0.1,
                    [0.0, 0.0, 0.5],
                    [
                        0.00010010377358490566,
                        0.009424592767295598,
                        0.009424592767295598,
                    ],
                ),
            ],
        ),
    ];
    for (file, rows) in cases {
        let spec = mjcf::load(&assets().join(format!("dm_control/suite/{file}.xml")), 1.0).unwrap();
        for (name, mass, ipos, inertia) in rows {
            let b = spec
                .bodies
                .iter()
                .find(|b| b.name == *name)
                .unwrap_or_else(|| panic!("{file}: body {name}"));
            assert!(
                close(b.mass, *mass, 1e-12),
                "{file}/{name}: mass {} vs {mass}",
                b.mass
            );
            for k in 0..3 {
                assert!(
                    (b.ipos[k] - ipos[k]).abs() <= 1e-12 * ipos[k].abs().max(1.0),
                    "{file}/{name}: ipos {:?} vs {ipos:?}",
                    b.ipos
                );
            }
            let e = principal(&b.inertia);
            for k in 0..3 {
                assert!(
                    close(e[k], inertia[k], 1e-12),
                    "{file}/{name}: inertia {e:?} vs {inertia:?}"
                );
            }
        }
    }
}

struct TempDir(PathBuf);
impl TempDir {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("kinegrad_load_{tag}_{}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn expect_err(r: kinegrad::Result<EntitySpec>, file: &str, needles: &[&str]) {
    let e = match r {
        Ok(_) => panic!("{file}: expected an error"),
        Err(e) => e.to_string(),
    };
    assert!(e.contains(file), "error does not name the file {file}: {e}");
    for n in needles {
        assert!(e.contains(n), "error does not mention {n:?}: {e}");
    }
}

const LINK: &str = r#"<inertial><mass value="1"/><inertia ixx="0.1" iyy="0.1" izz="0.1" ixy="0" ixz="0" iyz="0"/></inertial>"#;

#[test]
fn malformed_urdf_errors() {
    let t = TempDir::new("urdf");
    let f = t.write("unclosed.urdf", r#"<robot name="r"><link name="a">"#);
    expect_err(urdf::load(&f, 1.0), "unclosed.urdf", &["XML"]);
    let f = t.write(
        "badnum.urdf",
        &format!(r#"<robot name="r"><link name="a">{LINK}</link><link name="b"><inertial><mass value="1.x"/></inertial></link><joint name="j" type="revolute"><parent link="a"/><child link="b"/><limit lower="-1" upper="1"/></joint></robot>"#),
    );
    expect_err(
        urdf::load(&f, 1.0),
        "badnum.urdf",
        &["link 'b'", "<mass>", "1.x"],
    );
    let f = t.write(
        "jtype.urdf",
        &format!(r#"<robot name="r"><link name="a">{LINK}</link><link name="b">{LINK}</link><joint name="j" type="screw"><parent link="a"/><child link="b"/></joint></robot>"#),
    );
    expect_err(urdf::load(&f, 1.0), "jtype.urdf", &["joint 'j'", "screw"]);
    let f = t.write(
        "planar.urdf",
        &format!(r#"<robot name="r"><link name="a">{LINK}</link><link name="b">{LINK}</link><joint name="p" type="planar"><parent link="a"/><child link="b"/></joint></robot>"#),
    );
    expect_err(urdf::load(&f, 1.0), "planar.urdf", &["joint 'p'", "planar"]);
    let f = t.write(
        "nomesh.urdf",
        &format!(r#"<robot name="r"><link name="a">{LINK}<collision><geometry><mesh filename="package://pkg/meshes/missing.stl"/></geometry></collision></link></robot>"#),
    );
    expect_err(
        urdf::load(&f, 1.0),
        "nomesh.urdf",
        &["link 'a'", "missing.stl", "not found"],
    );
    let f = t.write(
        "cycle.urdf",
        &format!(
            r#"<robot name="r"><link name="root">{LINK}</link><link name="a">{LINK}</link><link name="b">{LINK}</link>
            <joint name="r_a" type="fixed"><parent link="root"/><child link="a"/></joint>
            <joint name="a_b" type="fixed"><parent link="a"/><child link="b"/></joint>
            <joint name="b_a" type="fixed"><parent link="b"/><child link="a"/></joint></robot>"#
        ),
    );
    expect_err(urdf::load(&f, 1.0), "cycle.urdf", &["link 'a'"]);
    let f = t.write(
        "loop.urdf",
        &format!(
            r#"<robot name="r"><link name="a">{LINK}</link><link name="b">{LINK}</link>
            <joint name="a_b" type="fixed"><parent link="a"/><child link="b"/></joint>
            <joint name="b_a" type="fixed"><parent link="b"/><child link="a"/></joint></robot>"#
        ),
    );
    expect_err(urdf::load(&f, 1.0), "loop.urdf", &["cycle"]);
    let f = t.write(
        "tworoots.urdf",
        &format!(
            r#"<robot name="r"><link name="a">{LINK}</link><link name="b">{LINK}</link></robot>"#
        ),
    );
    expect_err(
        urdf::load(&f, 1.0),
        "tworoots.urdf",
        &["'a'", "'b'", "root"],
    );
    let f = t.write("noinertia.urdf", r#"<robot name="r"><link name="a"><inertial><origin xyz="0 0 0"/></inertial></link></robot>"#);
    expect_err(
        urdf::load(&f, 1.0),
        "noinertia.urdf",
        &["link 'a'", "<inertial>", "missing <mass>"],
    );
}

#[test]
fn urdf_features_and_warnings() {
    let t = TempDir::new("urdf_ok");
    let f = t.write(
        "robot.urdf",
        &format!(
            r#"<robot name="bot">
  <material name="red"><color rgba="1 0 0 1"/></material>
  <link name="base">{LINK}<visual><geometry><box size="0.2 0.4 0.6"/></geometry><material name="red"/></visual>
    <collision><geometry><box size="0.2 0.4 0.6"/></geometry></collision></link>
  <link name="arm"><collision><origin xyz="0 0 0.5"/><geometry><cylinder radius="0.1" length="1"/></geometry></collision>
    <visual><geometry><mesh filename="arm.dae"/></geometry></visual></link>
  <link name="tip"/>
  <link name="finger">{LINK}</link>
  <joint name="shoulder" type="revolute"><parent link="base"/><child link="arm"/><origin xyz="0 0 1" rpy="0 0 1.5707963267948966"/>
    <axis xyz="0 1 0"/><limit lower="-1" upper="2" effort="30" velocity="1"/><dynamics damping="0.5" friction="0.1"/></joint>
  <joint name="tip_fix" type="fixed"><parent link="arm"/><child link="tip"/><origin xyz="0 0 1"/></joint>
  <joint name="slide" type="prismatic"><parent link="tip"/><child link="finger"/><limit lower="0" upper="0.1" effort="5" velocity="1"/>
    <mimic joint="shoulder"/></joint>
  <transmission name="tr"><type>x</type></transmission>
</robot>"#
        ),
    );
    let spec = urdf::load(&f, 2.0).unwrap();
    let w = spec.warnings.join("\n");
    for needle in [
        "<transmission> 'tr'",
        "arm.dae",
        "link 'arm': no <inertial>",
    ] {
        assert!(w.contains(needle), "missing warning {needle:?} in:\n{w}");
    }
    assert!(!w.contains("frictionloss") && !w.contains("mimic"), "{w}");
    // <dynamics friction> is the frictionloss, <mimic> a joint equality (MuJoCo's reading)
    let joints: Vec<_> = spec.bodies.iter().flat_map(|b| &b.joints).collect();
    assert_eq!(
        joints
            .iter()
            .find(|j| j.name == "shoulder")
            .unwrap()
            .frictionloss,
        0.1
    );
    assert_eq!(spec.equalities.len(), 1);
    assert_eq!(spec.equalities[0].obj, ["slide", "shoulder"]);
    assert_eq!(spec.equalities[0].polycoef, [0.0, 1.0, 0.0, 0.0, 0.0]);
    assert_eq!(spec.name, "bot");
    let names: Vec<&str> = spec.bodies.iter().map(|b| b.name.as_str()).collect();
    // 'tip' (massless, fixed) is fused into 'arm' as MuJoCo does; 'finger' hangs from 'arm'
    assert_eq!(names, ["base", "arm", "finger"]);
    let base = &spec.bodies[0];
    assert_eq!(base.geoms.len(), 2);
    let vis = base.geoms.iter().find(|g| g.visual).unwrap();
    assert_eq!(vis.rgba, [1.0, 0.0, 0.0, 1.0]);
    assert!(
        (vis.size - kinegrad::math::Vec3::new(0.2, 0.4, 0.6)).norm() < 1e-12,
        "box half sizes times scale 2"
    );
    let arm = &spec.bodies[1];
    assert_eq!(arm.geoms.len(), 1, "the .dae visual is dropped");
    assert!((arm.pos.z - 2.0).abs() < 1e-12);
    let j = &arm.joints[0];
    assert_eq!(j.range, Some([-1.0, 2.0]));
    assert_eq!(j.force_range, [-30.0, 30.0]);
    assert_eq!(j.damping, 0.5);
    // mass from the cylinder at 1000 kg/m^3, unchanged by the scale
    let m = 1000.0 * std::f64::consts::PI * 0.01;
    assert!((arm.mass - m).abs() < 1e-9 * m, "{}", arm.mass);
    assert!((arm.ipos.z - 1.0).abs() < 1e-12);
    assert!(w.contains("links 'tip' are massless and welded by fixed joints: fused"));
    assert!(
        (spec.bodies[2].pos.z - 2.0).abs() < 1e-12,
        "placed through 'tip'"
    );
    assert_eq!(
        spec.bodies[2].joints[0].range,
        Some([0.0, 0.2]),
        "slide range scaled"
    );
    let model = build(spec, BaseMode::Fixed);
    assert_eq!((model.nbody, model.njnt, model.nq), (4, 2, 2));
}

#[test]
fn malformed_mjcf_errors() {
    let t = TempDir::new("mjcf");
    let f = t.write(
        "unclosed.xml",
        "<mujoco><worldbody><body name='a'></worldbody></mujoco>",
    );
    expect_err(mjcf::load(&f, 1.0), "unclosed.xml", &["XML"]);
    let f = t.write("badnum.xml", "<mujoco><worldbody><body name='a'><geom name='g' type='sphere' size='0.1x'/></body></worldbody></mujoco>");
    expect_err(
        mjcf::load(&f, 1.0),
        "badnum.xml",
        &["<geom name='g'>", "size", "0.1x"],
    );
    let f = t.write("jtype.xml", "<mujoco><worldbody><body name='a'><joint name='j' type='screw'/><geom size='0.1'/></body></worldbody></mujoco>");
    expect_err(
        mjcf::load(&f, 1.0),
        "jtype.xml",
        &["<joint name='j'>", "screw"],
    );
    let f = t.write(
        "gtype.xml",
        "<mujoco><worldbody><geom name='g' type='torus' size='1'/></worldbody></mujoco>",
    );
    expect_err(
        mjcf::load(&f, 1.0),
        "gtype.xml",
        &["<geom name='g'>", "torus"],
    );
    let f = t.write(
        "nomesh.xml",
        "<mujoco><asset><mesh name='m' file='nothere.stl'/></asset><worldbody><body name='a'><geom name='g' type='mesh' mesh='m'/></body></worldbody></mujoco>",
    );
    expect_err(mjcf::load(&f, 1.0), "nomesh.xml", &["nothere.stl"]);
    let f = t.write("noattr.xml", "<mujoco><worldbody><body name='a'><inertial pos='0 0 0' diaginertia='1 1 1'/></body></worldbody></mujoco>");
    expect_err(mjcf::load(&f, 1.0), "noattr.xml", &["<inertial>", "mass"]);
    let f = t.write("inc.xml", "<mujoco><include file='absent.xml'/></mujoco>");
    expect_err(mjcf::load(&f, 1.0), "inc.xml", &["<include>", "absent.xml"]);
    let f = t.write(
        "act.xml",
        "<mujoco><worldbody><body name='a'><joint name='j'/><geom size='0.1'/></body></worldbody><actuator><motor name='m' joint='nope'/></actuator></mujoco>",
    );
    expect_err(
        mjcf::load(&f, 1.0),
        "act.xml",
        &["<motor name='m'>", "nope"],
    );
}

#[test]
fn mjcf_features_and_warnings() {
    let t = TempDir::new("mjcf_ok");
    t.write(
        "part.xml",
        "<mujoco><asset><material name='blue' rgba='0 0 1 1'/></asset></mujoco>",
    );
    let f = t.write(
        "m.xml",
        r#"<mujoco model="toy">
  <include file="part.xml"/>
  <compiler angle="degree" autolimits="true"/>
  <option timestep="0.005" integrator="implicitfast"><flag contact="disable"/></option>
  <default>
    <joint damping="0.3"/>
    <default class="arm"><geom type="capsule" size="0.05" rgba="0 1 0 1"/><joint range="-90 90"/></default>
  </default>
  <worldbody>
    <geom name="floor" type="plane" size="5 5 0.1"/>
    <body name="a" pos="0 0 1" childclass="arm">
      <joint name="h" axis="0 1 0" frictionloss="0.1"/>
      <geom name="upper" fromto="0 0 0 0 0 -0.5" material="blue"/>
      <geom name="vis" type="sphere" size="0.1" contype="0" conaffinity="0" density="0"/>
      <body name="b" pos="0 0 -0.5" euler="0 90 0">
        <joint name="s" type="slide" axis="1 0 0" range="-0.1 0.1"/>
        <geom name="el" type="ellipsoid" size="0.1 0.2 0.3"/>
        <geom name="bx" type="box" size="0.1 0.1 0.1" mass="2"/>
      </body>
    </body>
  </worldbody>
  <actuator>
    <general name="pd" joint="h" gainprm="50" biasprm="0 -50 -5" biastype="affine"/>
    <velocity name="vel" joint="s" kv="3"/>
    <motor name="tm" tendon="t1"/>
  </actuator>
  <tendon><fixed name="t1"><joint joint="h" coef="1"/></fixed></tendon>
  <equality><weld name="w1" body1="a" body2="b"/></equality>
  <sensor><jointpos name="jp" joint="h"/></sensor>
  <keyframe><key name="k0" qpos="0 0"/></keyframe>
  <contact><pair name="p1" geom1="upper" geom2="bx"/><exclude body1="a" body2="b"/></contact>
</mujoco>"#,
    );
    let spec = mjcf::load(&f, 1.0).unwrap();
    let w = spec.warnings.join("\n");
    for needle in ["jp", "p1"] {
        assert!(w.contains(needle), "missing warning {needle:?} in:\n{w}");
    }
    assert!(
        !w.contains("w1")
            && !w.contains("frictionloss")
            && !w.contains("'t1'")
            && !w.contains("k0"),
        "{w}"
    );
    assert_eq!(spec.keyframes.len(), 1);
    assert_eq!(spec.keyframes[0].name, "k0");
    assert_eq!(spec.keyframes[0].qpos, Some(vec![0.0, 0.0]));
    assert_eq!(spec.tendons.len(), 1);
    let tm = spec.actuators.iter().find(|a| a.name == "tm").unwrap();
    assert!(tm.tendon && tm.joint == "t1" && tm.mode == kinegrad::CtrlMode::Force);
    assert_eq!(spec.equalities.len(), 1);
    assert_eq!(spec.equalities[0].name, "w1");
    let h = spec
        .bodies
        .iter()
        .flat_map(|b| &b.joints)
        .find(|j| j.name == "h");
    assert_eq!(h.unwrap().frictionloss, 0.1);
    let opt = spec.options.clone().unwrap();
    assert_eq!(opt.timestep, 0.005);
    assert!(!opt.enable_collision);
    // as a scene of its own, with those options and its joints as written
    let model = mjcf::load_model(&f).unwrap();
    assert_eq!(model.opt.timestep, 0.005);
    assert!(!model.opt.enable_collision);
    assert_eq!(
        model.njnt,
        spec.bodies.iter().map(|b| b.joints.len()).sum::<usize>()
    );
    assert_eq!(spec.excludes, vec![("a".to_string(), "b".to_string())]);
    let a = spec.bodies.iter().find(|b| b.name == "a").unwrap();
    let h = &a.joints[0];
    assert_eq!(h.damping, 0.3);
    let r = h.range.unwrap();
    assert!((r[1] - std::f64::consts::FRAC_PI_2).abs() < 1e-12);
    let upper = &a.geoms[0];
    assert_eq!(upper.kind, kinegrad::model::GeomType::Capsule);
    assert!((upper.size.y - 0.25).abs() < 1e-12 && (upper.pos.z + 0.25).abs() < 1e-12);
    assert_eq!(upper.rgba, [0.0, 0.0, 1.0, 1.0], "material colour");
    assert!(a.geoms[1].visual);
    let b = spec.bodies.iter().find(|b| b.name == "b").unwrap();
    assert_eq!(b.geoms.len(), 2, "the ellipsoid is a geom");
    assert_eq!(b.geoms[0].kind, kinegrad::model::GeomType::Ellipsoid);
    assert_eq!(b.geoms[0].size, kinegrad::math::Vec3::new(0.1, 0.2, 0.3));
    let me = 1000.0 * 4.0 / 3.0 * std::f64::consts::PI * 0.1 * 0.2 * 0.3;
    assert!(
        (b.mass - (2.0 + me)).abs() < 1e-9,
        "ellipsoid mass: {}",
        b.mass
    );
    let pd = spec.actuators.iter().find(|a| a.name == "pd").unwrap();
    assert_eq!(
        (pd.mode, pd.kp, pd.kv),
        (kinegrad::CtrlMode::Position, 50.0, 5.0)
    );
    let vel = spec.actuators.iter().find(|a| a.name == "vel").unwrap();
    assert_eq!((vel.mode, vel.kv), (kinegrad::CtrlMode::Velocity, 3.0));
    assert_eq!(spec.actuators.len(), 3); // pd, vel, and tm on the tendon
    let m = build(spec, BaseMode::AsIs);
    assert_eq!(
        (m.nbody, m.njnt, m.ngeom, m.exclude_pairs.len()),
        (4, 2, 5, 1)
    );
}

/// A `<mimic>` that cannot act (on a fixed joint, or led by a fixed, floating or unknown joint)
/// is dropped with a warning naming the joint, and the robot loads and builds.
#[test]
fn urdf_mimic_that_cannot_act_is_dropped_with_a_warning() {
    let t = TempDir::new("urdf_mimic");
    let f = t.write(
        "mimic.urdf",
        &format!(
            r#"<robot name="m">
  <link name="base">{LINK}</link><link name="a">{LINK}</link><link name="b">{LINK}</link>
  <link name="c">{LINK}</link><link name="d">{LINK}</link>
  <joint name="weld" type="fixed"><parent link="base"/><child link="a"/><mimic joint="hinge"/></joint>
  <joint name="hinge" type="revolute"><parent link="a"/><child link="b"/><axis xyz="0 1 0"/>
    <limit lower="-1" upper="1" effort="1" velocity="1"/><mimic joint="weld"/></joint>
  <joint name="slide" type="prismatic"><parent link="b"/><child link="c"/>
    <limit lower="0" upper="1" effort="1" velocity="1"/><mimic joint="nowhere"/></joint>
  <joint name="follow" type="revolute"><parent link="c"/><child link="d"/>
    <limit lower="-1" upper="1" effort="1" velocity="1"/><mimic joint="hinge" multiplier="2"/></joint>
</robot>"#
        ),
    );
    let spec = urdf::load(&f, 1.0).unwrap();
    let w = spec.warnings.join("\n");
    for needle in [
        "joint 'weld': <mimic> on a fixed joint",
        "joint 'hinge': <mimic joint='weld'>: the leader is a fixed joint",
        "joint 'slide': <mimic joint='nowhere'>: the leader is not a joint of this file",
    ] {
        assert!(w.contains(needle), "missing warning {needle:?} in:\n{w}");
    }
    assert_eq!(spec.equalities.len(), 1);
    assert_eq!(spec.equalities[0].obj, ["follow", "hinge"]);
    assert_eq!(spec.equalities[0].polycoef[1], 2.0);
    let mut b = ModelBuilder::new();
    b.add_entity(spec, Pose::identity(), BaseMode::Fixed);
    assert_eq!(b.build().unwrap().equalities.len(), 1);
}

/// A solref mixing the standard and direct formats loads with MuJoCo's default in its place and
/// a warning naming the element (MuJoCo replaces it at run time, with a warning).
#[test]
fn mjcf_mixed_solref_becomes_the_default_with_a_warning() {
    let xml = r#"<mujoco><worldbody><body>
      <joint name="j" type="hinge" limited="true" range="-1 1" solreflimit="0.01 0"/>
      <geom name="g" type="sphere" size="0.1" solref="-100 1"/></body></worldbody></mujoco>"#;
    let spec = mjcf::load_str(xml, Path::new("mixed.xml"), 1.0).unwrap();
    let w = spec.warnings.join("\n");
    assert!(w.contains("joint 'j': solreflimit [0.01, 0] mixes"), "{w}");
    assert!(w.contains("geom 'g': solref [-100, 1] mixes"), "{w}");
    assert_eq!(spec.bodies[0].joints[0].solref, [0.02, 1.0]);
    assert_eq!(spec.bodies[0].geoms[0].solref, [0.02, 1.0]);
}

/// What MuJoCo's reader accepts and kinegrad once refused (pybullet's `diff_ring.urdf`,
/// `humanoid.urdf`, `samurai.urdf`): an XML declaration after a blank line, a NUL byte after the
/// root element, an OBJ face of 2 vertices (a segment: no triangle). Errors keep their lines.
#[test]
fn urdf_text_as_mujoco_reads_it() {
    let t = TempDir::new("urdf_lenient");
    t.write(
        "m.obj",
        "v 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 1\nf 1 3 2\nf 1 2 4\nf 1 4 3\nf 2 3 4\nf 1 2\n",
    );
    let body = r#"
<?xml version="1.0" ?>
<robot name="r">
  <link name="base"><collision><geometry><mesh filename="m.obj"/></geometry></collision></link>
</robot>"#;
    let f = t.write("lenient.urdf", &format!("{body}\n\0 trailing bytes"));
    let spec = urdf::load(&f, 1.0).unwrap();
    let m = build(spec, BaseMode::Fixed);
    assert_eq!(m.ngeom, 1);
    assert_eq!(
        m.meshes[0].faces.len(),
        4,
        "the 2-vertex face adds no triangle"
    );
    // an error after the blanked declaration names the line it has in the file
    let bad = t.write(
        "bad.urdf",
        "\n<?xml version=\"1.0\" ?>\n<robot name=\"r\">\n<link name=\"a\"><bogus></link>\n</robot>",
    );
    let e = urdf::load(&bad, 1.0).unwrap_err().to_string();
    assert!(e.contains("4:"), "{e}");
}

/// Inertias off by round-off load as zero moments (iCub's `r_hip_2`, `-5.4e-20` on the
/// diagonal; `l_ankle_2`, principal moments `+-1.4e-20`); a truly negative one is refused.
#[test]
fn urdf_inertia_round_off_is_zero() {
    let t = TempDir::new("urdf_roundoff");
    let robot = |inertia: &str| {
        format!(
            r#"<robot name="r"><link name="base"/>
  <link name="a"><inertial><mass value="1"/><inertia ixx="0.01" iyy="0.01" izz="0.01" ixy="0" ixz="0" iyz="0"/></inertial></link>
  <link name="b"><inertial><mass value="0.1"/>{inertia}</inertial></link>
  <joint name="j" type="revolute"><parent link="base"/><child link="a"/><axis xyz="0 0 1"/><limit lower="-1" upper="1" effort="1" velocity="1"/></joint>
  <joint name="f" type="fixed"><parent link="a"/><child link="b"/></joint>
</robot>"#
        )
    };
    for (name, inertia) in [
        (
            "diag",
            r#"<inertia ixx="-5.42101e-20" iyy="-5.42101e-20" izz="0" ixy="0" ixz="0" iyz="0"/>"#,
        ),
        (
            "offdiag",
            r#"<inertia ixx="0" iyy="0" izz="0" ixy="1.35525e-20" ixz="0" iyz="0"/>"#,
        ),
    ] {
        let f = t.write(&format!("{name}.urdf"), &robot(inertia));
        let m = build(urdf::load(&f, 1.0).unwrap(), BaseMode::Fixed);
        let b = m.body_name.iter().position(|n| n == "b").unwrap();
        assert!(m.params0.body_inertia[b].abs().max() < 1e-19, "{name}");
    }
    let f = t.write(
        "neg.urdf",
        &robot(r#"<inertia ixx="1e-3" iyy="1e-3" izz="1e-3" ixy="2e-3" ixz="0" iyz="0"/>"#),
    );
    let e = urdf::load(&f, 1.0).unwrap_err().to_string();
    assert!(e.contains("not positive semi-definite"), "{e}");
}

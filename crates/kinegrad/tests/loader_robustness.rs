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

/// One-body MJCF with `joint` attributes, `body` extra children and `act` actuators.
fn mjcf_case(joint: &str, body: &str, act: &str, compiler: &str) -> String {
    format!(
        "<mujoco>\n<compiler {compiler}/>\n<worldbody>\n<body name='a'>\n<joint name='j' {joint}/>\n\
         <geom name='g' size='0.1'/>\n{body}\n</body>\n</worldbody>\n<actuator>\n{act}\n</actuator>\n</mujoco>\n"
    )
}

fn expect_err(text: &str, file: &str, needles: &[&str]) {
    let e = match mjcf::load_str(text, Path::new(file), 1.0).and_then(build) {
        Ok(_) => panic!("{file}: loaded, expected an error containing {needles:?}\n{text}"),
        Err(e) => e.to_string(),
    };
    assert!(e.contains(file), "error does not name the file: {e}");
    assert!(e.contains("line "), "error does not name the line: {e}");
    for n in needles {
        assert!(e.contains(n), "error lacks '{n}': {e}");
    }
}

/// The cases MuJoCo 3's compiler rejects (checked with `mujoco.MjModel.from_xml_string`), and
/// the negative gains and stiffness the parameter setters refuse, were loaded silently.
#[test]
fn mjcf_loader_rejects_invalid_values_as_mujoco_does() {
    let inertial = |s: &str| format!("<inertial pos='0 0 0' mass='1' {s}/>");
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            mjcf_case("", "<body name='a'><geom size='.1'/></body>", "", ""),
            vec!["repeated body name 'a'"],
        ),
        (
            mjcf_case(
                "",
                "<body name='b'><joint name='j'/><geom size='.1'/></body>",
                "",
                "",
            ),
            vec!["repeated joint name 'j'"],
        ),
        (
            mjcf_case("", "<geom name='g' size='.1'/>", "", ""),
            vec!["repeated geom name 'g'"],
        ),
        (
            mjcf_case("", &inertial("diaginertia='-1 1 1'"), "", ""),
            vec!["negative"],
        ),
        (
            mjcf_case("", &inertial("fullinertia='1 1 1 2 0 0'"), "", ""),
            vec!["positive semi-definite"],
        ),
        (
            mjcf_case("", &inertial("diaginertia='1 1 3'"), "", ""),
            vec!["A + B >= C"],
        ),
        (
            mjcf_case("", &inertial("diaginertia='1 1 2.00001'"), "", ""),
            vec!["A + B >= C"],
        ),
        // MuJoCo's tolerance is mjMINVAL (1e-15): 1 + 1 < 2 + 1e-14 is rejected too
        (
            mjcf_case("", &inertial("diaginertia='1 1 2.00000000000001'"), "", ""),
            vec!["A + B >= C"],
        ),
        (
            mjcf_case(
                "",
                "<inertial pos='0 0 0' mass='0' diaginertia='1 1 1'/>",
                "",
                "inertiafromgeom='false'",
            ),
            vec!["mass and inertia of a moving body"],
        ),
        (
            mjcf_case(
                "",
                "",
                "<motor joint='j' ctrllimited='true' ctrlrange='1 -1'/>",
                "",
            ),
            vec!["ctrlrange", "lower 1 > upper -1"],
        ),
        (
            mjcf_case(
                "",
                "",
                "<motor joint='j' forcelimited='true' forcerange='1 -1'/>",
                "",
            ),
            vec!["forcerange"],
        ),
        (
            mjcf_case("", "", "<motor/>", ""),
            vec!["missing transmission target"],
        ),
        (
            mjcf_case("", "", "<velocity joint='j' kv='-2'/>", ""),
            vec!["negative gain"],
        ),
        (
            mjcf_case("", "", "<position joint='j' kp='-5'/>", ""),
            vec!["negative gain"],
        ),
        (
            mjcf_case("stiffness='-1'", "", "", ""),
            vec!["negative stiffness"],
        ),
        (
            mjcf_case("", "<geom size='-0.1'/>", "", ""),
            vec!["negative size"],
        ),
        (mjcf_case("", "<geom size='0'/>", "", ""), vec!["zero size"]),
        (
            mjcf_case("", "<geom type='box' size='0.1 -0.1 0.1'/>", "", ""),
            vec!["negative size"],
        ),
        (
            mjcf_case("", "<geom size='.1' density='-1'/>", "", ""),
            vec!["negative mass or density"],
        ),
        (
            mjcf_case("", "<geom size='.1' mass='-1'/>", "", ""),
            vec!["negative mass or density"],
        ),
    ];
    for (i, (text, needles)) in cases.iter().enumerate() {
        expect_err(text, &format!("case{i}.xml"), needles);
    }
    // and what MuJoCo accepts still loads: the triangle exactly met, balanceinertia, an empty
    // but valid control range
    for text in [
        mjcf_case("", &inertial("diaginertia='1 1 2'"), "", ""),
        mjcf_case(
            "",
            &inertial("diaginertia='1 1 3'"),
            "",
            "balanceinertia='true'",
        ),
        mjcf_case(
            "",
            "",
            "<motor joint='j' ctrllimited='true' ctrlrange='1 1'/>",
            "",
        ),
    ] {
        let spec = mjcf::load_str(&text, Path::new("ok.xml"), 1.0).unwrap();
        build(spec).unwrap();
    }
}

fn urdf_case(inertia: &str, geom: &str, extra: &str) -> String {
    format!(
        "<robot name='r'>\n<link name='base'/>\n<link name='a'>\n<inertial><mass value='1'/>\n<inertia {inertia}/></inertial>\n\
         <collision><geometry>{geom}</geometry></collision>\n</link>\n\
         <joint name='j' type='revolute'><parent link='base'/><child link='a'/><limit lower='-1' upper='1'/></joint>\n{extra}</robot>\n"
    )
}

#[test]
fn urdf_loader_rejects_negative_and_indefinite_inertia_and_negative_sizes() {
    let ok_i = "ixx='1' iyy='1' izz='1' ixy='0' ixz='0' iyz='0'";
    let ok_g = "<sphere radius='0.1'/>";
    let cases = [
        (urdf_case("ixx='-1' iyy='1' izz='1'", ok_g, ""), "negative ixx"),
        (urdf_case("ixx='1' iyy='1' izz='1' ixy='2'", ok_g, ""), "positive semi-definite"),
        (urdf_case(ok_i, "<sphere radius='-0.1'/>", ""), "negative size"),
        (urdf_case(ok_i, "<box size='0.1 -0.2 0.1'/>", ""), "negative size"),
        (
            urdf_case(ok_i, ok_g, "<link name='c'/><joint name='j' type='fixed'><parent link='a'/><child link='c'/></joint>\n"),
            "duplicate joint name",
        ),
    ];
    for (i, (text, needle)) in cases.iter().enumerate() {
        let file = format!("case{i}.urdf");
        let e = urdf::load_str(text, Path::new(&file), 1.0)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&file) && e.contains("line ") && e.contains(needle),
            "{e}"
        );
    }
    // the triangle inequality is a warning (real robot files break it)
    let spec = urdf::load_str(
        &urdf_case("ixx='1' iyy='1' izz='3'", ok_g, ""),
        Path::new("t.urdf"),
        1.0,
    )
    .unwrap();
    assert!(
        spec.warnings.iter().any(|w| w.contains("A + B >= C")),
        "{:?}",
        spec.warnings
    );
    // zero-size geometry is still dropped with a warning
    let spec = urdf::load_str(
        &urdf_case(ok_i, "<sphere radius='0'/>", ""),
        Path::new("z.urdf"),
        1.0,
    )
    .unwrap();
    assert!(
        spec.warnings.iter().any(|w| w.contains("zero-size")),
        "{:?}",
        spec.warnings
    );
}

/// Errors found when the model is built (after loading) named the entity and body but not the
/// file: they now start with `file: line N:`.
#[test]
fn build_errors_of_loaded_entities_name_the_file_and_line() {
    // a hinge after a ball joint in one body: refused by the builder, at the hinge's line
    let text = "<mujoco>\n<worldbody>\n<body name='a'>\n<joint name='ball' type='ball'/>\n\
                <joint name='h' type='hinge'/>\n<geom size='0.1'/>\n</body>\n</worldbody>\n</mujoco>\n";
    let p = tmp_file("ball_then_hinge.xml", text);
    let e = build(mjcf::load(&p, 1.0).unwrap()).unwrap_err().to_string();
    assert!(e.contains(&format!("{}: line 5:", p.display())), "{e}");
    assert!(e.contains("joint 'h'"), "{e}");
    // a moving URDF link without mass (nor anything it carries): refused when loaded, as
    // MuJoCo refuses it, at the link's line and naming its joint
    let text = "<robot name='r'>\n<link name='base'/>\n<link name='a'>\n<inertial><mass value='0'/>\
                <inertia ixx='0' iyy='0' izz='0'/></inertial>\n</link>\n\
                <joint name='j' type='continuous'><parent link='base'/><child link='a'/></joint>\n</robot>\n";
    let p = tmp_file("massless.urdf", text);
    let e = urdf::load(&p, 1.0).map(|_| ()).unwrap_err().to_string();
    assert!(e.contains(&format!("{}: line 3:", p.display())), "{e}");
    assert!(
        e.contains("link 'a'") && e.contains("joint 'j'") && e.contains("singular"),
        "{e}"
    );
    // a URDF error inside an element names its line
    let text = "<robot name='r'>\n<link name='a'>\n<inertial>\n<mass value='x'/>\n</inertial>\n</link>\n</robot>\n";
    let e = urdf::load_str(text, Path::new("bad.urdf"), 1.0)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("bad.urdf: line "), "{e}");
}

/// An error at an element of an included file named only the included file (found by the
/// fuzzer): it now names the including file and the `<include>` line too.
#[test]
fn errors_in_included_files_name_the_including_file() {
    let part = tmp_file(
        "part_dup.xml",
        "<mujocoinclude>\n<body name='x'><geom size='0.1'/></body>\n</mujocoinclude>\n",
    );
    let main = tmp_file(
        "main_dup.xml",
        &format!(
            "<mujoco>\n<worldbody>\n<include file='{0}'/>\n<include file='{0}'/>\n</worldbody>\n</mujoco>\n",
            part.file_name().unwrap().to_string_lossy()
        ),
    );
    let e = mjcf::load(&main, 1.0).unwrap_err().to_string();
    assert!(e.contains("repeated body name 'x'"), "{e}");
    assert!(
        e.contains(&format!("included from {}, line 4", main.display())),
        "{e}"
    );
    assert!(e.contains("part_dup.xml") && e.contains("line 2"), "{e}");
}

/// A tetrahedron as OBJ text.
const TET_OBJ: &str =
    "v 0 0 0\nv 0.1 0 0\nv 0 0.1 0\nv 0 0 0.1\nf 1 3 2\nf 1 2 4\nf 1 4 3\nf 2 3 4\n";

#[test]
fn paths_in_included_files_are_relative_to_the_included_file_as_mujoco_resolves_them() {
    // main.xml includes parts/assets.xml, which names its mesh relative to parts/ (Genesis's
    // franka_sim files); an empty meshdir is no meshdir
    let dir = std::env::temp_dir().join(format!("kinegrad-include-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("parts")).unwrap();
    std::fs::create_dir_all(dir.join("meshes")).unwrap();
    std::fs::write(dir.join("meshes/tet.obj"), TET_OBJ).unwrap();
    std::fs::write(
        dir.join("parts/assets.xml"),
        "<mujocoinclude><asset><mesh name='tet' file='../meshes/tet.obj'/></asset></mujocoinclude>\n",
    )
    .unwrap();
    let main = dir.join("main.xml");
    std::fs::write(
        &main,
        "<mujoco><compiler meshdir=''/><include file='parts/assets.xml'/>\n\
         <worldbody><body><freejoint/><geom type='mesh' mesh='tet'/></body></worldbody></mujoco>\n",
    )
    .unwrap();
    let m = build(mjcf::load(&main, 1.0).unwrap()).unwrap();
    assert_eq!(m.ngeom, 1);
    // a mesh in the main file still resolves against the main file's folder
    std::fs::write(
        &main,
        "<mujoco><asset><mesh name='tet' file='meshes/tet.obj'/></asset>\n\
         <worldbody><body><freejoint/><geom type='mesh' mesh='tet'/></body></worldbody></mujoco>\n",
    )
    .unwrap();
    build(mjcf::load(&main, 1.0).unwrap()).unwrap();
}

#[test]
fn a_package_uri_without_a_package_folder_names_a_file_beside_the_urdf() {
    // Genesis's fancy_wheel.urdf: package://fancy_wheel.obj
    let dir = std::env::temp_dir().join(format!("kinegrad-package-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("wheel.obj"), TET_OBJ).unwrap();
    let p = dir.join("wheel.urdf");
    std::fs::write(
        &p,
        "<robot name='w'><link name='l'><inertial><mass value='1'/><inertia ixx='0.01' iyy='0.01' izz='0.01' ixy='0' ixz='0' iyz='0'/></inertial>\
         <collision><geometry><mesh filename='package://wheel.obj'/></geometry></collision></link></robot>\n",
    )
    .unwrap();
    let m = build(urdf::load(&p, 1.0).unwrap()).unwrap();
    assert_eq!(m.ngeom, 1);
}

#[test]
fn a_limited_ball_joint_without_range_loads_as_mujoco_does_its_limit_at_zero() {
    let ball = tmp_file(
        "ball_limited.xml",
        "<mujoco><worldbody><body><joint name='b' type='ball' limited='true'/><geom size='0.1'/></body></worldbody></mujoco>\n",
    );
    let spec = mjcf::load(&ball, 1.0).unwrap();
    assert!(spec.warnings.is_empty(), "{:?}", spec.warnings);
    // MuJoCo: range [0, 0], a limit holding the joint at its reference orientation
    let m = build(spec).unwrap();
    assert!(m.jnt_limited[0]);
    assert_eq!(m.jnt_range[0], [0.0, 0.0]);
    // a hinge is an error, as in MuJoCo (its range must increase)
    let hinge = tmp_file(
        "hinge_limited.xml",
        "<mujoco><worldbody><body><joint name='h' type='hinge' limited='true'/><geom size='0.1'/></body></worldbody></mujoco>\n",
    );
    let e = mjcf::load(&hinge, 1.0).unwrap_err().to_string();
    assert!(e.contains("limited joint without 'range'"), "{e}");
}

#[test]
fn a_replicate_count_out_of_bounds_is_an_error_naming_the_element() {
    for (count, needle) in [("0", "below 1"), ("1000000000", "more than 100000")] {
        let p = tmp_file(
            &format!("replicate_{count}.xml"),
            &format!(
                "<mujoco><worldbody>\n<replicate count='{count}' offset='1 0 0'><body><geom size='0.1'/></body></replicate>\n</worldbody></mujoco>\n"
            ),
        );
        let e = mjcf::load(&p, 1.0).unwrap_err().to_string();
        assert!(
            e.contains("<replicate>") && e.contains(needle) && e.contains("line 2"),
            "{e}"
        );
    }
    // nested replicates multiply: 10^6 x 10 bodies stop at the bound on bodies, quickly
    let p = tmp_file(
        "replicate_nested.xml",
        "<mujoco><worldbody><replicate count='100000' offset='1 0 0'><replicate count='100000' offset='0 1 0'>\n         <body><geom size='0.1'/></body></replicate></replicate></worldbody></mujoco>\n",
    );
    let e = mjcf::load(&p, 1.0).unwrap_err().to_string();
    assert!(e.contains("more than 1000000 bodies"), "{e}");
}

#[test]
fn a_site_without_size_takes_mujocos_default_size() {
    // dm_control's dog.xml: `<default class="sensor"><site group="4"/></default>` and sites of
    // that class with no size; MuJoCo sizes them 0.005.
    let text = "<mujoco><default><default class='sensor'><site group='4'/></default></default>\
                <worldbody><body name='b'><joint/><geom size='0.1'/><site name='s' class='sensor' pos='0 0 0.1'/>\
                <site name='t' type='box'/></body></worldbody></mujoco>\n";
    let m = build(mjcf::load_str(text, Path::new("site_default.xml"), 1.0).unwrap()).unwrap();
    assert_eq!(m.site_name.len(), 2);
    // an explicit zero size is still refused, as MuJoCo refuses it
    expect_err(
        "<mujoco><worldbody><body><joint/><geom size='0.1'/><site type='box' size='0 0 0'/></body></worldbody></mujoco>\n",
        "site_zero.xml",
        &["zero size"],
    );
}

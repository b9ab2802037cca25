//! Mesh files as robot files use them: COLLADA (`.dae`) meshes in URDF and MJCF, with the
//! transforms the file declares (node matrices, `<unit meter>`, `<up_axis>`), and MJCF's
//! `<mesh refpos refquat>`. MuJoCo cannot read COLLADA, so the oracle for `.dae` is the same
//! solid written as OBJ (whose numbers MuJoCo gives) and the closed form of a box.

use kinegrad::math::{Pose, Vec3};
use kinegrad::model::builder::BaseMode;
use kinegrad::model::mesh_io::load_mesh;
use kinegrad::model::{mjcf, urdf, EntitySpec, Model, ModelBuilder};
use std::path::{Path, PathBuf};

fn dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("kinegrad-meshes-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(name: &str, text: &str) -> PathBuf {
    let p = dir().join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn build(spec: EntitySpec) -> Model {
    let mut b = ModelBuilder::new();
    b.add_entity(spec, Pose::identity(), BaseMode::AsIs);
    b.build().unwrap()
}

fn bounds(v: &[Vec3]) -> (Vec3, Vec3) {
    let mut lo = Vec3::repeat(f64::INFINITY);
    let mut hi = Vec3::repeat(f64::NEG_INFINITY);
    for p in v {
        lo = lo.inf(p);
        hi = hi.sup(p);
    }
    (lo, hi)
}

fn close(a: Vec3, b: Vec3, tol: f64, what: &str) {
    assert!((a - b).amax() <= tol, "{what}: {a:?} != {b:?}");
}

/// The 8 corners of the box [0, sx] x [0, sy] x [0, sz] (file units) and its 6 faces as
/// quads, outward.
const CORNERS: &str = "0 0 0  SX 0 0  SX SY 0  0 SY 0  0 0 SZ  SX 0 SZ  SX SY SZ  0 SY SZ";
const QUADS: &str = "0 3 2 1  4 5 6 7  0 1 5 4  1 2 6 5  2 3 7 6  3 0 4 7";

/// A COLLADA file of that box as a `<polylist>` of quads, placed by `node` (transform
/// elements of its node) inside `outer` (those of an enclosing node).
fn box_dae(size: [f64; 3], unit: f64, up: &str, outer: &str, node: &str) -> String {
    let corners = CORNERS
        .replace("SX", &size[0].to_string())
        .replace("SY", &size[1].to_string())
        .replace("SZ", &size[2].to_string());
    format!(
        r##"<?xml version="1.0" encoding="utf-8"?>
<COLLADA xmlns="http://www.collada.org/2005/11/COLLADASchema" version="1.4.1">
  <asset><unit name="u" meter="{unit}"/><up_axis>{up}</up_axis></asset>
  <library_geometries>
    <geometry id="box-mesh" name="box">
      <mesh>
        <source id="box-pos">
          <float_array id="box-pos-array" count="24">{corners}</float_array>
          <technique_common><accessor source="#box-pos-array" count="8" stride="3">
            <param name="X" type="float"/><param name="Y" type="float"/><param name="Z" type="float"/>
          </accessor></technique_common>
        </source>
        <vertices id="box-verts"><input semantic="POSITION" source="#box-pos"/></vertices>
        <polylist count="6">
          <input semantic="VERTEX" source="#box-verts" offset="0"/>
          <vcount>4 4 4 4 4 4</vcount>
          <p>{QUADS}</p>
        </polylist>
      </mesh>
    </geometry>
  </library_geometries>
  <library_visual_scenes>
    <visual_scene id="Scene" name="Scene">
      <node id="outer" name="outer" type="NODE">{outer}
        <node id="box" name="box" type="NODE">{node}
          <instance_geometry url="#box-mesh"/>
        </node>
      </node>
    </visual_scene>
  </library_visual_scenes>
  <scene><instance_visual_scene url="#Scene"/></scene>
</COLLADA>
"##
    )
}

/// The same box as OBJ (metres, Z-up), for MuJoCo-comparable numbers.
fn box_obj(lo: Vec3, hi: Vec3) -> String {
    let mut s = String::new();
    for c in [
        [lo.x, lo.y, lo.z],
        [hi.x, lo.y, lo.z],
        [hi.x, hi.y, lo.z],
        [lo.x, hi.y, lo.z],
        [lo.x, lo.y, hi.z],
        [hi.x, lo.y, hi.z],
        [hi.x, hi.y, hi.z],
        [lo.x, hi.y, hi.z],
    ] {
        s.push_str(&format!("v {} {} {}\n", c[0], c[1], c[2]));
    }
    let q: Vec<u32> = QUADS
        .split_whitespace()
        .map(|t| t.parse().unwrap())
        .collect();
    for f in q.chunks(4) {
        s.push_str(&format!(
            "f {} {} {} {}\n",
            f[0] + 1,
            f[1] + 1,
            f[2] + 1,
            f[3] + 1
        ));
    }
    s
}

#[test]
fn dae_vertices_in_metres_after_node_transforms_and_unit() {
    // 100 x 200 x 300 mm, its node translated by (10, 20, 30) mm inside a node translated by
    // (1000, 0, 0) mm: the box spans [1.01, 1.11] x [0.02, 0.22] x [0.03, 0.33] m
    let p = write(
        "mm_box.dae",
        &box_dae(
            [100.0, 200.0, 300.0],
            0.001,
            "Z_UP",
            "<translate>1000 0 0</translate>",
            "<matrix sid=\"transform\">1 0 0 10 0 1 0 20 0 0 1 30 0 0 0 1</matrix>",
        ),
    );
    let (v, f) = load_mesh(&p, Vec3::repeat(1.0)).unwrap();
    assert_eq!(v.len(), 8, "the 24 corners of 6 quads weld to 8 vertices");
    assert_eq!(f.len(), 12, "6 quads, 2 triangles each");
    let (lo, hi) = bounds(&v);
    close(lo, Vec3::new(1.01, 0.02, 0.03), 1e-7, "lower corner");
    close(hi, Vec3::new(1.11, 0.22, 0.33), 1e-7, "upper corner");
    // the geom's scale multiplies after the file's own transforms
    let (v2, _) = load_mesh(&p, Vec3::new(2.0, 1.0, 0.5)).unwrap();
    let (lo2, hi2) = bounds(&v2);
    close(
        lo2,
        Vec3::new(2.02, 0.02, 0.015),
        1e-7,
        "scaled lower corner",
    );
    close(
        hi2,
        Vec3::new(2.22, 0.22, 0.165),
        1e-7,
        "scaled upper corner",
    );
}

#[test]
fn dae_nested_node_transforms_compose_parent_first() {
    // outer: translate (1, 0, 0) then rotate 90 degrees about z; inner: scale 2.
    // A vertex v maps to (1, 0, 0) + Rz(90) (2 v): the box [0,1]x[0,2]x[0,3] becomes
    // x in [1 - 4, 1], y in [0, 2], z in [0, 6]
    let p = write(
        "nested.dae",
        &box_dae(
            [1.0, 2.0, 3.0],
            1.0,
            "Z_UP",
            "<translate>1 0 0</translate><rotate>0 0 1 90</rotate>",
            "<scale>2 2 2</scale>",
        ),
    );
    let (v, _) = load_mesh(&p, Vec3::repeat(1.0)).unwrap();
    let (lo, hi) = bounds(&v);
    close(lo, Vec3::new(-3.0, 0.0, 0.0), 1e-6, "lower corner");
    close(hi, Vec3::new(1.0, 2.0, 6.0), 1e-6, "upper corner");
}

#[test]
fn dae_up_axis_turns_the_mesh_z_up() {
    // a box 1 x 2 x 3 along the file's x, y, z
    let y_up = write("y_up.dae", &box_dae([1.0, 2.0, 3.0], 1.0, "Y_UP", "", ""));
    let (v, _) = load_mesh(&y_up, Vec3::repeat(1.0)).unwrap();
    // Y_UP: the file's y (2 long) becomes z, its z becomes -y
    let (lo, hi) = bounds(&v);
    close(lo, Vec3::new(0.0, -3.0, 0.0), 1e-6, "Y_UP lower corner");
    close(hi, Vec3::new(1.0, 0.0, 2.0), 1e-6, "Y_UP upper corner");
    let x_up = write("x_up.dae", &box_dae([1.0, 2.0, 3.0], 1.0, "X_UP", "", ""));
    let (v, _) = load_mesh(&x_up, Vec3::repeat(1.0)).unwrap();
    // X_UP: the file's x (1 long) becomes z, its z becomes -x
    let (lo, hi) = bounds(&v);
    close(lo, Vec3::new(-3.0, 0.0, 0.0), 1e-6, "X_UP lower corner");
    close(hi, Vec3::new(0.0, 2.0, 1.0), 1e-6, "X_UP upper corner");
    let z_up = write("z_up.dae", &box_dae([1.0, 2.0, 3.0], 1.0, "Z_UP", "", ""));
    let (v, _) = load_mesh(&z_up, Vec3::repeat(1.0)).unwrap();
    let (lo, hi) = bounds(&v);
    close(lo, Vec3::zeros(), 1e-6, "Z_UP lower corner");
    close(hi, Vec3::new(1.0, 2.0, 3.0), 1e-6, "Z_UP upper corner");
}

/// A URDF whose one moving link collides through `mesh` (no `<inertial>`: its mass comes from
/// the mesh at 1000 kg/m^3, as MuJoCo computes it).
fn urdf_with_mesh(mesh: &Path) -> String {
    format!(
        r#"<robot name="r">
  <link name="base"><inertial><mass value="1"/><inertia ixx="0.01" iyy="0.01" izz="0.01" ixy="0" ixz="0" iyz="0"/></inertial></link>
  <link name="arm">
    <visual><geometry><mesh filename="{m}"/></geometry></visual>
    <collision><geometry><mesh filename="{m}"/></geometry></collision>
  </link>
  <joint name="j" type="revolute"><parent link="base"/><child link="arm"/><axis xyz="0 1 0"/>
    <limit lower="-1" upper="1" effort="1" velocity="1"/></joint>
</robot>"#,
        m = mesh.display()
    )
}

#[test]
fn dae_mesh_in_urdf_and_mjcf_gives_the_mass_of_the_same_obj() {
    let dae = write(
        "arm.dae",
        &box_dae(
            [100.0, 200.0, 300.0],
            0.001,
            "Z_UP",
            "",
            "<translate>10 20 30</translate>",
        ),
    );
    let obj = write(
        "arm.obj",
        &box_obj(Vec3::new(0.01, 0.02, 0.03), Vec3::new(0.11, 0.22, 0.33)),
    );
    let u_dae = urdf::load_str(&urdf_with_mesh(&dae), &dir().join("dae.urdf"), 1.0).unwrap();
    assert!(
        !u_dae.warnings.iter().any(|w| w.contains(".dae")),
        "{:?}",
        u_dae.warnings
    );
    let u_obj = urdf::load_str(&urdf_with_mesh(&obj), &dir().join("obj.urdf"), 1.0).unwrap();
    let (md, mo) = (build(u_dae), build(u_obj));
    // both geoms (visual and collision) of the link are there
    assert_eq!(md.ngeom, mo.ngeom);
    let b = md.body_name.iter().position(|n| n == "arm").unwrap();
    // a box of 0.1 x 0.2 x 0.3 m at 1000 kg/m^3, centred at (0.06, 0.12, 0.18)
    let (m, c, i) = (
        md.params0.body_mass[b],
        md.params0.body_ipos[b],
        md.params0.body_inertia[b],
    );
    assert!((m - 6.0).abs() < 1e-5, "mass {m}");
    close(c, Vec3::new(0.06, 0.12, 0.18), 1e-7, "centre of mass");
    let ixx = 6.0 * (0.2f64.powi(2) + 0.3f64.powi(2)) / 12.0;
    assert!((i[(0, 0)] - ixx).abs() < 1e-5 * ixx, "ixx {}", i[(0, 0)]);
    assert!((md.params0.body_mass[b] - mo.params0.body_mass[b]).abs() < 1e-5);
    assert!((md.params0.body_inertia[b] - mo.params0.body_inertia[b]).amax() < 1e-6);

    // MJCF: the same file as a mesh asset
    let xml = format!(
        r#"<mujoco><asset><mesh name="m" file="{}"/></asset>
  <worldbody><body name="arm"><freejoint/><geom type="mesh" mesh="m"/></body></worldbody></mujoco>"#,
        dae.display()
    );
    let model = build(mjcf::load_str(&xml, &dir().join("dae.xml"), 1.0).unwrap());
    assert!((model.params0.body_mass[1] - 6.0).abs() < 1e-5);
    close(
        model.params0.body_ipos[1],
        Vec3::new(0.06, 0.12, 0.18),
        1e-7,
        "MJCF centre of mass",
    );
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
fn real_dae_visuals_load_where_their_collision_meshes_are() {
    // Genesis's Shadow hand draws with COLLADA meshes (Z_UP, node matrices with a 1e-3 scale
    // for the metacarpal) and collides with STL: each visual mesh must cover about the same box
    // as its link's collision mesh (the files are the same part, the STL simplified)
    let f = assets().join("genesis/urdf/shadow_hand/shadow_hand.urdf");
    let spec = urdf::load(&f, 1.0).unwrap();
    assert!(
        !spec.warnings.iter().any(|w| w.contains(".dae")),
        "{:#?}",
        spec.warnings
    );
    let mut compared = 0;
    for b in &spec.bodies {
        let vis: Vec<_> = b
            .geoms
            .iter()
            .filter(|g| g.visual && g.mesh.is_some())
            .collect();
        let col: Vec<_> = b
            .geoms
            .iter()
            .filter(|g| !g.visual && g.mesh.is_some())
            .collect();
        let (Some(v), Some(c)) = (vis.first(), col.first()) else {
            continue;
        };
        let mv = &spec.meshes[v.mesh.unwrap()];
        let mc = &spec.meshes[c.mesh.unwrap()];
        assert!(mv.file.as_ref().unwrap().extension().unwrap() == "dae");
        let place = |g: &kinegrad::model::builder::GeomSpec, pts: &[Vec3]| -> Vec<Vec3> {
            pts.iter().map(|p| g.quat * p + g.pos).collect()
        };
        let (vl, vh) = bounds(&place(v, &mv.vertices));
        let (cl, ch) = bounds(&place(c, &mc.vertices));
        let size = (ch - cl).amax();
        assert!(
            (vl - cl).amax() < 0.25 * size && (vh - ch).amax() < 0.25 * size,
            "link '{}': visual {} spans {vl:?}..{vh:?}, collision {} spans {cl:?}..{ch:?}",
            b.name,
            mv.name,
            mc.name
        );
        compared += 1;
    }
    assert!(compared >= 20, "only {compared} links compared");
    build(spec);
}

#[test]
fn mjcf_mesh_refpos_refquat_as_mujoco() {
    // the box [0, 1] x [0, 1] x [0, 2] (OBJ); MuJoCo 4.0's compiled body_ipos and inertia
    // (R(body_iquat) diag(body_inertia) R^T) for each mesh asset, density 1000
    write(
        "ref_box.obj",
        &box_obj(Vec3::zeros(), Vec3::new(1.0, 1.0, 2.0)),
    );
    let xml = r#"<mujoco>
  <asset>
    <mesh name="m0" file="ref_box.obj"/>
    <mesh name="m1" file="ref_box.obj" refpos="0.25 0 0"/>
    <mesh name="m2" file="ref_box.obj" refpos="0.25 0.1 -0.3" refquat="0.9 0.3 0.2 0.1" scale="1 2 0.5"/>
  </asset>
  <worldbody>
    <body name="b0"><freejoint/><geom type="mesh" mesh="m0"/></body>
    <body name="b1"><freejoint/><geom type="mesh" mesh="m1"/></body>
    <body name="b2"><freejoint/><geom type="mesh" mesh="m2"/></body>
  </worldbody>
</mujoco>"#;
    let m = build(mjcf::load_str(xml, &dir().join("ref.xml"), 1.0).unwrap());
    let mujoco_ipos = [
        Vec3::new(0.5, 0.5, 1.0),
        Vec3::new(0.25, 0.5, 1.0),
        Vec3::new(
            -0.060526315789473706,
            2.1873684210526316,
            0.42210526315789476,
        ),
    ];
    let mujoco_inertia = [
        [
            833.3333333333,
            833.3333333333,
            333.3333333333,
            0.0,
            0.0,
            0.0,
        ],
        [
            833.3333333333,
            833.3333333333,
            333.3333333333,
            0.0,
            0.0,
            0.0,
        ],
        // xx, yy, zz, xy, xz, yz
        [
            1519.7599262156,
            324.1366577753,
            1628.6795932944,
            192.7977836425,
            57.3407203805,
            -221.7174527632,
        ],
    ];
    for b in 0..3 {
        let p = &m.params0;
        assert!(
            (p.body_mass[b + 1] - 2000.0).abs() < 1e-9,
            "mass {}",
            p.body_mass[b + 1]
        );
        close(
            p.body_ipos[b + 1],
            mujoco_ipos[b],
            1e-9,
            &format!("body_ipos of b{b}"),
        );
        let i = p.body_inertia[b + 1];
        let got = [
            i[(0, 0)],
            i[(1, 1)],
            i[(2, 2)],
            i[(0, 1)],
            i[(0, 2)],
            i[(1, 2)],
        ];
        for (g, w) in got.iter().zip(&mujoco_inertia[b]) {
            // MuJoCo keeps mesh vertices in single precision: 1e-8 of the largest moment
            assert!(
                (g - w).abs() < 2e-5,
                "inertia of b{b}: {got:?} != {:?}",
                mujoco_inertia[b]
            );
        }
    }
    // the vertices themselves: refpos moved the box by -0.25 along x
    let k = m.geom_mesh[1].unwrap();
    let (lo, hi) = bounds(&m.meshes[k].vertices);
    close(lo, Vec3::new(-0.25, 0.0, 0.0), 1e-12, "m1 lower corner");
    close(hi, Vec3::new(0.75, 1.0, 2.0), 1e-12, "m1 upper corner");
    // a zero refquat is refused, naming the file and line
    let bad = xml.replace("0.9 0.3 0.2 0.1", "0 0 0 0");
    let e = mjcf::load_str(&bad, &dir().join("ref_bad.xml"), 1.0)
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(e.contains("ref_bad.xml") && e.contains("refquat"), "{e}");
}

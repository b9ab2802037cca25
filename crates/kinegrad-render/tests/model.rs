//! Drawing a real model: which geoms are drawn, colours from the file, poses from kinematics.

use kinegrad::math::{Pose, Vec3};
use kinegrad::model::builder::BaseMode;
use kinegrad::model::{mjcf, GeomType, ModelBuilder};
use kinegrad::{pipeline, Data, Model};
use kinegrad_render::{Camera, Frame, Outputs, RenderScene, Renderer, Surface};
use std::path::Path;

const XML: &str = r#"
<mujoco>
  <asset><material name="red" rgba="1 0 0 1"/></asset>
  <worldbody>
    <geom name="floor" type="plane" size="0 0 1" rgba="0.8 0.8 0.8 1"/>
    <body name="arm" pos="0 0 1">
      <joint name="hinge" type="hinge" axis="0 1 0"/>
      <geom name="arm_col" type="capsule" fromto="0 0 0 0.5 0 0" size="0.05"/>
      <geom name="arm_vis" type="box" pos="0.25 0 0" size="0.25 0.06 0.06" material="red"
            contype="0" conaffinity="0"/>
      <body name="tip" pos="0.5 0 0">
        <geom name="tip_col" type="sphere" size="0.08" rgba="0 0 1 1"/>
      </body>
    </body>
  </worldbody>
</mujoco>"#;

fn model() -> Model {
    let spec = mjcf::load_str(XML, Path::new("test.xml"), 1.0).unwrap();
    let mut b = ModelBuilder::new();
    b.add_entity(spec, Pose::identity(), BaseMode::AsIs);
    b.build().unwrap()
}

#[test]
fn visual_geoms_hide_their_bodys_collision_geoms() {
    let m = model();
    let scene = RenderScene::new(&m);
    let names: Vec<&str> = scene
        .drawables
        .iter()
        .map(|d| m.geom_name[d.geom].as_str())
        .collect();
    assert!(names.contains(&"floor"));
    assert!(names.contains(&"arm_vis"));
    assert!(!names.contains(&"arm_col"), "{names:?}");
    assert!(names.contains(&"tip_col")); // its body has no visual geom
    let floor = scene
        .drawables
        .iter()
        .find(|d| m.geom_name[d.geom] == "floor")
        .unwrap();
    assert!(matches!(floor.surface, Surface::Checker { .. }));
    assert_eq!(m.geom_type[floor.geom], GeomType::Plane);
    let vis = scene
        .drawables
        .iter()
        .find(|d| m.geom_name[d.geom] == "arm_vis")
        .unwrap();
    assert_eq!(vis.rgba, [1.0, 0.0, 0.0, 1.0]);
}

#[test]
fn frames_follow_the_joint_angle() {
    let m = model();
    let scene = RenderScene::new(&m);
    let mut data = Data::new(&m);
    let cam = Camera {
        pos: Vec3::new(0.25, -3.0, 1.0),
        lookat: Vec3::new(0.25, 0.0, 1.0),
        up: Vec3::z(),
        fovy_deg: 40.0,
        width: 96,
        height: 64,
        near: 0.05,
        far: 50.0,
    };
    let tip = m.geom_id("tip_col").unwrap() as i32;
    let mut r = Renderer::new();
    let mut f = Frame::default();
    let mut tip_row = |angle: f64, f: &mut Frame| {
        pipeline::kinematics(&m, &m.params0, &[angle], &mut data);
        r.render(
            &scene,
            &data.geom_xpos,
            &data.geom_xmat,
            &cam,
            Outputs::ALL,
            f,
        )
        .unwrap();
        let (mut n, mut sum) = (0.0, 0.0);
        for (k, &s) in f.seg.iter().enumerate() {
            if s == tip {
                n += 1.0;
                sum += (k / 96) as f64 + 0.5;
            }
        }
        assert!(n > 0.0, "tip not visible at angle {angle}");
        sum / n
    };
    let level = tip_row(0.0, &mut f);
    // horizontal arm: the tip is at the camera's height, in the middle row
    assert!((level - 32.0).abs() < 0.5, "{level}");
    // rotating about +y by a positive angle moves +x towards -z: the tip goes down the image
    let down = tip_row(0.5, &mut f);
    assert!(down > level + 5.0, "{down} vs {level}");
    // red arm pixels exist and the floor is drawn below the horizon
    assert!(f
        .rgb
        .chunks(3)
        .any(|p| p[0] > 150 && p[1] < 30 && p[2] < 30));
    let floor = m.geom_id("floor").unwrap() as i32;
    assert_eq!(f.seg[63 * 96 + 48], floor);
}

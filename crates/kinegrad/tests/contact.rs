//! Contact behaviour against closed-form expectations.

mod common;

use common::box_inertia;
use kinegrad::math::{Mat3, Pose, Vec3};
use kinegrad::model::builder::{BaseMode, BodySpec, EntitySpec, GeomSpec};
use kinegrad::model::{GeomType, ModelBuilder};
use kinegrad::{pipeline, Control, Data, Model, State, StepCarry};

fn body_with(
    name: &str,
    kind: GeomType,
    size: Vec3,
    mass: f64,
    inertia: Mat3,
    friction: f64,
) -> EntitySpec {
    let mut b = BodySpec::new(name, None);
    b.mass = mass;
    b.inertia = inertia;
    let mut g = GeomSpec::new(kind, size);
    g.friction[0] = friction;
    b.geoms.push(g);
    EntitySpec {
        name: name.into(),
        bodies: vec![b],
        ..Default::default()
    }
}

fn ground(friction: f64) -> EntitySpec {
    body_with(
        "ground",
        GeomType::Plane,
        Vec3::new(10.0, 10.0, 0.1),
        0.0,
        Mat3::zeros(),
        friction,
    )
}

fn run(model: &Model, s: &mut State, seconds: f64) -> Data {
    let c = Control::new(model);
    let mut d = Data::new(model);
    let mut carry = StepCarry::new(model);
    let n = (seconds / model.opt.timestep).round() as usize;
    for _ in 0..n {
        pipeline::step(model, &model.params0, s, &c, &mut carry, &mut d).unwrap();
    }
    d
}

fn scene(entities: Vec<(EntitySpec, Vec3)>, dt: f64) -> Model {
    let mut b = ModelBuilder::new();
    b.options.timestep = dt;
    for (i, (e, pos)) in entities.into_iter().enumerate() {
        let base = if i == 0 {
            BaseMode::Fixed
        } else {
            BaseMode::Free
        };
        b.add_entity(
            e,
            Pose {
                pos,
                rot: Mat3::identity(),
            },
            base,
        );
    }
    b.build().unwrap()
}

#[test]
fn sphere_comes_to_rest_on_plane() {
    let r = 0.1;
    let m = 1.0;
    let e = body_with(
        "ball",
        GeomType::Sphere,
        Vec3::new(r, 0.0, 0.0),
        m,
        Mat3::identity() * 0.4 * m * r * r,
        1.0,
    );
    let model = scene(
        vec![(ground(1.0), Vec3::zeros()), (e, Vec3::new(0.0, 0.0, 0.5))],
        0.005,
    );
    let mut s = State::new(&model);
    run(&model, &mut s, 2.0);
    assert!((s.q[2] - r).abs() < 2e-3, "rest height {}", s.q[2]);
    assert!(s.v.iter().all(|x| x.abs() < 1e-3), "not at rest: {:?}", s.v);
}

#[test]
fn box_rests_flat_on_plane() {
    let h = Vec3::new(0.1, 0.15, 0.05);
    let e = body_with("box", GeomType::Box, h, 1.0, box_inertia(1.0, h), 1.0);
    let model = scene(
        vec![(ground(1.0), Vec3::zeros()), (e, Vec3::new(0.0, 0.0, 0.3))],
        0.005,
    );
    let mut s = State::new(&model);
    let d = run(&model, &mut s, 2.0);
    assert!((s.q[2] - h.z).abs() < 2e-3, "rest height {}", s.q[2]);
    assert_eq!(d.contacts.len(), 4);
    // still flat: the quaternion is the identity up to small tilt
    assert!((s.q[3].abs() - 1.0).abs() < 1e-6);
}

#[test]
fn box_slides_to_rest_at_coulomb_distance() {
    let (mu, v0, g) = (0.5, 2.0, 9.81);
    let h = Vec3::new(0.1, 0.1, 0.1);
    let e = body_with("box", GeomType::Box, h, 1.0, box_inertia(1.0, h), mu);
    let model = scene(
        vec![(ground(mu), Vec3::zeros()), (e, Vec3::new(0.0, 0.0, 0.1))],
        0.002,
    );
    let mut s = State::new(&model);
    run(&model, &mut s, 0.2); // settle
    let x0 = s.q[0];
    s.v[0] = v0;
    run(&model, &mut s, 1.5);
    let dist = s.q[0] - x0;
    let expected = v0 * v0 / (2.0 * mu * g);
    assert!(
        (dist - expected).abs() / expected < 0.05,
        "slid {dist}, Coulomb {expected}"
    );
    assert!(s.v[0].abs() < 1e-2);
}

#[test]
fn stack_of_three_boxes_stays_stacked_for_5s() {
    let h = Vec3::new(0.1, 0.1, 0.1);
    let mut ents = vec![(ground(1.0), Vec3::zeros())];
    for k in 0..3 {
        let e = body_with(
            &format!("box{k}"),
            GeomType::Box,
            h,
            1.0,
            box_inertia(1.0, h),
            1.0,
        );
        ents.push((e, Vec3::new(0.0, 0.0, 0.1 + 0.2 * k as f64 + 0.001)));
    }
    let model = scene(ents, 0.005);
    let mut s = State::new(&model);
    run(&model, &mut s, 5.0);
    for k in 0..3 {
        let a = 7 * k;
        let (x, y, z) = (s.q[a], s.q[a + 1], s.q[a + 2]);
        assert!(
            x.abs() < 1e-3 && y.abs() < 1e-3,
            "box {k} drifted to ({x}, {y})"
        );
        assert!(
            (z - (0.1 + 0.2 * k as f64)).abs() < 5e-3,
            "box {k} at height {z}"
        );
    }
}

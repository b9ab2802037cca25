//! Physics against closed-form results.

use kinegrad::math::{Mat3, Pose, Quat, Vec3};
use kinegrad::model::builder::{BaseMode, BodySpec, EntitySpec, JointSpec};
use kinegrad::model::{Integrator, JointType, ModelBuilder};
use kinegrad::{pipeline, Control, Data, Model, State, StepCarry};

fn sphere_inertia(m: f64, r: f64) -> Mat3 {
    Mat3::identity() * (0.4 * m * r * r)
}

fn build(bodies: Vec<BodySpec>, base: BaseMode, dt: f64, gravity: Vec3) -> Model {
    let mut b = ModelBuilder::new();
    b.options.timestep = dt;
    b.options.integrator = Integrator::Euler;
    let spec = EntitySpec {
        name: "e".into(),
        bodies,
        ..Default::default()
    };
    b.add_entity(spec, Pose::identity(), base);
    let mut m = b.build().expect("model builds");
    m.params0.gravity = gravity;
    m
}

/// Pendulum link hanging along -z from a hinge about y at the body origin.
fn link(name: &str, parent: Option<usize>, pos: Vec3, m: f64, l: f64) -> BodySpec {
    let mut b = BodySpec::new(name, parent);
    b.pos = pos;
    b.mass = m;
    b.ipos = Vec3::new(0.0, 0.0, -l);
    b.inertia = sphere_inertia(m, 0.01);
    let mut j = JointSpec::new(format!("{name}_hinge"), JointType::Hinge);
    j.axis = Vec3::y();
    b.joints.push(j);
    b
}

fn energy(model: &Model, state: &State, data: &mut Data) -> f64 {
    let params = &model.params0;
    pipeline::kinematics(model, params, &state.q, data);
    kinegrad::dynamics::crba::crba(model, params, data);
    let nv = model.nv;
    let mut qm = vec![0.0; nv * nv];
    kinegrad::dynamics::mass::to_dense(model, &data.qm, &mut qm);
    let mut ke = 0.0;
    for i in 0..nv {
        for k in 0..nv {
            ke += 0.5 * state.v[i] * qm[i * nv + k] * state.v[k];
        }
    }
    let pe: f64 = (1..model.nbody)
        .map(|b| -params.body_mass[b] * params.gravity.dot(&data.xipos[b]))
        .sum();
    ke + pe
}

#[test]
fn free_fall_matches_discrete_and_continuous_solution() {
    let g = 9.81;
    let mut body = BodySpec::new("ball", None);
    body.mass = 1.0;
    body.inertia = sphere_inertia(1.0, 0.1);
    body.pos = Vec3::new(0.0, 0.0, 10.0);
    let dt = 0.001;
    let model = build(vec![body], BaseMode::Free, dt, Vec3::new(0.0, 0.0, -g));
    let mut s = State::new(&model);
    s.v[0] = 1.0;
    let c = Control::new(&model);
    let mut d = Data::new(&model);
    let mut carry = StepCarry::new(&model);
    let n = 1000;
    for _ in 0..n {
        pipeline::step(&model, &model.params0, &mut s, &c, &mut carry, &mut d).unwrap();
    }
    let nf = n as f64;
    // semi-implicit Euler: z_n = z0 - g h^2 n (n + 1) / 2 exactly
    let z_discrete = 10.0 - g * dt * dt * nf * (nf + 1.0) / 2.0;
    assert!(
        (s.q[2] - z_discrete).abs() < 1e-9,
        "z = {}, discrete solution {}",
        s.q[2],
        z_discrete
    );
    // continuous solution within the O(h) error g t h / 2
    let t = nf * dt;
    assert!((s.q[2] - (10.0 - 0.5 * g * t * t)).abs() <= 0.5 * g * t * dt + 1e-9);
    assert!((s.q[0] - t).abs() < 1e-12);
    assert!((s.v[2] + g * t).abs() < 1e-9);
}

#[test]
fn pendulum_period_matches_physical_pendulum_formula() {
    let (m, l, g) = (1.0, 0.5, 9.81);
    let model = build(
        vec![link("p", None, Vec3::zeros(), m, l)],
        BaseMode::AsIs,
        1e-4,
        Vec3::new(0.0, 0.0, -g),
    );
    let mut s = State::new(&model);
    let theta0: f64 = 0.05;
    s.q[0] = theta0;
    let c = Control::new(&model);
    let mut d = Data::new(&model);
    let mut carry = StepCarry::new(&model);
    // time between successive upward zero crossings of theta
    let mut crossings = vec![];
    let mut prev = s.q[0];
    for _ in 0..40000 {
        pipeline::step(&model, &model.params0, &mut s, &c, &mut carry, &mut d).unwrap();
        if prev < 0.0 && s.q[0] >= 0.0 {
            // linear interpolation of the crossing time
            let frac = -prev / (s.q[0] - prev);
            crossings.push(s.time - (1.0 - frac) * 1e-4);
        }
        prev = s.q[0];
    }
    assert!(crossings.len() >= 3);
    let period = (crossings[crossings.len() - 1] - crossings[0]) / (crossings.len() - 1) as f64;
    let i_pivot = sphere_inertia(m, 0.01)[(1, 1)] + m * l * l;
    // small-amplitude period with the first finite-amplitude correction (1 + theta0^2 / 16)
    let expected = 2.0
        * std::f64::consts::PI
        * (i_pivot / (m * g * l)).sqrt()
        * (1.0 + theta0 * theta0 / 16.0);
    assert!(
        (period - expected).abs() / expected < 1e-4,
        "period {period}, expected {expected}"
    );
}

#[test]
fn double_pendulum_energy_drift_is_bounded_over_10s() {
    let g = 9.81;
    let bodies = vec![
        link("a", None, Vec3::zeros(), 1.0, 0.5),
        link("b", Some(0), Vec3::new(0.0, 0.0, -1.0), 0.5, 0.4),
    ];
    let model = build(bodies, BaseMode::AsIs, 1e-4, Vec3::new(0.0, 0.0, -g));
    let mut s = State::new(&model);
    s.q[0] = 1.2;
    s.q[1] = -0.7;
    let c = Control::new(&model);
    let mut d = Data::new(&model);
    let mut carry = StepCarry::new(&model);
    let e0 = energy(&model, &s, &mut d);
    let mut max_dev: f64 = 0.0;
    for k in 0..100_000 {
        pipeline::step(&model, &model.params0, &mut s, &c, &mut carry, &mut d).unwrap();
        if k % 100 == 0 {
            max_dev = max_dev.max((energy(&model, &s, &mut d) - e0).abs());
        }
    }
    // scale: the swing exchanges about m g l of energy; semi-implicit Euler keeps the
    // error bounded (symplectic), stated bound 0.5% of that scale at dt = 1e-4
    let scale = 1.5 * g * 1.0;
    assert!(
        max_dev / scale < 5e-3,
        "energy deviation {max_dev} J (relative {})",
        max_dev / scale
    );
    let e_end = energy(&model, &s, &mut d);
    assert!((e_end - e0).abs() / scale < 5e-3);
}

#[test]
fn free_spinning_body_conserves_momentum() {
    let mut body = BodySpec::new("box", None);
    body.mass = 2.0;
    body.inertia = Mat3::from_diagonal(&Vec3::new(0.1, 0.2, 0.3));
    body.ipos = Vec3::new(0.0, 0.0, 0.0);
    let model = build(vec![body], BaseMode::Free, 1e-4, Vec3::zeros());
    let mut s = State::new(&model);
    s.v.copy_from_slice(&[0.3, -0.2, 0.1, 1.0, 2.0, 0.5]);
    let c = Control::new(&model);
    let mut d = Data::new(&model);
    let mut carry = StepCarry::new(&model);
    let momentum = |s: &State, d: &mut Data| {
        pipeline::kinematics(&model, &model.params0, &s.q, d);
        kinegrad::kinematics::com_vel(&model, &s.v, d);
        d.cinert[1].mul_motion(&d.cvel[1])
    };
    let p0 = momentum(&s, &mut d);
    for _ in 0..20000 {
        pipeline::step(&model, &model.params0, &mut s, &c, &mut carry, &mut d).unwrap();
    }
    let p1 = momentum(&s, &mut d);
    assert!(
        (p1.lin - p0.lin).norm() < 1e-12,
        "linear momentum drifted: {:?} -> {:?}",
        p0.lin,
        p1.lin
    );
    // angular momentum about the origin: first-order integrator, bounded error at dt = 1e-4
    let rel = (p1.ang - p0.ang).norm() / p0.ang.norm();
    assert!(rel < 1e-3, "angular momentum relative drift {rel}");
}

#[test]
fn mass_matrix_and_rnea_agree() {
    // a 3-link chain with mixed joints: ID(q, v, a) - ID(q, v, 0) == M a
    let mut a = link("a", None, Vec3::zeros(), 1.0, 0.3);
    a.joints[0].axis = Vec3::new(0.3, 1.0, 0.2);
    let mut b = link("b", Some(0), Vec3::new(0.1, 0.0, -0.6), 0.7, 0.25);
    b.joints.push(JointSpec {
        axis: Vec3::x(),
        ..JointSpec::new("b_slide", JointType::Slide)
    });
    let mut c = BodySpec::new("c", Some(1));
    c.pos = Vec3::new(0.0, 0.1, -0.5);
    c.quat = Quat::from_euler_angles(0.3, -0.2, 0.5);
    c.mass = 0.4;
    c.ipos = Vec3::new(0.05, 0.0, -0.1);
    c.inertia = Mat3::from_diagonal(&Vec3::new(0.01, 0.02, 0.015));
    c.joints.push(JointSpec {
        pos: Vec3::new(0.0, 0.0, 0.05),
        ..JointSpec::new("c_ball", JointType::Ball)
    });
    let model = build(
        vec![a, b, c],
        BaseMode::Free,
        0.01,
        Vec3::new(0.0, 0.0, -9.81),
    );
    let mut s = State::new(&model);
    for (i, x) in s.q.iter_mut().enumerate() {
        *x += 0.1 * ((i as f64) * 1.3).sin();
    }
    s.normalize_quaternions(&model);
    for (i, x) in s.v.iter_mut().enumerate() {
        *x = ((i as f64) * 0.7).cos();
    }
    let nv = model.nv;
    let acc: Vec<f64> = (0..nv).map(|i| ((i as f64) * 2.1).sin()).collect();
    let mut d = Data::new(&model);
    let p = model.params0.clone();
    pipeline::kinematics(&model, &p, &s.q, &mut d);
    kinegrad::dynamics::crba::crba(&model, &p, &mut d);
    kinegrad::kinematics::com_vel(&model, &s.v, &mut d);
    let mut id_a = vec![0.0; nv];
    let mut id_0 = vec![0.0; nv];
    kinegrad::dynamics::rnea::rnea(&model, &p, &mut d, &s.v, Some(&acc), &mut id_a);
    kinegrad::dynamics::rnea::rnea(&model, &p, &mut d, &s.v, None, &mut id_0);
    let mut qm = vec![0.0; nv * nv];
    kinegrad::dynamics::mass::to_dense(&model, &d.qm, &mut qm);
    for i in 0..nv {
        let ma: f64 = (0..nv).map(|k| qm[i * nv + k] * acc[k]).sum();
        assert!(
            (id_a[i] - id_0[i] - ma).abs() < 1e-12,
            "row {i}: {} vs {}",
            id_a[i] - id_0[i],
            ma
        );
    }
}

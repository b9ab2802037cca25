//! Regression tests named after the problems they pin down.

use kinegrad::constraint::contact_force;
use kinegrad::math::{Mat3, Pose, Vec3};
use kinegrad::model::builder::{ActuatorSpec, BaseMode, BodySpec, EntitySpec, GeomSpec, JointSpec};
use kinegrad::model::{CtrlMode, GeomType, JointType, ModelBuilder};
use kinegrad::{pipeline, Control, Data, Error, State, StepCarry};

fn cube(name: &str, parent: Option<usize>, pos: Vec3, hinge: bool) -> BodySpec {
    let mut b = BodySpec::new(name, parent);
    b.pos = pos;
    b.mass = 1.0;
    b.inertia = Mat3::identity() * 0.01;
    b.geoms
        .push(GeomSpec::new(GeomType::Box, Vec3::new(0.1, 0.1, 0.1)));
    if hinge {
        b.joints.push(JointSpec {
            axis: Vec3::z(),
            ..JointSpec::new(format!("{name}_j"), JointType::Hinge)
        });
    }
    b
}

/// A fixed base with two hinged links that both overlap it.
fn overlapping_arm(self_collision: bool) -> kinegrad::Model {
    let bodies = vec![
        cube("base", None, Vec3::zeros(), false),
        cube("l1", Some(0), Vec3::new(0.15, 0.0, 0.0), true),
        cube("l2", Some(1), Vec3::new(-0.1, 0.0, 0.0), true),
    ];
    let mut b = ModelBuilder::new();
    b.options.enable_self_collision = self_collision;
    b.add_entity(
        EntitySpec {
            name: "arm".into(),
            bodies,
            ..Default::default()
        },
        Pose::identity(),
        BaseMode::Fixed,
    );
    b.build().unwrap()
}

#[test]
fn fixed_base_links_respect_adjacency_and_self_collision_filters() {
    // self-collision off: no pair of the arm may collide, the world-welded base included
    let m = overlapping_arm(false);
    assert!(m.collision_pairs.is_empty(), "{:?}", m.collision_pairs);
    // self-collision on: adjacent bodies (base-l1, l1-l2) stay filtered, base-l2 collides
    let m = overlapping_arm(true);
    assert_eq!(m.collision_pairs, vec![(0, 2)]);
    let mut s = State::new(&m);
    let mut d = Data::new(&m);
    let mut carry = StepCarry::new(&m);
    pipeline::step(
        &m,
        &m.params0,
        &mut s,
        &Control::new(&m),
        &mut carry,
        &mut d,
    )
    .unwrap();
    assert!(!d.contacts.is_empty());
    assert!(d.contacts.iter().all(|c| (c.geom1, c.geom2) == (0, 2)));
}

fn actuated(force_range: [f64; 2], joint_range: [f64; 2]) -> Result<kinegrad::Model, Error> {
    let mut link = cube("l1", None, Vec3::zeros(), true);
    link.joints[0].force_range = joint_range;
    let act = ActuatorSpec {
        name: "motor1".into(),
        joint: "l1_j".into(),
        tendon: false,
        mode: CtrlMode::Position,
        kp: 10.0,
        kv: 1.0,
        gear: 2.0,
        ctrl_range: [f64::NEG_INFINITY, f64::INFINITY],
        target_per_ctrl: 0.5,
        force_range,
        dampratio: 0.0,
        dynamics: None,
        act_range: None,
        act_early: false,
    };
    let mut b = ModelBuilder::new();
    b.add_entity(
        EntitySpec {
            name: "e".into(),
            bodies: vec![link],
            actuators: vec![act],
            ..Default::default()
        },
        Pose::identity(),
        BaseMode::AsIs,
    );
    b.build()
}

#[test]
fn empty_or_disjoint_force_ranges_are_rejected_naming_the_actuator() {
    let inf = f64::INFINITY;
    let err = actuated([10.0, -10.0], [-inf, inf])
        .unwrap_err()
        .to_string();
    assert!(err.contains("motor1") && err.contains("empty"), "{err}");
    let err = actuated([1.0, 2.0], [-1.0, 1.0]).unwrap_err().to_string();
    assert!(err.contains("motor1") && err.contains("overlap"), "{err}");
    // a valid one: gear 2 scales gains by gear^2 and the range by gear
    let m = actuated([-1.0, 1.0], [-inf, inf]).unwrap();
    assert_eq!(m.params0.dof_kp[0], 40.0);
    assert_eq!(m.params0.dof_kv[0], 4.0);
    assert_eq!(m.params0.dof_force_range[0], [-2.0, 2.0]);
}

#[test]
fn failed_step_leaves_the_state_untouched() {
    let mut b = ModelBuilder::new();
    b.add_entity(
        EntitySpec {
            name: "e".into(),
            bodies: vec![cube("l1", None, Vec3::zeros(), true)],
            ..Default::default()
        },
        Pose::identity(),
        BaseMode::AsIs,
    );
    let m = b.build().unwrap();
    let mut params = m.params0.clone();
    params.body_mass[1] = 0.0;
    params.body_inertia[1] = Mat3::zeros();
    let mut s = State::new(&m);
    s.q[0] = 0.3;
    s.v[0] = -1.0;
    let before = s.clone();
    let (mut carry, mut d) = (StepCarry::new(&m), Data::new(&m));
    let err =
        pipeline::step(&m, &params, &mut s, &Control::new(&m), &mut carry, &mut d).unwrap_err();
    assert!(matches!(err, Error::Diverged { .. }));
    assert!(err.to_string().contains("'l1'"), "{err}");
    assert_eq!(s, before);
}

#[test]
fn resting_contact_forces_balance_gravity_and_solver_is_optimal() {
    let h = Vec3::new(0.1, 0.15, 0.05);
    let mut ground = BodySpec::new("ground", None);
    ground
        .geoms
        .push(GeomSpec::new(GeomType::Plane, Vec3::zeros()));
    let mut bx = BodySpec::new("box", None);
    bx.mass = 2.0;
    bx.inertia = Mat3::identity() * 0.01;
    bx.geoms.push(GeomSpec::new(GeomType::Box, h));
    let mut b = ModelBuilder::new();
    b.options.timestep = 0.005;
    b.add_entity(
        EntitySpec {
            name: "g".into(),
            bodies: vec![ground],
            ..Default::default()
        },
        Pose::identity(),
        BaseMode::Fixed,
    );
    b.add_entity(
        EntitySpec {
            name: "b".into(),
            bodies: vec![bx],
            ..Default::default()
        },
        Pose {
            pos: Vec3::new(0.0, 0.0, 0.06),
            rot: Mat3::identity(),
        },
        BaseMode::Free,
    );
    let m = b.build().unwrap();
    let mut s = State::new(&m);
    let c = Control::new(&m);
    let mut d = Data::new(&m);
    let mut carry = StepCarry::new(&m);
    for _ in 0..400 {
        pipeline::step(&m, &m.params0, &mut s, &c, &mut carry, &mut d).unwrap();
    }
    // the four corner contacts carry the weight, with no net tangential force
    let total: Vec3 = (0..d.contacts.len()).map(|i| contact_force(&d, i)).sum();
    let weight = 2.0 * 9.81;
    assert_eq!(d.contacts.len(), 4);
    assert!((total.z - weight).abs() < 1e-6 * weight, "{total:?}");
    assert!(total.xy().norm() < 1e-6 * weight, "{total:?}");
    // optimality of the last solve: M_h a - f + J^T D min(J a - aref, 0) = 0
    let nv = m.nv;
    let mut g = vec![0.0; nv];
    kinegrad::dynamics::mass::mul_vec(&m, &d.qm_h, &d.qacc, &mut g);
    g.iter_mut().zip(&d.qfrc_smooth).for_each(|(g, f)| *g -= f);
    for r in 0..d.nefc {
        let (dofs, row) = d.efc_row(r);
        let jar = dofs
            .iter()
            .zip(row)
            .map(|(&i, j)| j * d.qacc[i])
            .sum::<f64>()
            - d.efc_aref[r];
        if jar < 0.0 {
            for (&i, j) in dofs.iter().zip(row) {
                g[i] += d.efc_d[r] * jar * j;
            }
        }
    }
    let gnorm = g.iter().map(|x| x * x).sum::<f64>().sqrt();
    assert!(
        gnorm < 1e-8 * weight,
        "gradient norm at the solution {gnorm}"
    );
}

#[test]
fn rotation_after_a_ball_joint_in_one_body_is_rejected_by_name() {
    let mut b = cube("wrist", None, Vec3::zeros(), false);
    b.joints.push(JointSpec::new("wrist_ball", JointType::Ball));
    b.joints.push(JointSpec {
        axis: Vec3::x(),
        ..JointSpec::new("wrist_roll", JointType::Hinge)
    });
    let mut mb = ModelBuilder::new();
    mb.add_entity(
        EntitySpec {
            name: "arm".into(),
            bodies: vec![b],
            ..Default::default()
        },
        Pose::identity(),
        BaseMode::Fixed,
    );
    let err = mb.build().unwrap_err().to_string();
    assert!(
        err.contains("wrist_roll") && err.contains("wrist_ball"),
        "{err}"
    );
}

#[test]
fn gradient_of_an_unconverged_solve_is_an_error_not_a_wrong_number() {
    use kinegrad::adjoint::step::{step_vjp, VjpScratch};
    use kinegrad::adjoint::StepGrad;
    use kinegrad::pipeline::StepLog;
    // three boxes dropped into each other and the floor, one Newton iteration allowed
    let mut ground = BodySpec::new("ground", None);
    ground
        .geoms
        .push(GeomSpec::new(GeomType::Plane, Vec3::zeros()));
    let mut b = ModelBuilder::new();
    b.options.iterations = 1;
    b.add_entity(
        EntitySpec {
            name: "g".into(),
            bodies: vec![ground],
            ..Default::default()
        },
        Pose::identity(),
        BaseMode::Fixed,
    );
    for k in 0..3 {
        let body = cube(&format!("box{k}"), None, Vec3::zeros(), false);
        let pose = Pose {
            pos: Vec3::new(0.02 * k as f64, 0.0, 0.08 + 0.15 * k as f64),
            rot: Mat3::identity(),
        };
        b.add_entity(
            EntitySpec {
                name: format!("b{k}"),
                bodies: vec![body],
                ..Default::default()
            },
            pose,
            BaseMode::Free,
        );
    }
    let m = b.build().unwrap();
    let mut s = State::new(&m);
    // falling fast while sliding and spinning: friction rows switch during the solve
    s.v.iter_mut().enumerate().for_each(|(i, x)| {
        *x = [3.0, -2.0, -4.0, 9.0, -7.0, 5.0][i % 6] * (1.0 + 0.3 * (i / 6) as f64)
    });
    let c = Control::new(&m);
    let mut d = Data::new(&m);
    let mut carry = StepCarry::new(&m);
    pipeline::forward(&m, &m.params0, &s, &c, &mut carry, &mut d, m.opt.timestep).unwrap();
    assert!(
        d.solver_residual > 1e-6,
        "this setup must leave the solve unconverged (residual {:.1e})",
        d.solver_residual
    );
    let mut g = StepGrad::zeros(&m);
    // warm-started from the forward's solution
    let err = step_vjp(
        &m,
        &m.params0,
        &s,
        &c,
        &carry,
        &mut d,
        &mut VjpScratch::new(&m),
        &vec![1.0; m.nq],
        &vec![0.0; m.nv],
        &[],
        &mut g,
    )
    .unwrap_err();
    assert!(err.to_string().contains("did not converge"), "{err}");
    // the same through a tape that recorded the step's results (the forward's residual counts)
    let mut tape = kinegrad::adjoint::rollout::Tape::new(m.params0.clone(), 1);
    let mut s1 = s.clone();
    let mut carry = StepCarry::new(&m); // no warm start from the solve above
    tape.record(&s1, &c, &carry);
    pipeline::step(&m, &m.params0, &mut s1, &c, &mut carry, &mut d).unwrap();
    tape.record_result(&d, &StepLog::default());
    assert!(tape.has_results() && d.solver_residual > 1e-6);
    let err = tape
        .vjp(
            &m,
            &mut d,
            None,
            None,
            |_, qb, _| qb.iter_mut().for_each(|x| *x = 1.0),
            |_, _| {},
        )
        .unwrap_err();
    assert!(err.to_string().contains("did not converge"), "{err}");
}

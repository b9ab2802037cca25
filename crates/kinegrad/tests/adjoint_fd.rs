//! The reverse pass against finite differences: <J dx, y> (central differences) must equal
//! <dx, J^T y> (step_vjp) for random directions dx in every input and random seeds y.

use kinegrad::adjoint::step::{step_vjp, VjpScratch};
use kinegrad::adjoint::StepGrad;
use kinegrad::fd::{params_dot, step_jvp_fd, StepDirection};
use kinegrad::math::{Mat3, Pose, Quat, Vec3};
use kinegrad::model::builder::{BaseMode, BodySpec, EntitySpec, JointSpec};
use kinegrad::model::{CtrlMode, Integrator, JointType, ModelBuilder, Params};
use kinegrad::{pipeline, Control, Data, Model, State, StepCarry};

/// Deterministic pseudo-random numbers in [-1, 1].
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    }
    fn vec(&mut self, n: usize) -> Vec<f64> {
        (0..n).map(|_| self.next()).collect()
    }
}

fn random_params_direction(model: &Model, rng: &mut Rng) -> Params {
    let mut p = kinegrad::adjoint::params_zeros(model);
    p.gravity = Vec3::new(rng.next(), rng.next(), rng.next());
    for b in 1..model.nbody {
        p.body_mass[b] = rng.next();
        p.body_ipos[b] = Vec3::new(rng.next(), rng.next(), rng.next()) * 0.1;
        let a = Mat3::from_fn(|_, _| rng.next()) * 0.01;
        p.body_inertia[b] = a + a.transpose();
    }
    for d in 0..model.nv {
        p.dof_damping[d] = rng.next();
        p.dof_armature[d] = rng.next() * 0.1;
        p.dof_kp[d] = rng.next() * 10.0;
        p.dof_kv[d] = rng.next();
        p.dof_stiffness[d] = rng.next();
        p.dof_force_range[d] = [rng.next(), rng.next()];
    }
    for g in 0..model.ngeom {
        p.geom_friction[g][0] = rng.next() * 0.1;
    }
    // the medium, where there is one (at 0 the force has a kink in the density: none below)
    if model.params0.fluid_density > 0.0 && model.params0.fluid_viscosity > 0.0 {
        p.fluid_density = 100.0 * rng.next();
        p.fluid_viscosity = 0.1 * rng.next();
        p.wind = Vec3::new(rng.next(), rng.next(), rng.next());
    }
    p
}

/// Dot-product test of one step at `state` with `control`; returns the relative error.
/// Dot-product test per input kind (q, v, control targets, parameters); returns the worst
/// relative error. Each kind is checked on its own so that a random combined direction whose
/// terms cancel cannot hide an error or blow up the relative measure.
fn dot_test(model: &Model, state: &State, control: &Control, seed: u64, eps: f64) -> f64 {
    let masks = [
        [true, false, false, false],
        [false, true, false, false],
        [false, false, true, false],
        [false, false, false, true],
    ];
    masks
        .iter()
        .map(|m| dot_test_masked(model, state, control, seed, eps, *m))
        .fold(0.0, f64::max)
}

/// As [`dot_test`], with the direction restricted to (q, v, target, params) by `mask`.
fn dot_test_masked(
    model: &Model,
    state: &State,
    control: &Control,
    seed: u64,
    eps: f64,
    mask: [bool; 4],
) -> f64 {
    let mut rng = Rng(seed);
    let params = model.params0.clone();
    let mut dir = StepDirection {
        q: rng.vec(model.nq),
        v: rng.vec(model.nv),
        target: rng.vec(model.nv),
        params: random_params_direction(model, &mut rng),
    };
    if !mask[0] {
        dir.q.iter_mut().for_each(|x| *x = 0.0);
    }
    if !mask[1] {
        dir.v.iter_mut().for_each(|x| *x = 0.0);
    }
    if !mask[2] {
        dir.target.iter_mut().for_each(|x| *x = 0.0);
    }
    if !mask[3] {
        dir.params = kinegrad::adjoint::params_zeros(model);
    }
    let (yq, yv) = (rng.vec(model.nq), rng.vec(model.nv));
    let (dq, dv) = step_jvp_fd(model, &params, state, control, &dir, eps).unwrap();
    let lhs: f64 = dq.iter().zip(&yq).map(|(a, b)| a * b).sum::<f64>()
        + dv.iter().zip(&yv).map(|(a, b)| a * b).sum::<f64>();
    let mut g = StepGrad::zeros(model);
    let mut data = Data::new(model);
    let (carry, mut sc) = (StepCarry::new(model), VjpScratch::new(model));
    step_vjp(
        model,
        &params,
        state,
        control,
        &carry,
        &mut data,
        &mut sc,
        &yq,
        &yv,
        &[],
        &mut g,
    )
    .unwrap();
    let rhs = dir.dot(&g);
    let err = (lhs - rhs).abs() / lhs.abs().max(rhs.abs()).max(1e-12);
    println!("lhs {lhs:.12e} rhs {rhs:.12e} rel {err:.2e}");
    err
}

fn link(name: &str, parent: Option<usize>, pos: Vec3, joint: JointType) -> BodySpec {
    let mut b = BodySpec::new(name, parent);
    b.pos = pos;
    b.quat = Quat::from_euler_angles(0.2, -0.1, 0.3);
    b.mass = 0.8;
    b.ipos = Vec3::new(0.02, -0.01, -0.15);
    b.inertia = Mat3::new(0.02, 0.001, 0.0, 0.001, 0.015, 0.002, 0.0, 0.002, 0.01);
    let mut j = JointSpec::new(format!("{name}_j"), joint);
    j.axis = Vec3::new(0.3, 1.0, -0.2);
    j.pos = Vec3::new(0.0, 0.01, 0.02);
    j.damping = 0.3;
    j.armature = 0.01;
    j.stiffness = if joint == JointType::Hinge { 2.0 } else { 0.0 };
    j.springref = 0.1;
    j.kp = 20.0;
    j.kv = 1.5;
    b.joints.push(j);
    b
}

/// A chain hinge -> slide -> ball -> hinge on a fixed base, plus a free body; no contact.
fn chain_model(integrator: Integrator, substeps: usize) -> Model {
    let bodies = vec![
        link("a", None, Vec3::zeros(), JointType::Hinge),
        link("b", Some(0), Vec3::new(0.0, 0.0, -0.3), JointType::Slide),
        link("c", Some(1), Vec3::new(0.05, 0.0, -0.3), JointType::Ball),
        link("d", Some(2), Vec3::new(0.0, 0.05, -0.25), JointType::Hinge),
    ];
    let mut free = BodySpec::new("free", None);
    free.mass = 1.3;
    free.ipos = Vec3::new(0.01, 0.02, -0.03);
    free.inertia = Mat3::new(0.03, 0.002, 0.0, 0.002, 0.02, 0.001, 0.0, 0.001, 0.025);
    let mut b = ModelBuilder::new();
    b.options.timestep = 0.01;
    b.options.substeps = substeps;
    b.options.integrator = integrator;
    b.options.tolerance = 1e-14;
    b.add_entity(
        EntitySpec {
            name: "chain".into(),
            bodies,
            ..Default::default()
        },
        Pose::identity(),
        BaseMode::AsIs,
    );
    b.add_entity(
        EntitySpec {
            name: "free".into(),
            bodies: vec![free],
            ..Default::default()
        },
        Pose {
            pos: Vec3::new(1.0, 0.0, 2.0),
            rot: Mat3::identity(),
        },
        BaseMode::Free,
    );
    b.build().unwrap()
}

fn chain_state(model: &Model, rng: &mut Rng) -> (State, Control) {
    let mut s = State::new(model);
    for x in s.q.iter_mut() {
        *x += 0.3 * rng.next();
    }
    s.normalize_quaternions(model);
    s.v = rng.vec(model.nv).iter().map(|x| 2.0 * x).collect();
    let mut c = Control::new(model);
    // hinge a: position, slide b: velocity, ball c: force, hinge d: position, free: force
    let modes = [
        CtrlMode::Position,
        CtrlMode::Velocity,
        CtrlMode::Force,
        CtrlMode::Force,
        CtrlMode::Force,
        CtrlMode::Position,
    ];
    for d in 0..model.nv {
        c.mode[d] = if d < modes.len() {
            modes[d]
        } else {
            CtrlMode::Force
        };
        c.target[d] = 0.5 * rng.next();
    }
    (s, c)
}

#[test]
fn smooth_chain_step_vjp_matches_finite_differences() {
    for (integrator, substeps) in [
        (Integrator::ImplicitFast, 1),
        (Integrator::Euler, 1),
        (Integrator::ImplicitFast, 3),
        (Integrator::RK4, 1),
        (Integrator::RK4, 2),
    ] {
        let model = chain_model(integrator, substeps);
        for seed in 0..3 {
            let mut rng = Rng(100 + seed);
            let (s, c) = chain_state(&model, &mut rng);
            // step 1e-5: central differences of the step are round-off limited below that
            let err = dot_test(&model, &s, &c, seed, 1e-5);
            assert!(
                err < 1e-6,
                "{integrator:?} substeps {substeps} seed {seed}: relative error {err:.2e}"
            );
        }
    }
}

/// Implicit damping and velocity gains together with active rows: MuJoCo's split (the rows
/// solved against M, then `M_h a = M c`) and `implicit_constraints` (the rows solved against
/// `M_h`), under both integrators, every input kind (damping, kv and armature included).
#[test]
fn implicit_terms_with_active_rows_step_vjp_matches_finite_differences() {
    for integrator in [Integrator::Euler, Integrator::ImplicitFast] {
        for implicit_constraints in [false, true] {
            let mut model = chain_model(integrator, 1);
            model.opt.implicit_constraints = implicit_constraints;
            for d in 0..model.nv {
                model.params0.dof_damping[d] = 0.3;
                model.params0.dof_kp[d] = 5.0;
                model.params0.dof_kv[d] = 2.0;
            }
            for seed in 0..3 {
                let mut rng = Rng(300 + seed);
                let (mut s, c) = chain_state(&model, &mut rng);
                // hinge a and slide b just past their lower limits, moving into them
                let mut model = model.clone();
                for j in 0..2 {
                    s.v[model.jnt_dof_adr[j]] = -1.0;
                    let q = s.q[model.jnt_qpos_adr[j]];
                    model.jnt_limited[j] = true;
                    model.jnt_range[j] = [q + 0.002, q + 1.0];
                }
                let mut d = Data::new(&model);
                let mut carry = StepCarry::new(&model);
                pipeline::forward(&model, &model.params0, &s, &c, &mut carry, &mut d, 0.01)
                    .unwrap();
                let active = d.efc_active.iter().filter(|x| **x).count();
                assert!(
                    d.nefc == 2 && active == 2,
                    "{} rows, {active} active",
                    d.nefc
                );
                assert!(d.implicit_active);
                assert_eq!(d.implicit_split, !implicit_constraints);
                let err = dot_test(&model, &s, &c, seed, 1e-6);
                assert!(
                    err < 1e-6,
                    "{integrator:?} implicit_constraints {implicit_constraints} seed {seed}: relative error {err:.2e}"
                );
            }
        }
    }
}

/// MuJoCo's inertia-box fluid model on every body of the chain (hinge, slide, ball, free; off
/// diagonal inertias, so principal frames turned from the body axes), with wind: one step's
/// VJP in every input, the medium's density, viscosity and wind included, each integrator.
#[test]
fn fluid_forces_step_vjp_matches_finite_differences() {
    for integrator in [Integrator::Euler, Integrator::ImplicitFast, Integrator::RK4] {
        let mut model = chain_model(integrator, 1);
        model.params0.fluid_density = 900.0;
        model.params0.fluid_viscosity = 0.2;
        model.params0.wind = Vec3::new(0.4, -0.3, 0.2);
        for seed in 0..3 {
            let mut rng = Rng(500 + seed);
            let (s, c) = chain_state(&model, &mut rng);
            let mut d = Data::new(&model);
            let mut carry = StepCarry::new(&model);
            pipeline::forward(&model, &model.params0, &s, &c, &mut carry, &mut d, 0.01).unwrap();
            let fluid: f64 = d
                .fluid_frc
                .iter()
                .map(|f| f.lin.norm() + f.ang.norm())
                .sum();
            assert!(fluid > 1.0, "the medium acts: {fluid}");
            let err = dot_test(&model, &s, &c, seed, 1e-6);
            assert!(
                err < 1e-6,
                "{integrator:?} seed {seed}: relative error {err:.2e}"
            );
        }
    }
}

/// A model of the one body `a` (its joints to the world), converged solves.
fn one_body_model(a: BodySpec) -> Model {
    let mut b = ModelBuilder::new();
    b.options.tolerance = 1e-14;
    b.add_entity(
        EntitySpec {
            name: "p".into(),
            bodies: vec![a],
            ..Default::default()
        },
        Pose::identity(),
        BaseMode::AsIs,
    );
    b.build().unwrap()
}

#[test]
fn active_joint_limit_step_vjp_matches_finite_differences() {
    let mut a = link("a", None, Vec3::zeros(), JointType::Hinge);
    a.joints[0].range = Some([-0.5, 0.5]);
    a.joints[0].solimp = [0.8, 0.95, 0.01, 0.5, 2.0];
    let model = one_body_model(a);
    let mut s = State::new(&model);
    s.q[0] = 0.503; // inside the impedance transition zone, limit active
    s.v[0] = 0.4;
    let c = Control::new(&model);
    let mut d = Data::new(&model);
    let mut carry = StepCarry::new(&model);
    pipeline::forward(&model, &model.params0, &s, &c, &mut carry, &mut d, 0.01).unwrap();
    assert!(d.efc_active.iter().any(|x| *x), "limit must be active");
    for seed in 0..3 {
        let err = dot_test(&model, &s, &c, seed, 1e-7);
        assert!(err < 1e-6, "seed {seed}: relative error {err:.2e}");
    }
}

#[test]
fn active_ball_joint_limit_step_vjp_matches_finite_differences() {
    // a ball joint turned 0.62 rad about a generic axis against a 0.6 rad cone limit, turning
    // further: the row's Jacobian (minus the rotation axis) and distance depend on the
    // quaternion; also past pi/2 and with the quaternion's w negative (the shortest rotation)
    for (angle, flip) in [(0.62, false), (1.9, false), (0.62, true)] {
        let mut a = link("a", None, Vec3::zeros(), JointType::Ball);
        a.joints[0].range = Some([0.0, angle - 0.02]);
        a.joints[0].solimp = [0.8, 0.95, 0.05, 0.5, 2.0];
        let model = one_body_model(a);
        let mut s = State::new(&model);
        let axis = Vec3::new(0.3, -0.5, 0.8).normalize();
        let (sn, cs) = (0.5f64 * angle).sin_cos();
        let sign = if flip { -1.0 } else { 1.0 };
        s.q.copy_from_slice(&[
            sign * cs,
            sign * sn * axis.x,
            sign * sn * axis.y,
            sign * sn * axis.z,
        ]);
        s.v.copy_from_slice(&[0.4 * axis.x + 0.1, 0.4 * axis.y, 0.4 * axis.z - 0.2]);
        let c = Control::new(&model);
        let mut d = Data::new(&model);
        let mut carry = StepCarry::new(&model);
        pipeline::forward(&model, &model.params0, &s, &c, &mut carry, &mut d, 0.01).unwrap();
        assert_eq!(d.nefc, 1);
        assert!(d.efc_active[0], "limit must be active");
        assert!((d.efc_pos[0] + 0.02).abs() < 1e-12, "{}", d.efc_pos[0]);
        for seed in 0..3 {
            let err = dot_test(&model, &s, &c, seed, 1e-7);
            assert!(
                err < 1e-6,
                "angle {angle} flip {flip} seed {seed}: relative error {err:.2e}"
            );
        }
    }
}

#[test]
fn readings_vjp_matches_finite_differences() {
    use kinegrad::adjoint::readings::link_states_vjp;
    use kinegrad::readings::{link_states, LINK_STATE};
    let model = chain_model(Integrator::ImplicitFast, 1);
    let mut rng = Rng(7);
    let (mut s, _) = chain_state(&model, &mut rng);
    s.q.iter_mut().for_each(|x| *x *= 1.3); // quaternion blocks off the unit sphere
    let n = model.nbody * LINK_STATE;
    let bar = rng.vec(n);
    let reading = |q: &[f64], v: &[f64]| -> f64 {
        let mut qn = q.to_vec();
        kinegrad::state::normalize_quaternions(&model, &mut qn);
        let (mut d, mut out) = (Data::new(&model), vec![0.0; n]);
        link_states(&model, &model.params0, &qn, v, &mut d, &mut out);
        out.iter()
            .zip(&bar)
            .skip(LINK_STATE)
            .map(|(a, b)| a * b)
            .sum()
    };
    let (dq, dv) = (rng.vec(model.nq), rng.vec(model.nv));
    let eps = 1e-6;
    let qp: Vec<f64> = s.q.iter().zip(&dq).map(|(a, b)| a + eps * b).collect();
    let qm: Vec<f64> = s.q.iter().zip(&dq).map(|(a, b)| a - eps * b).collect();
    let vp: Vec<f64> = s.v.iter().zip(&dv).map(|(a, b)| a + eps * b).collect();
    let vm: Vec<f64> = s.v.iter().zip(&dv).map(|(a, b)| a - eps * b).collect();
    let fd = (reading(&qp, &vp) - reading(&qm, &vm)) / (2.0 * eps);
    let mut g = StepGrad::zeros(&model);
    let mut d = Data::new(&model);
    link_states_vjp(&model, &model.params0, &s.q, &s.v, &mut d, &bar, &mut g);
    let an: f64 = dq.iter().zip(&g.q).map(|(a, b)| a * b).sum::<f64>()
        + dv.iter().zip(&g.v).map(|(a, b)| a * b).sum::<f64>();
    let err = (fd - an).abs() / fd.abs().max(1e-12);
    assert!(err < 1e-6, "fd {fd} vs vjp {an}: {err:.2e}");
}

#[test]
fn hundred_step_rollout_gradient_matches_finite_differences() {
    use kinegrad::adjoint::rollout::{rollout, rollout_vjp};
    let model = chain_model(Integrator::ImplicitFast, 1);
    let mut rng = Rng(11);
    let (s0, c0) = chain_state(&model, &mut rng);
    let steps = 100;
    let controls: Vec<Control> = (0..steps)
        .map(|t| {
            let mut c = c0.clone();
            c.target
                .iter_mut()
                .enumerate()
                .for_each(|(i, x)| *x += 0.2 * ((t + i) as f64 * 0.1).sin());
            c
        })
        .collect();
    let (wq, wv) = (rng.vec(model.nq), rng.vec(model.nv));
    // L = sum_t (wq . q_t + 0.5 |v_t|^2 / T) + final wv . v_T
    let loss = |params: &Params, init: &State, controls: &[Control]| -> f64 {
        let states = rollout(&model, params, init, controls, &mut Data::new(&model)).unwrap();
        let mut l = 0.0;
        for st in &states[1..] {
            l += st.q.iter().zip(&wq).map(|(a, b)| a * b).sum::<f64>()
                + 0.5 * st.v.iter().map(|x| x * x).sum::<f64>() / steps as f64;
        }
        l + states[steps]
            .v
            .iter()
            .zip(&wv)
            .map(|(a, b)| a * b)
            .sum::<f64>()
    };
    let params = model.params0.clone();
    let mut data = Data::new(&model);
    let states = rollout(&model, &params, &s0, &controls, &mut data).unwrap();
    let g = rollout_vjp(
        &model,
        &params,
        &states,
        &controls,
        &mut data,
        |t, st, qb, vb| {
            qb.copy_from_slice(&wq);
            for i in 0..model.nv {
                vb[i] = st.v[i] / steps as f64 + if t == steps { wv[i] } else { 0.0 };
            }
        },
    )
    .unwrap();
    // directional derivatives by central differences, one input kind at a time
    let eps = 1e-5;
    let check = |name: &str, fd: f64, an: f64| {
        let err = (fd - an).abs() / fd.abs().max(an.abs()).max(1e-12);
        println!("{name}: fd {fd:.10e} adjoint {an:.10e} rel {err:.1e}");
        assert!(err < 1e-5, "{name}: relative error {err:.2e}");
    };
    let (dq, dv) = (rng.vec(model.nq), rng.vec(model.nv));
    let shifted = |s: f64| {
        let mut st = s0.clone();
        st.q.iter_mut().zip(&dq).for_each(|(a, b)| *a += s * b);
        st.v.iter_mut().zip(&dv).for_each(|(a, b)| *a += s * b);
        st
    };
    let fd = (loss(&params, &shifted(eps), &controls) - loss(&params, &shifted(-eps), &controls))
        / (2.0 * eps);
    let an = dq.iter().zip(&g.q0).map(|(a, b)| a * b).sum::<f64>()
        + dv.iter().zip(&g.v0).map(|(a, b)| a * b).sum::<f64>();
    check("initial state", fd, an);
    let du: Vec<Vec<f64>> = (0..steps).map(|_| rng.vec(model.nv)).collect();
    let ctrl = |s: f64| -> Vec<Control> {
        controls
            .iter()
            .zip(&du)
            .map(|(c, d)| {
                let mut c = c.clone();
                c.target.iter_mut().zip(d).for_each(|(a, b)| *a += s * b);
                c
            })
            .collect()
    };
    let fd = (loss(&params, &s0, &ctrl(eps)) - loss(&params, &s0, &ctrl(-eps))) / (2.0 * eps);
    let an: f64 = du
        .iter()
        .zip(&g.targets)
        .map(|(d, t)| d.iter().zip(t).map(|(a, b)| a * b).sum::<f64>())
        .sum();
    check("controls", fd, an);
    let dp = random_params_direction(&model, &mut rng);
    let fd = (loss(
        &kinegrad::fd::params_axpy(&params, eps, &dp),
        &s0,
        &controls,
    ) - loss(
        &kinegrad::fd::params_axpy(&params, -eps, &dp),
        &s0,
        &controls,
    )) / (2.0 * eps);
    check("parameters", fd, params_dot(&dp, &g.params));
}

/// A free body of `kind` resting on (or pressed into) a plane, sliding sideways.
fn contact_model(kind: kinegrad::model::GeomType, size: Vec3, friction: f64) -> Model {
    contact_model_dt(kind, size, friction, 0.005)
}

fn contact_model_dt(kind: kinegrad::model::GeomType, size: Vec3, friction: f64, dt: f64) -> Model {
    use kinegrad::model::builder::GeomSpec;
    let mut ground = BodySpec::new("ground", None);
    let mut g = GeomSpec::new(kinegrad::model::GeomType::Plane, Vec3::zeros());
    g.friction[0] = friction;
    g.solimp = [0.8, 0.95, 0.02, 0.5, 2.0];
    ground.geoms.push(g);
    let mut body = BodySpec::new("body", None);
    body.mass = 1.0;
    body.ipos = Vec3::new(0.01, -0.005, 0.0);
    body.inertia = Mat3::new(
        0.004, 0.0002, 0.0, 0.0002, 0.005, 0.0001, 0.0, 0.0001, 0.006,
    );
    let mut g = GeomSpec::new(kind, size);
    // friction combines by max: keep the two apart, a tie is a kink
    g.friction[0] = 0.7 * friction;
    g.solimp = [0.8, 0.95, 0.02, 0.5, 2.0];
    body.geoms.push(g);
    let mut b = ModelBuilder::new();
    b.options.timestep = dt;
    b.options.tolerance = 1e-15;
    b.add_entity(
        EntitySpec {
            name: "ground".into(),
            bodies: vec![ground],
            ..Default::default()
        },
        Pose::identity(),
        BaseMode::Fixed,
    );
    b.add_entity(
        EntitySpec {
            name: "body".into(),
            bodies: vec![body],
            ..Default::default()
        },
        Pose::identity(),
        BaseMode::Free,
    );
    b.build().unwrap()
}

fn contact_dot_tests(model: &Model, s: &State) {
    contact_dot_tests_eps(model, s, 1e-7);
}

/// [`contact_dot_tests`] with central differences of step `eps`.
fn contact_dot_tests_eps(model: &Model, s: &State, eps: f64) {
    let c = Control::new(model);
    let mut d = Data::new(model);
    let mut carry = StepCarry::new(model);
    let h = model.opt.timestep;
    pipeline::forward(model, &model.params0, s, &c, &mut carry, &mut d, h).unwrap();
    assert!(
        !d.contacts.is_empty() && d.efc_active.iter().any(|x| *x),
        "contact must be active"
    );
    for seed in 0..3 {
        let err = dot_test(model, s, &c, seed, eps);
        assert!(err < 1e-6, "seed {seed}: relative error {err:.2e}");
    }
}

/// Runge-Kutta 4 through contact: four stages, each with its rows, on the sliding sphere and a
/// box resting on a face (a manifold of four corners), one substep and two.
#[test]
fn rk4_through_contact_step_vjp_matches_finite_differences() {
    for substeps in [1, 2] {
        for (kind, size, z) in [
            (
                kinegrad::model::GeomType::Sphere,
                Vec3::new(0.1, 0.0, 0.0),
                0.0995,
            ),
            (
                kinegrad::model::GeomType::Box,
                Vec3::new(0.1, 0.08, 0.05),
                0.0497,
            ),
        ] {
            let mut model = contact_model(kind, size, 0.6);
            model.opt.integrator = Integrator::RK4;
            model.opt.substeps = substeps;
            let mut s = State::new(&model);
            s.q[2] = z;
            s.v[..6].copy_from_slice(&[0.8, -0.3, -0.05, 1.0, 2.0, -0.5]);
            contact_dot_tests(&model, &s);
        }
    }
}

#[test]
fn sliding_sphere_on_plane_step_vjp_matches_finite_differences() {
    let model = contact_model(
        kinegrad::model::GeomType::Sphere,
        Vec3::new(0.1, 0.0, 0.0),
        0.6,
    );
    let mut s = State::new(&model);
    s.q[2] = 0.0995; // 0.5 mm penetration: inside the impedance transition
    s.v[..6].copy_from_slice(&[0.8, -0.3, -0.05, 1.0, 2.0, -0.5]);
    contact_dot_tests(&model, &s);
}

#[test]
fn sliding_tilted_box_on_plane_step_vjp_matches_finite_differences() {
    let model = contact_model(
        kinegrad::model::GeomType::Box,
        Vec3::new(0.1, 0.08, 0.05),
        0.5,
    );
    // tilted so that one corner touches
    let mut s = tilted_box(&model, 0.004);
    s.v[..6].copy_from_slice(&[0.5, 0.2, -0.1, 0.3, -0.4, 0.2]);
    contact_dot_tests(&model, &s);
}

/// The 0.2 x 0.16 x 0.1 box of [`contact_model`] turned by Euler angles (0.3, 0.2, 0.1), its
/// lowest corner `depth` below the plane (above it for a negative `depth`).
fn tilted_box(model: &Model, depth: f64) -> State {
    let mut s = State::new(model);
    let q = Quat::from_euler_angles(0.3, 0.2, 0.1);
    let lowest = (0..8)
        .map(|i| {
            let c = Vec3::new(
                if i & 1 == 0 { -0.1 } else { 0.1 },
                if i & 2 == 0 { -0.08 } else { 0.08 },
                if i & 4 == 0 { -0.05 } else { 0.05 },
            );
            (q * c).z
        })
        .fold(f64::INFINITY, f64::min);
    s.q[2] = -lowest - depth;
    s.q[3..7].copy_from_slice(&[q.w, q.i, q.j, q.k]);
    s
}

/// Gradient of a loss on the final state of a 100-step rollout, against central differences,
/// along the given input directions.
fn rollout_check(
    model: &Model,
    s0: &State,
    steps: usize,
    dirs: &[(&str, StepDirection)],
    eps: f64,
) {
    use kinegrad::adjoint::rollout::{rollout, rollout_vjp};
    let controls = vec![Control::new(model); steps];
    let w: Vec<f64> = (0..model.nq).map(|i| 1.0 + 0.1 * i as f64).collect();
    let loss_of = |st: &State| {
        st.q.iter().zip(&w).map(|(a, b)| a * b).sum::<f64>()
            + 0.3 * st.v.iter().map(|x| x * x).sum::<f64>()
    };
    let params = model.params0.clone();
    let mut data = Data::new(model);
    let states = rollout(model, &params, s0, &controls, &mut data).unwrap();
    let g = rollout_vjp(
        model,
        &params,
        &states,
        &controls,
        &mut data,
        |t, st, qb, vb| {
            if t == steps {
                qb.copy_from_slice(&w);
                vb.iter_mut().zip(&st.v).for_each(|(b, v)| *b = 0.6 * v);
            }
        },
    )
    .unwrap();
    println!("dt {} steps {steps}", model.opt.timestep);
    for (name, dir) in dirs {
        let eval = |s: f64| {
            let mut st = s0.clone();
            st.q.iter_mut().zip(&dir.q).for_each(|(a, b)| *a += s * b);
            st.v.iter_mut().zip(&dir.v).for_each(|(a, b)| *a += s * b);
            let p = kinegrad::fd::params_axpy(&params, s, &dir.params);
            let states = rollout(model, &p, &st, &controls, &mut Data::new(model)).unwrap();
            loss_of(&states[steps])
        };
        let fd = (eval(eps) - eval(-eps)) / (2.0 * eps);
        let an = dir.q.iter().zip(&g.q0).map(|(a, b)| a * b).sum::<f64>()
            + dir.v.iter().zip(&g.v0).map(|(a, b)| a * b).sum::<f64>()
            + params_dot(&dir.params, &g.params);
        let err = (fd - an).abs() / fd.abs().max(an.abs()).max(1e-12);
        println!("{name}: fd {fd:.10e} adjoint {an:.10e} rel {err:.1e}");
        assert!(err < 1e-5, "{name}: relative error {err:.2e}");
    }
}

fn direction(model: &Model) -> StepDirection {
    StepDirection {
        q: vec![0.0; model.nq],
        v: vec![0.0; model.nv],
        target: vec![0.0; model.nv],
        params: kinegrad::adjoint::params_zeros(model),
    }
}

/// The 0.1 m box of `model` settled flat on the plane for 100 steps, then pushed.
fn pushed_box(model: &Model) -> State {
    let mut s = State::new(model);
    let mut d = Data::new(model);
    let mut carry = StepCarry::new(model);
    s.q[2] = 0.05;
    for _ in 0..100 {
        let c = Control::new(model);
        pipeline::step(model, &model.params0, &mut s, &c, &mut carry, &mut d).unwrap();
    }
    assert!(
        (s.q[2] - 0.05).abs() < 1e-3,
        "the box rests on its face: z {}",
        s.q[2]
    );
    s.v[0] = 2.5;
    s.v[1] = 0.4;
    s
}

#[test]
fn box_sliding_on_plane_100_steps_gradient_wrt_velocity_friction_mass() {
    let model = contact_model_dt(
        kinegrad::model::GeomType::Box,
        Vec3::new(0.1, 0.1, 0.05),
        0.3,
        0.01,
    );
    let s = pushed_box(&model);
    let mut dv = direction(&model);
    dv.v[0] = 1.0;
    dv.v[1] = -0.5;
    let mut dmu = direction(&model);
    dmu.params.geom_friction[0][0] = 1.0; // the plane's coefficient is the larger one
    let mut dm = direction(&model);
    dm.params.body_mass[2] = 1.0;
    rollout_check(
        &model,
        &s,
        100,
        &[("initial velocity", dv), ("friction", dmu), ("mass", dm)],
        1e-6,
    );
}

/// Runge-Kutta 4 over 100 steps of a box sliding to rest on a plane (its rows in every stage,
/// the rollout's tape recomputing the stages): the initial velocity, friction and mass.
#[test]
fn rk4_box_sliding_100_steps_gradient_wrt_state_and_friction() {
    let mut model = contact_model_dt(
        kinegrad::model::GeomType::Box,
        Vec3::new(0.1, 0.1, 0.05),
        0.3,
        0.01,
    );
    model.opt.integrator = Integrator::RK4;
    let s = pushed_box(&model);
    let mut dv = direction(&model);
    dv.v[0] = 1.0;
    dv.v[1] = -0.5;
    let mut dmu = direction(&model);
    dmu.params.geom_friction[0][0] = 1.0;
    // (a sliding box's deceleration does not depend on its mass: the loss moves by 1e-4 per kg,
    // below what central differences resolve here; the initial pose instead)
    let mut dq = direction(&model);
    dq.q[0] = 1.0;
    dq.q[5] = 0.3; // a yaw (quaternion's z part)
    rollout_check(
        &model,
        &s,
        100,
        &[
            ("initial velocity", dv),
            ("friction", dmu),
            ("initial pose", dq),
        ],
        1e-6,
    );
}

#[test]
fn bouncing_sphere_100_steps_gradient_wrt_initial_state() {
    let model = contact_model_dt(
        kinegrad::model::GeomType::Sphere,
        Vec3::new(0.1, 0.0, 0.0),
        0.5,
        0.01,
    );
    let mut s = State::new(&model);
    s.q[2] = 0.3;
    s.v[..6].copy_from_slice(&[0.4, 0.1, -1.0, 0.5, -0.3, 0.2]);
    let mut dq = direction(&model);
    dq.q[2] = 1.0;
    dq.q[0] = 0.3;
    let mut dv = direction(&model);
    dv.v[2] = 1.0;
    dv.v[4] = 0.5;
    rollout_check(
        &model,
        &s,
        100,
        &[("initial position", dq), ("initial velocity", dv)],
        1e-6,
    );
}

#[test]
fn saturated_actuator_step_vjp_matches_finite_differences() {
    // PD on a hinge whose force range clamps: the force is the bound, which gets the gradient
    let mut a = link("a", None, Vec3::zeros(), JointType::Hinge);
    a.joints[0].kp = 50.0;
    a.joints[0].force_range = [-0.8, 0.5];
    let model = one_body_model(a);
    for (target, bound) in [(1.0, 1usize), (-1.0, 0)] {
        let s = State::new(&model);
        let mut c = Control::new(&model);
        c.mode[0] = CtrlMode::Position;
        c.target[0] = target;
        let mut d = Data::new(&model);
        let mut carry = StepCarry::new(&model);
        pipeline::forward(&model, &model.params0, &s, &c, &mut carry, &mut d, 0.01).unwrap();
        assert!(d.actuator_clamped[0]);
        assert_eq!(d.qfrc_actuator[0], model.params0.dof_force_range[0][bound]);
        let err = dot_test(&model, &s, &c, 5, 1e-6);
        assert!(err < 1e-6, "target {target}: relative error {err:.2e}");
    }
}

/// The states of the rows at the start of a step from `s` (after its solve).
fn step_states(model: &Model, s: &State) -> Vec<kinegrad::data::RowState> {
    let mut d = Data::new(model);
    let mut carry = StepCarry::new(model);
    pipeline::forward(
        model,
        &model.params0,
        s,
        &Control::new(model),
        &mut carry,
        &mut d,
        model.opt.timestep,
    )
    .unwrap();
    d.efc_state.clone()
}

/// Elliptic cones, impratio 1 and 5: one step of the sphere sliding on the plane (its contact in
/// the cone's middle zone) and of the box resting on a face with a small push (its corners in
/// the bottom zone: sticking).
#[test]
fn elliptic_cone_contacts_step_vjp_matches_finite_differences() {
    use kinegrad::data::RowState;
    use kinegrad::model::{FrictionCone, GeomType};
    for impratio in [1.0, 5.0] {
        let mut model = contact_model(GeomType::Sphere, Vec3::new(0.1, 0.0, 0.0), 0.6);
        model.opt.cone = FrictionCone::Elliptic;
        model.opt.impratio = impratio;
        let mut s = State::new(&model);
        s.q[2] = 0.0995;
        s.v[..6].copy_from_slice(&[0.8, -0.3, -0.05, 1.0, 2.0, -0.5]);
        assert!(step_states(&model, &s).contains(&RowState::Cone));
        contact_dot_tests(&model, &s);

        let mut model = contact_model(GeomType::Box, Vec3::new(0.1, 0.08, 0.05), 0.6);
        model.opt.cone = FrictionCone::Elliptic;
        model.opt.impratio = impratio;
        let mut s = State::new(&model);
        s.q[2] = 0.0497;
        s.v[..6].copy_from_slice(&[0.01, -0.005, 0.0, 0.0, 0.0, 0.02]);
        assert!(step_states(&model, &s).contains(&RowState::Quadratic));
        contact_dot_tests(&model, &s);
    }
}

/// A box pushed along a plane under elliptic cones (impratio 3) for 100 steps, sliding then
/// sticking: the gradients with respect to the initial velocity, the friction (through the
/// cone's force law) and the mass.
#[test]
fn elliptic_box_sliding_100_steps_gradient_wrt_velocity_friction_mass() {
    use kinegrad::model::{FrictionCone, GeomType};
    let mut model = contact_model_dt(GeomType::Box, Vec3::new(0.1, 0.1, 0.05), 0.3, 0.01);
    model.opt.cone = FrictionCone::Elliptic;
    model.opt.impratio = 3.0;
    let s = pushed_box(&model);
    let mut dv = direction(&model);
    dv.v[0] = 1.0;
    dv.v[1] = -0.5;
    let mut dmu = direction(&model);
    dmu.params.geom_friction[0][0] = 1.0;
    let mut dm = direction(&model);
    dm.params.body_mass[2] = 1.0;
    rollout_check(
        &model,
        &s,
        100,
        &[("initial velocity", dv), ("friction", dmu), ("mass", dm)],
        1e-6,
    );
}

/// `model` with condim `condim` on every geom, torsional and rolling friction (the plane's the
/// larger: the pair takes it), the cone `cone` and impratio 2.
fn with_condim(mut model: Model, condim: usize, cone: kinegrad::model::FrictionCone) -> Model {
    model.opt.cone = cone;
    model.opt.impratio = 2.0;
    for g in 0..model.ngeom {
        model.geom_condim[g] = condim;
        let k = if g == 0 { 2.0 } else { 1.0 };
        model.params0.geom_friction[g][1] = 0.015 * k;
        model.params0.geom_friction[g][2] = 0.01 * k;
    }
    model
}

/// Torsional and rolling friction (condim 4 and 6) under both cones: one step of a sphere
/// rolling and spinning on the plane, of a box resting on a face and twisting.
#[test]
fn torsion_and_rolling_friction_step_vjp_matches_finite_differences() {
    use kinegrad::model::{FrictionCone, GeomType};
    for cone in [FrictionCone::Pyramidal, FrictionCone::Elliptic] {
        for condim in [4, 6] {
            let model = with_condim(
                contact_model(GeomType::Sphere, Vec3::new(0.1, 0.0, 0.0), 0.6),
                condim,
                cone,
            );
            let mut s = State::new(&model);
            s.q[2] = 0.0995;
            s.v[..6].copy_from_slice(&[0.3, -0.2, -0.05, 2.0, 3.0, 4.0]);
            contact_dot_tests(&model, &s);
            let model = with_condim(
                contact_model(GeomType::Box, Vec3::new(0.1, 0.08, 0.05), 0.6),
                condim,
                cone,
            );
            let mut s = State::new(&model);
            s.q[2] = 0.0497;
            s.v[..6].copy_from_slice(&[0.01, -0.005, 0.0, 0.0, 0.0, 0.5]);
            // (a directional derivative of 2.6e-5 among terms of order 1 in one of the
            // directions: differences of 1e-7 resolve it to 4e-6 only, 1e-5 to 2e-9; the
            // corners stick, far from a change of zone)
            contact_dot_tests_eps(&model, &s, 1e-5);
        }
    }
}

/// A sphere rolling and spinning on a plane for 100 steps with condim 6, both cones: the
/// gradients with respect to the torsional and rolling friction and the initial velocity.
#[test]
fn rolling_sphere_100_steps_gradient_wrt_torsion_and_rolling_friction() {
    use kinegrad::model::{FrictionCone, GeomType};
    for cone in [FrictionCone::Pyramidal, FrictionCone::Elliptic] {
        let model = with_condim(
            contact_model_dt(GeomType::Sphere, Vec3::new(0.1, 0.0, 0.0), 0.6, 0.005),
            6,
            cone,
        );
        let mut s = State::new(&model);
        s.q[2] = 0.0995;
        s.v[..6].copy_from_slice(&[1.0, 0.3, 0.0, -3.0, 10.0, 5.0]);
        let mut dspin = direction(&model);
        dspin.params.geom_friction[0][1] = 1.0;
        let mut droll = direction(&model);
        droll.params.geom_friction[0][2] = 1.0;
        let mut dv = direction(&model);
        dv.v[3] = 1.0;
        dv.v[5] = -0.5;
        rollout_check(
            &model,
            &s,
            100,
            &[
                ("torsion", dspin),
                ("rolling", droll),
                ("initial velocity", dv),
            ],
            1e-6,
        );
    }
}

/// Standalone free bodies under implicitfast integrate their bias derivative implicitly
/// (MuJoCo's `mjd_freeMhat`, `dynamics/free_gyro.rs`): a tumbling box with an offset centre of
/// mass and a full inertia, in flight (no rows: the step solves `M_h` alone) and sliding on a
/// corner (rows: MuJoCo's split), against central differences of every input kind.
#[test]
fn free_body_bias_derivative_implicitfast_step_vjp_matches_finite_differences() {
    let mut model = contact_model(
        kinegrad::model::GeomType::Box,
        Vec3::new(0.1, 0.08, 0.05),
        0.5,
    );
    model.opt.integrator = Integrator::ImplicitFast;
    assert_eq!(
        model.free_gyro.len(),
        1,
        "the box is a standalone free body"
    );
    // on a corner, and in flight
    for depth in [0.004, -1.0] {
        let mut s = tilted_box(&model, depth);
        s.v[..6].copy_from_slice(&[0.5, 0.2, -0.1, 3.0, -4.0, 2.0]);
        let c = Control::new(&model);
        for seed in 0..3 {
            let err = dot_test(&model, &s, &c, seed, 1e-7);
            assert!(
                err < 1e-6,
                "depth {depth}, seed {seed}: relative error {err:.2e}"
            );
        }
    }
}

/// The same under implicitfast with the box spinning as it slides (its free body's bias
/// derivative integrated implicitly): 100 steps, the initial spin, friction, mass and inertia.
#[test]
fn spinning_box_implicitfast_100_steps_gradient_wrt_spin_friction_mass_inertia() {
    let mut model = contact_model_dt(
        kinegrad::model::GeomType::Box,
        Vec3::new(0.1, 0.1, 0.05),
        0.3,
        0.01,
    );
    model.opt.integrator = Integrator::ImplicitFast;
    let mut s = pushed_box(&model);
    s.v[3..6].copy_from_slice(&[0.4, -0.3, 6.0]);
    let mut dw = direction(&model);
    dw.v[4] = 1.0;
    dw.v[5] = 0.5;
    let mut dmu = direction(&model);
    dmu.params.geom_friction[0][0] = 1.0;
    let mut dm = direction(&model);
    dm.params.body_mass[2] = 1.0;
    let mut di = direction(&model);
    di.params.body_inertia[2] = Mat3::new(1.0, 0.2, 0.0, 0.2, 0.5, 0.1, 0.0, 0.1, 2.0) * 1e-3;
    rollout_check(
        &model,
        &s,
        100,
        &[
            ("initial spin", dw),
            ("friction", dmu),
            ("mass", dm),
            ("inertia", di),
        ],
        1e-6,
    );
}

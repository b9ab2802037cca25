//! One finite-difference test per stage of the reverse pass: each stage's VJP (`adjoint/*.rs`)
//! against central differences of its forward function, by the dot-product test
//! `<y_bar, J x_dot> = <x_bar, x_dot>` for random directions `x_dot` in every input of the stage
//! and random output adjoints `y_bar`. The stages' inputs are set directly (in `Data` where the
//! forward stage reads them from there), so a test checks one stage, not a composition.
//!
//! Tolerance. With step `EPS` = 1e-6, the central difference of a smooth O(1) function has a
//! truncation error of about `EPS^2 |f'''| / 6` ~ 1e-13 and a round-off error of about
//! `u |f| / EPS` ~ 1e-10 (u = 1.1e-16) times |f| over the directional derivative, so the
//! relative error of a correct VJP is 1e-11..1e-8 here (the largest where a group's
//! contribution is small next to the loss). `TOL` = 1e-7 stays an order of magnitude above
//! that; a wrong term (a flipped sign, a missing partial) gives errors of 1e-3 to O(1). The
//! directions are checked one input group at a time, so that a group with a small contribution
//! cannot hide in another's round-off, and large inputs get directions scaled to their size.

// stage inputs are indexed in lockstep with their directions
#![allow(clippy::needless_range_loop)]

use kinegrad::adjoint::constraint_rows::rows_vjp;
use kinegrad::adjoint::contact_geom::{contact_vjp, ContactBar};
use kinegrad::adjoint::forces::{actuation_vjp, implicit_damping_vjp, passive_vjp};
use kinegrad::adjoint::integrator::{integrate_pos_vjp, integrate_vel_vjp};
use kinegrad::adjoint::kinematics::{com_vel_vjp, position_vjp, InertiaBar, PosAdjoint};
use kinegrad::adjoint::params_zeros;
use kinegrad::adjoint::rnea::{armature_vjp, rnea_vjp};
use kinegrad::adjoint::solve::{row_seed, solve_vjp, RowBar};
use kinegrad::adjoint::tendon::TendonBar;
use kinegrad::collision::{collide, ContactPoint};
use kinegrad::data::RowKind;
use kinegrad::detect::{contact, geom_shape};
use kinegrad::dynamics::{chol, forces, mass, rnea};
use kinegrad::fd::{params_axpy, params_dot};
use kinegrad::math::{skew, Force, Inertia, Mat3, Motion, Pose, Quat, Vec3};
use kinegrad::model::builder::{BaseMode, BodySpec, EntitySpec, GeomSpec, JointSpec};
use kinegrad::model::{CtrlMode, GeomType, Integrator, JointType, ModelBuilder, Params};
use kinegrad::{
    constraint, integrator, kinematics, pipeline, Control, Data, Model, State, StepCarry,
};

/// Central-difference step (see the module documentation).
const EPS: f64 = 1e-6;
/// Relative tolerance of the dot-product test (see the module documentation).
const TOL: f64 = 1e-7;

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
    fn v3(&mut self) -> Vec3 {
        Vec3::new(self.next(), self.next(), self.next())
    }
    fn motion(&mut self) -> Motion {
        Motion::new(self.v3(), self.v3())
    }
    fn force(&mut self) -> Force {
        Force::new(self.v3(), self.v3())
    }
    fn sym(&mut self) -> Mat3 {
        let a = Mat3::from_fn(|_, _| self.next());
        a + a.transpose()
    }
}

/// A force stage's forward, `(q, v, target, params) -> <f_bar, f>`.
type ForceForward<'a> = &'a dyn Fn(&[f64], &[f64], &[f64], &Params) -> f64;
/// A force stage's reverse, accumulating `(q_bar, v_bar, target_bar, params_bar)`.
type ForceReverse<'a> = &'a dyn Fn(&mut [f64], &mut [f64], &mut [f64], &mut Params);

/// The dot-product check: `fd` (central difference of `<y_bar, f>`) against `an`
/// (`<x_bar, x_dot>` from the VJP).
fn check(what: &str, fd: f64, an: f64) {
    let err = (fd - an).abs() / fd.abs().max(an.abs()).max(1e-12);
    println!("{what}: fd {fd:.12e} vjp {an:.12e} rel {err:.1e}");
    assert!(
        err < TOL,
        "{what}: relative error {err:.2e} (fd {fd:e}, vjp {an:e})"
    );
    assert!(an != 0.0, "{what}: the direction does not reach the output");
}

/// Central difference of `f` at 0.
fn central(f: impl Fn(f64) -> f64) -> f64 {
    (f(EPS) - f(-EPS)) / (2.0 * EPS)
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn axpy(x: &[f64], s: f64, d: &[f64]) -> Vec<f64> {
    x.iter().zip(d).map(|(a, b)| a + s * b).collect()
}

fn link(name: &str, parent: Option<usize>, pos: Vec3, joint: Option<JointType>) -> BodySpec {
    let mut b = BodySpec::new(name, parent);
    b.pos = pos;
    b.quat = Quat::from_euler_angles(0.2, -0.1, 0.3);
    b.mass = 0.8;
    b.ipos = Vec3::new(0.02, -0.01, -0.15);
    b.inertia = Mat3::new(0.02, 0.001, 0.0, 0.001, 0.015, 0.002, 0.0, 0.002, 0.01);
    if let Some(kind) = joint {
        let mut j = JointSpec::new(format!("{name}_j"), kind);
        j.axis = Vec3::new(0.3, 1.0, -0.2);
        j.pos = Vec3::new(0.0, 0.01, 0.02);
        j.damping = 0.3;
        j.armature = 0.01;
        j.stiffness = 2.0;
        j.springref = 0.1;
        j.kp = 20.0;
        j.kv = 1.5;
        b.joints.push(j);
    }
    b
}

/// Hinge -> slide -> ball -> hinge -> welded body on a fixed base; a body fixed to the world
/// carrying a hinge; a free body. No geoms.
fn chain_model(integrator: Integrator) -> Model {
    let chain = vec![
        link("a", None, Vec3::zeros(), Some(JointType::Hinge)),
        link(
            "b",
            Some(0),
            Vec3::new(0.0, 0.0, -0.3),
            Some(JointType::Slide),
        ),
        link(
            "c",
            Some(1),
            Vec3::new(0.05, 0.0, -0.3),
            Some(JointType::Ball),
        ),
        link(
            "d",
            Some(2),
            Vec3::new(0.0, 0.05, -0.25),
            Some(JointType::Hinge),
        ),
        link("e", Some(3), Vec3::new(0.1, 0.0, -0.2), None),
    ];
    let fixed = vec![
        link("base", None, Vec3::new(0.5, 0.2, 0.1), None),
        link(
            "f",
            Some(0),
            Vec3::new(0.0, 0.1, -0.2),
            Some(JointType::Hinge),
        ),
    ];
    let mut free = link("free", None, Vec3::zeros(), None);
    free.mass = 1.3;
    let mut b = ModelBuilder::new();
    b.options.timestep = 0.01;
    b.options.integrator = integrator;
    for (name, bodies, mode, pos) in [
        ("chain", chain, BaseMode::AsIs, Vec3::zeros()),
        ("fixed", fixed, BaseMode::AsIs, Vec3::new(0.3, 0.0, 0.0)),
        ("free", vec![free], BaseMode::Free, Vec3::new(1.0, 0.0, 2.0)),
    ] {
        b.add_entity(
            EntitySpec {
                name: name.into(),
                bodies,
                ..Default::default()
            },
            Pose {
                pos,
                rot: Mat3::identity(),
            },
            mode,
        );
    }
    b.build().unwrap()
}

/// A random state of `model` around qpos0 (quaternion blocks left unnormalized: the stages
/// read raw coordinates).
fn random_state(model: &Model, rng: &mut Rng) -> State {
    let mut s = State::new(model);
    for x in s.q.iter_mut() {
        *x += 0.3 * rng.next();
    }
    s.v = rng.vec(model.nv).iter().map(|x| 2.0 * x).collect();
    s
}

/// Random directions in the parameters of the given kinds (the others zero).
fn params_direction(model: &Model, rng: &mut Rng, kinds: &[&str]) -> Params {
    let mut p = params_zeros(model);
    for k in kinds {
        match *k {
            "gravity" => p.gravity = rng.v3(),
            "mass" => (1..model.nbody).for_each(|b| p.body_mass[b] = rng.next()),
            "ipos" => (1..model.nbody).for_each(|b| p.body_ipos[b] = rng.v3() * 0.1),
            "inertia" => (1..model.nbody).for_each(|b| p.body_inertia[b] = rng.sym() * 0.01),
            "damping" => p.dof_damping = rng.vec(model.nv),
            "armature" => p.dof_armature = rng.vec(model.nv),
            "kp" => p.dof_kp = rng.vec(model.nv),
            "kv" => p.dof_kv = rng.vec(model.nv),
            "stiffness" => p.dof_stiffness = rng.vec(model.nv),
            "range" => {
                p.dof_force_range = (0..model.nv).map(|_| [rng.next(), rng.next()]).collect()
            }
            "friction" => (0..model.ngeom).for_each(|g| p.geom_friction[g][0] = rng.next()),
            _ => panic!("unknown parameter kind {k}"),
        }
    }
    p
}

// ---------------------------------------------------------------------------------------------
// kinematics: forward_kinematics + com_pos  <->  position_vjp (com_pos_vjp, forward_kinematics_vjp)

/// Adjoints of the outputs of `pipeline::kinematics` that later stages read: body poses
/// (position and rotation matrix), dof subspaces, body inertias.
struct KinBars {
    pos: Vec<Vec3>,
    rot: Vec<Mat3>,
    cdof: Vec<Force>,
    inert: Vec<InertiaBar>,
}

fn inertia_pair(i: &Inertia, b: &InertiaBar) -> f64 {
    i.mass * b.mass + i.h.dot(&b.h) + i.i_o.component_mul(&b.i_o).sum()
}

fn kinematics_loss(model: &Model, params: &Params, q: &[f64], bars: &KinBars) -> f64 {
    let mut d = Data::new(model);
    pipeline::kinematics(model, params, q, &mut d);
    let mut l = 0.0;
    for b in 1..model.nbody {
        l += bars.pos[b].dot(&d.xpos[b]) + bars.rot[b].component_mul(&d.xmat[b]).sum();
        l += inertia_pair(&d.cinert[b], &bars.inert[b]);
    }
    for i in 0..model.nv {
        l += d.cdof[i].dot(&bars.cdof[i]);
    }
    l
}

#[test]
fn kinematics_vjp_matches_finite_differences() {
    let model = chain_model(Integrator::ImplicitFast);
    let mut rng = Rng(1);
    let s = random_state(&model, &mut rng);
    let nb = model.nbody;
    let bars = KinBars {
        pos: (0..nb).map(|_| rng.v3()).collect(),
        rot: (0..nb).map(|_| Mat3::from_fn(|_, _| rng.next())).collect(),
        cdof: (0..model.nv).map(|_| rng.force()).collect(),
        inert: (0..nb)
            .map(|_| InertiaBar {
                mass: rng.next(),
                h: rng.v3(),
                i_o: Mat3::from_fn(|_, _| rng.next()),
            })
            .collect(),
    };
    let params = model.params0.clone();
    // reverse: pose adjoints as wrenches at the origin. For a twist (w, v_O) of body b,
    // dxpos = v_O + w x xpos, dR = [w]x R.
    let mut data = Data::new(&model);
    pipeline::kinematics(&model, &params, &s.q, &mut data);
    let mut adj = PosAdjoint::new(&model);
    for b in 1..nb {
        let (p, r) = (data.xpos[b], data.xmat[b]);
        let ang = Vec3::from_fn(|k, _| {
            (skew(&Vec3::ith(k, 1.0)) * r)
                .component_mul(&bars.rot[b])
                .sum()
        });
        adj.body_wrench[b] = Force::new(p.cross(&bars.pos[b]) + ang, bars.pos[b]);
        adj.inert_bar[b] = bars.inert[b];
    }
    adj.cdof_bar.copy_from_slice(&bars.cdof);
    let mut q_bar = vec![0.0; model.nq];
    let mut pb = params_zeros(&model);
    position_vjp(&model, &params, &data, &s.q, &mut adj, &mut q_bar, &mut pb);
    let dq = rng.vec(model.nq);
    let fd = central(|e| kinematics_loss(&model, &params, &axpy(&s.q, e, &dq), &bars));
    check("kinematics: q", fd, dot(&dq, &q_bar));
    for kind in ["mass", "ipos", "inertia"] {
        let dp = params_direction(&model, &mut rng, &[kind]);
        let fd = central(|e| kinematics_loss(&model, &params_axpy(&params, e, &dp), &s.q, &bars));
        check(&format!("kinematics: {kind}"), fd, params_dot(&dp, &pb));
    }
}

// ---------------------------------------------------------------------------------------------
// com_vel  <->  com_vel_vjp

#[test]
fn com_vel_vjp_matches_finite_differences() {
    let model = chain_model(Integrator::ImplicitFast);
    let mut rng = Rng(2);
    let s = random_state(&model, &mut rng);
    let (nb, nv) = (model.nbody, model.nv);
    let mut base = Data::new(&model);
    pipeline::kinematics(&model, &model.params0, &s.q, &mut base);
    let cvel_bar: Vec<Force> = (0..nb).map(|_| rng.force()).collect();
    let cdof_dot_bar: Vec<Force> = (0..nv).map(|_| rng.force()).collect();
    // inputs: cdof (as com_pos left it) and v
    let loss = |cdof: &[Motion], v: &[f64]| {
        let mut d = base.clone();
        d.cdof.copy_from_slice(cdof);
        kinematics::com_vel(&model, v, &mut d);
        (1..nb).map(|b| d.cvel[b].dot(&cvel_bar[b])).sum::<f64>()
            + (0..nv)
                .map(|i| d.cdof_dot[i].dot(&cdof_dot_bar[i]))
                .sum::<f64>()
    };
    let mut data = base.clone();
    kinematics::com_vel(&model, &s.v, &mut data);
    let mut adj = PosAdjoint::new(&model);
    adj.cvel_bar.copy_from_slice(&cvel_bar);
    adj.cvel_bar[0] = Force::zero();
    adj.cdof_dot_bar.copy_from_slice(&cdof_dot_bar);
    let mut v_bar = vec![0.0; nv];
    com_vel_vjp(&model, &data, &s.v, &mut adj, &mut v_bar);
    let dv = rng.vec(nv);
    let fd = central(|e| loss(&base.cdof, &axpy(&s.v, e, &dv)));
    check("com_vel: v", fd, dot(&dv, &v_bar));
    let dcdof: Vec<Motion> = (0..nv).map(|_| rng.motion()).collect();
    let shifted = |e: f64| -> Vec<Motion> {
        base.cdof
            .iter()
            .zip(&dcdof)
            .map(|(c, d)| *c + *d * e)
            .collect()
    };
    let fd = central(|e| loss(&shifted(e), &s.v));
    let an: f64 = (0..nv).map(|i| dcdof[i].dot(&adj.cdof_bar[i])).sum();
    check("com_vel: cdof", fd, an);
}

// ---------------------------------------------------------------------------------------------
// rnea (+ crba's armature)  <->  rnea_vjp, armature_vjp

#[test]
fn rnea_vjp_matches_finite_differences() {
    let model = chain_model(Integrator::ImplicitFast);
    let (nb, nv) = (model.nbody, model.nv);
    for (seed, with_acc) in [(3, true), (4, false)] {
        let mut rng = Rng(seed);
        let s = random_state(&model, &mut rng);
        let a = rng.vec(nv);
        let acc = with_acc.then_some(&a[..]);
        let params = model.params0.clone();
        let mut base = Data::new(&model);
        pipeline::kinematics(&model, &params, &s.q, &mut base);
        kinematics::com_vel(&model, &s.v, &mut base);
        let tau_bar = rng.vec(nv);
        // inputs: cdof, cdof_dot, cinert, cvel (as the kinematics stages left them), v, gravity
        let loss = |d: &Data, v: &[f64], p: &Params| {
            let mut d = d.clone();
            let mut tau = vec![0.0; nv];
            rnea::rnea(&model, p, &mut d, v, acc, &mut tau);
            dot(&tau, &tau_bar)
        };
        let mut adj = PosAdjoint::new(&model);
        let mut v_bar = vec![0.0; nv];
        let mut g_bar = Vec3::zeros();
        rnea_vjp(
            &model, &params, &base, &s.v, acc, &tau_bar, &mut adj, &mut v_bar, &mut g_bar,
        );
        let tag = if with_acc { "rnea" } else { "bias" };
        let dv = rng.vec(nv);
        let fd = central(|e| loss(&base, &axpy(&s.v, e, &dv), &params));
        check(&format!("{tag}: v"), fd, dot(&dv, &v_bar));
        let dp = params_direction(&model, &mut rng, &["gravity"]);
        let fd = central(|e| loss(&base, &s.v, &params_axpy(&params, e, &dp)));
        check(&format!("{tag}: gravity"), fd, dp.gravity.dot(&g_bar));
        let dm: Vec<Motion> = (0..nb.max(nv)).map(|_| rng.motion()).collect();
        let di: Vec<Inertia> = (0..nb)
            .map(|_| Inertia {
                mass: rng.next(),
                h: rng.v3(),
                i_o: rng.sym(),
            })
            .collect();
        type Perturb<'a> = &'a dyn Fn(&mut Data, f64);
        let cases: [(&str, Perturb, f64); 4] = [
            (
                "cdof",
                &|d, e| (0..nv).for_each(|i| d.cdof[i] += dm[i] * e),
                (0..nv).map(|i| dm[i].dot(&adj.cdof_bar[i])).sum(),
            ),
            (
                "cdof_dot",
                &|d, e| (0..nv).for_each(|i| d.cdof_dot[i] += dm[i] * e),
                (0..nv).map(|i| dm[i].dot(&adj.cdof_dot_bar[i])).sum(),
            ),
            (
                "cvel",
                &|d, e| (1..nb).for_each(|b| d.cvel[b] += dm[b] * e),
                (1..nb).map(|b| dm[b].dot(&adj.cvel_bar[b])).sum(),
            ),
            (
                "cinert",
                &|d, e| {
                    for b in 1..nb {
                        let c = &mut d.cinert[b];
                        c.mass += e * di[b].mass;
                        c.h += di[b].h * e;
                        c.i_o += di[b].i_o * e;
                    }
                },
                (1..nb)
                    .map(|b| inertia_pair(&di[b], &adj.inert_bar[b]))
                    .sum(),
            ),
        ];
        for (name, perturb, an) in cases {
            let fd = central(|e| {
                let mut d = base.clone();
                perturb(&mut d, e);
                loss(&d, &s.v, &params)
            });
            check(&format!("{tag}: {name}"), fd, an);
        }
    }
    // armature: crba adds diag(armature) to M, so (M a)_bar reaches it as f_bar a
    let mut rng = Rng(5);
    let s = random_state(&model, &mut rng);
    let (a, f_bar) = (rng.vec(nv), rng.vec(nv));
    let params = model.params0.clone();
    let ma = |p: &Params| {
        let mut d = Data::new(&model);
        pipeline::kinematics(&model, p, &s.q, &mut d);
        kinegrad::dynamics::crba::crba(&model, p, &mut d);
        let mut out = vec![0.0; nv];
        mass::mul_vec(&model, &d.qm, &a, &mut out);
        dot(&out, &f_bar)
    };
    let mut arm_bar = vec![0.0; nv];
    armature_vjp(&a, &f_bar, &mut arm_bar);
    let dp = params_direction(&model, &mut rng, &["armature"]);
    let fd = central(|e| ma(&params_axpy(&params, e, &dp)));
    check("crba: armature", fd, dot(&dp.dof_armature, &arm_bar));
}

// ---------------------------------------------------------------------------------------------
// forces: actuation, passive, implicit damping  <->  actuation_vjp, passive_vjp, implicit_damping_vjp

#[test]
fn actuation_vjp_matches_finite_differences_in_each_mode_and_at_the_clamp() {
    let model = chain_model(Integrator::ImplicitFast);
    let nv = model.nv;
    let mut rng = Rng(6);
    let s = random_state(&model, &mut rng);
    let mut cases: Vec<(&str, Control)> = Vec::new();
    for (name, mode) in [
        ("force", CtrlMode::Force),
        ("position", CtrlMode::Position),
        ("velocity", CtrlMode::Velocity),
    ] {
        let mut c = Control::new(&model);
        c.mode.iter_mut().for_each(|m| *m = mode);
        c.target = rng.vec(nv);
        cases.push((name, c));
    }
    // every mode, then clamping at both bounds (position control with a high target)
    let mut c = Control::new(&model);
    for d in 0..nv {
        c.mode[d] = [CtrlMode::Position, CtrlMode::Velocity, CtrlMode::Force][d % 3];
        c.target[d] = 0.5 * rng.next();
    }
    cases.push(("mixed", c.clone()));
    let mut params = model.params0.clone();
    for d in 0..nv {
        params.dof_force_range[d] = [-2.0 - d as f64 * 0.1, 1.5 + d as f64 * 0.1];
    }
    let mut clamped = c;
    clamped.target.iter_mut().enumerate().for_each(|(d, x)| {
        *x = if d % 2 == 0 { 50.0 } else { -50.0 };
    });
    cases.push(("clamped", clamped));
    for (name, c) in &cases {
        let mut model = model.clone();
        if *name == "clamped" {
            model.params0 = params.clone();
        }
        let model = &model;
        let p0 = &model.params0;
        let forward = |q: &[f64], v: &[f64], t: &[f64], p: &Params| {
            let mut d = Data::new(model);
            let mut c = c.clone();
            c.target.copy_from_slice(t);
            forces::actuation(model, p, q, v, &[], &c, &mut d, model.opt.timestep);
            let fb: Vec<f64> = (0..nv).map(|i| 1.0 + 0.1 * i as f64).collect();
            dot(&d.qfrc_actuator, &fb)
        };
        let f_bar: Vec<f64> = (0..nv).map(|i| 1.0 + 0.1 * i as f64).collect();
        let mut d = Data::new(model);
        forces::actuation(model, p0, &s.q, &s.v, &s.act, c, &mut d, model.opt.timestep);
        let nclamped = d.actuator_clamped.iter().filter(|x| **x).count();
        if *name == "clamped" {
            assert!(
                nclamped >= 4
                    && (0..nv).any(|i| d.qfrc_actuator[i] == p0.dof_force_range[i][0])
                    && (0..nv).any(|i| d.qfrc_actuator[i] == p0.dof_force_range[i][1]),
                "both bounds must clamp"
            );
        } else {
            assert_eq!(nclamped, 0, "{name}: nothing may clamp");
        }
        let reverse = |qb: &mut [f64], vb: &mut [f64], tb: &mut [f64], pb: &mut Params| {
            let mut tb_ten = TendonBar::new(model);
            actuation_vjp(
                model,
                p0,
                (&s.q, &s.v, &s.act, model.opt.timestep, &d),
                c,
                &f_bar,
                qb,
                vb,
                (tb, &mut []),
                (pb, &mut tb_ten),
            );
        };
        let kinds: &[&str] = if *name == "clamped" {
            &["kp", "kv", "range"]
        } else {
            &["kp", "kv"]
        };
        let must: &[&str] = match *name {
            "force" => &["target"],
            "position" | "mixed" => &["q", "v", "target", "kp", "kv"],
            "velocity" => &["v", "target", "kv"],
            _ => &["range"],
        };
        // the directions that do not reach the force (e.g. q under force control) are skipped
        let mut rng = Rng(60 + name.len() as u64);
        force_stage_checks(
            &format!("actuation ({name})"),
            model,
            &s,
            c,
            kinds,
            must,
            &mut rng,
            &forward,
            &reverse,
        );
    }
}

/// Dot-product tests of one force stage: `forward(q, v, target, params) -> <f_bar, f>` against
/// `reverse(q_bar, v_bar, target_bar, params_bar)`, in each input group. A group that does not
/// reach the force in this configuration (its VJP and its finite difference both exactly zero,
/// e.g. q under force control) is skipped; the groups in `must` have to reach it.
#[allow(clippy::too_many_arguments)]
fn force_stage_checks(
    what: &str,
    model: &Model,
    s: &State,
    c: &Control,
    params_kinds: &[&str],
    must: &[&str],
    rng: &mut Rng,
    forward: ForceForward,
    reverse: ForceReverse,
) {
    let params = model.params0.clone();
    let (mut q_bar, mut v_bar, mut t_bar) = (
        vec![0.0; model.nq],
        vec![0.0; model.nv],
        vec![0.0; model.nv],
    );
    let mut pb = params_zeros(model);
    reverse(&mut q_bar, &mut v_bar, &mut t_bar, &mut pb);
    let (dq, dv, dt) = (rng.vec(model.nq), rng.vec(model.nv), rng.vec(model.nv));
    let mut groups: Vec<(String, f64, f64)> = vec![
        (
            "q".into(),
            central(|e| forward(&axpy(&s.q, e, &dq), &s.v, &c.target, &params)),
            dot(&dq, &q_bar),
        ),
        (
            "v".into(),
            central(|e| forward(&s.q, &axpy(&s.v, e, &dv), &c.target, &params)),
            dot(&dv, &v_bar),
        ),
        (
            "target".into(),
            central(|e| forward(&s.q, &s.v, &axpy(&c.target, e, &dt), &params)),
            dot(&dt, &t_bar),
        ),
    ];
    for kind in params_kinds {
        let dp = params_direction(model, rng, &[kind]);
        groups.push((
            kind.to_string(),
            central(|e| forward(&s.q, &s.v, &c.target, &params_axpy(&params, e, &dp))),
            params_dot(&dp, &pb),
        ));
    }
    for (name, fd, an) in groups {
        if fd == 0.0 && an == 0.0 {
            println!("{what}: {name} does not reach the force");
            assert!(
                !must.contains(&name.as_str()),
                "{what}: {name} must reach the force"
            );
            continue;
        }
        check(&format!("{what}: {name}"), fd, an);
    }
}

#[test]
fn passive_vjp_matches_finite_differences() {
    let model = chain_model(Integrator::ImplicitFast);
    let nv = model.nv;
    let mut rng = Rng(7);
    let s = random_state(&model, &mut rng);
    let c = Control::new(&model);
    let f_bar = rng.vec(nv);
    let forward = |q: &[f64], v: &[f64], _t: &[f64], p: &Params| {
        let mut d = Data::new(&model);
        forces::passive(&model, p, q, v, &mut d);
        dot(&d.qfrc_passive, &f_bar)
    };
    let p0 = &model.params0;
    let reverse = |qb: &mut [f64], vb: &mut [f64], _tb: &mut [f64], pb: &mut Params| {
        let d = Data::new(&model);
        let mut tb_ten = TendonBar::new(&model);
        passive_vjp(
            &model,
            p0,
            (&s.q, &s.v, &d),
            &f_bar,
            qb,
            vb,
            (pb, &mut tb_ten),
        );
    };
    force_stage_checks(
        "passive",
        &model,
        &s,
        &c,
        &["damping", "stiffness"],
        &["q", "v", "damping", "stiffness"],
        &mut rng,
        &forward,
        &reverse,
    );
}

#[test]
fn implicit_damping_vjp_matches_finite_differences() {
    // the chain (dofs), and the tendon chain of python/tests/models (each tendon's damping and
    // channel kv along J^T J inside M's tree pattern)
    let tendon_chain = |integrator: Integrator| {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../python/tests/models/tendon_chain.xml");
        let mut b = ModelBuilder::new();
        b.options.integrator = integrator;
        b.add_entity(
            kinegrad::model::mjcf::load(&path, 1.0).unwrap(),
            Pose::identity(),
            BaseMode::AsIs,
        );
        b.build().unwrap()
    };
    for integrator in [Integrator::ImplicitFast, Integrator::Euler] {
        for model in [chain_model(integrator), tendon_chain(integrator)] {
            let (nv, nu) = (model.nv, model.nu());
            let mut rng = Rng(8);
            let s = random_state(&model, &mut rng);
            let mut c = Control::new(&model);
            for ch in 0..nu {
                c.mode[ch] = [CtrlMode::Position, CtrlMode::Velocity, CtrlMode::Force][ch % 3];
            }
            let mut params = model.params0.clone();
            for t in 0..model.tendons.len() {
                params.tendon_damping[t] = 0.5 + rng.next().abs();
                params.tendon_kv[t] = 0.5 + rng.next().abs();
            }
            // the adjoint of each entry of the implicit matrix's lower tree pattern
            let kbm = rng.vec(model.dof_m_col.len());
            let entry = |i: usize, j: usize| {
                (model.dof_m_adr[i]..model.dof_m_adr[i + 1])
                    .find(|&p| model.dof_m_col[p] == j)
                    .expect("an entry of the pattern")
            };
            let forward = |q: &[f64], v: &[f64], t: &[f64], p: &Params| {
                let mut d = Data::new(&model);
                let mut c = c.clone();
                c.target.copy_from_slice(t);
                forces::actuation(&model, p, q, v, &[], &c, &mut d, model.opt.timestep);
                let dofs: f64 = (0..nv)
                    .map(|i| kbm[entry(i, i)] * forces::implicit_damping(&model, p, &c, &d, i))
                    .sum();
                let tendons: f64 = (0..model.tendons.len())
                    .map(|t| {
                        let k = forces::tendon_implicit_gain(&model, p, &c, &d, t).0;
                        model.tendons[t]
                            .tree_pairs
                            .iter()
                            .map(|&(_, _, e, cc)| k * cc * kbm[e])
                            .sum::<f64>()
                    })
                    .sum();
                dofs + tendons
            };
            let mut d = Data::new(&model);
            forces::actuation(
                &model,
                &params,
                &s.q,
                &s.v,
                &s.act,
                &c,
                &mut d,
                model.opt.timestep,
            );
            let mut pb = params_zeros(&model);
            implicit_damping_vjp(
                &model,
                &params,
                &c,
                &d,
                |i, j| kbm[entry(i, j)],
                (&mut pb, &mut TendonBar::new(&model)),
            );
            let mut kinds: Vec<&str> = vec!["damping"];
            if integrator == Integrator::ImplicitFast {
                kinds.push("kv");
            }
            for kind in kinds {
                let dp = params_direction(&model, &mut rng, &[kind]);
                let fd = central(|e| forward(&s.q, &s.v, &c.target, &params_axpy(&params, e, &dp)));
                check(
                    &format!(
                        "implicit damping ({integrator:?}, {} tendons): {kind}",
                        model.tendons.len()
                    ),
                    fd,
                    params_dot(&dp, &pb),
                );
            }
            if !model.tendons.is_empty() {
                let mut dp = params_zeros(&model);
                for t in 0..model.tendons.len() {
                    dp.tendon_damping[t] = rng.next();
                    dp.tendon_kv[t] = rng.next();
                }
                let fd = central(|e| forward(&s.q, &s.v, &c.target, &params_axpy(&params, e, &dp)));
                let an = params_dot(&dp, &pb);
                if integrator == Integrator::ImplicitFast {
                    check(
                        &format!("implicit damping ({integrator:?}): tendon damping, kv"),
                        fd,
                        an,
                    );
                } else {
                    // MuJoCo's Euler makes only joint damping implicit
                    assert_eq!((fd, an), (0.0, 0.0));
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// constraint rows  <->  rows_vjp ; contact geometry  <->  contact_vjp ; solve  <->  solve_vjp, row_seed

fn geom_body(kind: GeomType, size: Vec3, friction: f64, condim: usize) -> BodySpec {
    let mut b = BodySpec::new("body", None);
    b.mass = 1.0;
    b.ipos = Vec3::new(0.01, -0.005, 0.002);
    b.inertia = Mat3::new(
        0.004, 0.0002, 0.0, 0.0002, 0.005, 0.0001, 0.0, 0.0001, 0.006,
    );
    let mut g = GeomSpec::new(kind, size);
    g.friction[0] = friction;
    g.condim = condim;
    g.solimp = [0.8, 0.95, 0.02, 0.5, 2.0];
    b.geoms.push(g);
    b
}

/// Free bodies touching a plane and each other, well apart in x: a sphere, a tilted box
/// (corner), a tilted capsule, a box with a smaller box on it (box-box), two crossing capsules
/// in the air, a frictionless sphere on a fixed frictionless block (condim 1, normal rows
/// only); and an arm of two hinges pressed into their limits.
fn contact_model() -> Model {
    let mut b = ModelBuilder::new();
    b.options.timestep = 0.005;
    b.options.tolerance = 1e-15;
    let mut ground = BodySpec::new("ground", None);
    let mut g = GeomSpec::new(GeomType::Plane, Vec3::zeros());
    g.friction[0] = 0.8;
    g.solimp = [0.8, 0.95, 0.02, 0.5, 2.0];
    ground.geoms.push(g);
    let mut block = geom_body(GeomType::Box, Vec3::new(0.2, 0.2, 0.1), 0.0, 1);
    block.name = "block".into();
    let fixed = [
        (ground, Pose::identity()),
        (
            block,
            Pose {
                pos: Vec3::new(6.0, 0.0, 0.5),
                rot: Mat3::identity(),
            },
        ),
    ];
    for (i, (body, pose)) in fixed.into_iter().enumerate() {
        b.add_entity(
            EntitySpec {
                name: format!("fixed{i}"),
                bodies: vec![body],
                ..Default::default()
            },
            pose,
            BaseMode::Fixed,
        );
    }
    let rot = |r: f64, p: f64, y: f64| Mat3::from(nalgebra::Rotation3::from_euler_angles(r, p, y));
    let tilt = rot(0.3, 0.2, 0.1);
    let box_half = Vec3::new(0.1, 0.08, 0.05);
    let lowest = (0..8)
        .map(|i| {
            let c = Vec3::new(
                if i & 1 == 0 { -box_half.x } else { box_half.x },
                if i & 2 == 0 { -box_half.y } else { box_half.y },
                if i & 4 == 0 { -box_half.z } else { box_half.z },
            );
            (tilt * c).z
        })
        .fold(f64::INFINITY, f64::min);
    let cap_tilt = rot(0.4, 0.0, 0.2);
    let cap_low = -(cap_tilt * Vec3::new(0.0, 0.0, 0.1)).z.abs() - 0.05;
    let free = [
        (
            geom_body(GeomType::Sphere, Vec3::new(0.1, 0.0, 0.0), 0.5, 3),
            Vec3::new(0.0, 0.0, 0.0995),
            Mat3::identity(),
        ),
        (
            geom_body(GeomType::Box, box_half, 0.5, 3),
            Vec3::new(1.0, 0.0, -lowest - 0.004),
            tilt,
        ),
        (
            geom_body(GeomType::Capsule, Vec3::new(0.05, 0.1, 0.0), 0.6, 3),
            Vec3::new(2.0, 0.0, -cap_low - 0.003),
            cap_tilt,
        ),
        (
            geom_body(GeomType::Box, Vec3::new(0.1, 0.1, 0.05), 0.4, 3),
            Vec3::new(3.0, 0.0, 0.049),
            Mat3::identity(),
        ),
        (
            geom_body(GeomType::Box, Vec3::new(0.06, 0.05, 0.04), 0.7, 3),
            Vec3::new(3.01, 0.02, 0.1375),
            rot(0.03, -0.02, 0.4),
        ),
        (
            geom_body(GeomType::Capsule, Vec3::new(0.05, 0.2, 0.0), 0.3, 3),
            Vec3::new(4.0, 0.0, 1.0),
            rot(0.0, std::f64::consts::FRAC_PI_2, 0.0),
        ),
        (
            geom_body(GeomType::Capsule, Vec3::new(0.05, 0.2, 0.0), 0.9, 3),
            Vec3::new(4.02, 0.01, 1.097),
            rot(std::f64::consts::FRAC_PI_2, 0.0, 0.3),
        ),
        (
            geom_body(GeomType::Sphere, Vec3::new(0.1, 0.0, 0.0), 0.0, 1),
            Vec3::new(6.0, 0.0, 0.6995),
            Mat3::identity(),
        ),
    ];
    for (i, (body, pos, rot)) in free.into_iter().enumerate() {
        b.add_entity(
            EntitySpec {
                name: format!("free{i}"),
                bodies: vec![body],
                ..Default::default()
            },
            Pose { pos, rot },
            BaseMode::Free,
        );
    }
    let mut arm = vec![
        link(
            "upper",
            None,
            Vec3::new(-1.0, 0.0, 1.0),
            Some(JointType::Hinge),
        ),
        link(
            "lower",
            Some(0),
            Vec3::new(0.0, 0.0, -0.25),
            Some(JointType::Hinge),
        ),
    ];
    for l in &mut arm {
        l.joints[0].range = Some([-0.3, 0.25]);
        l.joints[0].solimp = [0.8, 0.95, 0.01, 0.5, 2.0];
    }
    b.add_entity(
        EntitySpec {
            name: "arm".into(),
            bodies: arm,
            ..Default::default()
        },
        Pose::identity(),
        BaseMode::AsIs,
    );
    b.build().unwrap()
}

/// The contact model's state: everything at rest where placed, sliding a little, the arm
/// inside its limits' transition zones (one below the lower, one above the upper bound).
fn contact_state(model: &Model, rng: &mut Rng) -> State {
    let mut s = State::new(model);
    s.v = rng.vec(model.nv).iter().map(|x| 0.3 * x).collect();
    let nq = model.nq;
    s.q[nq - 2] = -0.303;
    s.q[nq - 1] = 0.253;
    s
}

/// Forward up to the rows at `s` (kinematics, velocities, collision, rows).
fn rows_data(model: &Model, s: &State) -> Data {
    let mut d = Data::new(model);
    pipeline::forward(
        model,
        &model.params0,
        s,
        &Control::new(model),
        &mut StepCarry::new(model),
        &mut d,
        0.005,
    )
    .unwrap();
    d
}

#[test]
fn constraint_rows_vjp_matches_finite_differences() {
    check_rows_vjp(contact_model());
}

/// The same rows with the contacts' elliptic cones (impratio 2): three rows each, the normal's
/// and the tangents' (D the normal's times the impratio, no position term).
#[test]
fn elliptic_contact_rows_vjp_matches_finite_differences() {
    let mut model = contact_model();
    model.opt.cone = kinegrad::model::FrictionCone::Elliptic;
    model.opt.impratio = 2.0;
    check_rows_vjp(model);
}

/// Torsional and rolling friction: the contacts with condim 6 (the rows about the relative
/// rotation), under both cones.
#[test]
fn torsion_and_rolling_contact_rows_vjp_matches_finite_differences() {
    use kinegrad::model::FrictionCone;
    for cone in [FrictionCone::Pyramidal, FrictionCone::Elliptic] {
        let mut model = contact_model();
        model.opt.cone = cone;
        model.opt.impratio = 2.0;
        for g in 0..model.ngeom {
            if model.geom_condim[g] == 3 {
                model.geom_condim[g] = 6;
            }
            model.params0.geom_friction[g][1] = 0.1 * (1.0 + g as f64);
            model.params0.geom_friction[g][2] = 0.05 * (1.0 + g as f64);
        }
        check_rows_vjp(model);
    }
}

fn check_rows_vjp(model: Model) {
    let elliptic = model.opt.cone == kinegrad::model::FrictionCone::Elliptic;
    let nv = model.nv;
    let mut rng = Rng(9);
    let s = contact_state(&model, &mut rng);
    let h = model.opt.timestep;
    let base = rows_data(&model, &s);
    let kinds = |k: fn(&RowKind) -> bool| base.efc_kind.iter().filter(|r| k(r)).count();
    assert!(
        kinds(|r| matches!(r, RowKind::Limit(_))) == 2,
        "both limits active"
    );
    assert!(
        kinds(|r| matches!(r, RowKind::ContactNormal(_))) >= 1,
        "a frictionless contact"
    );
    if elliptic {
        assert!(
            kinds(|r| matches!(r, RowKind::ContactElliptic(..))) >= 3 * 8,
            "elliptic rows"
        );
    } else {
        assert!(
            kinds(|r| matches!(r, RowKind::ContactPyramid(..))) >= 4 * 8,
            "pyramid rows"
        );
    }
    let nefc = base.nefc;
    let j_bar: Vec<f64> = rng.vec(base.efc_j.len());
    let aref_bar = rng.vec(nefc);
    let d_bar = rng.vec(nefc);
    let loss = |d: &Data, q: &[f64], v: &[f64]| {
        let mut d = d.clone();
        constraint::make_rows(&model, &model.params0, q, v, h, &mut d);
        assert_eq!(d.efc_kind, base.efc_kind, "the rows must stay the same");
        dot(&d.efc_j, &j_bar) + dot(&d.efc_aref, &aref_bar) + dot(&d.efc_d, &d_bar)
    };
    let mut adj = PosAdjoint::new(&model);
    let (mut q_bar, mut v_bar) = (vec![0.0; model.nq], vec![0.0; nv]);
    let mut params_bar = kinegrad::adjoint::params_zeros(&model);
    rows_vjp(
        &model,
        &model.params0,
        &base,
        &s.q,
        &s.v,
        h,
        |r, jb| {
            let span = base.efc_nz_adr[r]..base.efc_nz_adr[r + 1];
            jb[..span.len()].copy_from_slice(&j_bar[span]);
            Some(RowBar {
                aref: aref_bar[r],
                d: d_bar[r],
                floss: 0.0,
                ..Default::default()
            })
        },
        &mut adj,
        &mut q_bar,
        &mut v_bar,
        &mut params_bar,
    );
    let (dq, dv) = (rng.vec(model.nq), rng.vec(nv));
    let fd = central(|e| loss(&base, &axpy(&s.q, e, &dq), &s.v));
    check("rows: q (limits)", fd, dot(&dq, &q_bar));
    let fd = central(|e| loss(&base, &s.q, &axpy(&s.v, e, &dv)));
    check("rows: v", fd, dot(&dv, &v_bar));
    let dcdof: Vec<Motion> = (0..nv).map(|_| rng.motion()).collect();
    let fd = central(|e| {
        let mut d = base.clone();
        (0..nv).for_each(|i| d.cdof[i] += dcdof[i] * e);
        loss(&d, &s.q, &s.v)
    });
    let an: f64 = (0..nv).map(|i| dcdof[i].dot(&adj.cdof_bar[i])).sum();
    check("rows: cdof", fd, an);
    // the contacts' point, frame rows, distance and friction
    let nc = base.contacts.len();
    let dcon: Vec<ContactBar> = (0..nc)
        .map(|_| ContactBar {
            pos: rng.v3(),
            normal: rng.v3(),
            tangent: [rng.v3(), rng.v3()],
            dist: rng.next() * 1e-3,
            friction: rng.next(),
            spin: rng.next(),
            roll: rng.next(),
        })
        .collect();
    type Field = fn(&ContactBar, &ContactBar) -> f64;
    let fields: [(&str, Field); 7] = [
        ("pos", |a, b| a.pos.dot(&b.pos)),
        ("normal", |a, b| a.normal.dot(&b.normal)),
        ("tangents", |a, b| {
            a.tangent[0].dot(&b.tangent[0]) + a.tangent[1].dot(&b.tangent[1])
        }),
        ("dist", |a, b| a.dist * b.dist),
        ("friction", |a, b| a.friction * b.friction),
        ("torsional friction", |a, b| a.spin * b.spin),
        ("rolling friction", |a, b| a.roll * b.roll),
    ];
    let condim = base.contacts.iter().map(|c| c.condim).max().unwrap_or(0);
    for (k, (name, pair)) in fields.iter().enumerate() {
        // an elliptic contact's rows depend on its friction only through the D of its torsion
        // and rolling rows (its force law does: the step tests of adjoint_fd.rs); torsional and
        // rolling friction only with condim 4 and 6
        let reaches = match k {
            4 => !elliptic || condim > 3,
            5 => condim > 3,
            6 => condim > 4,
            _ => true,
        };
        if !reaches {
            continue;
        }
        let fd = central(|e| {
            let mut d = base.clone();
            for (con, dc) in d.contacts.iter_mut().zip(&dcon) {
                match k {
                    0 => con.pos += dc.pos * e,
                    1 => {
                        let r = con.frame.row(0) + dc.normal.transpose() * e;
                        con.frame.set_row(0, &r);
                    }
                    2 => {
                        for t in 0..2 {
                            let r = con.frame.row(1 + t) + dc.tangent[t].transpose() * e;
                            con.frame.set_row(1 + t, &r);
                        }
                    }
                    3 => con.dist += dc.dist * e,
                    4 => {
                        if con.friction > 0.0 {
                            con.friction += dc.friction * e * 0.1;
                        }
                    }
                    5 => con.spin += dc.spin * e,
                    _ => con.roll += dc.roll * e,
                }
            }
            loss(&d, &s.q, &s.v)
        });
        let an: f64 = (0..nc)
            .map(|c| {
                let mut dc = dcon[c];
                if k == 4 {
                    dc.friction *= if base.contacts[c].friction > 0.0 {
                        0.1
                    } else {
                        0.0
                    };
                }
                pair(&dc, &adj.contact_bar[c])
            })
            .sum();
        check(&format!("rows: contact {name}"), fd, an);
    }
}

/// Twist `xi` applied to a pose for time `e`, exactly.
fn moved(p: &Pose, xi: &Motion, e: f64) -> Pose {
    let r = nalgebra::Rotation3::new(xi.ang * e).into_inner();
    Pose {
        pos: p.pos + (xi.lin + xi.ang.cross(&p.pos)) * e,
        rot: r * p.rot,
    }
}

#[test]
fn contact_geometry_vjp_matches_finite_differences_for_several_pairs() {
    let model = contact_model();
    let mut rng = Rng(10);
    let s = contact_state(&model, &mut rng);
    let base = rows_data(&model, &s);
    let params = model.params0.clone();
    let mut pairs = std::collections::BTreeSet::new();
    for con in &base.contacts {
        let (g1, g2) = (con.geom1, con.geom2);
        let name = format!("{:?}-{:?}", model.geom_type[g1], model.geom_type[g2]);
        let bar = ContactBar {
            pos: rng.v3(),
            normal: rng.v3(),
            tangent: [rng.v3(), rng.v3()],
            dist: rng.next(),
            friction: rng.next(),
            ..Default::default()
        };
        let mut pb = params_zeros(&model);
        let (w1, w2) = contact_vjp(&model, &params, &base, con, &bar, &mut pb);
        let pose = |g: usize| base.geom_frame(g);
        let margin = model.geom_margin[g1].max(model.geom_margin[g2]);
        // the contact of the same feature nearest to the original, at moved poses / parameters
        let loss = |p1: &Pose, p2: &Pose, params: &Params| {
            let mut out: Vec<ContactPoint> = Vec::new();
            collide(
                &geom_shape(&model, g1),
                p1,
                &geom_shape(&model, g2),
                p2,
                margin,
                &mut out,
            );
            let cp = out
                .iter()
                .filter(|c| {
                    std::mem::discriminant(&c.feature.kind)
                        == std::mem::discriminant(&con.point.feature.kind)
                })
                .min_by(|a, b| {
                    (a.pos - con.pos)
                        .norm()
                        .total_cmp(&(b.pos - con.pos).norm())
                })
                .expect("the contact persists");
            let c = contact(&model, params, g1, g2, p1, p2, cp);
            bar.pos.dot(&c.pos)
                + bar.normal.dot(&c.frame.row(0).transpose())
                + bar.tangent[0].dot(&c.frame.row(1).transpose())
                + bar.tangent[1].dot(&c.frame.row(2).transpose())
                + bar.dist * c.dist
                + bar.friction * c.friction
        };
        let (xi1, xi2) = (rng.motion(), rng.motion());
        let fd = central(|e| loss(&moved(&pose(g1), &xi1, e), &pose(g2), &params));
        check(&format!("contact {name}: geom 1 pose"), fd, xi1.dot(&w1));
        let fd = central(|e| loss(&pose(g1), &moved(&pose(g2), &xi2, e), &params));
        check(&format!("contact {name}: geom 2 pose"), fd, xi2.dot(&w2));
        if con.friction > 0.0 {
            let dp = params_direction(&model, &mut rng, &["friction"]);
            let fd = central(|e| loss(&pose(g1), &pose(g2), &params_axpy(&params, e, &dp)));
            check(
                &format!("contact {name}: friction"),
                fd,
                params_dot(&dp, &pb),
            );
        }
        pairs.insert(name);
    }
    println!("pairs: {pairs:?}");
    for p in [
        "Plane-Sphere",
        "Plane-Box",
        "Plane-Capsule",
        "Box-Box",
        "Capsule-Capsule",
        // MuJoCo's order: the sphere first
        "Sphere-Box",
    ] {
        assert!(pairs.contains(p), "pair {p} not covered: {pairs:?}");
    }
}

#[test]
fn solve_vjp_matches_finite_differences() {
    let model = contact_model();
    let nv = model.nv;
    let mut rng = Rng(11);
    let s = contact_state(&model, &mut rng);
    let base = rows_data(&model, &s);
    assert!(base.efc_active.iter().filter(|x| **x).count() >= 8);
    let a_bar = rng.vec(nv);
    // inputs: M (the constraint problem's matrix; M_h acts after it, see the step tests),
    // f_smooth, and the rows' J, aref, D
    let loss = |d: &Data| {
        let mut d = d.clone();
        d.qm_ldl.copy_from_slice(&d.qm);
        assert_eq!(mass::factor(&model, &mut d.qm_ldl), None);
        d.qacc_smooth.copy_from_slice(&d.qfrc_smooth);
        mass::solve(&model, &d.qm_ldl, &mut d.qacc_smooth);
        assert!(constraint::solver::solve(&model, &mut d, &vec![0.0; nv])); // a cold solve
        assert_eq!(
            d.efc_active, base.efc_active,
            "the active set must stay the same"
        );
        assert!(d.solver_residual < 1e-12);
        dot(&d.qacc, &a_bar)
    };
    let mut lambda = a_bar.clone();
    solve_vjp(&model, &base, &mut lambda);
    let a = &base.qacc;
    let nefc = base.nefc;
    let mut j_bar = vec![0.0; base.efc_j.len()];
    let mut aref_bar = vec![0.0; nefc];
    let mut d_bar = vec![0.0; nefc];
    for r in 0..nefc {
        let span = base.efc_nz_adr[r]..base.efc_nz_adr[r + 1];
        if let Some(b) = row_seed(&base, &lambda, r, &mut j_bar[span]) {
            aref_bar[r] = b.aref;
            d_bar[r] = b.d;
        }
    }
    let df = rng.vec(nv);
    let fd = central(|e| {
        let mut d = base.clone();
        d.qfrc_smooth = axpy(&d.qfrc_smooth, e, &df);
        loss(&d)
    });
    check("solve: f_smooth", fd, dot(&df, &lambda));
    // M_bar = -lambda a^T; M is stored as its lower triangle in the tree pattern
    // (`dof_m_col`), so a direction there moves both (i, j) and (j, i)
    let dm: Vec<f64> = rng
        .vec(model.dof_m_col.len())
        .iter()
        .map(|x| 0.2 * x)
        .collect();
    let fd = central(|e| {
        let mut d = base.clone();
        d.qm = axpy(&d.qm, e, &dm);
        loss(&d)
    });
    let mut an = 0.0;
    for i in 0..nv {
        for p in model.dof_m_adr[i]..model.dof_m_adr[i + 1] {
            let j = model.dof_m_col[p];
            let both = if i == j {
                lambda[i] * a[i]
            } else {
                lambda[i] * a[j] + lambda[j] * a[i]
            };
            an -= both * dm[p];
        }
    }
    check("solve: M", fd, an);
    // J is stored sparse: the direction moves each row's entries at its non-zero dofs
    let (dj, daref, dd) = (rng.vec(base.efc_j.len()), rng.vec(nefc), rng.vec(nefc));
    let fd = central(|e| {
        let mut d = base.clone();
        d.efc_j = axpy(&d.efc_j, e, &dj);
        loss(&d)
    });
    check("solve: J", fd, dot(&dj, &j_bar));
    let fd = central(|e| {
        let mut d = base.clone();
        d.efc_aref = axpy(&d.efc_aref, e, &daref);
        loss(&d)
    });
    check("solve: aref", fd, dot(&daref, &aref_bar));
    let scale: Vec<f64> = base.efc_d.iter().zip(&dd).map(|(x, y)| x * y).collect();
    let fd = central(|e| {
        let mut d = base.clone();
        d.efc_d = axpy(&d.efc_d, e, &scale);
        loss(&d)
    });
    check("solve: D", fd, dot(&scale, &d_bar));
}

// ---------------------------------------------------------------------------------------------
// integrator  <->  integrate_pos_vjp, integrate_vel_vjp (incl. the quaternion map)

#[test]
fn integrator_vjp_matches_finite_differences() {
    let model = chain_model(Integrator::ImplicitFast);
    let (nq, nv) = (model.nq, model.nv);
    let h = 0.01;
    for (seed, vscale) in [(12, 2.0), (13, 300.0), (14, 1e-3)] {
        let mut rng = Rng(seed);
        let s = random_state(&model, &mut rng);
        let v: Vec<f64> = s.v.iter().map(|x| x * vscale).collect();
        let a: Vec<f64> = rng.vec(nv).iter().map(|x| x * vscale).collect();
        let (qn_bar, vn_bar) = (rng.vec(nq), rng.vec(nv));
        let forward = |q: &[f64], v: &[f64], a: &[f64]| {
            let (mut q, mut v) = (q.to_vec(), v.to_vec());
            integrator::integrate_vel(&mut v, a, h);
            integrator::integrate_pos(&model, &mut q, &v, h);
            dot(&q, &qn_bar) + dot(&v, &vn_bar)
        };
        let mut v_new = v.clone();
        integrator::integrate_vel(&mut v_new, &a, h);
        let (mut q_bar, mut v_bar, mut a_bar) = (vec![0.0; nq], vec![0.0; nv], vec![0.0; nv]);
        let mut vnew_bar = vn_bar.clone();
        integrate_pos_vjp(&model, &s.q, &v_new, h, &qn_bar, &mut q_bar, &mut vnew_bar);
        integrate_vel_vjp(h, &vnew_bar, &mut v_bar, &mut a_bar);
        // directions scaled so that v' moves by O(EPS) relative to its size (v' = v + h a)
        let sv = vscale.max(1.0);
        let dq = rng.vec(nq);
        let dv: Vec<f64> = rng.vec(nv).iter().map(|x| x * sv).collect();
        let da: Vec<f64> = rng.vec(nv).iter().map(|x| x * sv / h).collect();
        let tag = format!("integrator (|v| x {vscale})");
        let fd = central(|e| forward(&axpy(&s.q, e, &dq), &v, &a));
        check(&format!("{tag}: q"), fd, dot(&dq, &q_bar));
        let fd = central(|e| forward(&s.q, &axpy(&v, e, &dv), &a));
        check(&format!("{tag}: v"), fd, dot(&dv, &v_bar));
        let fd = central(|e| forward(&s.q, &v, &axpy(&a, e, &da)));
        check(&format!("{tag}: a"), fd, dot(&da, &a_bar));
    }
}

// ---------------------------------------------------------------------------------------------
// the mass matrix's sparsity pattern (compile stage), which the solver's products rely on

#[test]
fn mass_matrix_in_its_tree_pattern_matches_inverse_dynamics_and_its_factor_solves() {
    for model in [chain_model(Integrator::ImplicitFast), contact_model()] {
        let nv = model.nv;
        let mut rng = Rng(21);
        let s = random_state(&model, &mut rng);
        let mut d = Data::new(&model);
        pipeline::kinematics(&model, &model.params0, &s.q, &mut d);
        kinegrad::dynamics::crba::crba(&model, &model.params0, &mut d);
        let mut dense = vec![0.0; nv * nv];
        mass::to_dense(&model, &d.qm, &mut dense);
        // column j of M is inverse dynamics at a = e_j minus its bias, armature added: an
        // independent computation, which also has the zeros outside the pattern
        let (zero, mut bias, mut col) = (vec![0.0; nv], vec![0.0; nv], vec![0.0; nv]);
        let p = &model.params0;
        let mut dd = Data::new(&model);
        kinegrad::readings::inverse_dynamics(&model, p, &s.q, &zero, &zero, &mut dd, &mut bias);
        let mut inside = 0;
        for j in 0..nv {
            let mut e = zero.clone();
            e[j] = 1.0;
            kinegrad::readings::inverse_dynamics(&model, p, &s.q, &zero, &e, &mut dd, &mut col);
            for i in 0..nv {
                let m = col[i] - bias[i] + if i == j { p.dof_armature[i] } else { 0.0 };
                assert!(
                    (dense[i * nv + j] - m).abs() < 1e-12,
                    "M[{i}][{j}]: {} vs {m}",
                    dense[i * nv + j]
                );
                inside += (i != j && dense[i * nv + j] != 0.0) as usize;
            }
        }
        assert!(inside > 0, "the pattern's off-diagonal entries are used");
        // y = M x and the L^T D L solve against the dense product
        let x = rng.vec(nv);
        let mut y = vec![0.0; nv];
        mass::mul_vec(&model, &d.qm, &x, &mut y);
        let mut yd = vec![0.0; nv];
        chol::mul_vec(&dense, nv, &x, &mut yd);
        assert!(y.iter().zip(&yd).all(|(a, b)| (a - b).abs() < 1e-12));
        let mut ld = d.qm.clone();
        assert_eq!(mass::factor(&model, &mut ld), None);
        mass::solve(&model, &ld, &mut y);
        assert!(
            y.iter().zip(&x).all(|(a, b)| (a - b).abs() < 1e-9),
            "{y:?} vs {x:?}"
        );
    }
}

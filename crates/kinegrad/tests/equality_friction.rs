//! Equality constraints (connect, weld, joint) and dry joint friction (frictionloss) in both
//! directions: the rows' states, one step's reverse against central differences in every input,
//! and the gradient of a 100-step rollout with respect to the initial state, the frictionloss
//! and a mass. (Their parity with MuJoCo: python/tests/test_equality_friction_vs_mujoco.py,
//! on the same model file.)

mod common;

use kinegrad::adjoint::step::{step_vjp, VjpScratch};
use kinegrad::adjoint::{params_zeros, StepGrad};
use kinegrad::data::{RowKind, RowState};
use kinegrad::fd::{params_axpy, params_dot, step_jvp_fd, StepDirection};
use kinegrad::math::{Pose, Vec3};
use kinegrad::model::builder::BaseMode;
use kinegrad::model::{mjcf, EqType, Integrator, ModelBuilder};
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

/// The chain of python/tests/models/equality_friction_chain.xml: three links with
/// frictionloss on three dofs, a joint equality with a quadratic polynomial, a free box
/// connected to the chain's tip and welded to the world with a relative pose.
fn chain(integrator: Integrator) -> Model {
    let model = load("equality_friction_chain.xml", integrator);
    let kinds: Vec<EqType> = model.equalities.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [EqType::Joint, EqType::Connect, EqType::Weld]);
    model
}

/// python/tests/models/tendon_chain.xml: two fixed tendons with springs (a dead band), a
/// damper, a limited range, dry friction, and a tendon equality.
fn tendon_chain(integrator: Integrator) -> Model {
    let model = load("tendon_chain.xml", integrator);
    assert_eq!(model.tendons.len(), 2);
    assert_eq!(model.equalities[0].kind, EqType::Tendon);
    model
}

/// python/tests/models/spatial_tendon_chain.xml: the chain with two spatial tendons (through
/// sites on three bodies; through a fixed site and a pulley) with springs, a damper, a limited
/// range and dry friction.
fn spatial_chain(integrator: Integrator) -> Model {
    let model = load("spatial_tendon_chain.xml", integrator);
    assert!(model.tendons.iter().all(|t| t.is_spatial()));
    assert_eq!(
        model.tendons[1].spatial.len(),
        2,
        "the pulley starts a branch"
    );
    model
}

/// python/tests/models/wrap_tendon.xml: spatial tendons wrapping around a sphere (a side site
/// outside it; another inside: MuJoCo's inside wrap) and a cylinder (with and without a side
/// site; one inside), with springs, a damper, a limit and dry friction.
fn wrap_chain(integrator: Integrator) -> Model {
    let model = load("wrap_tendon.xml", integrator);
    let wraps = model
        .tendons
        .iter()
        .flat_map(|t| &t.spatial)
        .flat_map(|b| b.wraps.iter().flatten())
        .count();
    assert_eq!(wraps, 5);
    model
}

fn load(file: &str, integrator: Integrator) -> Model {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../python/tests/models")
        .join(file);
    let spec = mjcf::load(&path, 1.0).expect("the chain loads");
    let mut b = ModelBuilder::new();
    b.options.timestep = 0.002;
    b.options.integrator = integrator;
    b.options.enable_collision = false;
    b.options.tolerance = 1e-14;
    b.add_entity(spec, Pose::identity(), BaseMode::AsIs);
    b.build().expect("the chain builds")
}

/// A state off the constraints and moving, after `settle` steps from a perturbed start.
fn moving_state(model: &Model, seed: u64, settle: usize) -> State {
    let mut rng = Rng(seed);
    let mut s = State::new(model);
    for (q, q0) in s.q.iter_mut().zip(&model.qpos0) {
        *q = q0 + 0.05 * rng.next();
    }
    s.v = rng.vec(model.nv);
    s.normalize_quaternions(model);
    let (mut d, mut carry) = (Data::new(model), StepCarry::new(model));
    for _ in 0..settle {
        common::step_unforced(model, &mut s, &mut carry, &mut d);
    }
    s
}

fn states_of(model: &Model, s: &State) -> Data {
    let mut d = Data::new(model);
    let mut st = s.clone();
    pipeline::step(
        model,
        &model.params0,
        &mut st,
        &Control::new(model),
        &mut StepCarry::new(model),
        &mut d,
    )
    .unwrap();
    d
}

#[test]
fn rows_come_in_mujocos_order_with_the_friction_rows_in_every_piece() {
    let model = chain(Integrator::Euler);
    let d = states_of(&model, &moving_state(&model, 1, 0));
    // 1 joint + 3 connect + 6 weld equality rows, then one friction row per frictional dof
    let eq: Vec<RowKind> = d.efc_kind[..10].to_vec();
    assert!(
        eq.iter().all(|k| matches!(k, RowKind::Equality(..))),
        "{eq:?}"
    );
    let fr: Vec<usize> = d.efc_kind[10..]
        .iter()
        .map(|k| match k {
            RowKind::Friction(dof) => *dof,
            other => panic!("after the equalities only friction rows: {other:?}"),
        })
        .collect();
    let frictional: Vec<usize> = (0..model.nv)
        .filter(|&i| model.params0.dof_frictionloss[i] > 0.0)
        .collect();
    assert_eq!(fr, frictional);
    assert!(d.efc_state[..10].iter().all(|s| *s == RowState::Quadratic));
    // over a run the friction rows stick (quadratic) and slide (saturated) both ways
    let mut seen = std::collections::HashSet::new();
    let mut s = moving_state(&model, 1, 0);
    let (mut d, mut carry) = (Data::new(&model), StepCarry::new(&model));
    for _ in 0..300 {
        pipeline::step(
            &model,
            &model.params0,
            &mut s,
            &Control::new(&model),
            &mut carry,
            &mut d,
        )
        .unwrap();
        for r in 10..d.nefc {
            seen.insert(d.efc_state[r]);
            if d.efc_state[r] != RowState::Quadratic {
                // a saturated row's force is its bound
                let floss = d.efc_floss[r];
                assert!((d.efc_force[r].abs() - floss).abs() < 1e-12 * floss.max(1.0));
            }
        }
    }
    for state in [
        RowState::Quadratic,
        RowState::LinearNeg,
        RowState::LinearPos,
    ] {
        assert!(seen.contains(&state), "{state:?} never seen: {seen:?}");
    }
}

#[test]
fn one_step_reverse_matches_central_differences_in_every_input() {
    for (integrator, tendons) in [
        (Integrator::Euler, "none"),
        (Integrator::ImplicitFast, "none"),
        (Integrator::Euler, "fixed"),
        (Integrator::ImplicitFast, "fixed"),
        (Integrator::Euler, "spatial"),
        (Integrator::ImplicitFast, "spatial"),
        (Integrator::Euler, "wrapping"),
        (Integrator::ImplicitFast, "wrapping"),
    ] {
        let model = match tendons {
            "fixed" => tendon_chain(integrator),
            "spatial" => spatial_chain(integrator),
            "wrapping" => wrap_chain(integrator),
            _ => chain(integrator),
        };
        for seed in [2, 3, 4] {
            let s = moving_state(&model, seed, 20);
            let mut rng = Rng(seed + 100);
            let mut dp = params_zeros(&model);
            for d in 0..model.nv {
                dp.dof_frictionloss[d] = if model.params0.dof_frictionloss[d] > 0.0 {
                    rng.next()
                } else {
                    0.0
                };
                dp.dof_damping[d] = rng.next();
            }
            for b in 1..model.nbody {
                dp.body_mass[b] = rng.next();
            }
            for t in 0..model.tendons.len() {
                dp.tendon_stiffness[t] = rng.next();
                dp.tendon_damping[t] = rng.next();
                dp.tendon_frictionloss[t] = rng.next();
                dp.tendon_lengthspring[t] = [rng.next(), rng.next()];
            }
            dp.gravity = Vec3::new(rng.next(), rng.next(), rng.next());
            // each equality's softness (standard format: time constant, damping ratio) and
            // polynomial (read by joint and tendon equalities)
            for e in 0..model.equalities.len() {
                dp.eq_solref[e] = [0.01 * rng.next(), 0.3 * rng.next()];
                dp.eq_polycoef[e] = [
                    0.1 * rng.next(),
                    rng.next(),
                    rng.next(),
                    rng.next(),
                    rng.next(),
                ];
            }
            let zero_q = vec![0.0; model.nq];
            let zero_v = vec![0.0; model.nv];
            let dirs = [
                ("q", rng.vec(model.nq), zero_v.clone(), params_zeros(&model)),
                ("v", zero_q.clone(), rng.vec(model.nv), params_zeros(&model)),
                ("params", zero_q.clone(), zero_v.clone(), dp),
            ];
            let (yq, yv) = (rng.vec(model.nq), rng.vec(model.nv));
            let mut g = StepGrad::zeros(&model);
            let control = Control::new(&model);
            step_vjp(
                &model,
                &model.params0,
                &s,
                &control,
                &StepCarry::new(&model),
                &mut Data::new(&model),
                &mut VjpScratch::new(&model),
                &yq,
                &yv,
                &[],
                &mut g,
            )
            .unwrap();
            for (name, q, v, p) in dirs {
                let dir = StepDirection {
                    q,
                    v,
                    target: vec![0.0; model.nv],
                    params: p,
                };
                let (dq, dv) =
                    step_jvp_fd(&model, &model.params0, &s, &control, &dir, 1e-7).unwrap();
                let lhs: f64 = dq.iter().zip(&yq).map(|(a, b)| a * b).sum::<f64>()
                    + dv.iter().zip(&yv).map(|(a, b)| a * b).sum::<f64>();
                let rhs = dir.dot(&g);
                let err = (lhs - rhs).abs() / lhs.abs().max(rhs.abs()).max(1e-12);
                println!("{integrator:?} tendons {tendons} seed {seed} {name}: fd {lhs:.10e} adjoint {rhs:.10e} rel {err:.1e}");
                assert!(
                    err < 1e-6,
                    "{integrator:?} tendons {tendons} seed {seed} {name}: {err:.2e}"
                );
            }
        }
    }
}

#[test]
fn hundred_step_gradient_matches_central_differences() {
    hundred_step_check(&chain(Integrator::ImplicitFast), 5);
}

#[test]
fn hundred_step_gradient_through_tendons_matches_central_differences() {
    hundred_step_check(&tendon_chain(Integrator::ImplicitFast), 6);
}

#[test]
fn hundred_step_gradient_through_spatial_tendons_matches_central_differences() {
    hundred_step_check(&spatial_chain(Integrator::ImplicitFast), 6);
    hundred_step_check(&spatial_chain(Integrator::Euler), 7);
}

#[test]
fn hundred_step_gradient_through_wrapping_tendons_matches_central_differences() {
    for (integrator, seed) in [(Integrator::ImplicitFast, 8), (Integrator::Euler, 9)] {
        let model = wrap_chain(integrator);
        // the five wraps stay engaged over the run (a wrap that switches on or off at a side
        // site's boundary makes the length jump: no derivative there)
        let mut s = moving_state(&model, seed, 0);
        let (mut d, mut carry) = (Data::new(&model), StepCarry::new(&model));
        for _ in 0..100 {
            let c = Control::new(&model);
            pipeline::step(&model, &model.params0, &mut s, &c, &mut carry, &mut d).unwrap();
            assert_eq!(wrapped_segments(&model, &d), 5);
        }
        hundred_step_check(&model, seed);
    }
}

/// How many segments of the model's spatial tendons wrap around their geoms in `d`'s pose.
fn wrapped_segments(model: &Model, d: &Data) -> usize {
    use kinegrad::model::tendon_path::segment;
    let site =
        |x: usize| d.xpos[model.site_body[x]] + d.xmat[model.site_body[x]] * model.site_pos[x];
    let pose = |g: usize| kinegrad::tendon::wrap_geom_pose(model, &d.xpos, &d.xmat, g);
    model
        .tendons
        .iter()
        .flat_map(|t| &t.spatial)
        .map(|b| {
            (0..b.sites.len() - 1)
                .filter(|&k| segment(model, b, k, &site, &pose).n == 4)
                .count()
        })
        .sum()
}

/// The loss on the state after `steps` unforced steps from `s0` (a weighted sum of the positions
/// and 0.3 |v|^2) under `params`, and, with `grad`, its gradient by the reverse pass.
fn final_loss(
    model: &Model,
    params: &kinegrad::Params,
    s0: &State,
    steps: usize,
    grad: bool,
) -> (f64, Option<kinegrad::adjoint::rollout::RolloutGrad>) {
    let w: Vec<f64> = (0..model.nq).map(|i| 1.0 + 0.1 * i as f64).collect();
    common::final_loss(model, params, s0, steps, (&w, 0.3), grad)
}

/// The gradient of a loss on the state after 100 steps from a moving start, with respect to
/// the initial state, the dry friction of dofs and tendons, the tendons' springs and dampers and
/// a mass, against central differences.
fn hundred_step_check(model: &Model, seed: u64) {
    let model = model.clone();
    let s0 = moving_state(&model, seed, 0);
    let steps = 100;
    let params = model.params0.clone();
    let g = final_loss(&model, &params, &s0, steps, true).1.unwrap();
    let mut rng = Rng(7);
    let blank = || StepDirection {
        q: vec![0.0; model.nq],
        v: vec![0.0; model.nv],
        target: vec![0.0; model.nv],
        params: params_zeros(&model),
    };
    let mut dq = blank();
    dq.q = rng.vec(model.nq);
    let mut dv = blank();
    dv.v = rng.vec(model.nv);
    let mut dfl = blank();
    for d in 0..model.nv {
        if model.params0.dof_frictionloss[d] > 0.0 {
            dfl.params.dof_frictionloss[d] = rng.next();
        }
    }
    for t in 0..model.tendons.len() {
        if model.params0.tendon_frictionloss[t] > 0.0 {
            dfl.params.tendon_frictionloss[t] = rng.next();
        }
    }
    let mut dten = blank();
    for t in 0..model.tendons.len() {
        dten.params.tendon_stiffness[t] = rng.next();
        dten.params.tendon_damping[t] = rng.next();
        dten.params.tendon_lengthspring[t] = [rng.next() * 0.1, rng.next() * 0.1];
    }
    let mut dm = blank();
    dm.params.body_mass[model.nbody - 1] = 1.0;
    let mut deq = blank();
    for e in 0..model.equalities.len() {
        deq.params.eq_solref[e] = [0.01 * rng.next(), 0.3 * rng.next()];
        deq.params.eq_polycoef[e] = [0.05 * rng.next(), rng.next(), rng.next(), 0.0, 0.0];
    }
    for (name, dir) in [
        ("q0", dq),
        ("v0", dv),
        ("frictionloss", dfl),
        ("tendon spring, damper", dten),
        ("mass", dm),
        ("equality solref, polycoef (mimic offset, multiplier)", deq),
    ] {
        let eval = |s: f64| {
            let mut st = s0.clone();
            st.q.iter_mut().zip(&dir.q).for_each(|(a, b)| *a += s * b);
            st.v.iter_mut().zip(&dir.v).for_each(|(a, b)| *a += s * b);
            final_loss(
                &model,
                &params_axpy(&params, s, &dir.params),
                &st,
                steps,
                false,
            )
            .0
        };
        // the loss is ~70 and the frictionloss' effect ~0.04: below 1e-6 the differences' round-off
        // (~1e-16 * 70 / eps) shows (eps 1e-7: 1.5e-5; 1e-6: 1.3e-6; 1e-5: 2.6e-8); the
        // trajectory is smooth over +-1e-5 (every row keeps its piece)
        let eps = 1e-5;
        let fd = (eval(eps) - eval(-eps)) / (2.0 * eps);
        let an = dir.q.iter().zip(&g.q0).map(|(a, b)| a * b).sum::<f64>()
            + dir.v.iter().zip(&g.v0).map(|(a, b)| a * b).sum::<f64>()
            + params_dot(&dir.params, &g.params);
        let err = (fd - an).abs() / fd.abs().max(an.abs()).max(1e-12);
        println!("{name}: fd {fd:.10e} adjoint {an:.10e} rel {err:.1e}");
        assert!(err < 1e-5, "{name}: relative error {err:.2e}");
    }
}

#[test]
fn the_tendon_chain_meets_every_tendon_row_kind() {
    meets_every_tendon_row_kind(&tendon_chain(Integrator::ImplicitFast), true);
    meets_every_tendon_row_kind(&spatial_chain(Integrator::ImplicitFast), false);
}

fn meets_every_tendon_row_kind(model: &Model, equality: bool) {
    // the tests above cover what the run goes through: the tendon equality, both friction rows
    // sticking and sliding, and the limit of t1
    let model = model.clone();
    let mut s = moving_state(&model, 6, 0);
    let (mut d, mut carry) = (Data::new(&model), StepCarry::new(&model));
    let mut seen = std::collections::HashSet::new();
    for _ in 0..300 {
        pipeline::step(
            &model,
            &model.params0,
            &mut s,
            &Control::new(&model),
            &mut carry,
            &mut d,
        )
        .unwrap();
        for r in 0..d.nefc {
            let kind = match d.efc_kind[r] {
                RowKind::Equality(..) => "equality",
                RowKind::TendonFriction(_) if d.efc_state[r] == RowState::Quadratic => "sticking",
                RowKind::TendonFriction(_) => "sliding",
                RowKind::TendonLimit(_) if d.efc_active[r] => "limit",
                _ => continue,
            };
            seen.insert(kind);
        }
    }
    for k in ["equality", "sticking", "sliding", "limit"] {
        if k == "equality" && !equality {
            continue;
        }
        assert!(seen.contains(k), "{k} never met: {seen:?}");
    }
}

/// The rows stage alone ([`constraint::make_rows`] with the kinematics and body velocities it
/// reads) against its reverse ([`rows_vjp`], then the velocity and position stages' reverse):
/// for random adjoints of every row's Jacobian entries, reference acceleration and `D`,
/// dL/dq and dL/dv against central differences. Equalities (connect, weld, joint, tendon),
/// dof and tendon friction and tendon limits, at states where they all have rows.
#[test]
fn rows_stage_reverse_matches_central_differences() {
    use kinegrad::adjoint::constraint_rows::rows_vjp;
    use kinegrad::adjoint::kinematics::{com_vel_vjp, position_vjp, PosAdjoint};
    use kinegrad::adjoint::solve::RowBar;
    use kinegrad::constraint;
    use kinegrad::kinematics;
    let h = 0.002;
    // the tendon chain again, with t1's range moved above its length there: a limit row
    let mut limited = tendon_chain(Integrator::Euler);
    let s_limited = moving_state(&limited, 13, 30);
    let len = limited.tendons[0].length(&s_limited.q);
    limited.tendons[0].range = [len + 0.01, len + 0.2];
    let (m1, m2) = (chain(Integrator::Euler), tendon_chain(Integrator::Euler));
    let (s1, s2) = (moving_state(&m1, 11, 30), moving_state(&m2, 12, 30));
    for (model, s, seed) in [(m1, s1, 11), (m2, s2, 12), (limited, s_limited, 13)] {
        let rows_at = |q: &[f64], v: &[f64]| {
            let mut d = Data::new(&model);
            pipeline::kinematics(&model, &model.params0, q, &mut d);
            kinematics::com_vel(&model, v, &mut d);
            constraint::make_rows(&model, &model.params0, q, v, h, &mut d);
            d
        };
        let base = rows_at(&s.q, &s.v);
        assert!(base.nefc >= 3, "{:?}", base.efc_kind);
        if seed == 13 {
            assert!(
                base.efc_kind.contains(&RowKind::TendonLimit(0)),
                "{:?}",
                base.efc_kind
            );
        }
        let mut rng = Rng(seed);
        let j_bar = rng.vec(base.efc_j.len());
        let aref_bar = rng.vec(base.nefc);
        let d_bar = rng.vec(base.nefc);
        let loss = |q: &[f64], v: &[f64]| {
            let d = rows_at(q, v);
            assert_eq!(d.efc_kind, base.efc_kind, "the rows must stay the same");
            let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
            dot(&d.efc_j, &j_bar) + dot(&d.efc_aref, &aref_bar) + dot(&d.efc_d, &d_bar)
        };
        let mut adj = PosAdjoint::new(&model);
        let (mut q_bar, mut v_bar) = (vec![0.0; model.nq], vec![0.0; model.nv]);
        let mut pb = params_zeros(&model);
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
            &mut pb,
        );
        com_vel_vjp(&model, &base, &s.v, &mut adj, &mut v_bar);
        position_vjp(
            &model,
            &model.params0,
            &base,
            &s.q,
            &mut adj,
            &mut q_bar,
            &mut pb,
        );
        let (dq, dv) = (rng.vec(model.nq), rng.vec(model.nv));
        let eps = 1e-6;
        let shift = |x: &[f64], dx: &[f64], e: f64| -> Vec<f64> {
            x.iter().zip(dx).map(|(a, b)| a + e * b).collect()
        };
        for (name, fd, an) in [
            (
                "q",
                (loss(&shift(&s.q, &dq, eps), &s.v) - loss(&shift(&s.q, &dq, -eps), &s.v))
                    / (2.0 * eps),
                dq.iter().zip(&q_bar).map(|(a, b)| a * b).sum::<f64>(),
            ),
            (
                "v",
                (loss(&s.q, &shift(&s.v, &dv, eps)) - loss(&s.q, &shift(&s.v, &dv, -eps)))
                    / (2.0 * eps),
                dv.iter().zip(&v_bar).map(|(a, b)| a * b).sum::<f64>(),
            ),
        ] {
            let err = (fd - an).abs() / fd.abs().max(an.abs()).max(1e-12);
            println!(
                "{:?} {name}: fd {fd:.10e} adjoint {an:.10e} rel {err:.1e}",
                base.efc_kind
            );
            assert!(err < 1e-6, "{name}: relative error {err:.2e}");
        }
    }
}

/// At `frictionloss = 0` no row exists (MuJoCo's rule) and the step is not differentiable in
/// it; the gradient is the right derivative (a small positive friction's saturated row), which
/// an optimizer starting from a frictionless joint needs. Checked against one-sided differences
/// (Richardson-extrapolated, O(eps^2)) over 100 steps, on every dof and tendon without friction.
#[test]
fn frictionloss_gradient_at_zero_is_the_right_derivative() {
    for (model, seed) in [
        (chain(Integrator::ImplicitFast), 8),
        (tendon_chain(Integrator::Euler), 9),
    ] {
        let s0 = moving_state(&model, seed, 0);
        let steps = 100;
        let params = model.params0.clone();
        let g = final_loss(&model, &params, &s0, steps, true).1.unwrap();
        let mut rng = Rng(seed + 50);
        let mut dir = params_zeros(&model);
        let mut n = 0;
        for d in 0..model.nv {
            if params.dof_frictionloss[d] == 0.0 {
                dir.dof_frictionloss[d] = 0.5 + 0.5 * rng.next().abs();
                n += 1;
            }
        }
        for t in 0..model.tendons.len() {
            if params.tendon_frictionloss[t] == 0.0 {
                dir.tendon_frictionloss[t] = 0.5 + 0.5 * rng.next().abs();
                n += 1;
            }
        }
        assert!(n > 0, "the model has frictionless dofs or tendons");
        let eval = |s: f64| final_loss(&model, &params_axpy(&params, s, &dir), &s0, steps, false).0;
        let eps = 1e-6;
        let f0 = eval(0.0);
        let d1 = (eval(eps) - f0) / eps;
        let d2 = (eval(2.0 * eps) - f0) / (2.0 * eps);
        let fd = (4.0 * d1 - d2) / 3.0;
        let an = params_dot(&dir, &g.params);
        let err = (fd - an).abs() / fd.abs().max(an.abs()).max(1e-12);
        println!(
            "{n} frictionless dofs/tendons: one-sided fd {fd:.10e} adjoint {an:.10e} rel {err:.1e}"
        );
        assert!(an.abs() > 1e-3, "the right derivative is not zero: {an:e}");
        assert!(err < 1e-5, "relative error {err:.2e}");
    }
}

/// The tendon control channels (a force, a PD law on the length and a velocity law along the
/// tendon, MuJoCo's actuators on tendons): one step's reverse against central differences in
/// the targets, the tendon gains and the force range, with a dof channel in each mode beside
/// them, under both integrators, clamped and not.
#[test]
fn tendon_channels_reverse_matches_central_differences() {
    use kinegrad::CtrlMode;
    for (integrator, spatial) in [
        (Integrator::Euler, false),
        (Integrator::ImplicitFast, false),
        (Integrator::Euler, true),
        (Integrator::ImplicitFast, true),
    ] {
        let model = if spatial {
            spatial_chain(integrator)
        } else {
            tendon_chain(integrator)
        };
        let (nv, nt) = (model.nv, model.tendons.len());
        assert_eq!(model.nu(), nv + nt);
        for (seed, clamp) in [(11, false), (12, true)] {
            let s = moving_state(&model, seed, 10);
            let mut rng = Rng(seed + 200);
            let mut params = model.params0.clone();
            let mut control = Control::new(&model);
            for ch in 0..model.nu() {
                control.mode[ch] =
                    [CtrlMode::Force, CtrlMode::Position, CtrlMode::Velocity][ch % 3];
                control.target[ch] = 0.1 * rng.next();
            }
            // both tendons in a PD or velocity mode
            control.mode[nv] = CtrlMode::Position;
            control.mode[nv + 1] = CtrlMode::Velocity;
            for t in 0..nt {
                params.tendon_kp[t] = 20.0 + 5.0 * rng.next();
                params.tendon_kv[t] = 1.0 + 0.5 * rng.next();
                // clamped: a range well inside the law's force
                params.tendon_force_range[t] = if clamp { [-1e-3, 1e-3] } else { [-1e3, 1e3] };
            }
            for d in 0..nv {
                params.dof_kp[d] = 5.0;
                params.dof_kv[d] = 0.5;
            }
            let mut dp = params_zeros(&model);
            for t in 0..nt {
                dp.tendon_kp[t] = rng.next();
                dp.tendon_kv[t] = rng.next();
                dp.tendon_force_range[t] = [rng.next(), rng.next()];
            }
            let mut g = StepGrad::zeros(&model);
            let (yq, yv) = (rng.vec(model.nq), rng.vec(model.nv));
            step_vjp(
                &model,
                &params,
                &s,
                &control,
                &StepCarry::new(&model),
                &mut Data::new(&model),
                &mut VjpScratch::new(&model),
                &yq,
                &yv,
                &[],
                &mut g,
            )
            .unwrap();
            let mut dt = vec![0.0; model.nu()];
            for x in &mut dt[nv..] {
                *x = rng.next();
            }
            let zero_t = vec![0.0; model.nu()];
            for (name, target, p) in [
                ("tendon targets", dt, params_zeros(&model)),
                ("tendon gains, range", zero_t, dp),
            ] {
                let dir = StepDirection {
                    q: vec![0.0; model.nq],
                    v: vec![0.0; model.nv],
                    target,
                    params: p,
                };
                let (dq, dv) = step_jvp_fd(&model, &params, &s, &control, &dir, 1e-7).unwrap();
                let lhs: f64 = dq.iter().zip(&yq).map(|(a, b)| a * b).sum::<f64>()
                    + dv.iter().zip(&yv).map(|(a, b)| a * b).sum::<f64>();
                let rhs = dir.dot(&g);
                let err = (lhs - rhs).abs() / lhs.abs().max(rhs.abs()).max(1e-12);
                println!("{integrator:?} clamp {clamp} {name}: fd {lhs:.10e} adjoint {rhs:.10e} rel {err:.1e}");
                if clamp && name == "tendon targets" {
                    // a clamped channel's force is its bound: the target has no effect
                    assert_eq!(rhs, 0.0, "{name}: a clamped target has no gradient");
                } else {
                    assert!(lhs.abs() > 1e-8, "{name}: the direction moves the step");
                }
                assert!(err < 1e-6, "{integrator:?} clamp {clamp} {name}: {err:.2e}");
            }
        }
    }
}

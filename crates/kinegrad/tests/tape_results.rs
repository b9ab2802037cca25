//! The reverse pass over a tape that recorded each step's forward results (contacts and
//! solutions: `Tape::record_result`) equals the reverse pass that recomputes every step in full,
//! and checkpointed tapes (stride > 1) equal both; with and without substeps, on a scene with
//! contacts (box-plane, sphere-plane, box-box), joint limits and every control mode. One
//! gradient of the recorded path is also checked against central finite differences.

mod common;

use common::{controls, scene, start};
use kinegrad::adjoint::rollout::{Tape, TapeGrad};
use kinegrad::model::Params;
use kinegrad::pipeline::StepLog;
use kinegrad::{pipeline, Control, Data, Interrupt, Model, State, StepCarry};

/// One step keeping its substeps in `log` (the results a tape records).
fn logged_step(
    model: &Model,
    params: &Params,
    s: &mut State,
    c: &Control,
    carry: &mut StepCarry,
    data: &mut Data,
    log: &mut StepLog,
) {
    let never = Interrupt::never();
    pipeline::step_interruptible(model, params, s, c, carry, data, never, Some(log)).unwrap();
}

struct Run {
    grad: TapeGrad,
    targets: Vec<Vec<f64>>,
}

/// Record `controls` from `init` on a tape of `stride` (with or without the step results),
/// then its reverse pass for the loss sum_i w_q q_i + 0.3 |v|^2 on the final state and
/// 0.1 sum_i q_i on every state after a step.
fn run(
    model: &Model,
    params: &Params,
    init: &State,
    controls: &[Control],
    stride: usize,
    results: bool,
) -> (Run, Tape) {
    let mut data = Data::new(model);
    let (mut carry, mut log) = (StepCarry::new(model), StepLog::new(model));
    let mut tape = Tape::new(params.clone(), stride);
    let mut s = init.clone();
    let mut finals = s.clone();
    for c in controls {
        tape.record(&s, c, &carry);
        logged_step(model, params, &mut s, c, &mut carry, &mut data, &mut log);
        if results {
            tape.record_result(&data, &log);
        }
        finals.clone_from(&s);
    }
    assert_eq!(tape.has_results(), results && stride == 1);
    let t_end = controls.len();
    let mut targets = vec![vec![0.0; model.nv]; t_end];
    let grad = tape
        .vjp(
            model,
            &mut Data::new(model),
            None,
            None,
            |t, qb, vb| {
                qb.iter_mut().for_each(|x| *x = 0.1);
                if t + 1 == t_end {
                    for (i, x) in qb.iter_mut().enumerate() {
                        *x += 1.0 + 0.1 * i as f64;
                    }
                    vb.iter_mut().zip(&finals.v).for_each(|(b, v)| *b = 0.6 * v);
                }
            },
            |t, g| targets[t].copy_from_slice(g),
        )
        .unwrap();
    (Run { grad, targets }, tape)
}

fn flat(r: &Run) -> Vec<f64> {
    let p = &r.grad.params;
    let mut out = r.grad.q0.clone();
    out.extend(&r.grad.v0);
    out.extend(r.targets.iter().flatten());
    out.extend([p.gravity.x, p.gravity.y, p.gravity.z]);
    out.extend(&p.body_mass);
    out.extend(p.body_ipos.iter().flat_map(|x| x.iter().copied()));
    out.extend(p.body_inertia.iter().flat_map(|x| x.iter().copied()));
    out.extend(&p.dof_damping);
    out.extend(&p.dof_armature);
    out.extend(&p.dof_kp);
    out.extend(&p.dof_kv);
    out.extend(p.dof_force_range.iter().flatten());
    out.extend(&p.dof_stiffness);
    out.extend(p.geom_friction.iter().flatten());
    out
}

/// Largest difference between `a` and `b` relative to the largest entry of `b`.
fn rel_diff(a: &Run, b: &Run) -> f64 {
    let (x, y) = (flat(a), flat(b));
    assert_eq!(x.len(), y.len());
    let scale = y.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(scale > 0.0 && scale.is_finite());
    x.iter()
        .zip(&y)
        .fold(0.0f64, |m, (p, q)| m.max((p - q).abs()))
        / scale
}

/// The scene's trajectory has what the test needs: contacts, active limits, Newton steps.
fn check_scene(model: &Model, init: &State, controls: &[Control]) {
    let mut data = Data::new(model);
    let mut carry = StepCarry::new(model);
    let mut s = init.clone();
    let (mut contacts, mut limits, mut iters) = (0usize, 0usize, 0usize);
    for c in controls {
        pipeline::step(model, &model.params0, &mut s, c, &mut carry, &mut data).unwrap();
        contacts += data.contacts.len();
        limits += data
            .efc_kind
            .iter()
            .zip(&data.efc_active)
            .filter(|(k, a)| matches!(k, kinegrad::data::RowKind::Limit(_)) && **a)
            .count();
        iters += data.solver_niter;
    }
    let t = controls.len();
    assert!(contacts >= 8 * t, "{contacts} contacts in {t} steps");
    assert!(limits >= t / 4, "{limits} active limit rows in {t} steps");
    assert!(iters >= t, "{iters} Newton iterations in {t} steps");
}

#[test]
fn recorded_results_give_the_same_gradient() {
    for substeps in [1, 3] {
        let model = scene(substeps);
        let init = start(&model);
        let controls = controls(&model, 80);
        check_scene(&model, &init, &controls);
        let p = &model.params0;
        let (full, bare) = run(&model, p, &init, &controls, 1, false);
        let (rec, tape) = run(&model, p, &init, &controls, 1, true);
        let err = rel_diff(&rec, &full);
        println!(
            "substeps {substeps}: recorded vs recomputed {err:.1e}; tape {} bytes with results, {} without ({} bytes per contact)",
            tape.nbytes(),
            bare.nbytes(),
            std::mem::size_of::<kinegrad::pipeline::ContactRecord>()
        );
        assert!(
            err < 1e-10,
            "substeps {substeps}: relative difference {err:.2e}"
        );
        assert!(tape.nbytes() > bare.nbytes());
    }
}

#[test]
fn checkpointed_tapes_give_the_same_gradient() {
    for substeps in [1, 3] {
        let model = scene(substeps);
        let init = start(&model);
        let controls = controls(&model, 80);
        let p = &model.params0;
        let (full, _) = run(&model, p, &init, &controls, 1, false);
        for stride in [2, 7, 80, 200] {
            for results in [false, true] {
                // stride > 1 records no results: the segments keep those of their recomputed steps
                let (r, tape) = run(&model, p, &init, &controls, stride, results);
                assert!(!tape.has_results());
                let err = rel_diff(&r, &full);
                println!("substeps {substeps} stride {stride}: {err:.1e}");
                assert!(
                    err < 1e-10,
                    "substeps {substeps} stride {stride}: relative difference {err:.2e}"
                );
            }
        }
    }
}

#[test]
fn tape_results_follow_pops_and_gaps() {
    let model = scene(1);
    let init = start(&model);
    let controls = controls(&model, 20);
    let p = &model.params0;
    let mut data = Data::new(&model);
    let mut carry = StepCarry::new(&model);
    let no_log = StepLog::default(); // one substep per step
                                     // a failed step is popped with its (absent) result; the results stay aligned
    let mut tape = Tape::new(p.clone(), 1);
    let mut s = init.clone();
    for c in &controls {
        tape.record(&s, c, &carry);
        tape.pop();
        tape.record(&s, c, &carry);
        pipeline::step(&model, p, &mut s, c, &mut carry, &mut data).unwrap();
        tape.record_result(&data, &no_log);
        // a popped step drops its result
        tape.record(&s, c, &carry);
        tape.pop();
    }
    assert!(tape.has_results() && tape.len() == controls.len());
    let seed = |t: usize, qb: &mut [f64], _: &mut [f64]| {
        qb.iter_mut().for_each(|x| *x = 0.1);
        if t + 1 == controls.len() {
            qb.iter_mut()
                .enumerate()
                .for_each(|(i, x)| *x += 1.0 + 0.1 * i as f64);
        }
    };
    let g = tape
        .vjp(&model, &mut data, None, None, seed, |_, _| {})
        .unwrap();
    // a result recorded twice for one step leaves the tape without results
    let mut twice = tape.clone();
    twice.record_result(&data, &no_log);
    assert!(!twice.has_results());
    let g2 = twice
        .vjp(&model, &mut data, None, None, seed, |_, _| {})
        .unwrap();
    let d =
        g.q0.iter()
            .chain(&g.v0)
            .zip(g2.q0.iter().chain(&g2.v0))
            .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    let scale = g2
        .q0
        .iter()
        .chain(&g2.v0)
        .fold(0.0f64, |m, x| m.max(x.abs()));
    assert!(d <= 1e-10 * scale, "difference {d:.2e} (scale {scale:.2e})");
}

#[test]
fn recorded_path_matches_finite_differences() {
    // d(loss)/d(initial velocity, friction, mass) through 60 contact-rich steps, recorded path
    let model = scene(1);
    let init = start(&model);
    let controls = controls(&model, 60);
    let p = model.params0.clone();
    let (r, _) = run(&model, &p, &init, &controls, 1, true);
    let loss = |p: &Params, s0: &State| {
        let mut data = Data::new(&model);
        let mut carry = StepCarry::new(&model);
        let mut s = s0.clone();
        let mut l = 0.0;
        for c in &controls {
            pipeline::step(&model, p, &mut s, c, &mut carry, &mut data).unwrap();
            l += 0.1 * s.q.iter().sum::<f64>();
        }
        l + s
            .q
            .iter()
            .enumerate()
            .map(|(i, q)| (1.0 + 0.1 * i as f64) * q)
            .sum::<f64>()
            + 0.3 * s.v.iter().map(|x| x * x).sum::<f64>()
    };
    let eps = 1e-6;
    let check = |name: &str, fd: f64, an: f64| {
        let err = (fd - an).abs() / fd.abs().max(an.abs()).max(1e-12);
        println!("{name}: fd {fd:.10e} adjoint {an:.10e} rel {err:.1e}");
        assert!(err < 1e-5, "{name}: relative error {err:.2e}");
    };
    // initial velocity of the sliding box and of the ball
    for (i, k) in [(0usize, 0usize), (1, 7)] {
        let (mut a, mut b) = (init.clone(), init.clone());
        a.v[k] += eps;
        b.v[k] -= eps;
        let fd = (loss(&p, &a) - loss(&p, &b)) / (2.0 * eps);
        check(&format!("v0[{k}] ({i})"), fd, r.grad.v0[k]);
    }
    // the floor's friction (the larger coefficient of every floor contact)
    let (mut a, mut b) = (p.clone(), p.clone());
    a.geom_friction[0][0] += eps;
    b.geom_friction[0][0] -= eps;
    let fd = (loss(&a, &init) - loss(&b, &init)) / (2.0 * eps);
    check("floor friction", fd, r.grad.params.geom_friction[0][0]);
    // mass of the lower box
    let (mut a, mut b) = (p.clone(), p.clone());
    a.body_mass[2] += eps;
    b.body_mass[2] -= eps;
    let fd = (loss(&a, &init) - loss(&b, &init)) / (2.0 * eps);
    check("box mass", fd, r.grad.params.body_mass[2]);
}

#[test]
fn replayed_substep_equals_the_forward_pass() {
    use kinegrad::pipeline::{ContactRecord, Replay};
    for substeps in [1, 3] {
        let model = scene(substeps);
        let p = &model.params0;
        let h = model.opt.timestep / substeps as f64;
        let mut s = start(&model);
        let mut data = Data::new(&model);
        let mut carry = StepCarry::new(&model);
        let mut replayed = Data::new(&model);
        let (mut solved, mut rows, mut split) = (0, 0, 0);
        for c in &controls(&model, 60) {
            for _ in 0..substeps {
                let s0 = s.clone();
                pipeline::forward(&model, p, &s, c, &mut carry, &mut data, h).unwrap();
                let (qacc, contacts) = (data.qacc.clone(), data.contacts.clone());
                let records: Vec<ContactRecord> = contacts.iter().map(ContactRecord::of).collect();
                let replay = Replay {
                    qacc: &qacc,
                    contacts: &records,
                    residual: data.solver_residual,
                };
                pipeline::forward_replay(&model, p, &s0, c, 0, &mut replayed, h, replay).unwrap();
                solved += usize::from(data.solver_niter > 1);
                rows += data.nefc;
                // what the reverse pass reads is the forward pass's, bit for bit
                assert_eq!(replayed.solver_niter, 0);
                assert_eq!(replayed.solver_residual, data.solver_residual);
                assert_eq!(replayed.contacts, data.contacts);
                assert_eq!(replayed.qacc, data.qacc);
                assert!(
                    replayed.hess == data.hess,
                    "the replayed Hessian factor differs"
                );
                for f in [
                    |d: &Data| d.efc_j.clone(),
                    |d: &Data| d.efc_aref.clone(),
                    |d: &Data| d.efc_d.clone(),
                    |d: &Data| d.efc_force.clone(),
                    |d: &Data| d.qfrc_constraint.clone(),
                    |d: &Data| d.qfrc_actuator.clone(),
                    |d: &Data| d.qm_h.clone(),
                    |d: &Data| d.qm_h_ldl.clone(),
                    |d: &Data| d.qacc_int.clone(),
                ] {
                    assert_eq!(f(&replayed), f(&data));
                }
                assert_eq!(replayed.implicit_active, data.implicit_active);
                assert_eq!(replayed.implicit_split, data.implicit_split);
                assert_eq!(replayed.efc_active, data.efc_active);
                assert_eq!(replayed.efc_kind, data.efc_kind);
                assert_eq!(replayed.actuator_clamped, data.actuator_clamped);
                assert_eq!(replayed.cdof, data.cdof);
                assert_eq!(replayed.cvel, data.cvel);
                assert_eq!(replayed.xpos, data.xpos);
                for con in &contacts {
                    for g in [con.geom1, con.geom2] {
                        assert_eq!(replayed.geom_xpos[g], data.geom_xpos[g]);
                        assert_eq!(replayed.geom_xmat[g], data.geom_xmat[g]);
                    }
                }
                split += usize::from(data.implicit_split);
                kinegrad::integrator::integrate_vel(&mut s.v, &data.qacc_int, h);
                kinegrad::integrator::integrate_pos(&model, &mut s.q, &s.v, h);
            }
        }
        assert!(
            split > 30 * substeps,
            "{split} substeps under MuJoCo's implicit split"
        );
        assert!(
            solved > 30 * substeps,
            "{solved} substeps needed Newton iterations"
        );
        assert!(rows > 500 * substeps, "{rows} rows");
    }
}

/// The reverse pass recomputes steps from what the tape holds (each checkpoint's state and
/// solver warm start), never from what its scratch `Data` held before: scratch shared between
/// envs and threads gives the same gradient, bit for bit, as a fresh one.
#[test]
fn reverse_pass_does_not_depend_on_the_scratch_history() {
    for (substeps, stride) in [(1, 1), (1, 7), (3, 1), (3, 7)] {
        let model = scene(substeps);
        let init = start(&model);
        let controls = controls(&model, 40);
        let p = &model.params0;
        // no results recorded: every step's solve is recomputed
        let mut data = Data::new(&model);
        let mut carry = StepCarry::new(&model);
        let mut tape = Tape::new(p.clone(), stride);
        let mut s = init.clone();
        for c in &controls {
            tape.record(&s, c, &carry);
            pipeline::step(&model, p, &mut s, c, &mut carry, &mut data).unwrap();
        }
        let grad_in = |d: &mut Data| {
            let mut targets = vec![vec![0.0; model.nv]; controls.len()];
            let grad = tape
                .vjp(
                    &model,
                    d,
                    None,
                    None,
                    |_, qb, vb| {
                        qb.iter_mut().for_each(|x| *x = 0.1);
                        vb.iter_mut().for_each(|x| *x = -0.2);
                    },
                    |t, g| targets[t].copy_from_slice(g),
                )
                .unwrap();
            flat(&Run { grad, targets })
        };
        let fresh = grad_in(&mut Data::new(&model));
        // scratch in which another trajectory ran last (its contacts, rows and solution; its
        // warm start is its own carry's, which the scratch does not hold)
        let mut used = Data::new(&model);
        let mut other = init.clone();
        let mut other_carry = StepCarry::new(&model);
        other.v.iter_mut().for_each(|x| *x *= -1.5);
        for c in controls.iter().rev().take(5) {
            pipeline::step(&model, p, &mut other, c, &mut other_carry, &mut used).unwrap();
        }
        assert!(used.nefc > 0 && used.qacc.iter().any(|x| *x != 0.0));
        assert_eq!(grad_in(&mut used), fresh, "stride {stride}");
        assert_eq!(
            grad_in(&mut data),
            fresh,
            "stride {stride}: the recording's own data"
        );
    }
}

//! Batched stepping (`batch::step_all_n`): envs stepped in the scratch of whichever thread runs
//! them step exactly as if each had its own `Data`: the same states, warm starts, step counts
//! and contacts, bit for bit, on pools of one and two threads, through calls of one step and of
//! several, with the controls changing between calls.

mod common;

use common::{controls, scene, start};
use kinegrad::batch::{At, StepView};
use kinegrad::constraint::ContactReport;
use kinegrad::{batch, pipeline, Control, Data, Env, Interrupt, Model, State, StepCarry, Workers};

const N: usize = 5;
/// Steps per call, in turn.
const CALLS: [usize; 6] = [1, 3, 1, 1, 7, 2];

/// Env i's start: the scene's, slid a little differently per env.
fn start_of(model: &Model, i: usize) -> State {
    let mut s = start(model);
    s.v[0] += 0.15 * i as f64;
    s.v[7] -= 0.1 * i as f64;
    s
}

/// N envs at their starts.
fn envs_of(model: &Model) -> Vec<Env> {
    (0..N)
        .map(|i| {
            let mut e = Env::new(model);
            e.state = start_of(model, i);
            e
        })
        .collect()
}

/// The control of call k for env i.
fn control_of(all: &[Control], k: usize, i: usize) -> Control {
    all[(3 * k + i) % all.len()].clone()
}

#[test]
fn batched_envs_step_as_if_each_had_its_own_data() {
    for substeps in [1, 3] {
        let model = scene(substeps);
        let all = controls(&model, 40);
        // reference: env by env, each in its own Data
        let reference: Vec<(State, StepCarry, Data)> = (0..N)
            .map(|i| {
                let (mut s, mut d) = (start_of(&model, i), Data::new(&model));
                let mut carry = StepCarry::new(&model);
                for (k, &steps) in CALLS.iter().enumerate() {
                    let c = control_of(&all, k, i);
                    for _ in 0..steps {
                        pipeline::step(&model, &model.params0, &mut s, &c, &mut carry, &mut d)
                            .unwrap();
                    }
                }
                (s, carry, d)
            })
            .collect();
        assert!(reference.iter().all(|(_, _, d)| !d.contacts.is_empty()));
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let envs = pool.install(|| {
                let workers = Workers::new();
                let mut envs = envs_of(&model);
                for (k, &steps) in CALLS.iter().enumerate() {
                    for (i, e) in envs.iter_mut().enumerate() {
                        e.control = control_of(&all, k, i);
                    }
                    batch::step_all_n(&model, &mut envs, &workers, steps).unwrap();
                }
                envs
            });
            for (i, (e, (s, carry, d))) in envs.iter().zip(&reference).enumerate() {
                let at = format!("substeps {substeps}, {threads} threads, env {i}");
                assert_eq!(e.state.q, s.q, "{at}: q");
                assert_eq!(e.state.v, s.v, "{at}: v");
                assert_eq!(e.state.time, s.time, "{at}: time");
                assert_eq!(
                    e.carry.step.qacc_warmstart, carry.qacc_warmstart,
                    "{at}: warm start"
                );
                assert_eq!(e.carry.step.nstep, carry.nstep, "{at}: step count");
                let contacts: Vec<ContactReport> = (0..d.contacts.len())
                    .map(|c| ContactReport::of(d, c))
                    .collect();
                assert_eq!(e.carry.contacts, contacts, "{at}: contacts");
            }
        }
    }
}

#[test]
fn a_failing_env_keeps_its_state_and_is_named() {
    let model = scene(1);
    let workers = Workers::new();
    let mut envs = envs_of(&model);
    // every env a few steps in, so that each has contacts and a warm start of its own
    batch::step_all_n(&model, &mut envs, &workers, 3).unwrap();
    assert!(envs.iter().all(|e| !e.carry.contacts.is_empty()));
    envs[3].control.target[0] = f64::NAN;
    let before = envs[3].clone();
    let err = batch::step_all_n(&model, &mut envs, &workers, 4).unwrap_err();
    assert!(err.to_string().contains("env 3"), "{err}");
    // failing at its first step, env 3 is as before the call: state, warm start and contacts
    // (not those of whichever env used the scratch last)
    let e = &envs[3];
    assert_eq!(e.state.q, before.state.q);
    assert_eq!(e.state.v, before.state.v);
    assert_eq!(
        e.carry.step.qacc_warmstart,
        before.carry.step.qacc_warmstart
    );
    assert_eq!(e.carry.contacts, before.carry.contacts);
    // the others ran all their steps
    let mut s = start_of(&model, 0);
    let mut d = Data::new(&model);
    let mut carry = StepCarry::new(&model);
    for _ in 0..7 {
        let c = &envs[0].control;
        pipeline::step(&model, &model.params0, &mut s, c, &mut carry, &mut d).unwrap();
    }
    assert_eq!(envs[0].state.q, s.q);
}

#[test]
fn a_step_failing_after_good_ones_leaves_the_state_before_it_and_no_stale_contacts() {
    let model = scene(1);
    let mut data = Data::new(&model);
    let mut e = envs_of(&model).remove(0);
    e.step_n(&model, &mut data, 3).unwrap();
    let mut reference = e.clone();
    reference.step_n(&model, &mut data, 2).unwrap();
    // steps 0 and 1 as the reference's, step 2 fails (a NaN target set before it)
    let nan_at_2 = |t: usize, at: At, c: &mut Control, _: &State, _: &StepView| {
        if t == 2 && at == At::Before {
            c.target[0] = f64::NAN;
        }
    };
    let (t, err) = e
        .step_with(&model, &mut data, 4, Interrupt::never(), None, nan_at_2)
        .unwrap_err();
    assert_eq!(t, 2, "{err}");
    assert_eq!(e.state.q, reference.state.q);
    assert_eq!(e.state.v, reference.state.v);
    // the contacts of step 1 are gone with the scratch; none are reported rather than step 2's
    assert!(e.carry.contacts.is_empty());
}

#[test]
fn scratch_taken_already_is_not_waited_for() {
    // a call nested in one that holds this thread's scratch gets scratch of its own
    let model = scene(1);
    let workers = Workers::new();
    let inner = workers.with(&model, |outer| {
        outer.solver_niter = 7;
        workers.with(&model, |inner| inner.solver_niter)
    });
    assert_eq!(inner, 0);
    assert_eq!(workers.with(&model, |d| d.solver_niter), 7);
}

#[test]
fn scratch_left_by_a_panic_is_made_afresh() {
    // a panic mid-step may leave buffers taken out of the scratch; the next user gets new scratch
    let model = scene(1);
    let workers = Workers::new();
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        workers.with(&model, |d| {
            d.solver_niter = 7;
            d.qfrc_bias.clear(); // as a step interrupted with a buffer taken out would leave it
            panic!("mid-step")
        })
    }));
    assert!(panicked.is_err());
    let (niter, nbias) = workers.with(&model, |d| (d.solver_niter, d.qfrc_bias.len()));
    assert_eq!((niter, nbias), (0, model.nv));
    let mut e = envs_of(&model).remove(0);
    workers.with(&model, |d| e.step_n(&model, d, 2)).unwrap();
}

/// Which pool thread took each of `n` items, thread 1 taking `slow` per item and thread 0 no
/// time: a core much slower than the other.
fn takers(n: usize, slow: std::time::Duration) -> Vec<usize> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let mut items = vec![usize::MAX; n];
    pool.install(|| {
        use rayon::prelude::*;
        batch::par_iter_mut(&mut items).for_each(|taker| {
            *taker = rayon::current_thread_index().unwrap();
            if *taker == 1 {
                std::thread::sleep(slow);
            }
        })
    });
    items
}

#[test]
fn a_slow_core_leaves_its_work_to_the_fast_one() {
    // Rayon's default splitting gives each thread pieces of a quarter of the items, which no
    // other thread can take once started: the slow thread then takes a whole piece, 16 of these
    // 64 items (as it did before pieces were bounded), and the call lasts 16 of its items. In
    // pieces of one item the fast thread takes everything but the item the slow one is on (and
    // any the slow one started before the fast one woke).
    let n = 64;
    for _ in 0..3 {
        let takers = takers(n, std::time::Duration::from_millis(20));
        let slow = takers.iter().filter(|&&k| k == 1).count();
        assert!(
            takers.iter().all(|&k| k < 2),
            "every item taken once: {takers:?}"
        );
        assert!(
            slow <= 4,
            "the slow thread took {slow} of {n} items: {takers:?}"
        );
    }
    // pieces of at most 1/64 of a thread's share, never empty
    let p = |threads, n| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| batch::piece_len(n))
    };
    assert_eq!(
        (p(2, 1024), p(2, 1), p(2, 0), p(3, 1000), p(1, 1024)),
        (8, 1, 1, 6, 16)
    );
}

#[test]
fn an_interrupt_stops_the_steps_at_a_substep_leaving_each_env_before_its_step() {
    let model = scene(4);
    let workers = Workers::new();
    let mut envs = envs_of(&model);
    batch::step_all_n(&model, &mut envs, &workers, 2).unwrap();
    let before = envs.clone();
    workers.interrupt().request();
    let err = batch::step_all_n(&model, &mut envs, &workers, 5).unwrap_err();
    assert!(matches!(err, kinegrad::Error::Interrupted { .. }), "{err}");
    for (e, b) in envs.iter().zip(&before) {
        assert_eq!(e.state.q, b.state.q);
        assert_eq!(e.state.v, b.state.v);
        assert_eq!(e.state.time, b.state.time);
    }
    // cleared, the same call runs as if nothing had happened
    workers.interrupt().clear();
    let mut reference = before.clone();
    batch::step_all_n(&model, &mut reference, &Workers::new(), 5).unwrap();
    batch::step_all_n(&model, &mut envs, &workers, 5).unwrap();
    for (e, r) in envs.iter().zip(&reference) {
        assert_eq!(e.state.q, r.state.q);
    }
}

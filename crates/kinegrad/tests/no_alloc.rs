//! The steady-state step allocates nothing: a counting global allocator around
//! `pipeline::step` on contact-rich scenes (every scratch buffer lives in `Data` and keeps its
//! capacity from one step to the next) and around batched steps of several envs in per-thread
//! scratch (`batch::step_all_n`); the reverse pass over a tape allocates per call, not per
//! step. One test per binary: the counter is global.

mod common;

use kinegrad::adjoint::rollout::Tape;
use kinegrad::math::{Mat3, Pose, Vec3};
use kinegrad::model::builder::BaseMode;
use kinegrad::model::{mjcf, primitives, Integrator, ModelBuilder};
use kinegrad::pipeline::StepLog;
use kinegrad::{
    batch, pipeline, Control, CtrlMode, Data, Env, Interrupt, Model, State, StepCarry, Workers,
};
use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by `steps` steps after `warm` warm-up steps, and the contacts at the end.
fn count(model: &Model, s: &mut State, c: &Control, warm: usize, steps: usize) -> (usize, usize) {
    let mut d = Data::new(model);
    let mut carry = StepCarry::new(model);
    for _ in 0..warm {
        pipeline::step(model, &model.params0, s, c, &mut carry, &mut d).unwrap();
    }
    let before = ALLOCS.load(Ordering::Relaxed);
    for _ in 0..steps {
        pipeline::step(model, &model.params0, s, c, &mut carry, &mut d).unwrap();
    }
    (ALLOCS.load(Ordering::Relaxed) - before, d.contacts.len())
}

/// Allocations made by 50 batched calls of 2 steps each over 4 envs from `s` (on a rayon
/// pool of 2 threads, each env in the scratch of the thread running it), after 400 warm-up
/// calls: the pool's threads are new, and their EPA buffers (thread-local) grow to the deepest
/// polytope the scene needs within the first few hundred steps. The calls are made from inside
/// the pool: a call from outside injects a job into rayon's global queue, which allocates a
/// block of queue every 63 jobs.
fn batch_allocs(model: &Model, s: &State, c: &Control) -> usize {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    pool.install(|| batch_allocs_in_pool(model, s, c))
}

fn batch_allocs_in_pool(model: &Model, s: &State, c: &Control) -> usize {
    let workers = Workers::new();
    let mut envs: Vec<Env> = (0..4)
        .map(|_| {
            let mut e = Env::new(model);
            e.state.clone_from(s);
            e.control.clone_from(c);
            e
        })
        .collect();
    for _ in 0..400 {
        batch::step_all_n(model, &mut envs, &workers, 2).unwrap();
    }
    let before = ALLOCS.load(Ordering::Relaxed);
    for _ in 0..50 {
        batch::step_all_n(model, &mut envs, &workers, 2).unwrap();
    }
    let n = ALLOCS.load(Ordering::Relaxed) - before;
    assert!(envs.iter().all(|e| !e.carry.contacts.is_empty()));
    n
}

/// One step from `s` keeping its substeps in `log`.
fn logged_step(
    model: &Model,
    s: &mut State,
    c: &Control,
    carry: &mut StepCarry,
    d: &mut Data,
    log: &mut StepLog,
) {
    let never = Interrupt::never();
    pipeline::step_interruptible(model, &model.params0, s, c, carry, d, never, Some(log)).unwrap();
}

/// Allocations made while recording 100 steps on a tape with room reserved for them: only the
/// recorded contacts' growth may allocate (amortized doubling), never each step.
fn record_allocs(model: &Model, s: &mut State, c: &Control) -> usize {
    let mut d = Data::new(model);
    let mut carry = StepCarry::new(model);
    let mut log = StepLog::new(model);
    logged_step(model, s, c, &mut carry, &mut d, &mut log);
    let mut tape = Tape::new(model.params0.clone(), 1);
    tape.reserve(100, model);
    let before = ALLOCS.load(Ordering::Relaxed);
    for _ in 0..100 {
        tape.record_state(s, &carry);
        logged_step(model, s, c, &mut carry, &mut d, &mut log);
        tape.record_result(&d, &log);
    }
    let n = ALLOCS.load(Ordering::Relaxed) - before;
    assert!(tape.has_results() || model.opt.integrator == Integrator::RK4);
    n
}

/// Allocations of a second reverse pass over tapes of 100 and of 10 recorded steps from `s`
/// (the first pass makes the buffers).
fn vjp_allocs(model: &Model, s: &mut State, c: &Control) -> (usize, usize) {
    let mut d = Data::new(model);
    let mut carry = StepCarry::new(model);
    let mut log = StepLog::new(model);
    let mut record = |steps: usize, s: &mut State, d: &mut Data| {
        let mut tape = Tape::new(model.params0.clone(), 1);
        for _ in 0..steps {
            tape.record(s, c, &carry);
            logged_step(model, s, c, &mut carry, d, &mut log);
            tape.record_result(d, &log);
        }
        // (Runge-Kutta 4 keeps no results: its reverse recomputes the stages)
        assert!(tape.has_results() || model.opt.integrator == Integrator::RK4);
        tape
    };
    let long = record(100, s, &mut d);
    let short = record(10, s, &mut d);
    let vjp = |tape: &Tape, d: &mut Data| {
        let before = ALLOCS.load(Ordering::Relaxed);
        tape.vjp(
            model,
            d,
            None,
            None,
            |_, qb, _| qb.iter_mut().for_each(|x| *x = 1.0),
            |_, _| {},
        )
        .unwrap();
        ALLOCS.load(Ordering::Relaxed) - before
    };
    vjp(&long, &mut d);
    (vjp(&long, &mut d), vjp(&short, &mut d))
}

fn at(x: f64, y: f64, z: f64, tilt: f64) -> Pose {
    let rot = nalgebra::Rotation3::from_euler_angles(tilt, 0.5 * tilt, 0.0);
    Pose {
        pos: Vec3::new(x, y, z),
        rot: Mat3::from(rot),
    }
}

#[test]
fn steady_state_steps_do_not_allocate() {
    // primitives resting on a plane and on each other: analytic pairs, box-box clipping,
    // and GJK/EPA (cylinder-box, capsule-cylinder)
    for (substeps, integrator) in [
        (1, Integrator::ImplicitFast),
        (2, Integrator::ImplicitFast),
        (1, Integrator::RK4),
    ] {
        let mut b = ModelBuilder::new();
        b.options.timestep = 0.005;
        b.options.substeps = substeps;
        b.options.integrator = integrator;
        b.add_entity(
            primitives::plane(Vec3::z()),
            Pose::identity(),
            BaseMode::Fixed,
        );
        let rho = 500.0;
        let bodies = [
            (
                primitives::box_(Vec3::new(0.2, 0.2, 0.2), rho),
                at(0.0, 0.0, 0.1, 0.0),
            ),
            (
                primitives::box_(Vec3::new(0.1, 0.1, 0.1), rho),
                at(0.02, 0.0, 0.26, 0.3),
            ),
            (primitives::sphere(0.05, rho), at(0.5, 0.0, 0.05, 0.0)),
            (
                primitives::cylinder(0.05, 0.1, rho),
                at(-0.4, 0.0, 0.05, 0.0),
            ),
            (
                primitives::cylinder(0.04, 0.1, rho),
                at(-0.4, 0.0, 0.2, 1.2),
            ),
            (
                primitives::capsule(0.03, 0.1, rho),
                at(0.0, 0.5, 0.03, 1.57),
            ),
        ];
        for (e, p) in bodies {
            b.add_entity(e, p, BaseMode::Free);
        }
        let model = b.build().unwrap();
        let mut s = State::new(&model);
        let c = Control::new(&model);
        let (n, contacts) = count(&model, &mut s, &c, 200, 200);
        assert!(
            contacts >= 10,
            "expected a contact-rich scene, got {contacts} contacts"
        );
        assert_eq!(
            n, 0,
            "{n} allocations in 200 primitive-scene steps ({substeps} substeps, {integrator:?})"
        );
        if integrator != Integrator::RK4 {
            // (under RK4 the batched steps meet a first change of the contact set, 17 -> 16,
            // inside the counted window, and a few buffers grow there once: the same happens
            // under implicitfast 200 steps later; not a per-step allocation)
            let n = batch_allocs(&model, &s, &c);
            assert_eq!(
                n, 0,
                "{n} allocations in 50 batched calls over 4 envs ({substeps} substeps)"
            );
        }
        let (n100, n10) = vjp_allocs(&model, &mut s, &c);
        assert_eq!(
            n100, n10,
            "reverse pass: {n100} allocations for 100 steps, {n10} for 10"
        );
        // >= 10 contacts a step: 1000 and more recorded contacts in about 10 doublings
        let n = record_allocs(&model, &mut s, &c);
        assert!(
            n <= 12,
            "recording 100 primitive-scene steps ({substeps} substeps): {n} allocations"
        );
    }

    // a pile of 27 boxes (3 x 3 x 3, the scale benchmark's scene): rows over their non-zero
    // dofs, the sparse Newton Hessian, the mass matrix's tree pattern
    let model = common::box_pile(3, 3, 0.005, 0.0);
    let mut s = State::new(&model);
    let c = Control::new(&model);
    let (n, contacts) = count(&model, &mut s, &c, 300, 100);
    assert!(
        contacts >= 60,
        "expected a resting pile, got {contacts} contacts"
    );
    assert_eq!(n, 0, "{n} allocations in 100 steps of a 27-box pile");
    let n = batch_allocs(&model, &s, &c);
    assert_eq!(
        n, 0,
        "{n} allocations in 50 batched calls over 4 envs of a 27-box pile"
    );

    // the Menagerie Franka (convex meshes, self-collision, floor) holding a pose under PD with
    // its fingers pressed together (mesh-mesh contacts and joint limits)
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../.cache/assets/genesis/xml/franka_emika_panda/scene_no_tendon.xml");
    assert!(
        file.is_file(),
        "{} missing: run `make setup`",
        file.display()
    );
    let spec = mjcf::load(&file, 1.0).unwrap();
    let mut b = ModelBuilder::new();
    b.options.timestep = 0.002;
    b.add_entity(spec, Pose::identity(), BaseMode::AsIs);
    let model = b.build().unwrap();
    // the Menagerie "home" keyframe as written in the model file, fingers closed
    #[allow(clippy::approx_constant)]
    let home = [0.0, 0.0, 0.0, -1.57079, 0.0, 1.57079, -0.7853, 0.0, 0.0];
    let mut s = State::new(&model);
    s.q[..9].copy_from_slice(&home);
    let mut c = Control::new(&model);
    c.mode.iter_mut().for_each(|m| *m = CtrlMode::Position);
    c.target[..9].copy_from_slice(&home);
    c.target[7] = -0.01;
    c.target[8] = -0.01;
    let (n, contacts) = count(&model, &mut s, &c, 200, 200);
    assert_eq!(
        n, 0,
        "{n} allocations in 200 steady-state Franka steps ({contacts} contacts)"
    );

    // the reverse pass over a tape with recorded results allocates per call, not per step
    let (n100, n10) = vjp_allocs(&model, &mut s, &c);
    assert_eq!(
        n100, n10,
        "reverse pass, Franka: {n100} allocations over 100 steps, {n10} over 10"
    );
    let n = record_allocs(&model, &mut s, &c);
    assert!(n <= 12, "recording 100 Franka steps: {n} allocations");
}

//! Native module `kinegrad._native`: a thin binding of the kinegrad engine.
//!
//! Three classes. [`SceneBuilder`] collects options and placed entities;
//! [`Sim`] holds the built model and one [`Env`] per parallel environment;
//! [`render::Renderer`] draws a `Sim`'s model offscreen (made only when a camera renders).
//! Arrays cross the boundary as float64 numpy arrays with a leading env
//! dimension. Every engine error becomes a Python exception and every panic
//! is caught before it reaches Python (see [`guard`]). Docstrings and the
//! Genesis-style objects live in the Python package.
// `!(x > 0.0)` is used on purpose so that NaN fails argument checks.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

mod primitives;
mod render;
mod tape;

use kinegrad::adjoint::rollout::Tape;
use kinegrad::adjoint::state::normalize_quaternions_vjp;
use kinegrad::adjoint::StepGrad;
use kinegrad::batch::At;
use kinegrad::diagnostics::{self, Warning};
use kinegrad::math::{quat_from_wxyz, quat_to_wxyz, Pose, Vec3};
use kinegrad::model::builder::BaseMode;
use kinegrad::model::params::{param_field, ParamField, PARAM_FIELDS};
use kinegrad::model::{EntitySpec, GeomType, Integrator, JointType, Options};
use kinegrad::{
    batch, pipeline, Carry, Control, CtrlMode, Env, Error, Interrupt, Model, ModelBuilder, Params,
    State, Workers,
};
use numpy::ndarray::{Array2, Array3, ArrayD, IxDyn};
use numpy::{
    IntoPyArray, PyArray1, PyArray2, PyArray3, PyArrayDyn, PyReadonlyArray1, PyReadonlyArray2,
    PyReadonlyArray3, PyReadonlyArrayDyn,
};
use pyo3::exceptions::{
    PyFileNotFoundError, PyKeyboardInterrupt, PyRuntimeError, PyRuntimeWarning, PyValueError,
};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use rayon::prelude::*;
use std::collections::HashSet;
use std::ffi::CString;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::mpsc::RecvTimeoutError;
use std::sync::Arc;
use std::time::Duration;

// ---- errors ----

/// Map an engine error to the Python exception a user expects.
fn to_py_err(e: Error) -> PyErr {
    let msg = e.to_string();
    #[allow(unreachable_patterns)]
    match &e {
        Error::Load { file, .. } if !Path::new(file).exists() => PyFileNotFoundError::new_err(msg),
        Error::Load { .. } | Error::Invalid { .. } | Error::Unsupported { .. } => {
            PyValueError::new_err(msg)
        }
        // the caller names the step (scene.step (step t): ...); the core's count of substeps
        // since its scratch was made would be a second, different number
        Error::Diverged { message, .. } => {
            PyRuntimeError::new_err(format!("simulation diverged: {message}"))
        }
        Error::Interrupted { .. } => PyKeyboardInterrupt::new_err(msg),
        _ => PyRuntimeError::new_err(msg),
    }
}

/// Last line of defence: run `f`, turning a panic into a RuntimeError.
fn guard<T>(f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(PyRuntimeError::new_err(format!(
                "kinegrad internal error (panic in the engine): {what}"
            )))
        }
    }
}

/// Run `work` without the GIL, as one that Ctrl-C can stop. Short work (`long` false) just runs.
/// Long work runs on a thread of its own while the calling thread waits for it and lets
/// Python handle its signals every few milliseconds: when a handler raises (Ctrl-C's
/// KeyboardInterrupt), `interrupt` is requested, the steps stop at their next substep (each
/// leaving the state before it), and the handler's exception comes back beside the work's
/// result, for the caller to restore what the stopped work left and raise it. Signals reach
/// handlers only on Python's main thread; called from any other, this only waits.
fn interruptible<T: Send>(
    py: Python<'_>,
    interrupt: &Interrupt,
    long: bool,
    work: impl FnOnce() -> T + Send,
) -> (T, Option<PyErr>) {
    if !long {
        return (py.detach(work), None);
    }
    interrupt.clear();
    py.detach(|| {
        std::thread::scope(|s| {
            let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
            let worker = s.spawn(move || {
                let out = work();
                let _ = done_tx.send(());
                out
            });
            let mut raised = None;
            while let Err(RecvTimeoutError::Timeout) = done_rx.recv_timeout(SIGNAL_POLL) {
                if raised.is_none() {
                    if let Err(e) = Python::attach(|py| py.check_signals()) {
                        interrupt.request();
                        raised = Some(e);
                    }
                }
            }
            match worker.join() {
                Ok(out) => (out, raised),
                Err(panic) => std::panic::resume_unwind(panic), // for `guard` to report
            }
        })
    })
}

/// How often a long native call lets Python handle signals.
const SIGNAL_POLL: Duration = Duration::from_millis(5);

/// Whether a call of `steps` env-steps of `model` is long enough to run as [`interruptible`]
/// work (a thread of its own costs some 20 us; this many substeps take milliseconds).
fn is_long(model: &Model, steps: usize) -> bool {
    steps.saturating_mul(model.opt.substeps) >= 256
}

fn invalid(msg: impl Into<String>) -> PyErr {
    PyValueError::new_err(msg.into())
}

fn check_vec3(name: &str, v: [f64; 3]) -> PyResult<Vec3> {
    if v.iter().all(|x| x.is_finite()) {
        Ok(Vec3::new(v[0], v[1], v[2]))
    } else {
        Err(invalid(format!("{name}: must be finite, got {v:?}")))
    }
}

fn check_pose(pos: [f64; 3], quat: [f64; 4]) -> PyResult<Pose> {
    let p = check_vec3("pos", pos)?;
    let n = quat.iter().map(|x| x * x).sum::<f64>().sqrt();
    if !n.is_finite() || n < 1e-12 {
        return Err(invalid(format!(
            "quat: must be a finite non-zero quaternion (w, x, y, z), got {quat:?}"
        )));
    }
    Ok(Pose::from_pos_quat(p, &quat_from_wxyz(&quat)))
}

fn set_friction(spec: &mut EntitySpec, friction: Option<f64>) -> PyResult<()> {
    if let Some(mu) = friction {
        if !(mu >= 0.0) || !mu.is_finite() {
            return Err(invalid(format!(
                "friction: must be finite and >= 0, got {mu}"
            )));
        }
        for b in &mut spec.bodies {
            for g in &mut b.geoms {
                g.friction[0] = mu;
            }
        }
    }
    Ok(())
}

fn geom_type_name(t: GeomType) -> &'static str {
    match t {
        GeomType::Plane => "plane",
        GeomType::Sphere => "sphere",
        GeomType::Capsule => "capsule",
        GeomType::Box => "box",
        GeomType::Cylinder => "cylinder",
        GeomType::Mesh => "mesh",
    }
}

fn ctrl_mode_from(code: i8) -> PyResult<CtrlMode> {
    match code {
        0 => Ok(CtrlMode::Force),
        1 => Ok(CtrlMode::Position),
        2 => Ok(CtrlMode::Velocity),
        c => Err(invalid(format!(
            "mode: control modes are 0 (force), 1 (position), 2 (velocity), got {c}"
        ))),
    }
}

// ---- scene builder ----

/// Options and placed entities; `build` makes a [`Sim`].
#[pyclass(module = "kinegrad._native")]
struct SceneBuilder {
    builder: ModelBuilder,
    gravity: Vec3,
}

impl SceneBuilder {
    fn place(
        &mut self,
        spec: EntitySpec,
        pos: [f64; 3],
        quat: [f64; 4],
        base: BaseMode,
    ) -> PyResult<(usize, Vec<String>)> {
        let pose = check_pose(pos, quat)?;
        let warnings = spec.warnings.clone();
        Ok((self.builder.add_entity(spec, pose, base), warnings))
    }
}

#[pymethods]
impl SceneBuilder {
    #[new]
    #[pyo3(signature = (
        timestep=0.01, substeps=1, gravity=[0.0, 0.0, -9.81], integrator="implicitfast",
        enable_collision=true, enable_joint_limit=true, enable_self_collision=true,
        iterations=100, tolerance=1e-8, ls_iterations=50, constraint_timeconst=None, impratio=1.0
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        timestep: f64,
        substeps: usize,
        gravity: [f64; 3],
        integrator: &str,
        enable_collision: bool,
        enable_joint_limit: bool,
        enable_self_collision: bool,
        iterations: usize,
        tolerance: f64,
        ls_iterations: usize,
        constraint_timeconst: Option<f64>,
        impratio: f64,
    ) -> PyResult<Self> {
        let integrator = match integrator {
            "euler" => Integrator::Euler,
            "implicitfast" => Integrator::ImplicitFast,
            other => {
                return Err(invalid(format!(
                    "integrator: expected 'euler' or 'implicitfast', got '{other}'"
                )))
            }
        };
        if !(timestep > 0.0) || !timestep.is_finite() {
            return Err(invalid(format!(
                "dt: must be positive and finite, got {timestep}"
            )));
        }
        if substeps == 0 {
            return Err(invalid("substeps: must be at least 1"));
        }
        if iterations == 0 {
            return Err(invalid("iterations: must be at least 1"));
        }
        if ls_iterations == 0 {
            return Err(invalid("ls_iterations: must be at least 1"));
        }
        if !(tolerance > 0.0) || !tolerance.is_finite() {
            return Err(invalid(format!(
                "tolerance: must be positive and finite, got {tolerance}"
            )));
        }
        if !(impratio > 0.0) || !impratio.is_finite() {
            return Err(invalid(format!(
                "impratio: must be positive and finite, got {impratio}"
            )));
        }
        if let Some(tc) = constraint_timeconst {
            if !(tc > 0.0) || !tc.is_finite() {
                return Err(invalid(format!(
                    "constraint_timeconst: must be positive, got {tc}"
                )));
            }
        }
        let options = Options {
            timestep,
            substeps,
            integrator,
            enable_collision,
            enable_joint_limit,
            enable_self_collision,
            iterations,
            tolerance,
            ls_iterations,
            constraint_timeconst,
            impratio,
        };
        let gravity = check_vec3("gravity", gravity)?;
        let mut builder = ModelBuilder::new();
        builder.options = options;
        Ok(Self { builder, gravity })
    }

    /// Load a URDF; a fixed base is welded to the world, otherwise the root gets a free joint.
    /// Returns (entity index, loader warnings).
    #[pyo3(signature = (path, scale, pos, quat, fixed, friction=None))]
    fn add_urdf(
        &mut self,
        path: &str,
        scale: f64,
        pos: [f64; 3],
        quat: [f64; 4],
        fixed: bool,
        friction: Option<f64>,
    ) -> PyResult<(usize, Vec<String>)> {
        guard(|| {
            let mut spec =
                kinegrad::model::urdf::load(Path::new(path), scale).map_err(to_py_err)?;
            set_friction(&mut spec, friction)?;
            self.place(
                spec,
                pos,
                quat,
                if fixed {
                    BaseMode::Fixed
                } else {
                    BaseMode::Free
                },
            )
        })
    }

    /// Load an MJCF, keeping the joints the file gives its roots. Returns (entity index, loader warnings).
    #[pyo3(signature = (path, scale, pos, quat, friction=None))]
    fn add_mjcf(
        &mut self,
        path: &str,
        scale: f64,
        pos: [f64; 3],
        quat: [f64; 4],
        friction: Option<f64>,
    ) -> PyResult<(usize, Vec<String>)> {
        guard(|| {
            let mut spec =
                kinegrad::model::mjcf::load(Path::new(path), scale).map_err(to_py_err)?;
            set_friction(&mut spec, friction)?;
            self.place(spec, pos, quat, BaseMode::AsIs)
        })
    }

    /// Add a primitive: kind in plane (dims = normal), box (full sizes), sphere (radius),
    /// cylinder and capsule (radius, height). A plane is always fixed. Returns the entity index.
    #[pyo3(signature = (kind, dims, pos, quat, fixed, rho=200.0, friction=None))]
    #[allow(clippy::too_many_arguments)]
    fn add_primitive(
        &mut self,
        kind: &str,
        dims: Vec<f64>,
        pos: [f64; 3],
        quat: [f64; 4],
        fixed: bool,
        rho: f64,
        friction: Option<f64>,
    ) -> PyResult<usize> {
        guard(|| {
            let mut spec = primitives::entity(kind, &dims, rho)?;
            set_friction(&mut spec, friction)?;
            let base = if fixed || kind == "plane" {
                BaseMode::Fixed
            } else {
                BaseMode::Free
            };
            Ok(self.place(spec, pos, quat, base)?.0)
        })
    }

    /// Assemble the model and make `n_envs` (>= 1) environments at its reference configuration.
    /// A step too long for the constraints' time constants is warned about (RuntimeWarning).
    fn build(&self, py: Python<'_>, n_envs: usize) -> PyResult<Sim> {
        guard(|| {
            if n_envs == 0 {
                return Err(invalid(
                    "n_envs: must be at least 1 in the native simulator",
                ));
            }
            let mut model = self.builder.build().map_err(to_py_err)?;
            model.params0.gravity = self.gravity;
            // refuse a batch that cannot fit before allocating it (an allocation failure
            // aborts the process; a batch larger than the free memory swaps or is killed)
            let per_env = env_bytes(&model);
            let too_large = |need: String, why: String| {
                invalid(format!(
                    "n_envs: {n_envs} envs of this model need {need} ({per_env} bytes each); {why}"
                ))
            };
            let Some(need) = n_envs.checked_mul(per_env) else {
                return Err(too_large(
                    "more bytes than the address space".into(),
                    "choose fewer envs".into(),
                ));
            };
            if let Some(free) = available_memory() {
                if need > free {
                    return Err(too_large(
                        format!("{need} bytes"),
                        format!("this machine has {free} bytes available; choose fewer envs"),
                    ));
                }
            }
            let mut envs = Vec::new();
            envs.try_reserve_exact(n_envs)
                .map_err(|e| too_large(format!("{need} bytes"), e.to_string()))?;
            envs.extend((0..n_envs).map(|_| Env::new(&model)));
            let warnings = diagnostics::timestep_warnings(&model, &model.params0);
            let mut sim = Sim::new(Arc::new(model), envs);
            sim.warn_once(py, &warnings)?;
            Ok(sim)
        })
    }
}

// ---- parameters ----

/// Bytes one env of `model` holds: the struct, its state, control, warm start and parameters
/// (its contacts, a few per step, are left out).
fn env_bytes(m: &Model) -> usize {
    let params: usize = PARAM_FIELDS.iter().map(|f| f.size(m)).sum();
    std::mem::size_of::<Env>()
        + std::mem::size_of::<f64>() * (m.nq + 3 * m.nv + params)
        + std::mem::size_of::<CtrlMode>() * m.nv
}

/// The memory this machine can still give (Linux: `MemAvailable`), or None where unknown.
fn available_memory() -> Option<usize> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

// ---- simulator ----

/// A built model and its environments.
#[pyclass(module = "kinegrad._native")]
struct Sim {
    model: Arc<Model>,
    envs: Vec<Env>,
    /// Scratch of every computation over the envs, forward and reverse: one `Data` per thread
    /// (shared with this sim's tapes, whose reverse passes run after the sim may be gone).
    workers: Arc<Workers>,
    /// The env states before the last `rollout` / `segment`, restored when an env fails, with
    /// what their steps carry over (so that steps run again after a failure are the same
    /// steps, and the envs are as before the call).
    backup: Vec<(State, Carry)>,
    /// Thread pools of given sizes for `step(threads=k)`.
    pools: Vec<(usize, Arc<rayon::ThreadPool>)>,
    /// The warnings shown so far ([`Warning::key`]): each is shown once per sim.
    warned: HashSet<(u8, usize, usize)>,
}

impl Sim {
    fn new(model: Arc<Model>, envs: Vec<Env>) -> Self {
        Self {
            model,
            envs,
            workers: Arc::new(Workers::new()),
            backup: Vec::new(),
            pools: Vec::new(),
            warned: HashSet::new(),
        }
    }

    /// Show each of `warnings` not shown before as a Python `RuntimeWarning`.
    fn warn_once(&mut self, py: Python<'_>, warnings: &[Warning]) -> PyResult<()> {
        for w in warnings {
            if self.warned.insert(w.key()) {
                let category = py.get_type::<PyRuntimeWarning>();
                PyErr::warn(py, &category, &CString::new(w.describe(&self.model))?, 1)?;
            }
        }
        Ok(())
    }

    /// This sim's pool of `k` threads, made on first use.
    fn pool(&mut self, k: usize) -> PyResult<Arc<rayon::ThreadPool>> {
        if let Some((_, p)) = self.pools.iter().find(|(n, _)| *n == k) {
            return Ok(p.clone());
        }
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        if k > cores {
            return Err(invalid(format!(
                "threads: at most {cores} (this machine's cores), got {k}"
            )));
        }
        let p = rayon::ThreadPoolBuilder::new()
            .num_threads(k)
            .build()
            .map_err(|e| {
                PyRuntimeError::new_err(format!("threads: cannot start {k} threads: {e}"))
            })?;
        self.pools.push((k, Arc::new(p)));
        Ok(self.pools[self.pools.len() - 1].1.clone())
    }

    /// Keep a copy of every env's state and carry (no allocation once the buffers exist).
    fn save_states(&mut self) {
        self.backup.resize_with(self.envs.len(), || {
            let st = State {
                q: Vec::new(),
                v: Vec::new(),
                time: 0.0,
            };
            (st, Carry::default())
        });
        for ((b, c), e) in self.backup.iter_mut().zip(&self.envs) {
            b.clone_from(&e.state);
            c.clone_from(&e.carry);
        }
    }

    fn restore_states(&mut self) {
        for ((b, c), e) in self.backup.iter().zip(self.envs.iter_mut()) {
            e.state.clone_from(b);
            e.carry.clone_from(c);
        }
    }

    /// Set every env's state from qpos (n_envs, nq), qvel (n_envs, nv) and optionally the time,
    /// after the shape, finiteness and quaternion checks. Quaternion blocks are normalized.
    fn write_states(
        &mut self,
        qpos: &PyReadonlyArray2<'_, f64>,
        qvel: &PyReadonlyArray2<'_, f64>,
        time: Option<f64>,
    ) -> PyResult<()> {
        let n = self.envs.len();
        let q = view2(qpos, "qpos", n, self.model.nq)?;
        let v = view2(qvel, "qvel", n, self.model.nv)?;
        for i in 0..n {
            let row: Vec<f64> = q.row(i).to_vec();
            kinegrad::state::check_quaternions(&self.model, &row)
                .map_err(|e| invalid(format!("env {i}: {e}")))?;
        }
        for (i, e) in self.envs.iter_mut().enumerate() {
            e.state
                .q
                .iter_mut()
                .zip(q.row(i))
                .for_each(|(d, s)| *d = *s);
            e.state
                .v
                .iter_mut()
                .zip(v.row(i))
                .for_each(|(d, s)| *d = *s);
            e.state.normalize_quaternions(&self.model);
            if let Some(t) = time {
                e.state.time = t;
            }
        }
        Ok(())
    }

    /// `t_end` steps of every env from its stored state, the controls of step t of env i being
    /// `inp.target(i, t)` under `inp.modes.at(i, t)`; each env's horizon is one parallel task,
    /// without the GIL. On failure: the first failing step (lowest over envs; among those, the
    /// error of the lowest env), the envs being left wherever they stopped.
    #[allow(clippy::too_many_arguments)]
    fn run(
        &mut self,
        py: Python<'_>,
        inp: &Inputs<'_>,
        t_end: usize,
        trajectory: bool,
        record: bool,
        stride: usize,
    ) -> Result<Run, (usize, PyErr)> {
        let (n, nq, nv) = (self.envs.len(), self.model.nq, self.model.nv);
        let model = &*self.model;
        let (envs, workers) = (&mut self.envs, &*self.workers);
        let rows = if trajectory { t_end } else { 1 };
        type EnvOut = Result<(Vec<f64>, Vec<f64>, Option<Tape>, Vec<Warning>), (usize, PyErr)>;
        let one = |i: usize, e: &mut Env| -> EnvOut {
            let mut tape = record.then(|| {
                let mut tp = Tape::new(e.params.clone(), stride);
                tp.reserve(t_end, model);
                tp
            });
            let mut q = Vec::with_capacity(rows * nq);
            let mut v = Vec::with_capacity(rows * nv);
            if t_end == 0 {
                q.extend_from_slice(&e.state.q);
                v.extend_from_slice(&e.state.v);
                return Ok((q, v, tape, Vec::new()));
            }
            let mut warnings = Vec::new(); // allocated only if a step warns
            workers
                .with(model, |d| {
                    e.step_with(
                        model,
                        d,
                        t_end,
                        workers.interrupt(),
                        |t, at, c, s, d| match at {
                            At::Before => {
                                c.mode.copy_from_slice(inp.modes.at(i, t));
                                c.target.copy_from_slice(inp.target(i, t));
                                if let Some(tp) = tape.as_mut() {
                                    tp.record_state(s, d); // the caller keeps the controls
                                }
                            }
                            At::After => {
                                if let Some(tp) = tape.as_mut() {
                                    tp.record_result(d); // contacts and solution: the reverse pass replays them
                                }
                                if trajectory || t + 1 == t_end {
                                    q.extend_from_slice(&s.q);
                                    v.extend_from_slice(&s.v);
                                }
                                diagnostics::contact_warnings(model, d, &mut warnings);
                            }
                        },
                    )
                })
                .map_err(|(t, err)| (t, env_err(n, i, err)))?;
            Ok((q, v, tape, warnings))
        };
        let long = is_long(model, n.saturating_mul(t_end));
        let (out, raised): (PyResult<Vec<EnvOut>>, _) =
            interruptible(py, workers.interrupt(), long, || {
                guard(|| {
                    Ok(if n == 1 {
                        vec![one(0, &mut envs[0])]
                    } else {
                        batch::par_iter_mut(envs)
                            .enumerate()
                            .map(|(i, e)| one(i, e))
                            .collect()
                    })
                })
            });
        if let Some(e) = raised {
            return Err((0, e)); // stopped by a signal: the caller restores the envs
        }
        let out = out.map_err(|e| (0, e))?;
        let mut run = Run {
            qs: Vec::with_capacity(n * rows * nq),
            vs: Vec::with_capacity(n * rows * nv),
            rows,
            tapes: record.then(|| Vec::with_capacity(n)),
        };
        let mut failure: Option<(usize, PyErr)> = None;
        let mut warnings = Vec::new();
        for r in out {
            match r {
                Ok((q, v, tp, w)) if failure.is_none() => {
                    warnings.extend(w);
                    run.qs.extend(q);
                    run.vs.extend(v);
                    if let (Some(ts), Some(tp)) = (run.tapes.as_mut(), tp) {
                        ts.push(tp);
                    }
                }
                Ok(_) => {}
                Err((t, e)) => {
                    if failure.as_ref().is_none_or(|(t0, _)| t < *t0) {
                        failure = Some((t, e));
                    }
                }
            }
        }
        if failure.is_none() {
            // the steps ran; a warning turned into an error by the caller's filter is raised
            // after them (as a failing step would be, with every step done)
            self.warn_once(py, &warnings).map_err(|e| (t_end, e))?;
        }
        match failure {
            Some(f) => Err(f),
            None => Ok(run),
        }
    }
}

/// A state to start from: qpos (n_envs, nq), qvel (n_envs, nv), time.
type StartState<'py> = (
    PyReadonlyArray2<'py, f64>,
    PyReadonlyArray2<'py, f64>,
    Option<f64>,
);

/// Control modes of every env, fixed over the steps (an (n, nv) array) or per step (n, T, nv).
struct Modes {
    m: Vec<CtrlMode>,
    per_step: bool,
    t_end: usize,
    nv: usize,
}

impl Modes {
    fn parse(a: &PyReadonlyArrayDyn<'_, i8>, n: usize, t_end: usize, nv: usize) -> PyResult<Self> {
        let md = a.as_array();
        let per_step = md.ndim() == 3;
        if md.shape() != [n, nv] && md.shape() != [n, t_end, nv] {
            return Err(invalid(format!(
                "mode: expected shape ({n}, {nv}) or ({n}, {t_end}, {nv}), got {:?}",
                md.shape()
            )));
        }
        let m = md
            .iter()
            .map(|&c| ctrl_mode_from(c))
            .collect::<PyResult<Vec<_>>>()?;
        Ok(Self {
            m,
            per_step,
            t_end,
            nv,
        })
    }

    /// The modes of env `i` at step `t`.
    fn at(&self, i: usize, t: usize) -> &[CtrlMode] {
        let k = if self.per_step { i * self.t_end + t } else { i };
        &self.m[k * self.nv..(k + 1) * self.nv]
    }
}

/// The controls of a run: modes and targets (n, T, nv), row-major.
struct Inputs<'a> {
    modes: Modes,
    u: &'a [f64],
}

impl Inputs<'_> {
    fn target(&self, i: usize, t: usize) -> &[f64] {
        let nv = self.modes.nv;
        let at = (i * self.modes.t_end + t) * nv;
        &self.u[at..at + nv]
    }
}

/// An (n, T, nv) control array in standard layout and its T (>= 1).
fn controls_of<'a>(
    a: &'a PyReadonlyArray3<'_, f64>,
    n: usize,
    nv: usize,
) -> PyResult<(numpy::ndarray::ArrayView3<'a, f64>, usize)> {
    let u = a.as_array();
    let t_end = u.shape()[1];
    if u.shape() != [n, t_end, nv] || t_end == 0 {
        return Err(invalid(format!(
            "controls: expected shape ({n}, T, {nv}) with T >= 1, got {:?}",
            u.shape()
        )));
    }
    Ok((u, t_end))
}

/// (step, env, dof) of the first non-finite control, scanning step by step.
fn first_non_finite(u: &[f64], n: usize, t_end: usize, nv: usize) -> Option<(usize, usize, usize)> {
    let at = |i: usize, t: usize, k: usize| u[(i * t_end + t) * nv + k];
    if u.iter().all(|x| x.is_finite()) {
        return None;
    }
    (0..t_end).find_map(|t| {
        (0..n).find_map(|i| {
            (0..nv)
                .find(|&k| !at(i, t, k).is_finite())
                .map(|k| (t, i, k))
        })
    })
}

/// What `Sim::run` produced: the states after every step (`rows` = T) or the final ones
/// (`rows` = 1), env-major, and the tapes when recording.
struct Run {
    qs: Vec<f64>,
    vs: Vec<f64>,
    rows: usize,
    tapes: Option<Vec<Tape>>,
}

impl Run {
    /// No step: the current states, and empty tapes when recording.
    fn empty(sim: &Sim, record: bool) -> Self {
        Self {
            qs: sim
                .envs
                .iter()
                .flat_map(|e| e.state.q.iter().copied())
                .collect(),
            vs: sim
                .envs
                .iter()
                .flat_map(|e| e.state.v.iter().copied())
                .collect(),
            rows: 1,
            tapes: record.then(|| {
                sim.envs
                    .iter()
                    .map(|e| Tape::new(e.params.clone(), 1))
                    .collect()
            }),
        }
    }

    /// (qpos, qvel, tape): (n, T, k) arrays with `trajectory`, else (n, k).
    fn into_py<'py>(
        self,
        py: Python<'py>,
        sim: &Sim,
        trajectory: bool,
    ) -> (Bound<'py, PyAny>, Bound<'py, PyAny>, Option<tape::PyTape>) {
        let (n, nq, nv) = (sim.envs.len(), sim.model.nq, sim.model.nv);
        let (q, v) = if trajectory {
            (
                Array3::from_shape_vec((n, self.rows, nq), self.qs)
                    .expect("shape")
                    .into_pyarray(py)
                    .into_any(),
                Array3::from_shape_vec((n, self.rows, nv), self.vs)
                    .expect("shape")
                    .into_pyarray(py)
                    .into_any(),
            )
        } else {
            (
                Array2::from_shape_vec((n, nq), self.qs)
                    .expect("shape")
                    .into_pyarray(py)
                    .into_any(),
                Array2::from_shape_vec((n, nv), self.vs)
                    .expect("shape")
                    .into_pyarray(py)
                    .into_any(),
            )
        };
        let tape = self
            .tapes
            .map(|t| tape::PyTape::new(sim.model.clone(), sim.workers.clone(), t));
        (q, v, tape)
    }
}

/// View a (rows, cols) array, checking its shape and that it is finite.
fn vec_of(a: &PyReadonlyArray1<'_, f64>, name: &str, n: usize) -> PyResult<Vec<f64>> {
    let x = a
        .as_slice()
        .map_err(|_| invalid(format!("{name}: expected a contiguous float64 array")))?;
    if x.len() != n {
        return Err(invalid(format!(
            "{name}: expected shape ({n},), got ({},)",
            x.len()
        )));
    }
    if x.iter().any(|v| !v.is_finite()) {
        return Err(invalid(format!("{name}: contains a non-finite value")));
    }
    Ok(x.to_vec())
}

/// View an array of the given `shape`, checking its shape and that it is finite.
fn view_checked<'a, D: numpy::ndarray::Dimension>(
    a: &'a numpy::PyReadonlyArray<'_, f64, D>,
    name: &str,
    shape: &[usize],
) -> PyResult<numpy::ndarray::ArrayView<'a, f64, D>> {
    let v = a.as_array();
    if v.shape() != shape {
        let want: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
        return Err(invalid(format!(
            "{name}: expected shape ({}), got {:?}",
            want.join(", "),
            v.shape()
        )));
    }
    if v.iter().any(|x| !x.is_finite()) {
        return Err(invalid(format!(
            "{name}: contains a non-finite value (NaN or inf)"
        )));
    }
    Ok(v)
}

/// View a (rows, cols) array, checking its shape and that it is finite.
fn view2<'a>(
    a: &'a PyReadonlyArray2<'_, f64>,
    name: &str,
    rows: usize,
    cols: usize,
) -> PyResult<numpy::ndarray::ArrayView2<'a, f64>> {
    view_checked(a, name, &[rows, cols])
}

/// View an (n, rows, cols) array, checking its shape and that it is finite.
fn view3<'a>(
    a: &'a PyReadonlyArray3<'_, f64>,
    name: &str,
    n: usize,
    rows: usize,
    cols: usize,
) -> PyResult<numpy::ndarray::ArrayView3<'a, f64>> {
    view_checked(a, name, &[n, rows, cols])
}

// ---- functional stepping and adjoints (helpers) ----

/// The rows of an (n, k) array as owned vectors, after the shape and finiteness checks.
fn rows_of(
    a: &PyReadonlyArray2<'_, f64>,
    name: &str,
    n: usize,
    k: usize,
) -> PyResult<Vec<Vec<f64>>> {
    Ok(view2(a, name, n, k)?
        .outer_iter()
        .map(|r| r.to_vec())
        .collect())
}

/// Per-env control modes from an (n, nv) int8 array.
fn modes_of(a: &PyReadonlyArray2<'_, i8>, n: usize, nv: usize) -> PyResult<Vec<Vec<CtrlMode>>> {
    let md = a.as_array();
    if md.shape() != [n, nv] {
        return Err(invalid(format!(
            "mode: expected shape ({n}, {nv}), got {:?}",
            md.shape()
        )));
    }
    md.outer_iter()
        .map(|r| r.iter().map(|&c| ctrl_mode_from(c)).collect())
        .collect()
}

/// Per-env rows of an (n, nbody, k) array, after the shape and finiteness checks.
fn rows3_of(
    a: &PyReadonlyArray3<'_, f64>,
    name: &str,
    n: usize,
    nb: usize,
    k: usize,
) -> PyResult<Vec<Vec<f64>>> {
    Ok(view3(a, name, n, nb, k)?
        .outer_iter()
        .map(|r| r.iter().copied().collect())
        .collect())
}

/// The per-env inputs of a batched functional step: states and controls, checked.
struct StepRows {
    q: Vec<Vec<f64>>,
    v: Vec<Vec<f64>>,
    mode: Vec<Vec<CtrlMode>>,
    target: Vec<Vec<f64>>,
}

impl StepRows {
    #[allow(clippy::too_many_arguments)]
    fn parse(
        model: &Model,
        n: usize,
        (qpos, qname): (&PyReadonlyArray2<'_, f64>, &str),
        (qvel, vname): (&PyReadonlyArray2<'_, f64>, &str),
        mode: &PyReadonlyArray2<'_, i8>,
        target: &PyReadonlyArray2<'_, f64>,
    ) -> PyResult<Self> {
        let (nq, nv) = (model.nq, model.nv);
        let rows = Self {
            q: rows_of(qpos, qname, n, nq)?,
            v: rows_of(qvel, vname, n, nv)?,
            mode: modes_of(mode, n, nv)?,
            target: rows_of(target, "target", n, nv)?,
        };
        check_quats(model, &rows.q)?;
        Ok(rows)
    }

    /// State (quaternions normalized) and control of env `i`.
    fn env(&self, model: &Model, i: usize) -> (State, Control) {
        let mut st = State {
            q: self.q[i].clone(),
            v: self.v[i].clone(),
            time: 0.0,
        };
        st.normalize_quaternions(model);
        (
            st,
            Control {
                mode: self.mode[i].clone(),
                target: self.target[i].clone(),
            },
        )
    }
}

/// Check that every env's quaternion blocks can be normalized, naming the env.
fn check_quats(model: &Model, qs: &[Vec<f64>]) -> PyResult<()> {
    for (i, q) in qs.iter().enumerate() {
        kinegrad::state::check_quaternions(model, q)
            .map_err(|e| invalid(format!("env {i}: {e}")))?;
    }
    Ok(())
}

/// Run `f` for every env (in parallel over the rayon pool; a single env on the calling
/// thread) and return the results in env order, or the error of the lowest-numbered env.
fn per_env<T: Send>(
    envs: &[Env],
    f: impl Fn(usize, &Env) -> PyResult<T> + Sync + Send,
) -> PyResult<Vec<T>> {
    if envs.len() == 1 {
        return Ok(vec![f(0, &envs[0])?]);
    }
    let results: Vec<PyResult<T>> = batch::par_iter(envs)
        .enumerate()
        .map(|(i, e)| f(i, e))
        .collect();
    results.into_iter().collect()
}

/// Prefix an error with its env when the scene has several.
fn env_err(n: usize, i: usize, e: Error) -> PyErr {
    if n > 1 {
        to_py_err(e.in_env(i))
    } else {
        to_py_err(e)
    }
}

/// Parameter adjoints of every env as a dict name -> (n_envs, *per-env shape) array.
fn params_bar_dict<'py>(
    py: Python<'py>,
    model: &Model,
    grads: &[&Params],
) -> PyResult<Bound<'py, PyDict>> {
    let names: Vec<&str> = PARAM_FIELDS.iter().map(|f| f.name).collect();
    params_bar_dict_of(py, model, grads, &names)
}

/// ValueError unless every name is that of a parameter ([`PARAM_FIELDS`]).
fn check_param_names<S: AsRef<str>>(names: &[S]) -> PyResult<()> {
    for n in names {
        if let Err(Error::Invalid { message, .. }) = param_field(n.as_ref()) {
            return Err(invalid(format!("params: {message}")));
        }
    }
    Ok(())
}

/// Parameter `field` of each of `params`, stacked: (len(params), *shape), or one env's
/// shape alone when `stacked` is false (then `params` holds one).
fn param_array<'py>(
    py: Python<'py>,
    model: &Model,
    field: &ParamField,
    params: &[&Params],
    stacked: bool,
) -> Bound<'py, PyArrayDyn<f64>> {
    let mut shape = field.shape(model);
    let mut out = Vec::with_capacity(params.len() * field.size(model));
    for p in params {
        field.read(p, &mut out);
    }
    if stacked {
        shape.insert(0, params.len());
    }
    ArrayD::from_shape_vec(IxDyn(&shape), out)
        .expect("shape")
        .into_pyarray(py)
}

/// [`params_bar_dict`] for the parameters `names` only.
fn params_bar_dict_of<'py, S: AsRef<str>>(
    py: Python<'py>,
    model: &Model,
    grads: &[&Params],
    names: &[S],
) -> PyResult<Bound<'py, PyDict>> {
    check_param_names(names)?;
    let d = PyDict::new(py);
    for name in names {
        let field = param_field(name.as_ref()).map_err(to_py_err)?;
        d.set_item(field.name, param_array(py, model, field, grads, true))?;
    }
    Ok(d)
}

fn stack<'py>(py: Python<'py>, rows: Vec<Vec<f64>>, k: usize) -> Bound<'py, PyArray2<f64>> {
    let n = rows.len();
    Array2::from_shape_vec((n, k), rows.into_iter().flatten().collect())
        .expect("shape")
        .into_pyarray(py)
}

#[pymethods]
impl Sim {
    /// Number of environments.
    #[getter]
    fn n_envs(&self) -> usize {
        self.envs.len()
    }
    #[getter]
    fn nq(&self) -> usize {
        self.model.nq
    }
    #[getter]
    fn nv(&self) -> usize {
        self.model.nv
    }
    #[getter]
    fn nbody(&self) -> usize {
        self.model.nbody
    }

    /// The model description as a dict of plain lists (see the .pyi stub for keys).
    fn describe<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let m = &*self.model;
        let d = PyDict::new(py);
        let idx = |v: &[usize]| {
            v.iter()
                .map(|&x| if x == usize::MAX { -1 } else { x as i64 })
                .collect::<Vec<i64>>()
        };
        d.set_item("nq", m.nq)?;
        d.set_item("nv", m.nv)?;
        d.set_item("nbody", m.nbody)?;
        d.set_item("njnt", m.njnt)?;
        d.set_item("ngeom", m.ngeom)?;
        d.set_item("timestep", m.opt.timestep)?;
        d.set_item("substeps", m.opt.substeps)?;
        d.set_item("body_name", &m.body_name)?;
        d.set_item("body_parent", idx(&m.body_parent))?;
        d.set_item("body_entity", idx(&m.body_entity))?;
        d.set_item("body_jnt_adr", &m.body_jnt_adr)?;
        d.set_item("body_jnt_num", &m.body_jnt_num)?;
        d.set_item("body_dof_adr", &m.body_dof_adr)?;
        d.set_item("body_dof_num", &m.body_dof_num)?;
        d.set_item("jnt_name", &m.jnt_name)?;
        // per joint, from the kind's table (`kinegrad::joint`): name, sizes, and the offset of
        // the quaternion block in the joint's coordinates (-1: none)
        let per_jnt =
            |f: fn(JointType) -> i64| m.jnt_type.iter().map(|&t| f(t)).collect::<Vec<_>>();
        d.set_item(
            "jnt_type",
            m.jnt_type.iter().map(|t| t.name()).collect::<Vec<_>>(),
        )?;
        d.set_item("jnt_nq", per_jnt(|t| t.nq() as i64))?;
        d.set_item("jnt_nv", per_jnt(|t| t.nv() as i64))?;
        d.set_item(
            "jnt_quat_offset",
            per_jnt(|t| t.quat_offset().map_or(-1, |o| o as i64)),
        )?;
        d.set_item("jnt_body", &m.jnt_body)?;
        d.set_item("jnt_qpos_adr", &m.jnt_qpos_adr)?;
        d.set_item("jnt_dof_adr", &m.jnt_dof_adr)?;
        d.set_item("jnt_limited", &m.jnt_limited)?;
        d.set_item("jnt_range", &m.jnt_range)?;
        d.set_item("dof_body", &m.dof_body)?;
        d.set_item("dof_jnt", &m.dof_jnt)?;
        d.set_item("geom_name", &m.geom_name)?;
        d.set_item(
            "geom_type",
            m.geom_type
                .iter()
                .map(|&t| geom_type_name(t))
                .collect::<Vec<_>>(),
        )?;
        d.set_item("geom_body", &m.geom_body)?;
        d.set_item(
            "geom_size",
            m.geom_size
                .iter()
                .map(|s| [s.x, s.y, s.z])
                .collect::<Vec<_>>(),
        )?;
        d.set_item("qpos0", &m.qpos0)?;
        d.set_item("entity_name", &m.entity_name)?;
        d.set_item("entity_body_adr", &m.entity_body_adr)?;
        d.set_item("entity_body_num", &m.entity_body_num)?;
        d.set_item("entity_jnt_adr", &m.entity_jnt_adr)?;
        d.set_item("entity_jnt_num", &m.entity_jnt_num)?;
        d.set_item("entity_dof_adr", &m.entity_dof_adr)?;
        d.set_item("entity_dof_num", &m.entity_dof_num)?;
        d.set_item("entity_qpos_adr", &m.entity_qpos_adr)?;
        d.set_item("entity_qpos_num", &m.entity_qpos_num)?;
        d.set_item("entity_geom_adr", &m.entity_geom_adr)?;
        d.set_item("entity_geom_num", &m.entity_geom_num)?;
        let acts = m
            .actuators
            .iter()
            .map(|a| {
                let ad = PyDict::new(py);
                ad.set_item("name", &a.name)?;
                ad.set_item("dof", a.dof)?;
                ad.set_item("mode", a.mode as i8)?;
                ad.set_item("ctrl_range", a.ctrl_range)?;
                Ok(ad)
            })
            .collect::<PyResult<Vec<_>>>()?;
        d.set_item("actuators", acts)?;
        Ok(d)
    }

    /// Names of the parameters `get_param` / `set_param` accept.
    #[staticmethod]
    fn param_names() -> Vec<&'static str> {
        PARAM_FIELDS.iter().map(|f| f.name).collect()
    }

    /// Default value of a parameter (the model's), shape as one env's.
    fn param_default<'py>(
        &self,
        py: Python<'py>,
        name: &str,
    ) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
        let field = param_field(name).map_err(to_py_err)?;
        Ok(param_array(
            py,
            &self.model,
            field,
            &[&self.model.params0],
            false,
        ))
    }

    /// A parameter of every env: shape (n_envs, *per-env shape).
    fn get_param<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
        let field = param_field(name).map_err(to_py_err)?;
        let params: Vec<&Params> = self.envs.iter().map(|e| &e.params).collect();
        Ok(param_array(py, &self.model, field, &params, true))
    }

    /// Set a parameter of every env from an array of shape (n_envs, *per-env shape).
    fn set_param(&mut self, name: &str, value: PyReadonlyArrayDyn<'_, f64>) -> PyResult<()> {
        let field = param_field(name).map_err(to_py_err)?;
        let mut shape = field.shape(&self.model);
        shape.insert(0, self.envs.len());
        let v = value.as_array();
        if v.shape() != shape.as_slice() {
            return Err(invalid(format!(
                "{name}: expected shape {shape:?}, got {:?}",
                v.shape()
            )));
        }
        let flat: Vec<f64> = v.iter().copied().collect();
        let per = flat.len() / self.envs.len().max(1);
        // check every env before writing any
        let mut staged: Vec<Params> = self.envs.iter().map(|e| e.params.clone()).collect();
        for (p, chunk) in staged.iter_mut().zip(flat.chunks(per.max(1))) {
            field.write(p, chunk).map_err(to_py_err)?;
        }
        for (e, p) in self.envs.iter_mut().zip(staged) {
            e.params = p;
        }
        Ok(())
    }

    /// Current positions of every env, (n_envs, nq).
    fn get_qpos<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        let flat: Vec<f64> = self
            .envs
            .iter()
            .flat_map(|e| e.state.q.iter().copied())
            .collect();
        Array2::from_shape_vec((self.envs.len(), self.model.nq), flat)
            .expect("shape")
            .into_pyarray(py)
    }

    /// Current velocities of every env, (n_envs, nv).
    fn get_qvel<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        let flat: Vec<f64> = self
            .envs
            .iter()
            .flat_map(|e| e.state.v.iter().copied())
            .collect();
        Array2::from_shape_vec((self.envs.len(), self.model.nv), flat)
            .expect("shape")
            .into_pyarray(py)
    }

    /// Simulated time of every env (s).
    fn get_time(&self) -> Vec<f64> {
        self.envs.iter().map(|e| e.state.time).collect()
    }

    /// Set the state of every env: qpos (n_envs, nq), qvel (n_envs, nv), and optionally the time.
    /// Quaternion blocks are normalized.
    #[pyo3(signature = (qpos, qvel, time=None))]
    fn set_state(
        &mut self,
        qpos: PyReadonlyArray2<'_, f64>,
        qvel: PyReadonlyArray2<'_, f64>,
        time: Option<f64>,
    ) -> PyResult<()> {
        self.write_states(&qpos, &qvel, time)
    }

    /// Set the control of every env: mode (n_envs, nv) int8 (0 force, 1 position, 2 velocity)
    /// and target (n_envs, nv).
    fn set_control(
        &mut self,
        mode: PyReadonlyArray2<'_, i8>,
        target: PyReadonlyArray2<'_, f64>,
    ) -> PyResult<()> {
        let n = self.envs.len();
        let nv = self.model.nv;
        let md = mode.as_array();
        if md.shape() != [n, nv] {
            return Err(invalid(format!(
                "mode: expected shape ({n}, {nv}), got {:?}",
                md.shape()
            )));
        }
        let t = view2(&target, "target", n, nv)?;
        let modes = md
            .iter()
            .map(|&c| ctrl_mode_from(c))
            .collect::<PyResult<Vec<_>>>()?;
        for (i, e) in self.envs.iter_mut().enumerate() {
            e.control.mode.copy_from_slice(&modes[i * nv..(i + 1) * nv]);
            e.control
                .target
                .iter_mut()
                .zip(t.row(i))
                .for_each(|(d, s)| *d = *s);
        }
        Ok(())
    }

    /// Advance every env by `nsteps` steps, each env's steps one parallel task, without the
    /// GIL. A failing env stops at its failing step (keeping the state before it) and is named
    /// in the error; the other envs run all their steps. `threads`: run on a pool of that many
    /// threads of this sim's own (made once per size) instead of the global pool; the bench
    /// uses it to time one and two threads in turn in one process. Ctrl-C during a long call
    /// raises KeyboardInterrupt with every env as before the call.
    #[pyo3(signature = (nsteps=1, threads=None))]
    fn step(&mut self, py: Python<'_>, nsteps: usize, threads: Option<usize>) -> PyResult<()> {
        let pool = match threads {
            None => None,
            Some(0) => return Err(invalid("threads: must be at least 1")),
            Some(k) => Some(self.pool(k)?),
        };
        let long = is_long(&self.model, self.envs.len().saturating_mul(nsteps));
        if long {
            self.save_states();
        }
        let (model, workers) = (&*self.model, &*self.workers);
        let envs = &mut self.envs;
        let mut run =
            move || guard(|| batch::step_all_n(model, envs, workers, nsteps).map_err(to_py_err));
        let (out, raised) = interruptible(py, workers.interrupt(), long, || match pool {
            Some(p) => p.install(run),
            None => run(),
        });
        match raised {
            Some(e) => {
                self.restore_states(); // as before the call, not some envs part-way
                Err(e)
            }
            None => out,
        }
    }

    /// T steps of every env from its stored state: mode (n_envs, nv) or per step
    /// (n_envs, T, nv) int8, controls (n_envs, T, nv). Each env runs its whole horizon as one
    /// parallel task (GIL released). Returns (qpos, qvel, tape): the states after every step,
    /// (n_envs, T, nq) and (n_envs, T, nv), or only the final ones, (n_envs, nq) and
    /// (n_envs, nv), when `trajectory` is false; and, when `record`, the tape for the reverse
    /// pass (every `stride`-th state kept; its `vjp` takes `mode` and `controls` again).
    /// If an env fails, every env keeps its state and the error names the env and the step.
    /// `start` = (qpos, qvel, time): set the state first, as `set_state` does (one call instead
    /// of two).
    #[pyo3(signature = (mode, controls, trajectory=true, record=false, stride=1, start=None))]
    #[allow(clippy::type_complexity, clippy::too_many_arguments)]
    fn rollout<'py>(
        &mut self,
        py: Python<'py>,
        mode: PyReadonlyArrayDyn<'py, i8>,
        controls: PyReadonlyArray3<'py, f64>,
        trajectory: bool,
        record: bool,
        stride: usize,
        start: Option<StartState<'py>>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>, Option<tape::PyTape>)> {
        if let Some((q, v, time)) = &start {
            self.write_states(q, v, *time)?;
        }
        let (n, nv) = (self.envs.len(), self.model.nv);
        let (u, t_end) = controls_of(&controls, n, nv)?;
        let u = u.as_standard_layout();
        let u = u.as_slice().expect("standard layout");
        let modes = Modes::parse(&mode, n, t_end, nv)?;
        if let Some((t, i, k)) = first_non_finite(u, n, t_end, nv) {
            return Err(invalid(format!(
                "controls: NaN or inf at step {t} of the rollout, env {i}, dof {k}"
            )));
        }
        let inp = Inputs { modes, u };
        self.save_states();
        match self.run(py, &inp, t_end, trajectory, record, stride) {
            Ok(run) => Ok(run.into_py(py, self, trajectory)),
            Err((_, e)) => {
                self.restore_states();
                Err(e)
            }
        }
    }

    /// The `scene.step()` calls made since the last reading, run as one batch: T steps of every
    /// env from its stored state under mode (n_envs, nv) or (n_envs, T, nv) int8 and controls
    /// (n_envs, T, nv); each env's steps are one parallel task (GIL released). Returns (qpos,
    /// qvel, tape, done, error): the final state (n_envs, nq) and (n_envs, nv), the tape of the
    /// `done` steps when `record`, and, if a step failed, the exception to raise. A failure
    /// leaves every env after the `done` steps that preceded the first failing step (the
    /// steps of a sequential loop that would have succeeded), so `done` < T exactly when
    /// `error` is set. `start` = (qpos, qvel, time): set the state first, as `set_state` does.
    #[pyo3(signature = (mode, controls, record, start=None))]
    #[allow(clippy::type_complexity)]
    fn segment<'py>(
        &mut self,
        py: Python<'py>,
        mode: PyReadonlyArrayDyn<'py, i8>,
        controls: PyReadonlyArray3<'py, f64>,
        record: bool,
        start: Option<StartState<'py>>,
    ) -> PyResult<(
        Bound<'py, PyAny>,
        Bound<'py, PyAny>,
        Option<tape::PyTape>,
        usize,
        Option<Py<PyAny>>,
    )> {
        if let Some((q, v, time)) = &start {
            self.write_states(q, v, *time)?;
        }
        let (n, nv) = (self.envs.len(), self.model.nv);
        let (u, t_end) = controls_of(&controls, n, nv)?;
        let u = u.as_standard_layout();
        let inp = Inputs {
            modes: Modes::parse(&mode, n, t_end, nv)?,
            u: u.as_slice().expect("standard layout"),
        };
        self.save_states();
        let (run, done, err) = match self.run(py, &inp, t_end, false, record, 1) {
            Ok(run) => (run, t_end, None),
            Err((failed, e)) => {
                // every env back to the segment's start, then the steps before the failure again
                // (deterministic, so they succeed as they did)
                self.restore_states();
                match self.run(py, &inp, failed, false, record, 1) {
                    Ok(run) => (run, failed, Some(e)),
                    Err((_, e2)) => {
                        self.restore_states();
                        (Run::empty(self, record), 0, Some(e2))
                    }
                }
            }
        };
        let (q, v, tape) = run.into_py(py, self, false);
        Ok((q, v, tape, done, err.map(|e| e.into_value(py).into_any())))
    }

    /// Step copies of the given states `nsteps` times (the envs are not touched): qpos
    /// (n_envs, nq), qvel (n_envs, nv), mode (n_envs, nv) int8, target (n_envs, nv).
    /// Quaternion blocks are normalized first. The solver starts cold (no warm start), so the
    /// result is a function of the arguments and the env's parameters alone, as is the step
    /// `step_vjp` differentiates. Returns (qpos', qvel'). Parallel over envs, GIL released.
    #[pyo3(signature = (qpos, qvel, mode, target, nsteps=1))]
    #[allow(clippy::type_complexity)]
    fn step_functional<'py>(
        &self,
        py: Python<'py>,
        qpos: PyReadonlyArray2<'py, f64>,
        qvel: PyReadonlyArray2<'py, f64>,
        mode: PyReadonlyArray2<'py, i8>,
        target: PyReadonlyArray2<'py, f64>,
        nsteps: usize,
    ) -> PyResult<(Bound<'py, PyArray2<f64>>, Bound<'py, PyArray2<f64>>)> {
        let n = self.envs.len();
        let (nq, nv) = (self.model.nq, self.model.nv);
        let rows = StepRows::parse(
            &self.model,
            n,
            (&qpos, "qpos"),
            (&qvel, "qvel"),
            &mode,
            &target,
        )?;
        let (model, workers) = (&*self.model, &*self.workers);
        let envs = &self.envs;
        let out = py.detach(|| {
            guard(|| {
                per_env(envs, |i, e| {
                    let (mut st, ctrl) = rows.env(model, i);
                    workers.with(model, |d| {
                        d.qacc_warmstart.fill(0.0); // a cold solve: a function of the arguments
                        for _ in 0..nsteps {
                            pipeline::step(model, &e.params, &mut st, &ctrl, d)
                                .map_err(|err| env_err(n, i, err))?;
                        }
                        Ok((st.q, st.v))
                    })
                })
            })
        })?;
        let (q, v): (Vec<_>, Vec<_>) = out.into_iter().unzip();
        Ok((stack(py, q, nq), stack(py, v, nv)))
    }

    /// Reverse of one step from (qpos_in, qvel_in) under (mode, target), given the adjoints of
    /// the state after the step. Returns (qpos_bar, qvel_bar, target_bar, params_bar) with
    /// params_bar a dict name -> (n_envs, *shape) array (names as in get_param).
    #[allow(clippy::type_complexity, clippy::too_many_arguments)]
    fn step_vjp<'py>(
        &self,
        py: Python<'py>,
        qpos_in: PyReadonlyArray2<'py, f64>,
        qvel_in: PyReadonlyArray2<'py, f64>,
        mode: PyReadonlyArray2<'py, i8>,
        target: PyReadonlyArray2<'py, f64>,
        qpos_out_bar: PyReadonlyArray2<'py, f64>,
        qvel_out_bar: PyReadonlyArray2<'py, f64>,
    ) -> PyResult<(
        Bound<'py, PyArray2<f64>>,
        Bound<'py, PyArray2<f64>>,
        Bound<'py, PyArray2<f64>>,
        Bound<'py, PyDict>,
    )> {
        let n = self.envs.len();
        let (nq, nv) = (self.model.nq, self.model.nv);
        let rows = StepRows::parse(
            &self.model,
            n,
            (&qpos_in, "qpos_in"),
            (&qvel_in, "qvel_in"),
            &mode,
            &target,
        )?;
        let qb = rows_of(&qpos_out_bar, "qpos_out_bar", n, nq)?;
        let vb = rows_of(&qvel_out_bar, "qvel_out_bar", n, nv)?;
        let (model, workers) = (&*self.model, &*self.workers);
        let envs = &self.envs;
        let grads = py.detach(|| {
            guard(|| {
                per_env(envs, |i, e| {
                    let (st, ctrl) = rows.env(model, i);
                    let mut g = StepGrad::zeros(model);
                    workers
                        .with(model, |d| {
                            d.qacc_warmstart.fill(0.0); // the step of `step_functional`
                            kinegrad::adjoint::step::step_vjp(
                                model, &e.params, &st, &ctrl, d, &qb[i], &vb[i], &mut g,
                            )
                        })
                        .map_err(|err| env_err(n, i, err))?;
                    normalize_quaternions_vjp(model, &rows.q[i], &mut g.q);
                    Ok(g)
                })
            })
        })?;
        let pd = params_bar_dict(
            py,
            model,
            &grads.iter().map(|g| &g.params).collect::<Vec<_>>(),
        )?;
        let q = grads.iter().map(|g| g.q.clone()).collect();
        let v = grads.iter().map(|g| g.v.clone()).collect();
        let t = grads.iter().map(|g| g.target.clone()).collect();
        Ok((stack(py, q, nq), stack(py, v, nv), stack(py, t, nv), pd))
    }

    /// Reverse of `kinematics`: given adjoints of the body positions (n_envs, nbody, 3),
    /// quaternions (n_envs, nbody, 4), linear (n_envs, nbody, 3) and angular velocities
    /// (n_envs, nbody, 3), returns (qpos_bar, qvel_bar, params_bar).
    #[allow(clippy::type_complexity, clippy::too_many_arguments)]
    fn kinematics_vjp<'py>(
        &self,
        py: Python<'py>,
        qpos: PyReadonlyArray2<'py, f64>,
        qvel: PyReadonlyArray2<'py, f64>,
        pos_bar: PyReadonlyArray3<'py, f64>,
        quat_bar: PyReadonlyArray3<'py, f64>,
        vel_bar: PyReadonlyArray3<'py, f64>,
        ang_bar: PyReadonlyArray3<'py, f64>,
    ) -> PyResult<(
        Bound<'py, PyArray2<f64>>,
        Bound<'py, PyArray2<f64>>,
        Bound<'py, PyDict>,
    )> {
        let n = self.envs.len();
        let (nq, nv, nb) = (self.model.nq, self.model.nv, self.model.nbody);
        let qs = rows_of(&qpos, "qpos", n, nq)?;
        let vs = rows_of(&qvel, "qvel", n, nv)?;
        let pb = rows3_of(&pos_bar, "pos_bar", n, nb, 3)?;
        let qb = rows3_of(&quat_bar, "quat_bar", n, nb, 4)?;
        let lb = rows3_of(&vel_bar, "vel_bar", n, nb, 3)?;
        let ab = rows3_of(&ang_bar, "ang_bar", n, nb, 3)?;
        check_quats(&self.model, &qs)?;
        let (model, workers) = (&*self.model, &*self.workers);
        let envs = &self.envs;
        let vec3s = |x: &[f64]| x.chunks(3).map(Vec3::from_column_slice).collect::<Vec<_>>();
        let grads = py.detach(|| {
            guard(|| {
                per_env(envs, |i, e| {
                    let mut qn = qs[i].clone();
                    kinegrad::state::normalize_quaternions(model, &mut qn);
                    let quat: Vec<[f64; 4]> =
                        qb[i].chunks(4).map(|c| [c[0], c[1], c[2], c[3]]).collect();
                    let mut g = StepGrad::zeros(model);
                    workers.with(model, |d| {
                        kinegrad::adjoint::kinematics::kinematics_vjp(
                            model,
                            &e.params,
                            &qn,
                            &vs[i],
                            d,
                            &vec3s(&pb[i]),
                            &quat,
                            &vec3s(&lb[i]),
                            &vec3s(&ab[i]),
                            &mut g,
                        )
                    });
                    normalize_quaternions_vjp(model, &qs[i], &mut g.q);
                    Ok(g)
                })
            })
        })?;
        let pd = params_bar_dict(
            py,
            model,
            &grads.iter().map(|g| &g.params).collect::<Vec<_>>(),
        )?;
        let q = grads.iter().map(|g| g.q.clone()).collect();
        let v = grads.iter().map(|g| g.v.clone()).collect();
        Ok((stack(py, q, nq), stack(py, v, nv), pd))
    }

    /// Forward kinematics of the given states: qpos (n_envs, nq), qvel (n_envs, nv).
    /// Returns body positions (n_envs, nbody, 3), quaternions wxyz (n_envs, nbody, 4),
    /// linear velocities of the body origins (n_envs, nbody, 3) and angular velocities (n_envs, nbody, 3), world frame.
    #[allow(clippy::type_complexity)]
    fn kinematics<'py>(
        &self,
        py: Python<'py>,
        qpos: PyReadonlyArray2<'py, f64>,
        qvel: PyReadonlyArray2<'py, f64>,
    ) -> PyResult<(
        Bound<'py, PyArray3<f64>>,
        Bound<'py, PyArray3<f64>>,
        Bound<'py, PyArray3<f64>>,
        Bound<'py, PyArray3<f64>>,
    )> {
        let n = self.envs.len();
        let nb = self.model.nbody;
        let q = view2(&qpos, "qpos", n, self.model.nq)?.to_owned();
        let v = view2(&qvel, "qvel", n, self.model.nv)?.to_owned();
        let (model, workers) = (&*self.model, &*self.workers);
        let envs = &self.envs;
        let rows: Vec<[f64; 13]> = py.detach(|| {
            guard(|| {
                let rows: Vec<Vec<[f64; 13]>> = per_env(envs, |i, e| {
                    let mut qi: Vec<f64> = q.row(i).to_vec();
                    kinegrad::state::normalize_quaternions(model, &mut qi);
                    let vi: Vec<f64> = v.row(i).to_vec();
                    workers.with(model, |d| {
                        pipeline::kinematics(model, &e.params, &qi, d);
                        kinegrad::kinematics::com_vel(model, &vi, d);
                        Ok((0..nb)
                            .map(|b| {
                                let p = d.xpos[b];
                                let w = quat_to_wxyz(&d.xquat[b]);
                                let c = d.cvel[b];
                                let lin = c.point_velocity(&p);
                                [
                                    p.x, p.y, p.z, w[0], w[1], w[2], w[3], lin.x, lin.y, lin.z,
                                    c.ang.x, c.ang.y, c.ang.z,
                                ]
                            })
                            .collect())
                    })
                })?;
                Ok(rows.into_iter().flatten().collect())
            })
        })?;
        let pick = |lo: usize, k: usize| {
            let flat: Vec<f64> = rows
                .iter()
                .flat_map(|r| r[lo..lo + k].iter().copied())
                .collect();
            Array3::from_shape_vec((n, nb, k), flat)
                .expect("shape")
                .into_pyarray(py)
        };
        Ok((pick(0, 3), pick(3, 4), pick(7, 3), pick(10, 3)))
    }

    /// Joint-space mass matrix M(q) (nv, nv) of env 0's parameters at configuration `qpos` (nq),
    /// armature included.
    fn mass_matrix<'py>(
        &mut self,
        py: Python<'py>,
        qpos: PyReadonlyArray1<'py, f64>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        guard(|| {
            let (nq, nv) = (self.model.nq, self.model.nv);
            let q = vec_of(&qpos, "qpos", nq)?;
            let (model, params) = (&*self.model, &self.envs[0].params);
            let qm = self.workers.with(model, |d| {
                pipeline::kinematics(model, params, &q, d);
                kinegrad::dynamics::crba::crba(model, params, d);
                d.qm.clone()
            });
            Ok(Array2::from_shape_vec((nv, nv), qm)
                .expect("shape")
                .into_pyarray(py))
        })
    }

    /// Inverse dynamics M(q) a + c(q, v) (nv), without armature, with env 0's parameters.
    fn inverse_dynamics<'py>(
        &mut self,
        py: Python<'py>,
        qpos: PyReadonlyArray1<'py, f64>,
        qvel: PyReadonlyArray1<'py, f64>,
        qacc: PyReadonlyArray1<'py, f64>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        guard(|| {
            let (nq, nv) = (self.model.nq, self.model.nv);
            let q = vec_of(&qpos, "qpos", nq)?;
            let v = vec_of(&qvel, "qvel", nv)?;
            let a = vec_of(&qacc, "qacc", nv)?;
            let (model, params) = (&*self.model, &self.envs[0].params);
            let mut out = vec![0.0; nv];
            self.workers.with(model, |d| {
                pipeline::kinematics(model, params, &q, d);
                kinegrad::kinematics::com_vel(model, &v, d);
                kinegrad::dynamics::rnea::rnea(model, params, d, &v, Some(&a), &mut out);
            });
            Ok(out.into_pyarray(py))
        })
    }

    /// Contacts of env `env` found by its last step: a list of dicts with geom1, geom2, body1, body2,
    /// pos (3), normal (3, from geom1 to geom2), dist, force (3, world frame, exerted by geom1 on
    /// geom2) and force_normal (its component along the normal).
    fn contacts<'py>(&self, py: Python<'py>, env: usize) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let e = self.envs.get(env).ok_or_else(|| {
            invalid(format!(
                "env: index {env} out of range for {} envs",
                self.envs.len()
            ))
        })?;
        let m = &*self.model;
        e.carry
            .contacts
            .iter()
            .map(|c| {
                let d = PyDict::new(py);
                let (n, f) = (c.normal, c.force);
                d.set_item("geom1", c.geom1)?;
                d.set_item("geom2", c.geom2)?;
                d.set_item("body1", m.geom_body[c.geom1])?;
                d.set_item("body2", m.geom_body[c.geom2])?;
                d.set_item("pos", [c.pos.x, c.pos.y, c.pos.z])?;
                d.set_item("normal", [n.x, n.y, n.z])?;
                d.set_item("dist", c.dist)?;
                d.set_item("force", [f.x, f.y, f.z])?;
                d.set_item("force_normal", f.dot(&n))?;
                Ok(d)
            })
            .collect()
    }
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<SceneBuilder>()?;
    m.add_class::<Sim>()?;
    m.add_class::<tape::PyTape>()?;
    m.add_class::<render::Renderer>()?;
    Ok(())
}

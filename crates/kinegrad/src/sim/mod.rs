//! A built model and its environments, as a front end drives them: the batched calls of the
//! Python package (and of any other binding) with their semantics — argument checks naming
//! the argument and the env, quaternion normalization of given states, failure rollback,
//! warnings shown once — so that a binding only converts arrays.
//!
//! Arrays are flat, env-major and row-major: a (n_envs, nq) `qpos` is `n_envs * nq` floats.
//! [`run`] holds the multi-step calls (rollouts and deferred segments, with their rollback and
//! replay), [`reverse`] the functional steps, readings and their reverse passes.

pub mod reverse;
pub mod run;

use crate::batch::{self, Carry, Env, Workers};
use crate::diagnostics::Warning;
use crate::error::{Error, Result};
use crate::model::params::{param_field, PARAM_FIELDS};
use crate::model::{CtrlMode, Model, Params};
use crate::state::State;
use std::collections::HashSet;
use std::sync::Arc;

/// A built model and its environments.
#[derive(Debug)]
pub struct Sim {
    /// The model every env steps.
    pub model: Arc<Model>,
    /// The environments.
    pub envs: Vec<Env>,
    /// Scratch of every computation over the envs, forward and reverse (shared with the
    /// tapes of this sim, whose reverse passes may run after the sim is gone).
    pub workers: Arc<Workers>,
    /// The env states (and carries) before the last multi-step call, for its rollback.
    backup: Vec<(State, Carry)>,
    /// The warnings shown so far ([`Warning::key`]): each is shown once per sim.
    warned: HashSet<(u8, usize, usize)>,
    /// Thread pools of given sizes for [`Sim::step_on`], made on first use.
    pools: Vec<(usize, Arc<rayon::ThreadPool>)>,
}

impl Sim {
    /// `n_envs` (>= 1) environments of `model` at its reference configuration. A batch that
    /// cannot fit is refused before allocating it (an allocation failure aborts the process;
    /// a batch larger than the free memory swaps or is killed).
    pub fn new(model: Arc<Model>, n_envs: usize) -> Result<Self> {
        if n_envs == 0 {
            return Err(Error::invalid(
                "n_envs",
                "must be at least 1 in the native simulator",
            ));
        }
        // a model whose steps would all be refused (activations under RK4) is refused now
        crate::pipeline::check_state(&model, &State::new(&model))?;
        let per_env = env_bytes(&model);
        let too_large = |need: String, why: String| {
            Error::invalid(
                "n_envs",
                format!("{n_envs} envs of this model need {need} ({per_env} bytes each); {why}"),
            )
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
        Ok(Self {
            model,
            envs,
            workers: Arc::new(Workers::new()),
            backup: Vec::new(),
            warned: HashSet::new(),
            pools: Vec::new(),
        })
    }

    /// Number of environments.
    pub fn n_envs(&self) -> usize {
        self.envs.len()
    }

    /// The warnings among `warnings` not returned before (each once per sim).
    pub fn unseen(&mut self, warnings: Vec<Warning>) -> Vec<Warning> {
        warnings
            .into_iter()
            .filter(|w| self.warned.insert(w.key()))
            .collect()
    }

    /// Every env's positions (n_envs * nq) or, with `vel`, velocities (n_envs * nv).
    pub fn states(&self, vel: bool) -> Vec<f64> {
        let mut out = Vec::new();
        for e in &self.envs {
            out.extend_from_slice(if vel { &e.state.v } else { &e.state.q });
        }
        out
    }

    /// Set every env's state from `q` (n_envs * nq), `v` (n_envs * nv) and optionally the
    /// time, after the finiteness and quaternion checks (nothing is written if one fails).
    /// Quaternion blocks are normalized.
    pub fn set_states(&mut self, q: &[f64], v: &[f64], time: Option<f64>) -> Result<()> {
        let (nq, nv) = (self.model.nq, self.model.nv);
        check_rows("qpos", q, self.envs.len(), nq)?;
        check_rows("qvel", v, self.envs.len(), nv)?;
        check_quaternions(&self.model, q)?;
        for ((e, q), v) in self
            .envs
            .iter_mut()
            .zip(q.chunks(nq.max(1)))
            .zip(v.chunks(nv.max(1)))
        {
            e.state.q.copy_from_slice(&q[..nq]);
            e.state.v.copy_from_slice(&v[..nv]);
            e.state.normalize_quaternions(&self.model);
            if let Some(t) = time {
                e.state.time = t;
            }
        }
        Ok(())
    }

    /// Every env's total joint force of its last step ([`Carry::qfrc`]; zeros before any step),
    /// (n_envs * nv).
    pub fn dof_forces(&self) -> Vec<f64> {
        let nv = self.model.nv;
        let mut out = Vec::with_capacity(self.envs.len() * nv);
        for e in &self.envs {
            match e.carry.qfrc.len() {
                0 => out.extend(std::iter::repeat_n(0.0, nv)),
                _ => out.extend_from_slice(&e.carry.qfrc),
            }
        }
        out
    }

    /// Every env's activations (n_envs * na).
    pub fn acts(&self) -> Vec<f64> {
        self.envs
            .iter()
            .flat_map(|e| e.state.act.iter().copied())
            .collect()
    }

    /// Set every env's activations from `act` (n_envs * na), after the finiteness check
    /// (nothing is written if it fails).
    pub fn set_acts(&mut self, act: &[f64]) -> Result<()> {
        let na = self.model.na();
        check_rows("act", act, self.envs.len(), na)?;
        for (e, a) in self.envs.iter_mut().zip(act.chunks(na.max(1))) {
            e.state.act.copy_from_slice(&a[..na]);
        }
        Ok(())
    }

    /// Set every env's control: `modes` and `targets` (n_envs * nu each: the dofs, then the
    /// tendons).
    pub fn set_controls(&mut self, modes: &[CtrlMode], targets: &[f64]) -> Result<()> {
        let nv = self.model.nu();
        check_rows("target", targets, self.envs.len(), nv)?;
        if modes.len() != targets.len() {
            return Err(Error::invalid(
                "mode",
                format!("expected {} modes", targets.len()),
            ));
        }
        for (i, e) in self.envs.iter_mut().enumerate() {
            e.control.mode.copy_from_slice(&modes[i * nv..(i + 1) * nv]);
            e.control
                .target
                .copy_from_slice(&targets[i * nv..(i + 1) * nv]);
        }
        Ok(())
    }

    /// Parameter `name` of every env, stacked: its shape (n_envs, *per-env shape) and values.
    pub fn param(&self, name: &str) -> Result<(Vec<usize>, Vec<f64>)> {
        let params: Vec<&Params> = self.envs.iter().map(|e| &e.params).collect();
        stacked(&self.model, name, &params)
    }

    /// Set parameter `name` of every env from `x` of shape `shape` (n_envs, *per-env shape).
    /// Every env's value is checked before any is written.
    pub fn set_param(&mut self, name: &str, shape: &[usize], x: &[f64]) -> Result<()> {
        let field = param_field(name)?;
        let mut want = field.shape(&self.model);
        want.insert(0, self.envs.len());
        if shape != want.as_slice() {
            return Err(Error::invalid(
                name,
                format!("expected shape {want:?}, got {shape:?}"),
            ));
        }
        let per = field.size(&self.model).max(1);
        let mut staged: Vec<Params> = self.envs.iter().map(|e| e.params.clone()).collect();
        for (p, chunk) in staged.iter_mut().zip(x.chunks(per)) {
            field.write(p, chunk)?;
        }
        for (e, p) in self.envs.iter_mut().zip(staged) {
            e.params = p;
        }
        Ok(())
    }

    /// Step every env `nsteps` times in parallel (see [`batch::step_all_n`]). When the steps
    /// are interrupted ([`Workers::interrupt`]) every env is put back as before the call.
    pub fn step(&mut self, nsteps: usize) -> Result<()> {
        let rollback = is_long(&self.model, self.envs.len().saturating_mul(nsteps));
        if rollback {
            self.save_states();
        }
        let r = batch::step_all_n(&self.model, &mut self.envs, &self.workers, nsteps);
        if rollback && matches!(r, Err(Error::Interrupted { .. })) {
            self.restore_states(); // as before the call, not some envs part-way
        }
        r
    }

    /// [`Sim::step`] on a pool of `threads` threads of this sim's own (made once per size)
    /// instead of the global pool, or on the global pool if None (the bench times one and two
    /// threads in turn in one process).
    pub fn step_on(&mut self, threads: Option<usize>, nsteps: usize) -> Result<()> {
        let Some(k) = threads else {
            return self.step(nsteps);
        };
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        if k == 0 || k > cores {
            let why = match k {
                0 => "must be at least 1".to_string(),
                _ => format!("at most {cores} (this machine's cores), got {k}"),
            };
            return Err(Error::invalid("threads", why));
        }
        let at = match self.pools.iter().position(|(n, _)| *n == k) {
            Some(at) => at,
            None => {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(k).build();
                let pool = pool.map_err(|e| {
                    Error::invalid("threads", format!("cannot start {k} threads: {e}"))
                })?;
                self.pools.push((k, Arc::new(pool)));
                self.pools.len() - 1
            }
        };
        let pool = self.pools[at].1.clone();
        pool.install(|| self.step(nsteps))
    }

    /// Run `f(i, env, scratch)` for every env in the scratch of the thread running it (see
    /// [`per_item`]).
    pub fn map_envs<T: Send>(
        &self,
        f: impl Fn(usize, &Env, &mut crate::Data) -> Result<T> + Sync + Send,
    ) -> Result<Vec<T>> {
        let (model, workers) = (&*self.model, &*self.workers);
        per_item(&self.envs, |i, e| workers.with(model, |d| f(i, e, d)))
    }

    /// Keep a copy of every env's state and carry (no allocation once the buffers exist).
    pub fn save_states(&mut self) {
        self.backup
            .resize_with(self.envs.len(), || (State::default(), Carry::default()));
        for ((b, c), e) in self.backup.iter_mut().zip(&self.envs) {
            b.clone_from(&e.state);
            c.clone_from(&e.carry);
        }
    }

    /// Put every env back as [`Sim::save_states`] found it.
    pub fn restore_states(&mut self) {
        for ((b, c), e) in self.backup.iter().zip(self.envs.iter_mut()) {
            e.state.clone_from(b);
            e.carry.clone_from(c);
        }
    }
}

/// Run `f(i, item)` for every item (in parallel over the rayon pool; a single item on the
/// calling thread): the results in order, or the error of the lowest-numbered failing item,
/// naming its env when there are several.
pub fn per_item<I: Sync, T: Send>(
    items: &[I],
    f: impl Fn(usize, &I) -> Result<T> + Sync + Send,
) -> Result<Vec<T>> {
    use rayon::prelude::*;
    let n = items.len();
    let one = |i: usize, x: &I| f(i, x).map_err(|err| if n > 1 { err.in_env(i) } else { err });
    if n == 1 {
        return Ok(vec![one(0, &items[0])?]);
    }
    let out: Vec<Result<T>> = batch::par_iter(items)
        .enumerate()
        .map(|(i, x)| one(i, x))
        .collect();
    out.into_iter().collect()
}

/// Parameter `name` of each of `params`, stacked: (len(params), *per-env shape) and values.
pub fn stacked(model: &Model, name: &str, params: &[&Params]) -> Result<(Vec<usize>, Vec<f64>)> {
    let field = param_field(name)?;
    let mut shape = field.shape(model);
    let mut out = Vec::with_capacity(params.len() * field.size(model));
    for p in params {
        field.read(p, &mut out);
    }
    shape.insert(0, params.len());
    Ok((shape, out))
}

/// An error naming the first of `names` that is not a parameter ([`PARAM_FIELDS`]).
pub fn check_param_names<S: AsRef<str>>(names: &[S]) -> Result<()> {
    names
        .iter()
        .try_for_each(|n| param_field(n.as_ref()).map(|_| ()))
}

/// Every parameter's name.
pub fn param_names() -> Vec<&'static str> {
    PARAM_FIELDS.iter().map(|f| f.name).collect()
}

/// Bytes one env of `m` holds: the struct, its state, control, warm start and parameters
/// (its contacts, a few per step, are left out).
pub fn env_bytes(m: &Model) -> usize {
    let params: usize = PARAM_FIELDS.iter().map(|f| f.size(m)).sum();
    std::mem::size_of::<Env>()
        + std::mem::size_of::<f64>() * (m.nq + 3 * m.nv + m.na() + params)
        + std::mem::size_of::<CtrlMode>() * m.nv
}

/// The memory this machine can still give (Linux: `MemAvailable`), or None where unknown.
fn available_memory() -> Option<usize> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// Whether a call of `steps` env-steps of `model` is long: long calls keep a rollback copy of
/// the envs, and a binding runs them where Ctrl-C can stop them (these many substeps take
/// milliseconds; a thread of their own costs some 20 us).
pub fn is_long(model: &Model, steps: usize) -> bool {
    steps.saturating_mul(model.opt.substeps) >= 256
}

/// An error unless `x` holds `rows` rows of `cols` finite values.
pub fn check_rows(name: &str, x: &[f64], rows: usize, cols: usize) -> Result<()> {
    if x.len() != rows * cols {
        return Err(Error::invalid(
            name,
            format!("expected shape ({rows}, {cols}), got {} values", x.len()),
        ));
    }
    if x.iter().any(|v| !v.is_finite()) {
        return Err(Error::invalid(
            name,
            "contains a non-finite value (NaN or inf)",
        ));
    }
    Ok(())
}

/// Check that every env's quaternion blocks in `q` (n_envs * nq) can be normalized, naming
/// the env.
pub fn check_quaternions(model: &Model, q: &[f64]) -> Result<()> {
    for (i, row) in q.chunks(model.nq.max(1)).enumerate() {
        crate::state::check_quaternions(model, row).map_err(|e| match e {
            Error::Invalid { what, message } => Error::invalid(format!("env {i}: {what}"), message),
            e => e,
        })?;
    }
    Ok(())
}

//! Multi-step calls over every env: a rollout (all or nothing) and a segment (the deferred
//! `scene.step()` calls of a front end, which keep the steps before a failure), with the
//! rollback and replay that give them those semantics, and the tapes their reverse passes use.

use super::{is_long, Sim};
use crate::adjoint::rollout::Tape;
use crate::batch::{self, At, Env, StepView};
use crate::diagnostics::{self, Warning};
use crate::error::{Error, Result};
use crate::model::CtrlMode;
use crate::pipeline::StepLog;
use rayon::prelude::*;

/// The controls of a multi-step call: per env and step, the dofs' modes and targets.
#[derive(Clone, Copy, Debug)]
pub struct Controls<'a> {
    /// Modes (n, nv), fixed over the steps, or per step (n, T, nv), row-major.
    modes: &'a [CtrlMode],
    per_step: bool,
    /// Targets (n, T, nv), row-major.
    targets: &'a [f64],
    t_end: usize,
    nv: usize,
}

impl<'a> Controls<'a> {
    /// Controls of `n` envs over `t_end` steps: `modes` of (n, nv) entries or, with
    /// `per_step`, (n, T, nv); `targets` of (n, T, nv). A non-finite target is an error naming
    /// its step, env and dof.
    pub fn new(
        n: usize,
        t_end: usize,
        nv: usize,
        modes: &'a [CtrlMode],
        per_step: bool,
        targets: &'a [f64],
    ) -> Result<Self> {
        let rows = if per_step { n * t_end } else { n };
        if modes.len() != rows * nv || targets.len() != n * t_end * nv {
            return Err(Error::invalid(
                "controls",
                format!(
                    "expected {} modes and {} targets",
                    rows * nv,
                    n * t_end * nv
                ),
            ));
        }
        Ok(Self {
            modes,
            per_step,
            targets,
            t_end,
            nv,
        })
    }

    /// An error naming the step, env and dof of the first non-finite target.
    pub fn check_finite(&self) -> Result<()> {
        if self.targets.iter().all(|x| x.is_finite()) {
            return Ok(());
        }
        let n = self.targets.len() / (self.t_end * self.nv).max(1);
        let (nv, t_end) = (self.nv, self.t_end);
        let (t, i, k) = (0..t_end)
            .flat_map(|t| (0..n).flat_map(move |i| (0..nv).map(move |k| (t, i, k))))
            .find(|&(t, i, k)| !self.target(i, t)[k].is_finite())
            .expect("a non-finite target");
        Err(Error::invalid(
            "controls",
            format!("NaN or inf at step {t} of the rollout, env {i}, dof {k}"),
        ))
    }

    /// Number of steps.
    pub fn len(&self) -> usize {
        self.t_end
    }

    /// Whether there are no steps.
    pub fn is_empty(&self) -> bool {
        self.t_end == 0
    }

    /// The modes of env `i` at step `t`.
    pub fn modes(&self, i: usize, t: usize) -> &'a [CtrlMode] {
        let k = if self.per_step { i * self.t_end + t } else { i };
        &self.modes[k * self.nv..(k + 1) * self.nv]
    }

    /// The targets of env `i` at step `t`.
    pub fn target(&self, i: usize, t: usize) -> &'a [f64] {
        let at = (i * self.t_end + t) * self.nv;
        &self.targets[at..at + self.nv]
    }

    /// The controls of env `i`, one per step (a tape's reverse pass takes them).
    pub fn of_env(&self, i: usize) -> Vec<crate::Control> {
        (0..self.t_end)
            .map(|t| crate::Control {
                mode: self.modes(i, t).to_vec(),
                target: self.target(i, t).to_vec(),
            })
            .collect()
    }
}

/// What a multi-step call produced.
#[derive(Debug)]
pub struct Run {
    /// Positions after every step ((n, T, nq) with a trajectory) or after the last (n, nq).
    pub qs: Vec<f64>,
    /// Velocities, likewise.
    pub vs: Vec<f64>,
    /// Steps per env in `qs`: T with a trajectory, else 1.
    pub rows: usize,
    /// One tape per env when recording.
    pub tapes: Option<Vec<Tape>>,
    /// Warnings of the steps not returned by an earlier call of this sim.
    pub warnings: Vec<Warning>,
}

/// A segment's outcome: the run of its `done` steps and, if a step failed, the error.
#[derive(Debug)]
pub struct Segment {
    /// The final states (and tapes) after `done` steps.
    pub run: Run,
    /// Steps done: T, or the steps before the first failing one.
    pub done: usize,
    /// The failure, if any.
    pub error: Option<Error>,
}

/// How a multi-step call runs.
#[derive(Clone, Copy, Debug)]
pub struct RunOptions {
    /// Return the states after every step, not only the last.
    pub trajectory: bool,
    /// Record a tape per env for the reverse pass.
    pub record: bool,
    /// Keep every `stride`-th state on the tapes (>= 1).
    pub stride: usize,
}

type EnvRun = std::result::Result<(Vec<f64>, Vec<f64>, Option<Tape>, Vec<Warning>), (usize, Error)>;

impl Sim {
    /// `ctrl.len()` steps of every env from its state, each env's horizon one parallel task,
    /// leaving every env as before the call if one fails (the error names the env and step).
    pub fn rollout(&mut self, ctrl: &Controls<'_>, opt: RunOptions) -> Result<Run> {
        ctrl.check_finite()?;
        self.save_states();
        self.run(ctrl, ctrl.len(), opt).map_err(|(_, e)| {
            self.restore_states();
            e
        })
    }

    /// The deferred steps of a front end, run as one batch: as [`Sim::rollout`] without a
    /// trajectory, but a failure leaves every env after the steps that preceded the first
    /// failing step (those a sequential loop of single steps would have made), so
    /// `done < T` exactly when `error` is set. An interruption leaves every env as before.
    pub fn segment(&mut self, ctrl: &Controls<'_>, record: bool) -> Segment {
        let opt = RunOptions {
            trajectory: false,
            record,
            stride: 1,
        };
        self.save_states();
        let (failed, error) = match self.run(ctrl, ctrl.len(), opt) {
            Ok(run) => {
                return Segment {
                    run,
                    done: ctrl.len(),
                    error: None,
                }
            }
            Err(f) => f,
        };
        // every env back to the segment's start, then the steps before the failure again
        // (deterministic, so they succeed as they did)
        self.restore_states();
        let replay = match error {
            Error::Interrupted { .. } => 0,
            _ => failed,
        };
        match self.run(ctrl, replay, opt) {
            Ok(run) => Segment {
                run,
                done: replay,
                error: Some(error),
            },
            Err((_, e2)) => Segment {
                run: self.cancel(ctrl, record),
                done: 0,
                error: Some(e2),
            },
        }
    }

    /// Put every env back as before the last rollout or segment (for a caller told of an
    /// interruption after the steps ran) and return the run of no steps.
    pub fn cancel(&mut self, ctrl: &Controls<'_>, record: bool) -> Run {
        self.restore_states();
        let opt = RunOptions {
            trajectory: false,
            record,
            stride: 1,
        };
        self.run(ctrl, 0, opt).expect("no step")
    }

    /// `t_end` (<= `ctrl.len()`) steps of every env from its state under `ctrl`; each env's
    /// horizon is one parallel task. On failure: the first failing step (lowest over envs;
    /// among those, the error of the lowest env), the envs being left wherever they stopped.
    pub fn run(
        &mut self,
        ctrl: &Controls<'_>,
        t_end: usize,
        opt: RunOptions,
    ) -> std::result::Result<Run, (usize, Error)> {
        let (n, nq, nv) = (self.envs.len(), self.model.nq, self.model.nv);
        let (model, workers) = (&*self.model, &*self.workers);
        let rows = if opt.trajectory { t_end } else { 1 };
        let one = |i: usize, e: &mut Env| -> EnvRun {
            let mut tape = opt.record.then(|| {
                let mut tp = Tape::new(e.params.clone(), opt.stride);
                tp.reserve(t_end, model);
                tp
            });
            let mut q = Vec::with_capacity(rows * nq);
            let mut v = Vec::with_capacity(rows * nv);
            let mut warnings = Vec::new(); // allocated only if a step warns
            let mut log = opt.record.then(|| StepLog::new(model)); // the substeps a tape keeps
            if t_end == 0 {
                q.extend_from_slice(&e.state.q);
                v.extend_from_slice(&e.state.v);
                return Ok((q, v, tape, warnings));
            }
            let hook = |t: usize,
                        at: At,
                        c: &mut crate::Control,
                        s: &crate::State,
                        view: &StepView<'_>| match at {
                At::Before => {
                    c.mode.copy_from_slice(ctrl.modes(i, t));
                    c.target.copy_from_slice(ctrl.target(i, t));
                    if let Some(tp) = tape.as_mut() {
                        tp.record_state(s, view.carry); // the caller keeps the controls
                    }
                }
                At::After => {
                    if let Some(tp) = tape.as_mut() {
                        tp.record_result(view.data, view.log); // the reverse pass replays them
                    }
                    if opt.trajectory || t + 1 == t_end {
                        q.extend_from_slice(&s.q);
                        v.extend_from_slice(&s.v);
                    }
                    diagnostics::contact_warnings(model, view.data, &mut warnings);
                }
            };
            workers
                .with(model, |d| {
                    e.step_with(model, d, t_end, workers.interrupt(), log.as_mut(), hook)
                })
                .map_err(|(t, err)| (t, if n > 1 { err.in_env(i) } else { err }))?;
            Ok((q, v, tape, warnings))
        };
        let out: Vec<EnvRun> = if n == 1 {
            vec![one(0, &mut self.envs[0])]
        } else {
            batch::par_iter_mut(&mut self.envs)
                .enumerate()
                .map(|(i, e)| one(i, e))
                .collect()
        };
        let mut run = Run {
            qs: Vec::with_capacity(n * rows * nq),
            vs: Vec::with_capacity(n * rows * nv),
            rows,
            tapes: opt.record.then(|| Vec::with_capacity(n)),
            warnings: Vec::new(),
        };
        let mut failure: Option<(usize, Error)> = None;
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
        if let Some(f) = failure {
            return Err(f);
        }
        run.warnings = self.unseen(warnings);
        Ok(run)
    }

    /// Whether `steps` steps of every env make a long call (see [`is_long`]).
    pub fn is_long(&self, steps: usize) -> bool {
        is_long(&self.model, self.envs.len().saturating_mul(steps))
    }
}

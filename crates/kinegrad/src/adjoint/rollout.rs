//! Whole trajectories: roll out T steps keeping the states, then run the reverse pass from
//! per-step seed adjoints. Memory is O(T (nq + nv)); substep internals are recomputed.

use super::step::{step_vjp_recorded, StepRecord, VjpScratch};
use super::{params_zeros, StepGrad};
use crate::data::Data;
use crate::error::{Error, Result};
use crate::interrupt::Interrupt;
use crate::model::{Model, Params};
use crate::pipeline::{self, ContactRecord, StepLog};
use crate::state::{Control, State, StepCarry};

/// Roll out `controls.len()` steps from `init`, the first solve cold (as the recomputations of
/// [`rollout_vjp`]); returns the T + 1 states (the first is `init`).
pub fn rollout(
    model: &Model,
    params: &Params,
    init: &State,
    controls: &[Control],
    data: &mut Data,
) -> Result<Vec<State>> {
    let mut states = Vec::with_capacity(controls.len() + 1);
    states.push(init.clone());
    let mut s = init.clone();
    let mut carry = StepCarry::new(model);
    for (t, c) in controls.iter().enumerate() {
        pipeline::step(model, params, &mut s, c, &mut carry, data).map_err(|e| match e {
            Error::Diverged { step, message } => Error::Diverged {
                step,
                message: format!("rollout step {t}: {message}"),
            },
            other => other,
        })?;
        states.push(s.clone());
    }
    Ok(states)
}

/// Adjoints of a trajectory's inputs.
#[derive(Clone, Debug)]
pub struct RolloutGrad {
    /// dL/dq of the initial state (nq).
    pub q0: Vec<f64>,
    /// dL/dv of the initial state (nv).
    pub v0: Vec<f64>,
    /// dL/dact of the initial state (na).
    pub act0: Vec<f64>,
    /// dL/d(control target) of each step (T x nu).
    pub targets: Vec<Vec<f64>>,
    /// dL/d(parameters), summed over the steps.
    pub params: Params,
}

/// Reverse pass over a trajectory from [`rollout`]. `seed(t, state, q_bar, v_bar)` adds the
/// direct adjoint dL/d(state t) for t = 1..=T into `q_bar`, `v_bar` (zeroed before each call).
pub fn rollout_vjp(
    model: &Model,
    params: &Params,
    states: &[State],
    controls: &[Control],
    data: &mut Data,
    mut seed: impl FnMut(usize, &State, &mut [f64], &mut [f64]),
) -> Result<RolloutGrad> {
    let t_end = controls.len();
    if states.len() != t_end + 1 {
        return Err(Error::invalid(
            "rollout_vjp",
            format!(
                "expected {} states for {} controls, got {}",
                t_end + 1,
                t_end,
                states.len()
            ),
        ));
    }
    let tape = Tape {
        params: params.clone(),
        stride: 1,
        len: t_end,
        ckpt_q: states[..t_end]
            .iter()
            .flat_map(|s| s.q.iter().copied())
            .collect(),
        ckpt_v: states[..t_end]
            .iter()
            .flat_map(|s| s.v.iter().copied())
            .collect(),
        ckpt_act: states[..t_end]
            .iter()
            .flat_map(|s| s.act.iter().copied())
            .collect(),
        ckpt_time: states[..t_end].iter().map(|s| s.time).collect(),
        ckpt_warm: Vec::new(),
        controls: Vec::new(),
        results: Results::default(),
    };
    let mut targets = vec![vec![0.0; model.nu()]; t_end];
    let g = tape.vjp(
        model,
        data,
        Some(controls),
        None,
        |t, q, v| seed(t + 1, &states[t + 1], q, v),
        |t, g| targets[t].copy_from_slice(g),
    )?;
    Ok(RolloutGrad {
        act0: g.act0,
        q0: g.q0,
        v0: g.v0,
        targets,
        params: g.params,
    })
}

/// A recorded trajectory of one env, for a reverse pass later: the parameters it ran with,
/// the input state and solver warm start of every `stride`-th step (checkpoints; the steps
/// between them are recomputed by [`Tape::vjp`] from the warm start they ran with, so the same
/// as they ran, whatever scratch recomputes them; the tape [`rollout_vjp`] makes from states
/// alone starts each recomputation cold) and, unless the caller keeps them, the control of
/// every step. Memory: T / stride states and warm starts (and T controls).
///
/// With `stride` 1, [`Tape::record_result`] after each step also keeps what the step's forward
/// pass found (each substep's constrained acceleration, solver residual and contacts: nv + 1
/// floats and the contacts per substep), so that the reverse pass recomputes the step without
/// collision detection and without solving again (see [`pipeline::forward_replay`]).
#[derive(Clone, Debug)]
pub struct Tape {
    /// Parameters of every recorded step (a tape never mixes parameter sets).
    pub params: Params,
    stride: usize,
    len: usize,
    /// Checkpoint states, flat: positions (n x nq), velocities (n x nv), activations (n x na),
    /// times (n).
    ckpt_q: Vec<f64>,
    ckpt_v: Vec<f64>,
    ckpt_act: Vec<f64>,
    ckpt_time: Vec<f64>,
    /// Solver warm start of each checkpoint's step (n x nv; empty when not recorded).
    ckpt_warm: Vec<f64>,
    controls: Vec<Control>,
    results: Results,
}

/// Forward results of consecutive steps from the first: each substep's solution and contacts.
#[derive(Clone, Debug, Default)]
struct Results {
    /// Steps held.
    len: usize,
    /// Constrained accelerations. (len x substeps x nv)
    qacc: Vec<f64>,
    /// Solver residuals. (len x substeps)
    residual: Vec<f64>,
    /// Contacts of every substep, concatenated.
    contacts: Vec<ContactRecord>,
    /// End of each substep's contacts in `contacts`. (len x substeps)
    ends: Vec<usize>,
}

impl Results {
    fn clear(&mut self) {
        self.len = 0;
        self.qacc.clear();
        self.residual.clear();
        self.contacts.clear();
        self.ends.clear();
    }

    /// Append the results of the step `data` has just taken, whose substeps `log` holds
    /// (empty with one substep per step).
    fn push(&mut self, data: &Data, log: &StepLog) {
        if log.is_empty() {
            // one substep per step: the last forward pass is the step's
            self.qacc.extend_from_slice(&data.qacc);
            self.residual.push(data.solver_residual);
            self.contacts
                .extend(data.contacts.iter().map(ContactRecord::of));
            self.ends.push(self.contacts.len());
        } else {
            self.qacc.extend_from_slice(&log.qacc);
            self.residual.extend_from_slice(&log.residual);
            let base = self.contacts.len();
            self.contacts
                .extend(log.contacts.iter().map(ContactRecord::of));
            self.ends.extend(log.contact_end.iter().map(|e| base + e));
        }
        self.len += 1;
    }

    /// Keep the first `len` steps.
    fn truncate(&mut self, len: usize) {
        if len >= self.len {
            return;
        }
        if len == 0 {
            self.clear();
            return;
        }
        let (ns, na) = (self.ends.len() / self.len, self.qacc.len() / self.len);
        self.qacc.truncate(len * na);
        self.ends.truncate(len * ns);
        self.residual.truncate(len * ns);
        self.contacts.truncate(self.ends[len * ns - 1]);
        self.len = len;
    }

    /// The record of step `i` (< len).
    fn get(&self, i: usize) -> StepRecord<'_> {
        let (ns, na) = (self.ends.len() / self.len, self.qacc.len() / self.len);
        let ends = &self.ends[i * ns..(i + 1) * ns];
        let base = if i == 0 { 0 } else { self.ends[i * ns - 1] };
        StepRecord::new(
            &self.qacc[i * na..(i + 1) * na],
            &self.residual[i * ns..(i + 1) * ns],
            &self.contacts[base..ends[ns - 1]],
            ends,
            base,
        )
    }

    fn nbytes(&self) -> usize {
        8 * (self.qacc.len() + self.residual.len())
            + std::mem::size_of::<ContactRecord>() * self.contacts.len()
            + std::mem::size_of::<usize>() * self.ends.len()
    }
}

/// What a reverse pass over a [`Tape`] returns (besides the control adjoints, written through
/// a callback).
#[derive(Clone, Debug)]
pub struct TapeGrad {
    /// dL/dq of the initial state (nq), at the normalized quaternion blocks.
    pub q0: Vec<f64>,
    /// dL/dv of the initial state (nv).
    pub v0: Vec<f64>,
    /// dL/dact of the initial state (na).
    pub act0: Vec<f64>,
    /// dL/d(parameters), summed over the steps.
    pub params: Params,
    /// Norm of the state adjoint dL/d(state t) entering each step t from later steps,
    /// before clipping (T entries).
    pub norms: Vec<f64>,
}

impl Tape {
    /// An empty tape for steps run with `params`, keeping every `stride`-th input state (>= 1).
    pub fn new(params: Params, stride: usize) -> Self {
        Self {
            params,
            stride: stride.max(1),
            len: 0,
            ckpt_q: Vec::new(),
            ckpt_v: Vec::new(),
            ckpt_act: Vec::new(),
            ckpt_time: Vec::new(),
            ckpt_warm: Vec::new(),
            controls: Vec::new(),
            results: Results::default(),
        }
    }

    /// Make room for `steps` more steps of `model` (recording them then allocates only when
    /// their contacts outgrow the results' room).
    pub fn reserve(&mut self, steps: usize, model: &Model) {
        let n = steps.div_ceil(self.stride);
        self.ckpt_q.reserve(n * model.nq);
        self.ckpt_v.reserve(n * model.nv);
        self.ckpt_act.reserve(n * model.na());
        self.ckpt_time.reserve(n);
        self.ckpt_warm.reserve(n * model.nv);
        if self.stride == 1 {
            let sub = steps * model.opt.substeps;
            self.results.qacc.reserve(sub * model.nv);
            self.results.residual.reserve(sub);
            self.results.ends.reserve(sub);
        }
    }

    /// Number of checkpoints held.
    fn n_ckpt(&self) -> usize {
        self.ckpt_time.len()
    }

    /// Checkpoint `k` into `out` (whose vectors have the model's sizes), and its warm start
    /// into `warm` (zeros when the tape has none).
    fn ckpt_into(&self, k: usize, out: &mut State, warm: &mut [f64]) {
        let (nq, nv) = (out.q.len(), out.v.len());
        out.q.copy_from_slice(&self.ckpt_q[k * nq..(k + 1) * nq]);
        out.v.copy_from_slice(&self.ckpt_v[k * nv..(k + 1) * nv]);
        let na = out.act.len();
        out.act
            .copy_from_slice(&self.ckpt_act[k * na..(k + 1) * na]);
        out.time = self.ckpt_time[k];
        match self.ckpt_warm.get(k * nv..(k + 1) * nv) {
            Some(w) => warm.copy_from_slice(w),
            None => warm.fill(0.0),
        }
    }

    /// Number of recorded steps.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no step is recorded.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes held by the recorded states, controls and step results (for memory reports).
    pub fn nbytes(&self) -> usize {
        let st = 8
            * (self.ckpt_q.len()
                + self.ckpt_v.len()
                + self.ckpt_act.len()
                + self.ckpt_time.len()
                + self.ckpt_warm.len());
        let ct: usize = self.controls.iter().map(|c| 9 * c.target.len()).sum();
        st + ct + self.results.nbytes()
    }

    /// Record the step about to be taken from `state` under `control` with `carry` (call before
    /// stepping: the step's solver warm start is read from `carry`).
    pub fn record(&mut self, state: &State, control: &Control, carry: &StepCarry) {
        self.record_state(state, carry);
        self.controls.push(control.clone());
    }

    /// Record the step about to be taken from `state` with `carry` (call before stepping), its
    /// control being kept by the caller (and given to [`Tape::vjp`]).
    pub fn record_state(&mut self, state: &State, carry: &StepCarry) {
        if self.len.is_multiple_of(self.stride) {
            self.ckpt_q.extend_from_slice(&state.q);
            self.ckpt_v.extend_from_slice(&state.v);
            self.ckpt_act.extend_from_slice(&state.act);
            self.ckpt_time.push(state.time);
            self.ckpt_warm.extend_from_slice(&carry.qacc_warmstart);
        }
        self.len += 1;
    }

    /// Keep what the forward pass of the last recorded step found (call right after the step
    /// succeeded, with the `data` it ran in and the `log` of its substeps, which
    /// [`pipeline::step_interruptible`] fills for models of more than one substep per step), for
    /// a cheaper reverse pass: the step's constrained accelerations and contacts, per substep. Tapes with `stride` > 1 keep no
    /// results (they recompute them per segment in [`Tape::vjp`]); a tape whose results miss a
    /// step keeps none either. Results are optional: [`Tape::vjp`] without them recomputes the
    /// steps in full and gives the same gradients to round-off.
    pub fn record_result(&mut self, data: &Data, log: &StepLog) {
        if self.stride > 1 {
            return;
        }
        if !data.rk.q.is_empty() {
            // Runge-Kutta 4: the reverse recomputes its stages, nothing to keep
            self.results.clear();
            return;
        }
        if self.results.len + 1 != self.len {
            // not the result of the last recorded step, or an earlier step has none
            self.results.clear();
            return;
        }
        self.results.push(data, log);
    }

    /// Whether every recorded step has its forward results (see [`Tape::record_result`]).
    pub fn has_results(&self) -> bool {
        self.len > 0 && self.results.len == self.len
    }

    /// Forget the last recorded step (its forward step failed).
    pub fn pop(&mut self) {
        if self.len == 0 {
            return;
        }
        self.len -= 1;
        self.results.truncate(self.len);
        if self.controls.len() > self.len {
            self.controls.pop();
        }
        if self.len.is_multiple_of(self.stride) {
            if let Some(n) = self.n_ckpt().checked_sub(1) {
                self.ckpt_q.truncate(n * (self.ckpt_q.len() / (n + 1)));
                self.ckpt_v.truncate(n * (self.ckpt_v.len() / (n + 1)));
                self.ckpt_act.truncate(n * (self.ckpt_act.len() / (n + 1)));
                self.ckpt_time.truncate(n);
                self.ckpt_warm
                    .truncate(n * (self.ckpt_warm.len() / (n + 1)));
            }
        }
    }

    /// Reverse pass, with the recorded controls or, when the tape kept none, `controls` (one
    /// per step). `seed(t, q_bar, v_bar)` adds the direct adjoint dL/d(state after step t),
    /// t = 0..T-1, into the zeroed `q_bar`, `v_bar`; `target_bar(t, g)` receives the adjoint of
    /// step t's control target. With `clip = Some(c)`, the state adjoint leaving each step is
    /// scaled down to norm c when larger (gradient clipping for long horizons).
    pub fn vjp(
        &self,
        model: &Model,
        data: &mut Data,
        controls: Option<&[Control]>,
        clip: Option<f64>,
        seed: impl FnMut(usize, &mut [f64], &mut [f64]),
        target_bar: impl FnMut(usize, &[f64]),
    ) -> Result<TapeGrad> {
        self.vjp_interruptible(
            model,
            data,
            controls,
            clip,
            Interrupt::never(),
            &[],
            seed,
            target_bar,
        )
    }

    /// [`Tape::vjp`], stopping with [`Error::Interrupted`] if `interrupt` is requested before
    /// one of its steps (forward recomputations included), seeded with `act_end_bar`, the
    /// adjoint of the activations after the last step (na entries, or none for zeros: the
    /// activations are read at the end of a trajectory only).
    #[allow(clippy::too_many_arguments)]
    pub fn vjp_interruptible(
        &self,
        model: &Model,
        data: &mut Data,
        controls: Option<&[Control]>,
        clip: Option<f64>,
        interrupt: &Interrupt,
        act_end_bar: &[f64],
        mut seed: impl FnMut(usize, &mut [f64], &mut [f64]),
        mut target_bar: impl FnMut(usize, &[f64]),
    ) -> Result<TapeGrad> {
        let t_end = self.len;
        let controls = controls.unwrap_or(&self.controls);
        if controls.len() != t_end {
            return Err(Error::invalid(
                "tape",
                format!("{t_end} recorded steps but {} controls", controls.len()),
            ));
        }
        let mut qb = vec![0.0; model.nq];
        let mut vb = vec![0.0; model.nv];
        let mut actb = vec![0.0; model.na()];
        match act_end_bar.len() {
            0 => {}
            n if n == actb.len() => actb.copy_from_slice(act_end_bar),
            n => {
                return Err(Error::invalid(
                    "tape",
                    format!("{n} activation adjoints for {} activations", actb.len()),
                ))
            }
        }
        let mut direct_q = vec![0.0; model.nq];
        let mut direct_v = vec![0.0; model.nv];
        let mut grad = StepGrad::zeros(model);
        let mut norms = vec![0.0; t_end];
        let recorded = self.has_results();
        // the input states of steps s0 + 1..s1 of a segment, recomputed from its checkpoint
        // (stride > 1), and the results of the steps that computed them
        let mut seg: Vec<State> = Vec::new();
        let mut seg_results = Results::default();
        let mut log = StepLog::default();
        let mut start = State::new(model);
        let mut carry = StepCarry::new(model);
        let mut scratch = VjpScratch::new(model);
        for k in (0..self.n_ckpt()).rev() {
            // the segment's steps recomputed from where they ran: state and warm start (the
            // substep count from the tape's first step)
            self.ckpt_into(k, &mut start, &mut carry.qacc_warmstart);
            let start = &start;
            let s0 = k * self.stride;
            let s1 = (s0 + self.stride).min(t_end);
            carry.nstep = (s0 * model.opt.substeps) as u64;
            seg_results.clear();
            for t in s0..s1 - 1 {
                let i = t - s0;
                if seg.len() <= i {
                    seg.push(start.clone());
                }
                let (before, rest) = seg.split_at_mut(i);
                let s = &mut rest[0];
                s.clone_from(if i == 0 { start } else { &before[i - 1] });
                pipeline::step_interruptible(
                    model,
                    &self.params,
                    s,
                    &controls[t],
                    &mut carry,
                    data,
                    interrupt,
                    Some(&mut log),
                )
                .map_err(|e| match e {
                    Error::Diverged { step, message } => Error::Diverged {
                        step,
                        message: format!("recomputing step {t} for the backward pass: {message}"),
                    },
                    other => other,
                })?;
                seg_results.push(data, &log);
            }
            for t in (s0..s1).rev() {
                if interrupt.requested() {
                    return Err(Error::Interrupted { step: t as u64 });
                }
                direct_q.iter_mut().for_each(|x| *x = 0.0);
                direct_v.iter_mut().for_each(|x| *x = 0.0);
                seed(t, &mut direct_q, &mut direct_v);
                qb.iter_mut().zip(&direct_q).for_each(|(a, b)| *a += b);
                vb.iter_mut().zip(&direct_v).for_each(|(a, b)| *a += b);
                grad.target.iter_mut().for_each(|x| *x = 0.0);
                let record = if recorded {
                    Some(self.results.get(t))
                } else if t - s0 < seg_results.len {
                    Some(seg_results.get(t - s0))
                } else {
                    None
                };
                step_vjp_recorded(
                    model,
                    &self.params,
                    if t == s0 { start } else { &seg[t - s0 - 1] },
                    &controls[t],
                    &carry,
                    data,
                    &mut scratch,
                    (&qb, &vb, &actb),
                    &mut grad,
                    record,
                )
                .map_err(|e| match e {
                    Error::Diverged { step, message } => Error::Diverged {
                        step,
                        message: format!("backward through step {t}: {message}"),
                    },
                    other => other,
                })?;
                target_bar(t, &grad.target);
                let norm = grad
                    .q
                    .iter()
                    .chain(&grad.v)
                    .chain(&grad.act)
                    .map(|x| x * x)
                    .sum::<f64>()
                    .sqrt();
                if !norm.is_finite() {
                    return Err(Error::Diverged {
                        step: t as u64,
                        message: format!(
                            "backward through step {t}: the adjoint of the step's input state is not finite"
                        ),
                    });
                }
                norms[t] = norm;
                let scale = match clip {
                    Some(c) if norm > c => c / norm,
                    _ => 1.0,
                };
                qb.iter_mut().zip(&grad.q).for_each(|(a, b)| *a = b * scale);
                vb.iter_mut().zip(&grad.v).for_each(|(a, b)| *a = b * scale);
                actb.iter_mut()
                    .zip(&grad.act)
                    .for_each(|(a, b)| *a = b * scale);
            }
        }
        let mut params_bar = params_zeros(model);
        std::mem::swap(&mut params_bar, &mut grad.params);
        Ok(TapeGrad {
            q0: qb,
            v0: vb,
            act0: actb,
            params: params_bar,
            norms,
        })
    }
}

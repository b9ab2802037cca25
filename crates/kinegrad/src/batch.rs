//! Many independent copies of one model stepped in parallel (one per env).
//!
//! An env owns what evolves and what it is made of: its state, control and parameters, plus
//! what one step hands to the next (the solver's warm start, the step count, the contacts of
//! the last step). The scratch a step computes in is not the env's: it belongs to the thread
//! running the step ([`Workers`], one [`Data`] per thread, as Pinocchio's model pools keep one
//! `Data` per thread). A thousand envs then hold a thousand small states rather than a
//! thousand scratch buffers, and a step of the next env finds its scratch in this core's cache
//! instead of fetching the env's own from memory.

use crate::adjoint::step::VjpScratch;
use crate::constraint::ContactReport;
use crate::data::Data;
use crate::error::{Error, Result};
use crate::interrupt::Interrupt;
use crate::model::{Model, Params};
use crate::pipeline::{self, StepLog};
use crate::state::{Control, State, StepCarry};
use rayon::prelude::*;
use std::sync::{Mutex, TryLockError};

/// One env: its state, control and parameters, and what its steps carry from one to the next.
#[derive(Clone, Debug)]
pub struct Env {
    /// State.
    pub state: State,
    /// Control.
    pub control: Control,
    /// Physical parameters.
    pub params: Params,
    /// What the last step hands to the next.
    pub carry: Carry,
}

/// What an env's step hands to the next besides the state: the solver's warm start and the
/// step count (what [`pipeline::step`] reads and updates), and the step's contacts.
#[derive(Debug, Default)]
pub struct Carry {
    /// The solver's warm start (the last step's constrained acceleration) and the substeps
    /// taken so far (step errors name it).
    pub step: StepCarry,
    /// Contacts of the last step (its last substep), with their forces.
    pub contacts: Vec<ContactReport>,
    /// The total joint force of the last step (its last substep): smooth forces and constraint
    /// forces, `qfrc_smooth + qfrc_constraint` (nv; empty before the first step).
    pub qfrc: Vec<f64>,
}

impl Clone for Carry {
    fn clone(&self) -> Self {
        Self {
            step: self.step.clone(),
            contacts: self.contacts.clone(),
            qfrc: self.qfrc.clone(),
        }
    }

    /// Without allocating once the buffers have room (the backup before every batched call).
    fn clone_from(&mut self, src: &Self) {
        self.step.clone_from(&src.step);
        self.contacts.clone_from(&src.contacts);
        self.qfrc.clone_from(&src.qfrc);
    }
}

/// What the hook of [`Env::step_with`] sees of the env's steps besides its control and state.
#[derive(Clone, Copy, Debug)]
pub struct StepView<'a> {
    /// The scratch the steps run in (after a step: what it computed).
    pub data: &'a Data,
    /// The env's warm start and step count (before a step: what the step starts from).
    pub carry: &'a StepCarry,
    /// The substeps of the step just taken (after it; empty without a log, or with one
    /// substep per step).
    pub log: &'a StepLog,
}

static NO_LOG: StepLog = StepLog {
    qacc: Vec::new(),
    residual: Vec::new(),
    contacts: Vec::new(),
    contact_end: Vec::new(),
};

/// Where [`Env::step_with`] calls its hook.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum At {
    /// Before step t: the control may be set, the state and carry read (a tape records them).
    Before,
    /// After step t succeeded.
    After,
}

impl Env {
    /// An env at the model's reference configuration with default parameters.
    pub fn new(model: &Model) -> Self {
        Self {
            state: State::new(model),
            control: Control::new(model),
            params: model.params0.clone(),
            carry: Carry {
                step: StepCarry::new(model),
                contacts: Vec::new(),
                qfrc: Vec::with_capacity(model.nv),
            },
        }
    }

    /// `nsteps` steps under the env's control, in the scratch `data` (see [`Env::step_with`]).
    pub fn step_n(&mut self, model: &Model, data: &mut Data, nsteps: usize) -> Result<()> {
        self.step_with(
            model,
            data,
            nsteps,
            Interrupt::never(),
            None,
            |_, _, _, _, _| {},
        )
        .map_err(|(_, e)| e)
    }

    /// `nsteps` steps in the scratch `data`, calling `hook(t, at, control, state, view)` before
    /// each step and after each step that succeeds; `view` shows the scratch, the env's carry
    /// and, with `log`, the substeps of the step just taken. The steps update the env's carry
    /// as they go, and its contacts are those of the last step. A failing step t leaves the
    /// state and warm start before it (see [`pipeline::step`]) and is returned with t; the
    /// step count keeps the substeps that ran and, when earlier steps of the call moved the
    /// state (t > 0), the contacts are cleared: `data` holds the failing step's, and the last
    /// good step's are gone. A requested `interrupt` fails the next substep with
    /// [`Error::Interrupted`], like any failing step.
    pub fn step_with(
        &mut self,
        model: &Model,
        data: &mut Data,
        nsteps: usize,
        interrupt: &Interrupt,
        mut log: Option<&mut StepLog>,
        mut hook: impl FnMut(usize, At, &mut Control, &State, &StepView<'_>),
    ) -> std::result::Result<(), (usize, Error)> {
        if nsteps == 0 {
            return Ok(()); // `data` holds no step of this env to keep
        }
        for t in 0..nsteps {
            let view = StepView {
                data,
                carry: &self.carry.step,
                log: log.as_deref().unwrap_or(&NO_LOG),
            };
            hook(t, At::Before, &mut self.control, &self.state, &view);
            if let Err(e) = pipeline::step_interruptible(
                model,
                &self.params,
                &mut self.state,
                &self.control,
                &mut self.carry.step,
                data,
                interrupt,
                log.as_deref_mut(),
            ) {
                if t > 0 {
                    self.carry.contacts.clear();
                }
                return Err((t, e));
            }
            let view = StepView {
                data,
                carry: &self.carry.step,
                log: log.as_deref().unwrap_or(&NO_LOG),
            };
            hook(t, At::After, &mut self.control, &self.state, &view);
        }
        let c = &mut self.carry.contacts;
        c.clear();
        c.extend((0..data.contacts.len()).map(|k| ContactReport::of(data, k)));
        let f = &mut self.carry.qfrc;
        f.clear();
        f.extend(
            data.qfrc_smooth
                .iter()
                .zip(&data.qfrc_constraint)
                .map(|(a, b)| a + b),
        );
        Ok(())
    }
}

/// Scratch for one model's steps on many threads: one [`Data`] per thread of the rayon pool,
/// plus one for threads outside it (the caller's), each made on first use. A task takes the
/// scratch of the thread running it. Should that scratch be taken already (a call from outside
/// the pool while another runs, a pool larger than the one this was sized for, or a task
/// nested in one that holds it), the task gets scratch of its own for the call, so a call
/// never waits and never deadlocks.
///
/// The computations run in this scratch also share one [`Interrupt`] (see
/// [`Workers::interrupt`]): the owner requests it to stop them all at their next substep.
#[derive(Debug)]
pub struct Workers {
    slots: Vec<Slot>,
    interrupt: Interrupt,
}

/// One thread's scratch, on cache lines of its own: the `Data` header's fields (vector
/// lengths, counters) are written every step, and two threads writing one line would
/// contend for it.
#[derive(Debug)]
#[repr(align(128))]
struct Slot(Mutex<Option<Scratch>>);

/// A thread's scratch: the forward pass's `Data` and, once a reverse pass ran on the thread,
/// the reverse pass's buffers.
#[derive(Debug)]
struct Scratch {
    data: Data,
    vjp: Option<VjpScratch>,
}

impl Scratch {
    fn new(model: &Model) -> Self {
        Self {
            data: Data::new(model),
            vjp: None,
        }
    }
}

impl Default for Workers {
    fn default() -> Self {
        Self::new()
    }
}

impl Workers {
    /// Room for the threads of the current rayon pool or of one per core, whichever is
    /// larger, and the caller.
    pub fn new() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self {
            slots: (0..rayon::current_num_threads().max(cores) + 1)
                .map(|_| Slot(Mutex::new(None)))
                .collect(),
            interrupt: Interrupt::new(),
        }
    }

    /// The interrupt the steps run by [`step_all_n`] (and the binding's batched calls) check.
    pub fn interrupt(&self) -> &Interrupt {
        &self.interrupt
    }

    /// Run `f` in this thread's scratch for `model` (the model every call of this `Workers`
    /// uses). Data left by earlier calls is scratch: `f` must set what it reads.
    pub fn with<R>(&self, model: &Model, f: impl FnOnce(&mut Data) -> R) -> R {
        self.with_scratch(model, |s| f(&mut s.data))
    }

    /// [`Workers::with`], `f` also given this thread's buffers for reverse passes
    /// ([`crate::adjoint::step::step_vjp`]), made on first use.
    pub fn with_vjp<R>(&self, model: &Model, f: impl FnOnce(&mut Data, &mut VjpScratch) -> R) -> R {
        self.with_scratch(model, |s| {
            let vjp = s.vjp.get_or_insert_with(|| VjpScratch::new(model));
            f(&mut s.data, vjp)
        })
    }

    fn with_scratch<R>(&self, model: &Model, f: impl FnOnce(&mut Scratch) -> R) -> R {
        let i = rayon::current_thread_index().map_or(0, |i| i + 1) % self.slots.len();
        let mut slot = match self.slots[i].0.try_lock() {
            Ok(g) => g,
            Err(TryLockError::Poisoned(p)) => {
                // a panic mid-step may have left buffers taken out: start afresh
                let mut g = p.into_inner();
                *g = None;
                self.slots[i].0.clear_poison();
                g
            }
            Err(TryLockError::WouldBlock) => return f(&mut Scratch::new(model)),
        };
        f(slot.get_or_insert_with(|| Scratch::new(model)))
    }
}

/// Step every env once, in parallel over the rayon pool (a single env is stepped on the
/// calling thread). Every env is stepped even if one fails; a failing env keeps its state
/// and the error of the lowest-numbered failing env is returned, naming it.
pub fn step_all(model: &Model, envs: &mut [Env], workers: &Workers) -> Result<()> {
    step_all_n(model, envs, workers, 1)
}

/// Step every env `nsteps` times, each env's steps one task of the rayon pool (a single env
/// on the calling thread), in the scratch of the thread running it. Envs are independent, so
/// this equals `nsteps` calls of [`step_all`]. A failing env stops at its failing step,
/// keeping the state before it; the others run all their steps; the error of the
/// lowest-numbered failing env is returned, naming it.
pub fn step_all_n(model: &Model, envs: &mut [Env], workers: &Workers, nsteps: usize) -> Result<()> {
    let run = |e: &mut Env| {
        workers.with(model, |d| {
            e.step_with(
                model,
                d,
                nsteps,
                workers.interrupt(),
                None,
                |_, _, _, _, _| {},
            )
            .map_err(|(_, e)| e)
        })
    };
    if let [e] = envs {
        return run(e);
    }
    let first_error: Mutex<Option<(usize, Error)>> = Mutex::new(None);
    par_iter_mut(envs).enumerate().for_each(|(i, e)| {
        if let Err(err) = run(e) {
            let mut slot = first_error.lock().unwrap_or_else(|p| p.into_inner());
            if slot.as_ref().is_none_or(|(j, _)| i < *j) {
                *slot = Some((i, err));
            }
        }
    });
    match first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        None => Ok(()),
        Some((i, err)) => Err(err.in_env(i)),
    }
}

/// The most items (envs, tapes) one task of a parallel loop takes in a row: about 64 tasks per
/// thread of the current rayon pool, at least one item each.
///
/// Rayon splits a loop adaptively: into a few pieces per thread, split further only when a
/// piece is stolen. If one core runs slower than the other (on a shared VM host, often for
/// seconds at a time), the faster one finishes its pieces and finds nothing left to steal while
/// the slower one still has up to a quarter of the loop to go: the call takes as long as the
/// slower core needs for its half. With pieces this small the faster core keeps taking work
/// until the end, and the two finish within one piece of each other. The cost, some 128 task
/// splits per call, is a fraction of one env's step.
pub fn piece_len(n_items: usize) -> usize {
    n_items.div_ceil(64 * rayon::current_num_threads()).max(1)
}

/// `items` as a parallel iterator in pieces of at most [`piece_len`] items: how every parallel
/// loop over envs or tapes runs.
pub fn par_iter<T: Sync>(items: &[T]) -> impl IndexedParallelIterator<Item = &T> {
    let len = piece_len(items.len());
    items.par_iter().with_max_len(len)
}

/// [`par_iter`] for mutable items.
pub fn par_iter_mut<T: Send>(items: &mut [T]) -> impl IndexedParallelIterator<Item = &mut T> {
    let len = piece_len(items.len());
    items.par_iter_mut().with_max_len(len)
}

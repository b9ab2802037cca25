//! A request to stop a long computation early (Ctrl-C in Python).
//!
//! The caller that owns a computation holds an [`Interrupt`] and passes it down; the steps
//! check it once per substep (one relaxed atomic load) and stop with
//! [`Error::Interrupted`](crate::Error::Interrupted), leaving the state before the step, as any
//! failing step does. Whoever notices the user's request (the Python binding, on a thread
//! watching for signals) sets it from another thread.

use std::sync::atomic::{AtomicBool, Ordering};

/// A flag asking the computations that check it to stop at their next substep.
#[derive(Debug, Default)]
pub struct Interrupt(AtomicBool);

/// An interrupt nobody sets: for computations that run to the end.
static NEVER: Interrupt = Interrupt::new();

impl Interrupt {
    /// Not requested.
    pub const fn new() -> Self {
        Self(AtomicBool::new(false))
    }

    /// An interrupt that is never requested.
    pub fn never() -> &'static Interrupt {
        &NEVER
    }

    /// Ask the computations that check this flag to stop.
    pub fn request(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Withdraw the request (before starting a new computation).
    pub fn clear(&self) {
        self.0.store(false, Ordering::Relaxed);
    }

    /// Whether a stop was asked for.
    pub fn requested(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

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

impl Interrupt {
    /// Run `work` on a thread of its own while this thread calls `poll` every `every`, until
    /// the work ends; the first time `poll` says stop, the request is made (the work's steps
    /// then stop at their next substep). Returns the work's result; a panic in the work is
    /// resumed here. The request is withdrawn before the work starts.
    pub fn watch<T: Send>(
        &self,
        every: std::time::Duration,
        mut poll: impl FnMut() -> bool,
        work: impl FnOnce() -> T + Send,
    ) -> T {
        self.clear();
        std::thread::scope(|s| {
            let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
            let worker = s.spawn(move || {
                let out = work();
                let _ = done_tx.send(());
                out
            });
            let mut stopped = false;
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = done_rx.recv_timeout(every)
            {
                if !stopped && poll() {
                    self.request();
                    stopped = true;
                }
            }
            worker
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn watch_requests_a_stop_when_the_poll_says_so_and_returns_the_work_result() {
        let i = Interrupt::new();
        let mut polls = 0;
        let out = i.watch(
            Duration::from_millis(1),
            || {
                polls += 1;
                polls == 3
            },
            || {
                // at least one unit of work, however late the thread starts (on a loaded
                // machine the three polls can all come before it)
                let mut n = 0u64;
                loop {
                    n += 1;
                    if i.requested() {
                        break n;
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
            },
        );
        assert!(i.requested() && polls >= 3 && out > 0);
        // a short work: the poll may never run, the request is withdrawn first
        assert_eq!(i.watch(Duration::from_secs(1), || true, || 7), 7);
        assert!(!i.requested());
    }
}

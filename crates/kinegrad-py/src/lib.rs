//! Native module `kinegrad._native`: the kinegrad engine bound to Python.
//!
//! The engine's semantics live in the core ([`kinegrad::Sim`] and its modules); this crate
//! converts arrays and errors. Classes: [`builder::SceneBuilder`] collects options and placed
//! entities; [`sim::Sim`] holds the built model and its envs; [`tape::PyTape`] a recorded
//! stretch of steps for the reverse pass; [`render::Renderer`] draws a `Sim`'s model
//! offscreen. Arrays cross the boundary as float64 numpy arrays with a leading env dimension.
//! Every engine error becomes a Python exception and every panic is caught before it reaches
//! Python ([`guard`]). Docstrings and the Genesis-style objects live in the Python package.

mod builder;
mod convert;
mod functional;
mod render;
mod sim;
mod tape;

use kinegrad::{CtrlMode, Error, Interrupt};
use pyo3::exceptions::{PyFileNotFoundError, PyKeyboardInterrupt, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyType;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

/// The exception of class `class` of `kinegrad._errors` (each derives from
/// `gs.GenesisException` and from the built-in type `fallback` makes), or `fallback`'s when that
/// module cannot be read.
fn kinegrad_err(class: &str, msg: String, fallback: fn(String) -> PyErr) -> PyErr {
    Python::attach(|py| {
        let ty = py
            .import("kinegrad._errors")
            .and_then(|m| m.getattr(class))
            .and_then(|c| c.cast_into::<PyType>().map_err(PyErr::from));
        match ty {
            Ok(t) => PyErr::from_type(t, msg),
            Err(_) => fallback(msg),
        }
    })
}

/// Map an engine error to the Python exception a user expects.
fn to_py_err(e: Error) -> PyErr {
    let msg = e.to_string();
    match &e {
        Error::Load { file, .. } if !std::path::Path::new(file).exists() => {
            kinegrad_err("MissingFile", msg, PyFileNotFoundError::new_err)
        }
        Error::Load { .. } | Error::Invalid { .. } | Error::Unsupported { .. } => invalid(msg),
        // the caller names the step (scene.step (step t): ...); the core's count of substeps
        // since its scratch was made would be a second, different number
        Error::Diverged { message, .. } => kinegrad_err(
            "GenesisRuntimeError",
            format!("simulation diverged: {message}"),
            PyRuntimeError::new_err,
        ),
        Error::Interrupted { .. } => PyKeyboardInterrupt::new_err(msg),
    }
}

fn invalid(msg: impl Into<String>) -> PyErr {
    kinegrad_err("InvalidArgument", msg.into(), PyValueError::new_err)
}

/// Last line of defence: run `f`, turning a panic into a RuntimeError.
fn guard<T>(f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        Err(kinegrad_err(
            "GenesisRuntimeError",
            format!("kinegrad internal error (panic in the engine): {what}"),
            PyRuntimeError::new_err,
        ))
    })
}

/// Run engine work without the GIL, panics caught, errors converted.
fn detached<T: Send>(
    py: Python<'_>,
    work: impl FnOnce() -> kinegrad::Result<T> + Send,
) -> PyResult<T> {
    py.detach(|| guard(|| work().map_err(to_py_err)))
}

/// Run `work` without the GIL, as one that Ctrl-C can stop. Short work (`long` false) just runs.
/// Long work runs on a thread of its own while this one lets Python handle its signals every
/// few milliseconds ([`Interrupt::watch`]): when a handler raises (Ctrl-C's KeyboardInterrupt),
/// `interrupt` is requested, the steps stop at their next substep, and the handler's exception
/// comes back beside the work's result, for the caller to put back what the stopped work left
/// and raise it. Signals reach handlers only on Python's main thread; called from any other,
/// this only waits. Panics in `work` become RuntimeErrors.
fn interruptible<T: Send>(
    py: Python<'_>,
    interrupt: &Interrupt,
    long: bool,
    work: impl FnOnce() -> T + Send,
) -> (PyResult<T>, Option<PyErr>) {
    let work = || guard(|| Ok(work()));
    if !long {
        return (py.detach(work), None);
    }
    let mut raised = None;
    let poll = || {
        raised = Python::attach(|py| py.check_signals()).err();
        raised.is_some()
    };
    let out = py.detach(|| interrupt.watch(SIGNAL_POLL, poll, work));
    (out, raised)
}

/// How often a long native call lets Python handle signals.
const SIGNAL_POLL: Duration = Duration::from_millis(5);

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<builder::SceneBuilder>()?;
    m.add_class::<sim::Sim>()?;
    m.add_class::<tape::PyTape>()?;
    m.add_class::<render::Renderer>()?;
    let modes: Vec<(&str, i8)> = CtrlMode::ALL.iter().map(|c| (c.name(), c.code())).collect();
    m.add("CONTROL_MODES", modes)?;
    m.add("LINK_STATE", kinegrad::readings::LINK_STATE)?;
    m.add("LINK_FIELDS", kinegrad::readings::LINK_FIELDS.to_vec())?;
    Ok(())
}

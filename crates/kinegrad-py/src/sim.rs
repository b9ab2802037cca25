//! `Sim`: a built model and its environments ([`kinegrad::Sim`]), each method a conversion
//! of arrays around one call of the core.

use crate::convert::{array, dyn_values, modes, params_dict, values};
use crate::tape::PyTape;
use crate::{interruptible, invalid, to_py_err};
use kinegrad::diagnostics::Warning;
use kinegrad::sim::run::{Controls, Run, RunOptions, Segment};
use kinegrad::sim::{param_names, stacked};
use kinegrad::CtrlMode;
use numpy::{PyReadonlyArray2, PyReadonlyArray3, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::exceptions::PyRuntimeWarning;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::borrow::Cow;
use std::ffi::CString;
use std::sync::Arc;

/// A built model and its environments.
#[pyclass(module = "kinegrad._native")]
pub struct Sim {
    pub inner: kinegrad::Sim,
}

/// Show `warnings` (those a sim had not shown) as Python `RuntimeWarning`s.
pub fn warn(py: Python<'_>, sim: &kinegrad::Sim, warnings: &[Warning]) -> PyResult<()> {
    for w in warnings {
        let category = py.get_type::<PyRuntimeWarning>();
        PyErr::warn(py, &category, &CString::new(w.describe(&sim.model))?, 1)?;
    }
    Ok(())
}

/// A (rows, cols) float64 array argument.
pub type Arr2<'py> = PyReadonlyArray2<'py, f64>;

/// A state to start from: qpos (n_envs, nq), qvel (n_envs, nv), time.
type StartState<'py> = (
    PyReadonlyArray2<'py, f64>,
    PyReadonlyArray2<'py, f64>,
    Option<f64>,
);

/// (qpos, qvel, tape, done, error) of a segment.
type SegmentOut<'py> = (
    Bound<'py, PyAny>,
    Bound<'py, PyAny>,
    Option<PyTape>,
    usize,
    Option<Py<PyAny>>,
);

impl Sim {
    pub fn shape(&self) -> (usize, usize, usize) {
        (
            self.inner.n_envs(),
            self.inner.model.nq,
            self.inner.model.nv,
        )
    }

    /// Every env's given state, (n_envs, nq) and (n_envs, nv), shapes checked, the arguments
    /// named `names`.
    pub fn state_args<'a>(
        &self,
        q: &'a Arr2<'_>,
        v: &'a Arr2<'_>,
        names: [&str; 2],
    ) -> PyResult<[Cow<'a, [f64]>; 2]> {
        let (n, nq, nv) = self.shape();
        Ok([
            values(q, names[0], &[n, nq])?,
            values(v, names[1], &[n, nv])?,
        ])
    }

    /// Every env's given activations (n_envs, na), zeros when not given.
    pub fn act_arg<'a>(&self, a: &'a Option<Arr2<'_>>, name: &str) -> PyResult<Cow<'a, [f64]>> {
        let (n, na) = (self.inner.n_envs(), self.inner.model.na());
        match a {
            Some(a) => values(a, name, &[n, na]),
            None => Ok(Cow::Owned(vec![0.0; n * na])),
        }
    }

    /// Every env's given control: mode (n_envs, nu) int8 and target (n_envs, nu), nu the
    /// control channels (dofs, then tendons).
    pub fn control_args<'a>(
        &self,
        mode: &PyReadonlyArrayDyn<'_, i8>,
        target: &'a Arr2<'_>,
    ) -> PyResult<(Vec<CtrlMode>, Cow<'a, [f64]>)> {
        let (n, nu) = (self.inner.n_envs(), self.inner.model.nu());
        Ok((
            modes(mode, &[&[n, nu]])?.0,
            values(target, "target", &[n, nu])?,
        ))
    }

    fn set_states(&mut self, q: &Arr2<'_>, v: &Arr2<'_>, time: Option<f64>) -> PyResult<()> {
        let [q, v] = self.state_args(q, v, ["qpos", "qvel"])?;
        self.inner.set_states(&q, &v, time).map_err(to_py_err)
    }

    /// Parse a multi-step call's (start, mode, controls) and run `f` on the core sim with them
    /// as interruptible work; if a signal handler raised meanwhile, `on_signal` (given its
    /// exception) makes the result instead.
    fn multi<'py, T: Send>(
        &mut self,
        py: Python<'py>,
        start: Option<StartState<'py>>,
        (mode, controls): (&PyReadonlyArrayDyn<'py, i8>, &PyReadonlyArray3<'py, f64>),
        f: impl FnOnce(&mut kinegrad::Sim, &Controls<'_>) -> T + Send,
        on_signal: impl FnOnce(&mut kinegrad::Sim, &Controls<'_>, PyErr) -> PyResult<T>,
    ) -> PyResult<T> {
        if let Some((q, v, time)) = &start {
            self.set_states(q, v, *time)?;
        }
        let (n, nu) = (self.inner.n_envs(), self.inner.model.nu());
        let t_end = controls.shape()[1];
        if controls.shape() != [n, t_end, nu] || t_end == 0 {
            let got = controls.shape();
            return Err(invalid(format!(
                "controls: expected shape ({n}, T, {nu}) with T >= 1, got {got:?}"
            )));
        }
        let u = values(controls, "controls", &[n, t_end, nu])?;
        let (m, per_step) = modes(mode, &[&[n, nu], &[n, t_end, nu]])?;
        let ctrl = Controls::new(n, t_end, nu, &m, per_step, &u).map_err(to_py_err)?;
        let (long, workers) = (self.inner.is_long(t_end), self.workers());
        let inner = &mut self.inner;
        let (out, raised) = interruptible(py, workers.interrupt(), long, || f(inner, &ctrl));
        match raised {
            Some(e) => on_signal(&mut self.inner, &ctrl, e),
            None => out,
        }
    }

    /// The sim's scratch, whose interrupt stops its computations.
    fn workers(&self) -> Arc<kinegrad::Workers> {
        self.inner.workers.clone()
    }

    /// (qpos, qvel, tape) of a run: (n, T, k) arrays with `trajectory`, else (n, k).
    fn outputs<'py>(
        &self,
        py: Python<'py>,
        run: Run,
        trajectory: bool,
    ) -> (Bound<'py, PyAny>, Bound<'py, PyAny>, Option<PyTape>) {
        let (n, nq, nv) = self.shape();
        let lead: &[usize] = if trajectory { &[n, run.rows] } else { &[n] };
        let (q, v) = (
            array(py, &[lead, &[nq]].concat(), run.qs),
            array(py, &[lead, &[nv]].concat(), run.vs),
        );
        let tape = run
            .tapes
            .map(|t| PyTape::new(self.inner.model.clone(), self.inner.workers.clone(), t));
        (q, v, tape)
    }

    /// Adjoints of every env's q and v (and, with `target`, control targets) and parameters.
    pub fn grads<'py>(
        &self,
        py: Python<'py>,
        g: &[kinegrad::adjoint::StepGrad],
        target: bool,
    ) -> PyResult<Vec<Bound<'py, PyAny>>> {
        let (n, nq, nv) = self.shape();
        let cat = |f: &dyn Fn(&kinegrad::adjoint::StepGrad) -> &Vec<f64>| {
            g.iter().flat_map(|g| f(g).iter().copied()).collect()
        };
        let mut out = vec![
            array(py, &[n, nq], cat(&|g| &g.q)),
            array(py, &[n, nv], cat(&|g| &g.v)),
        ];
        if target {
            out.push(array(py, &[n, self.inner.model.nu()], cat(&|g| &g.target)));
        }
        let params: Vec<_> = g.iter().map(|g| &g.params).collect();
        out.push(params_dict(py, &self.inner.model, &params, None)?.into_any());
        Ok(out)
    }
}

#[pymethods]
impl Sim {
    /// Number of environments.
    #[getter]
    fn n_envs(&self) -> usize {
        self.inner.n_envs()
    }
    #[getter]
    fn nq(&self) -> usize {
        self.inner.model.nq
    }
    #[getter]
    fn nv(&self) -> usize {
        self.inner.model.nv
    }
    /// Number of activation states (MuJoCo's `na`: the control channels with activation
    /// dynamics).
    #[getter]
    fn na(&self) -> usize {
        self.inner.model.na()
    }

    /// Every env's total joint force of its last step, smooth and constraint forces (n_envs,
    /// nv): Genesis's `get_dofs_force`.
    fn get_dof_forces<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        array(
            py,
            &[self.inner.n_envs(), self.inner.model.nv],
            self.inner.dof_forces(),
        )
    }

    /// Every env's activations (n_envs, na), in the channels' target units.
    fn get_act<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        array(
            py,
            &[self.inner.n_envs(), self.inner.model.na()],
            self.inner.acts(),
        )
    }

    /// Set every env's activations (n_envs, na).
    fn set_act(&mut self, act: Arr2<'_>) -> PyResult<()> {
        let a = values(&act, "act", &[self.inner.n_envs(), self.inner.model.na()])?;
        self.inner.set_acts(&a).map_err(to_py_err)
    }

    #[getter]
    fn nbody(&self) -> usize {
        self.inner.model.nbody
    }

    /// The model description as a dict of plain lists (see the .pyi stub for keys).
    fn describe<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        crate::convert::describe(py, &self.inner.model)
    }

    /// Mesh `i` of the model (`describe()["geom_mesh"]`): its vertices (n, 3, in the mesh's
    /// frame, scaled) and triangles (m, 3).
    fn mesh<'py>(
        &self,
        py: Python<'py>,
        i: usize,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
        let m = self.inner.model.meshes.get(i).ok_or_else(|| {
            invalid(format!(
                "mesh {i}: the model has {} meshes",
                self.inner.model.meshes.len()
            ))
        })?;
        let v: Vec<f64> = m.vertices.iter().flat_map(|p| [p.x, p.y, p.z]).collect();
        let f: Vec<i64> = m.faces.iter().flat_map(|t| t.map(i64::from)).collect();
        let faces =
            numpy::PyArrayMethods::reshape(&numpy::PyArray1::from_vec(py, f), [m.faces.len(), 3])?;
        Ok((array(py, &[m.vertices.len(), 3], v), faces.into_any()))
    }

    /// Names of the parameters `get_param` / `set_param` accept.
    #[staticmethod]
    fn param_names() -> Vec<&'static str> {
        param_names()
    }

    /// Default value of a parameter (the model's), shape as one env's.
    fn param_default<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        let (shape, x) =
            stacked(&self.inner.model, name, &[&self.inner.model.params0]).map_err(to_py_err)?;
        Ok(array(py, &shape[1..], x))
    }

    /// A parameter of every env: shape (n_envs, *per-env shape).
    fn get_param<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        let (shape, x) = self.inner.param(name).map_err(to_py_err)?;
        Ok(array(py, &shape, x))
    }

    /// Set a parameter of every env from an array of shape (n_envs, *per-env shape).
    fn set_param(&mut self, name: &str, value: PyReadonlyArrayDyn<'_, f64>) -> PyResult<()> {
        let (shape, x) = dyn_values(&value);
        self.inner.set_param(name, &shape, &x).map_err(to_py_err)
    }

    /// Current positions of every env, (n_envs, nq).
    fn get_qpos<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        array(
            py,
            &[self.inner.n_envs(), self.inner.model.nq],
            self.inner.states(false),
        )
    }

    /// Current velocities of every env, (n_envs, nv).
    fn get_qvel<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        array(
            py,
            &[self.inner.n_envs(), self.inner.model.nv],
            self.inner.states(true),
        )
    }

    /// Simulated time of every env (s).
    fn get_time(&self) -> Vec<f64> {
        self.inner.envs.iter().map(|e| e.state.time).collect()
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
        self.set_states(&qpos, &qvel, time)
    }

    /// Set the control of every env: mode (n_envs, nv) int8 (`CONTROL_MODES`) and target (n_envs, nv).
    fn set_control(&mut self, mode: PyReadonlyArrayDyn<'_, i8>, target: Arr2<'_>) -> PyResult<()> {
        let (m, t) = self.control_args(&mode, &target)?;
        self.inner.set_controls(&m, &t).map_err(to_py_err)
    }

    /// Advance every env by `nsteps` steps, each env's steps one parallel task, without the
    /// GIL. A failing env stops at its failing step (keeping the state before it) and is named
    /// in the error; the other envs run all their steps. `threads`: run on a pool of that many
    /// threads of this sim's own (made once per size) instead of the global pool. Ctrl-C
    /// during a long call raises KeyboardInterrupt with every env as before the call.
    #[pyo3(signature = (nsteps=1, threads=None))]
    fn step(&mut self, py: Python<'_>, nsteps: usize, threads: Option<usize>) -> PyResult<()> {
        let (long, workers) = (self.inner.is_long(nsteps), self.workers());
        let inner = &mut self.inner;
        let (out, raised) = interruptible(py, workers.interrupt(), long, || {
            inner.step_on(threads, nsteps)
        });
        match raised {
            Some(e) => {
                // every env as before the call, also when the steps ended before they saw the
                // request (a long step keeps a rollback copy)
                self.inner.restore_states();
                Err(e)
            }
            None => out?.map_err(to_py_err),
        }
    }

    /// T steps of every env from its stored state: mode (n_envs, nv) or per step
    /// (n_envs, T, nv) int8, controls (n_envs, T, nv). Returns (qpos, qvel, tape): the states
    /// after every step, (n_envs, T, nq) and (n_envs, T, nv), or only the final ones when
    /// `trajectory` is false; and, when `record`, the tape for the reverse pass (every
    /// `stride`-th state kept; its `vjp` takes `mode` and `controls` again). If an env fails,
    /// every env keeps its state and the error names the env and the step. `start` = (qpos,
    /// qvel, time): set the state first, as `set_state` does.
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
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>, Option<PyTape>)> {
        let opt = RunOptions {
            trajectory,
            record,
            stride,
        };
        let run = self.multi(
            py,
            start,
            (&mode, &controls),
            |s, c| s.rollout(c, opt),
            |s, _, e| {
                s.restore_states();
                Err(e)
            },
        )?;
        let run = run.map_err(to_py_err)?;
        if let Err(e) = warn(py, &self.inner, &run.warnings) {
            self.inner.restore_states(); // a warning the caller's filter made an error fails the call
            return Err(e);
        }
        Ok(self.outputs(py, run, trajectory))
    }

    /// The `scene.step()` calls made since the last reading, run as one batch (see
    /// `kinegrad::Sim::segment`): mode (n_envs, nv) or (n_envs, T, nv) int8, controls
    /// (n_envs, T, nv). Returns (qpos, qvel, tape, done, error): the final state, the tape of
    /// the `done` steps when `record`, and, if a step failed, the exception to raise (`done` <
    /// T exactly when it is set). `start` = (qpos, qvel, time): set the state first.
    #[pyo3(signature = (mode, controls, record, start=None))]
    fn segment<'py>(
        &mut self,
        py: Python<'py>,
        mode: PyReadonlyArrayDyn<'py, i8>,
        controls: PyReadonlyArray3<'py, f64>,
        record: bool,
        start: Option<StartState<'py>>,
    ) -> PyResult<SegmentOut<'py>> {
        let (seg, raised) = self.multi(
            py,
            start,
            (&mode, &controls),
            |s, c| (s.segment(c, record), None),
            |s, c, e| {
                let run = s.cancel(c, record); // every env as before the call
                Ok((
                    Segment {
                        run,
                        done: 0,
                        error: None,
                    },
                    Some(e),
                ))
            },
        )?;
        let err = match (raised, seg.error) {
            (Some(e), _) => Some(e),
            (None, Some(e)) => Some(to_py_err(e)),
            (None, None) => warn(py, &self.inner, &seg.run.warnings).err(), // raised after the steps
        };
        let (q, v, tape) = self.outputs(py, seg.run, false);
        Ok((
            q,
            v,
            tape,
            seg.done,
            err.map(|e| e.into_value(py).into_any()),
        ))
    }
}

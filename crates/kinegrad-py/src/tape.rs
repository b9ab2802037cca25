//! Recorded trajectories (one tape per env) and their reverse pass, for the Python autograd
//! nodes that cover many steps (`scene.step()` segments and `scene.rollout`).

use crate::convert::{array, modes, opt_values, params_dict, values};
use crate::{interruptible, invalid, to_py_err};
use kinegrad::adjoint::rollout::Tape;
use kinegrad::sim::reverse::{tapes_vjp, TapeSeeds};
use kinegrad::sim::run::Controls;
use kinegrad::{Model, Workers};
use numpy::{PyReadonlyArray2, PyReadonlyArray3, PyReadonlyArrayDyn};
use pyo3::prelude::*;
use std::sync::Arc;

/// The tapes of every env of one recorded stretch of steps.
#[pyclass(module = "kinegrad._native", name = "Tape", weakref)]
pub struct PyTape {
    model: Arc<Model>,
    /// The sim's per-thread scratch.
    workers: Arc<Workers>,
    tapes: Vec<Tape>,
}

impl PyTape {
    pub fn new(model: Arc<Model>, workers: Arc<Workers>, tapes: Vec<Tape>) -> Self {
        Self {
            model,
            workers,
            tapes,
        }
    }
}

/// One env's reverse pass: its tape gradient and its control adjoints.
type EnvGrad = (kinegrad::adjoint::rollout::TapeGrad, Vec<f64>);

type Opt2<'py> = Option<PyReadonlyArray2<'py, f64>>;
type Opt3<'py> = Option<PyReadonlyArray3<'py, f64>>;

#[pymethods]
impl PyTape {
    /// Number of recorded steps.
    fn __len__(&self) -> usize {
        self.tapes.first().map_or(0, |t| t.len())
    }

    /// Bytes held by the recorded states and controls of every env.
    #[getter]
    fn nbytes(&self) -> usize {
        self.tapes.iter().map(|t| t.nbytes()).sum()
    }

    /// Reverse pass. `q0` (n_envs, nq): the initial positions as the caller gave them. Seeds:
    /// the adjoints of the final state `q_bar`, `v_bar` (n_envs, nq / nv) and/or of every
    /// step's output state `traj_q_bar`, `traj_v_bar` (n_envs, T, nq / nv). `clip`: the norm
    /// the state adjoint leaving a step is clipped to, per env. `mode` (n_envs, nv) or
    /// (n_envs, T, nv) and `controls` (n_envs, T, nv): the controls of a tape from
    /// `Sim.rollout` or `Sim.segment`, which do not keep them. `params`: the names of the
    /// parameters whose gradients to return (default: all). `act_bar` (n_envs, na): the
    /// adjoint of the final activations. Returns (q0_bar, v0_bar, controls_bar (n_envs, T, nv),
    /// params_bar {name: (n_envs, *shape)}, norms (n_envs, T), act0_bar (n_envs, na)).
    /// Parallel over envs, GIL released.
    #[pyo3(signature = (q0, q_bar=None, v_bar=None, traj_q_bar=None, traj_v_bar=None, clip=None, mode=None, controls=None, params=None, act_bar=None))]
    #[allow(clippy::too_many_arguments)]
    fn vjp<'py>(
        &self,
        py: Python<'py>,
        q0: PyReadonlyArray2<'py, f64>,
        q_bar: Opt2<'py>,
        v_bar: Opt2<'py>,
        traj_q_bar: Opt3<'py>,
        traj_v_bar: Opt3<'py>,
        clip: Option<f64>,
        mode: Option<PyReadonlyArrayDyn<'py, i8>>,
        controls: Opt3<'py>,
        params: Option<Vec<String>>,
        act_bar: Opt2<'py>,
    ) -> PyResult<Vec<Bound<'py, PyAny>>> {
        let model = &*self.model;
        let (n, nq, nv, t) = (self.tapes.len(), model.nq, model.nv, self.__len__());
        let nu = model.nu();
        if let Some(names) = &params {
            // named after this argument, as the core's error names the table's lookup
            kinegrad::sim::check_param_names(names).map_err(|e| match e {
                kinegrad::Error::Invalid { message, .. } => invalid(format!("params: {message}")),
                e => crate::to_py_err(e),
            })?;
        }
        let q0 = values(&q0, "q0", &[n, nq])?;
        let (qb, vb) = (
            opt_values(&q_bar, "q_bar", &[n, nq])?,
            opt_values(&v_bar, "v_bar", &[n, nv])?,
        );
        let ab = opt_values(&act_bar, "act_bar", &[n, model.na()])?;
        let tqb = opt_values(&traj_q_bar, "traj_q_bar", &[n, t, nq])?;
        let tvb = opt_values(&traj_v_bar, "traj_v_bar", &[n, t, nv])?;
        let u = opt_values(&controls, "controls", &[n, t, nu])?;
        let m = mode
            .as_ref()
            .map(|m| modes(m, &[&[n, nu], &[n, t, nu]]))
            .transpose()?;
        let given = match (&m, &u) {
            (Some((m, per_step)), Some(u)) => {
                Some(Controls::new(n, t, nu, m, *per_step, u).map_err(to_py_err)?)
            }
            (None, None) => None,
            _ => return Err(invalid("mode and controls: give both or neither")),
        };
        let seeds = TapeSeeds {
            q: qb.as_deref(),
            v: vb.as_deref(),
            act: ab.as_deref(),
            traj_q: tqb.as_deref(),
            traj_v: tvb.as_deref(),
        };
        let (tapes, workers) = (&self.tapes, &*self.workers);
        let long = kinegrad::sim::is_long(model, n.saturating_mul(t));
        let (out, raised) = interruptible(py, workers.interrupt(), long, || {
            tapes_vjp(model, workers, tapes, &q0, &seeds, given.as_ref(), clip)
        });
        if let Some(e) = raised {
            return Err(e); // Ctrl-C: nothing was written, the tape can be used again
        }
        let out = out?.map_err(to_py_err)?;
        let grads: Vec<&kinegrad::Params> = out.iter().map(|(g, _)| &g.params).collect();
        let pd = params_dict(py, model, &grads, params.as_deref())?;
        let cat = |f: &dyn Fn(&EnvGrad) -> &Vec<f64>| {
            out.iter().flat_map(|g| f(g).iter().copied()).collect()
        };
        Ok(vec![
            array(py, &[n, nq], cat(&|g| &g.0.q0)),
            array(py, &[n, nv], cat(&|g| &g.0.v0)),
            array(py, &[n, t, nu], cat(&|g| &g.1)),
            pd.into_any(),
            array(py, &[n, t], cat(&|g| &g.0.norms)),
            array(py, &[n, model.na()], cat(&|g| &g.0.act0)),
        ])
    }
}

//! Recorded trajectories (one tape per env) and their reverse pass, for the Python autograd
//! nodes that cover many steps (`scene.step()` segments and `scene.rollout`).

use crate::{
    check_param_names, guard, interruptible, invalid, is_long, params_bar_dict, params_bar_dict_of,
    to_py_err, view2, view3, Modes,
};
use kinegrad::adjoint::rollout::{Tape, TapeGrad};
use kinegrad::adjoint::state::normalize_quaternions_vjp;
use kinegrad::{batch, Control, Data, Model, Workers};
use numpy::ndarray::{Array2, Array3};
use numpy::{
    IntoPyArray, PyArray2, PyArray3, PyReadonlyArray2, PyReadonlyArray3, PyReadonlyArrayDyn,
};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use rayon::prelude::*;
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

    /// Reverse pass. `q0` (n_envs, nq): the initial positions as the caller gave them (the
    /// adjoint is pulled back through the quaternion normalization). Seeds: the adjoints of the
    /// final state `q_bar`, `v_bar` (n_envs, nq / nv) and/or of every step's output state
    /// `traj_q_bar`, `traj_v_bar` (n_envs, T, nq / nv). `clip`: the norm the state adjoint
    /// leaving a step is clipped to, per env. `mode` (n_envs, nv) or (n_envs, T, nv) and
    /// `controls` (n_envs, T, nv): the controls of a tape from `Sim.rollout` or `Sim.segment`,
    /// which do not keep them. `params`: the names of the parameters whose gradients to return
    /// (default: all). Returns (q0_bar, v0_bar, controls_bar (n_envs, T, nv), params_bar
    /// {name: (n_envs, *shape)}, norms (n_envs, T)). Parallel over envs, GIL released.
    #[pyo3(signature = (q0, q_bar=None, v_bar=None, traj_q_bar=None, traj_v_bar=None, clip=None, mode=None, controls=None, params=None))]
    #[allow(clippy::type_complexity, clippy::too_many_arguments)]
    fn vjp<'py>(
        &self,
        py: Python<'py>,
        q0: PyReadonlyArray2<'py, f64>,
        q_bar: Option<PyReadonlyArray2<'py, f64>>,
        v_bar: Option<PyReadonlyArray2<'py, f64>>,
        traj_q_bar: Option<PyReadonlyArray3<'py, f64>>,
        traj_v_bar: Option<PyReadonlyArray3<'py, f64>>,
        clip: Option<f64>,
        mode: Option<PyReadonlyArrayDyn<'py, i8>>,
        controls: Option<PyReadonlyArray3<'py, f64>>,
        params: Option<Vec<String>>,
    ) -> PyResult<(
        Bound<'py, PyArray2<f64>>,
        Bound<'py, PyArray2<f64>>,
        Bound<'py, PyArray3<f64>>,
        Bound<'py, PyDict>,
        Bound<'py, PyArray2<f64>>,
    )> {
        let model = &*self.model;
        let (n, nq, nv, t_end) = (self.tapes.len(), model.nq, model.nv, self.__len__());
        if let Some(c) = clip {
            if !(c > 0.0) {
                return Err(invalid(format!(
                    "clip: expected a positive number, got {c}"
                )));
            }
        }
        if let Some(names) = &params {
            check_param_names(names)?; // before the reverse pass, not after
        }
        let q0 = view2(&q0, "q0", n, nq)?;
        let qb = q_bar
            .as_ref()
            .map(|a| view2(a, "q_bar", n, nq))
            .transpose()?;
        let vb = v_bar
            .as_ref()
            .map(|a| view2(a, "v_bar", n, nv))
            .transpose()?;
        let tqb = traj_q_bar
            .as_ref()
            .map(|a| view3(a, "traj_q_bar", n, t_end, nq))
            .transpose()?;
        let tvb = traj_v_bar
            .as_ref()
            .map(|a| view3(a, "traj_v_bar", n, t_end, nv))
            .transpose()?;
        let given = match (
            &mode,
            controls
                .as_ref()
                .map(|a| view3(a, "controls", n, t_end, nv))
                .transpose()?,
        ) {
            (Some(m), Some(u)) => {
                let modes = Modes::parse(m, n, t_end, nv)?;
                Some(
                    (0..n)
                        .map(|i| {
                            (0..t_end)
                                .map(|t| Control {
                                    mode: modes.at(i, t).to_vec(),
                                    target: u.slice(numpy::ndarray::s![i, t, ..]).to_vec(),
                                })
                                .collect::<Vec<_>>()
                        })
                        .collect::<Vec<_>>(),
                )
            }
            (None, None) => None,
            _ => return Err(invalid("mode and controls: give both or neither")),
        };
        let (tapes, workers) = (&self.tapes, &*self.workers);
        let run = |i: usize, tape: &Tape, data: &mut Data| -> PyResult<(TapeGrad, Vec<f64>)> {
            let mut ub = vec![0.0; t_end * nv];
            let mut g = tape
                .vjp_interruptible(
                    model,
                    data,
                    given.as_ref().map(|g| g[i].as_slice()),
                    clip,
                    workers.interrupt(),
                    |t, q, v| {
                        if t + 1 == t_end {
                            if let Some(b) = &qb {
                                q.iter_mut().zip(b.row(i)).for_each(|(d, s)| *d += s);
                            }
                            if let Some(b) = &vb {
                                v.iter_mut().zip(b.row(i)).for_each(|(d, s)| *d += s);
                            }
                        }
                        if let Some(b) = &tqb {
                            q.iter_mut()
                                .zip(b.slice(numpy::ndarray::s![i, t, ..]))
                                .for_each(|(d, s)| *d += s);
                        }
                        if let Some(b) = &tvb {
                            v.iter_mut()
                                .zip(b.slice(numpy::ndarray::s![i, t, ..]))
                                .for_each(|(d, s)| *d += s);
                        }
                    },
                    |t, g| ub[t * nv..(t + 1) * nv].copy_from_slice(g),
                )
                .map_err(|e| to_py_err(if n > 1 { e.in_env(i) } else { e }))?;
            let raw: Vec<f64> = q0.row(i).to_vec();
            normalize_quaternions_vjp(model, &raw, &mut g.q0);
            Ok((g, ub))
        };
        let long = is_long(model, n.saturating_mul(t_end));
        let (out, raised) = interruptible(py, workers.interrupt(), long, || {
            guard(|| {
                let one = |i: usize, tp: &Tape| workers.with(model, |d| run(i, tp, d));
                if n == 1 {
                    return Ok(vec![one(0, &tapes[0])?]);
                }
                let res: Vec<PyResult<_>> = batch::par_iter(tapes)
                    .enumerate()
                    .map(|(i, tp)| one(i, tp))
                    .collect();
                res.into_iter().collect()
            })
        });
        if let Some(e) = raised {
            return Err(e); // Ctrl-C: nothing was written, the tape can be used again
        }
        let out: Vec<(TapeGrad, Vec<f64>)> = out?;
        let grads: Vec<&kinegrad::Params> = out.iter().map(|(g, _)| &g.params).collect();
        let pd = match &params {
            Some(names) => params_bar_dict_of(py, model, &grads, names)?,
            None => params_bar_dict(py, model, &grads)?,
        };
        let cat = |f: &dyn Fn(&TapeGrad) -> &Vec<f64>| -> Vec<f64> {
            out.iter().flat_map(|(g, _)| f(g).iter().copied()).collect()
        };
        let q = Array2::from_shape_vec((n, nq), cat(&|g| &g.q0)).expect("shape");
        let v = Array2::from_shape_vec((n, nv), cat(&|g| &g.v0)).expect("shape");
        let norms = Array2::from_shape_vec((n, t_end), cat(&|g| &g.norms)).expect("shape");
        let u = Array3::from_shape_vec(
            (n, t_end, nv),
            out.iter().flat_map(|(_, u)| u.iter().copied()).collect(),
        )
        .expect("shape");
        Ok((
            q.into_pyarray(py),
            v.into_pyarray(py),
            u.into_pyarray(py),
            pd,
            norms.into_pyarray(py),
        ))
    }
}

//! `Sim`'s functions of given states (the envs are not touched): the functional step, the
//! readings, their reverse passes, and the envs' last contacts.

use crate::convert::{array, values};
use crate::sim::{Arr2, Sim};
use crate::{detached, guard, invalid, to_py_err};
use kinegrad::readings::LINK_STATE;
use kinegrad::sim::reverse::StepInputs;
use numpy::{PyReadonlyArray1, PyReadonlyArray3, PyReadonlyArrayDyn};
use pyo3::prelude::*;
use pyo3::types::PyDict;

#[pymethods]
impl Sim {
    /// Step copies of the given states `nsteps` times (the envs are not touched): qpos
    /// (n_envs, nq), qvel (n_envs, nv), mode (n_envs, nv) int8, target (n_envs, nv). The solver
    /// starts cold, so the result is a function of the arguments and the env's parameters
    /// alone, as is the step `step_vjp` differentiates. `act` (n_envs, na): the activations
    /// (zeros if not given). Returns (qpos', qvel', act').
    #[pyo3(signature = (qpos, qvel, mode, target, nsteps=1, act=None))]
    #[allow(clippy::too_many_arguments)]
    fn step_functional<'py>(
        &self,
        py: Python<'py>,
        qpos: Arr2<'py>,
        qvel: Arr2<'py>,
        mode: PyReadonlyArrayDyn<'py, i8>,
        target: Arr2<'py>,
        nsteps: usize,
        act: Option<Arr2<'py>>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>, Bound<'py, PyAny>)> {
        let (n, nq, nv) = self.shape();
        let na = self.inner.model.na();
        let [q, v] = self.state_args(&qpos, &qvel, ["qpos", "qvel"])?;
        let (m, t) = self.control_args(&mode, &target)?;
        let a = self.act_arg(&act, "act")?;
        let x = StepInputs {
            q: &q,
            v: &v,
            act: &a,
            modes: &m,
            targets: &t,
        };
        let (q, v, a) = detached(py, || self.inner.step_functional(&x, nsteps))?;
        Ok((
            array(py, &[n, nq], q),
            array(py, &[n, nv], v),
            array(py, &[n, na], a),
        ))
    }

    /// Reverse of one step from (qpos_in, qvel_in) under (mode, target), given the adjoints of
    /// the state after the step (`act_in`, `act_out_bar`: the activations and their adjoint,
    /// zeros if not given). Returns (qpos_bar, qvel_bar, target_bar, params_bar, act_bar) with
    /// params_bar a dict name -> (n_envs, *shape) array (names as in get_param).
    #[pyo3(signature = (qpos_in, qvel_in, mode, target, qpos_out_bar, qvel_out_bar, act_in=None, act_out_bar=None))]
    #[allow(clippy::too_many_arguments)]
    fn step_vjp<'py>(
        &self,
        py: Python<'py>,
        qpos_in: Arr2<'py>,
        qvel_in: Arr2<'py>,
        mode: PyReadonlyArrayDyn<'py, i8>,
        target: Arr2<'py>,
        qpos_out_bar: Arr2<'py>,
        qvel_out_bar: Arr2<'py>,
        act_in: Option<Arr2<'py>>,
        act_out_bar: Option<Arr2<'py>>,
    ) -> PyResult<Vec<Bound<'py, PyAny>>> {
        let [q, v] = self.state_args(&qpos_in, &qvel_in, ["qpos_in", "qvel_in"])?;
        let (m, t) = self.control_args(&mode, &target)?;
        let [qb, vb] = self.state_args(
            &qpos_out_bar,
            &qvel_out_bar,
            ["qpos_out_bar", "qvel_out_bar"],
        )?;
        let a = self.act_arg(&act_in, "act_in")?;
        let ab = self.act_arg(&act_out_bar, "act_out_bar")?;
        let x = StepInputs {
            q: &q,
            v: &v,
            act: &a,
            modes: &m,
            targets: &t,
        };
        let g = detached(py, || self.inner.step_vjp(&x, &qb, &vb, &ab))?;
        let mut out = self.grads(py, &g, true)?;
        let n = self.inner.n_envs();
        let acts = g.iter().flat_map(|g| g.act.iter().copied()).collect();
        out.push(array(py, &[n, self.inner.model.na()], acts));
        Ok(out)
    }

    /// Inverse kinematics of every env (the envs' states are not touched): from `init_qpos`
    /// (n_envs, nq), bring the points `points` (k, 3, in their bodies' frames) of the bodies
    /// `bodies` (k) to `pos` (n_envs, k, 3) where `pos_given[i]`, and the bodies to `quat`
    /// (n_envs, k, 4, wxyz) where `quat_given[i]`, moving the dofs `dofs` (ascending). The
    /// options are Genesis's (`ik::IkOptions`). Returns (qpos (n_envs, nq), error (n_envs, k,
    /// 6), solved (n_envs,) bool, jac (n_envs, 6 k, len(dofs)): the masked error rows'
    /// Jacobian at the solution).
    #[pyo3(signature = (init_qpos, bodies, points, pos, pos_given, quat, quat_given, dofs, respect_limits, max_samples, max_iters, damping, pos_tol, rot_tol, pos_mask, rot_mask, max_step, seed))]
    #[allow(clippy::too_many_arguments)]
    fn inverse_kinematics<'py>(
        &self,
        py: Python<'py>,
        init_qpos: Arr2<'py>,
        bodies: Vec<usize>,
        points: Arr2<'py>,
        pos: PyReadonlyArray3<'py, f64>,
        pos_given: Vec<bool>,
        quat: PyReadonlyArray3<'py, f64>,
        quat_given: Vec<bool>,
        dofs: Vec<usize>,
        respect_limits: bool,
        max_samples: usize,
        max_iters: usize,
        damping: f64,
        pos_tol: f64,
        rot_tol: f64,
        pos_mask: [bool; 3],
        rot_mask: [bool; 3],
        max_step: f64,
        seed: u64,
    ) -> PyResult<Vec<Bound<'py, PyAny>>> {
        let (n, nq, _) = self.shape();
        let k = bodies.len();
        if pos_given.len() != k || quat_given.len() != k {
            return Err(invalid("pos_given, quat_given: one entry per body"));
        }
        let q0 = values(&init_qpos, "init_qpos", &[n, nq])?;
        let pts = values(&points, "points", &[k, 3])?;
        let p = values(&pos, "pos", &[n, k, 3])?;
        let qt = values(&quat, "quat", &[n, k, 4])?;
        let mut targets = Vec::with_capacity(n);
        for i in 0..n {
            let mut ts = Vec::with_capacity(k);
            for (j, &body) in bodies.iter().enumerate() {
                let a = (i * k + j) * 3;
                let b = (i * k + j) * 4;
                let quat = if quat_given[j] {
                    let w = &qt[b..b + 4];
                    let norm = w.iter().map(|x| x * x).sum::<f64>().sqrt();
                    if !(norm > 1e-12 && norm.is_finite()) {
                        return Err(invalid(format!("quats[{j}]: zero or not finite (env {i})")));
                    }
                    Some(kinegrad::math::quat_from_wxyz(w))
                } else {
                    None
                };
                ts.push(kinegrad::ik::IkTarget {
                    body,
                    point: kinegrad::math::Vec3::new(pts[3 * j], pts[3 * j + 1], pts[3 * j + 2]),
                    pos: pos_given[j].then(|| kinegrad::math::Vec3::new(p[a], p[a + 1], p[a + 2])),
                    quat,
                });
            }
            targets.push(ts);
        }
        let nd = dofs.len();
        let opt = kinegrad::ik::IkOptions {
            dofs,
            respect_limits,
            max_samples,
            max_iters,
            damping,
            pos_tol,
            rot_tol,
            pos_mask,
            rot_mask,
            max_step,
            seed,
        };
        let sols = detached(py, || self.inner.inverse_kinematics(&q0, &targets, &opt))?;
        let q = sols.iter().flat_map(|s| s.q.iter().copied()).collect();
        let err = sols
            .iter()
            .flat_map(|s| s.error.iter().flatten().copied())
            .collect();
        let jac = sols.iter().flat_map(|s| s.jac.iter().copied()).collect();
        let solved: Vec<bool> = sols.iter().map(|s| s.solved).collect();
        Ok(vec![
            array(py, &[n, nq], q),
            array(py, &[n, k, 6], err),
            numpy::PyArray1::from_vec(py, solved).into_any(),
            array(py, &[n, 6 * k, nd], jac),
        ])
    }

    /// A collision-free path per env in the coordinates `coords` of qpos from `start` to
    /// `goal` (n_envs, len(coords)), the rest of each configuration from `qpos` (n_envs, nq),
    /// contacts counted on the geoms of bodies `body_lo..body_hi` (`plan::PlanOptions`).
    /// Returns (waypoints (n_envs, num_waypoints, len(coords)), found (n_envs,) bool).
    #[pyo3(signature = (qpos, start, goal, coords, lower, upper, body_lo, body_hi, resolution, max_step, goal_bias, max_nodes, timeout, ignore_collision, smooth, num_waypoints, penetration_eps, planner, seed))]
    #[allow(clippy::too_many_arguments)]
    fn plan_paths<'py>(
        &self,
        py: Python<'py>,
        qpos: Arr2<'py>,
        start: Arr2<'py>,
        goal: Arr2<'py>,
        coords: Vec<usize>,
        lower: Vec<f64>,
        upper: Vec<f64>,
        body_lo: usize,
        body_hi: usize,
        resolution: f64,
        max_step: f64,
        goal_bias: f64,
        max_nodes: usize,
        timeout: Option<f64>,
        ignore_collision: bool,
        smooth: bool,
        num_waypoints: usize,
        penetration_eps: f64,
        planner: &str,
        seed: u64,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
        let (n, nq, _) = self.shape();
        let k = coords.len();
        let q = values(&qpos, "qpos", &[n, nq])?;
        let a = values(&start, "qpos_start", &[n, k])?;
        let b = values(&goal, "qpos_goal", &[n, k])?;
        let planner = match planner {
            "RRT" => kinegrad::plan::Planner::Rrt,
            "RRTConnect" => kinegrad::plan::Planner::RrtConnect,
            other => {
                return Err(invalid(format!(
                    "planner: expected 'RRT' or 'RRTConnect', got '{other}'"
                )))
            }
        };
        let timeout = match timeout {
            Some(t) if !(t > 0.0 && t.is_finite()) => {
                return Err(invalid(format!(
                    "timeout: expected a positive number of seconds, got {t}"
                )))
            }
            t => t.map(std::time::Duration::from_secs_f64),
        };
        let opt = kinegrad::plan::PlanOptions {
            coords,
            lower,
            upper,
            bodies: body_lo..body_hi,
            resolution,
            max_step,
            goal_bias,
            max_nodes,
            timeout,
            ignore_collision,
            smooth,
            num_waypoints,
            penetration_eps,
            planner,
            seed,
        };
        let paths = detached(py, || self.inner.plan_paths(&q, &a, &b, &opt))?;
        let w = paths
            .iter()
            .flat_map(|p| p.waypoints.iter().copied())
            .collect();
        let found: Vec<bool> = paths.iter().map(|p| p.found).collect();
        Ok((
            array(py, &[n, num_waypoints, k], w),
            numpy::PyArray1::from_vec(py, found).into_any(),
        ))
    }

    /// The Jacobian (n_envs, 6, nv) of the point `point` (body frame) of body `body` at qpos
    /// (n_envs, nq): the point's linear velocity, then the body's angular velocity, world frame.
    fn point_jacobians<'py>(
        &self,
        py: Python<'py>,
        qpos: Arr2<'py>,
        body: usize,
        point: [f64; 3],
    ) -> PyResult<Bound<'py, PyAny>> {
        let (n, nq, nv) = self.shape();
        let q = values(&qpos, "qpos", &[n, nq])?;
        let x = detached(py, || self.inner.point_jacobians(&q, body, point))?;
        Ok(array(py, &[n, 6, nv], x))
    }

    /// Every joint's world anchor and axis at the positions qpos (n_envs, nq): (n_envs, njnt, 6).
    fn joint_anchors<'py>(&self, py: Python<'py>, qpos: Arr2<'py>) -> PyResult<Bound<'py, PyAny>> {
        let (n, nq, _) = self.shape();
        let q = values(&qpos, "qpos", &[n, nq])?;
        let x = detached(py, || self.inner.joint_anchors(&q))?;
        Ok(array(py, &[n, self.inner.model.njnt, 6], x))
    }

    /// The actuator forces (n_envs, nv) the given controls give at the given states (`act`:
    /// the activations, zeros if not given): Genesis's `get_dofs_control_force`.
    #[pyo3(signature = (qpos, qvel, mode, target, act=None))]
    fn actuator_forces<'py>(
        &self,
        py: Python<'py>,
        qpos: Arr2<'py>,
        qvel: Arr2<'py>,
        mode: PyReadonlyArrayDyn<'py, i8>,
        target: Arr2<'py>,
        act: Option<Arr2<'py>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (n, _, nv) = self.shape();
        let [q, v] = self.state_args(&qpos, &qvel, ["qpos", "qvel"])?;
        let (m, t) = self.control_args(&mode, &target)?;
        let a = self.act_arg(&act, "act")?;
        let x = StepInputs {
            q: &q,
            v: &v,
            act: &a,
            modes: &m,
            targets: &t,
        };
        let f = detached(py, || self.inner.actuator_forces(&x))?;
        Ok(array(py, &[n, nv], f))
    }

    /// Every env's body accelerations (n_envs, nbody, 6): the classical linear acceleration of
    /// the body origin, then the angular acceleration (world), at the env's state under its last
    /// step's acceleration.
    fn link_accelerations<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let n = self.inner.n_envs();
        let a = detached(py, || self.inner.link_accelerations())?;
        Ok(array(py, &[n, self.inner.model.nbody, 6], a))
    }

    /// Every body's reading at the given states qpos (n_envs, nq), qvel (n_envs, nv):
    /// (n_envs, nbody, `LINK_STATE`) with the quantities at `LINK_FIELDS` (position, quaternion
    /// wxyz, linear velocity of the body origin, angular velocity; world frame).
    fn kinematics<'py>(
        &self,
        py: Python<'py>,
        qpos: Arr2<'py>,
        qvel: Arr2<'py>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let n = self.inner.n_envs();
        let [q, v] = self.state_args(&qpos, &qvel, ["qpos", "qvel"])?;
        let x = detached(py, || self.inner.link_states(&q, &v))?;
        Ok(array(py, &[n, self.inner.model.nbody, LINK_STATE], x))
    }

    /// Reverse of `kinematics` given the adjoint of its result: (qpos_bar, qvel_bar, params_bar).
    fn kinematics_vjp<'py>(
        &self,
        py: Python<'py>,
        qpos: Arr2<'py>,
        qvel: Arr2<'py>,
        bar: PyReadonlyArray3<'py, f64>,
    ) -> PyResult<Vec<Bound<'py, PyAny>>> {
        let n = self.inner.n_envs();
        let [q, v] = self.state_args(&qpos, &qvel, ["qpos", "qvel"])?;
        let bar = values(&bar, "bar", &[n, self.inner.model.nbody, LINK_STATE])?;
        let g = detached(py, || self.inner.link_states_vjp(&q, &v, &bar))?;
        self.grads(py, &g, false)
    }

    /// Every geom's world axis-aligned bounding box at the positions qpos (n_envs, nq):
    /// (n_envs, ngeom, 2, 3), min then max (a plane's infinite where it is unbounded).
    fn geom_aabbs<'py>(&self, py: Python<'py>, qpos: Arr2<'py>) -> PyResult<Bound<'py, PyAny>> {
        let (n, nq, _) = self.shape();
        let q = values(&qpos, "qpos", &[n, nq])?;
        let x = detached(py, || self.inner.geom_aabbs(&q))?;
        Ok(array(py, &[n, self.inner.model.ngeom, 2, 3], x))
    }

    /// Every tendon's length at the positions qpos (n_envs, nq): (n_envs, ntendon).
    fn tendon_lengths<'py>(&self, py: Python<'py>, qpos: Arr2<'py>) -> PyResult<Bound<'py, PyAny>> {
        let (n, nq, _) = self.shape();
        let q = values(&qpos, "qpos", &[n, nq])?;
        let x = detached(py, || self.inner.tendon_lengths(&q))?;
        Ok(array(py, &[n, self.inner.model.tendons.len()], x))
    }

    /// Reverse of `tendon_lengths` given the adjoint of its result: (qpos_bar, qvel_bar,
    /// params_bar).
    fn tendon_lengths_vjp<'py>(
        &self,
        py: Python<'py>,
        qpos: Arr2<'py>,
        bar: Arr2<'py>,
    ) -> PyResult<Vec<Bound<'py, PyAny>>> {
        let (n, nq, _) = self.shape();
        let q = values(&qpos, "qpos", &[n, nq])?;
        let bar = values(&bar, "bar", &[n, self.inner.model.tendons.len()])?;
        let g = detached(py, || self.inner.tendon_lengths_vjp(&q, &bar))?;
        self.grads(py, &g, false)
    }

    /// Joint-space mass matrix M(q) (nv, nv) of env 0's parameters at `qpos` (nq), armature included.
    fn mass_matrix<'py>(
        &self,
        py: Python<'py>,
        qpos: PyReadonlyArray1<'py, f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (_, nq, nv) = self.shape();
        let q = values(&qpos, "qpos", &[nq])?;
        let m = guard(|| self.inner.mass_matrix(&q).map_err(to_py_err))?;
        Ok(array(py, &[nv, nv], m))
    }

    /// Inverse dynamics M(q) a + c(q, v) (nv), without armature, with env 0's parameters.
    fn inverse_dynamics<'py>(
        &self,
        py: Python<'py>,
        qpos: PyReadonlyArray1<'py, f64>,
        qvel: PyReadonlyArray1<'py, f64>,
        qacc: PyReadonlyArray1<'py, f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (_, nq, nv) = self.shape();
        let (q, v, a) = (
            values(&qpos, "qpos", &[nq])?,
            values(&qvel, "qvel", &[nv])?,
            values(&qacc, "qacc", &[nv])?,
        );
        let tau = guard(|| self.inner.inverse_dynamics(&q, &v, &a).map_err(to_py_err))?;
        Ok(array(py, &[nv], tau))
    }

    /// Contacts of env `env` found by its last step: a list of dicts with geom1, geom2, body1,
    /// body2, pos (3), normal (3, from geom1 to geom2), dist, force (3, world frame, exerted by
    /// geom1 on geom2) and force_normal (its component along the normal).
    fn contacts<'py>(&self, py: Python<'py>, env: usize) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let n = self.inner.n_envs();
        let e = self
            .inner
            .envs
            .get(env)
            .ok_or_else(|| invalid(format!("env: index {env} out of range for {n} envs")))?;
        let body = &self.inner.model.geom_body;
        e.carry
            .contacts
            .iter()
            .map(|c| {
                let d = PyDict::new(py);
                let (p, nn, f) = (c.pos, c.normal, c.force);
                d.set_item("geom1", c.geom1)?;
                d.set_item("geom2", c.geom2)?;
                d.set_item("body1", body[c.geom1])?;
                d.set_item("body2", body[c.geom2])?;
                d.set_item("pos", [p.x, p.y, p.z])?;
                d.set_item("normal", [nn.x, nn.y, nn.z])?;
                d.set_item("dist", c.dist)?;
                d.set_item("force", [f.x, f.y, f.z])?;
                d.set_item("force_normal", f.dot(&nn))?;
                Ok(d)
            })
            .collect()
    }
}

//! Functions of given states over every env (the envs' own states are not touched): the
//! functional step, the readings, and their reverse passes; and the reverse pass of the tapes
//! a [`Sim::run`] recorded. Each takes the caller's raw `qpos` and normalizes its quaternion
//! blocks first, so each reverse pulls its adjoint back through that normalization.

use super::{check_quaternions, check_rows, per_item, Sim};
use crate::adjoint::readings::{link_states_vjp, tendon_lengths_vjp};
use crate::adjoint::rollout::{Tape, TapeGrad};
use crate::adjoint::state::normalize_quaternions_vjp;
use crate::adjoint::StepGrad;
use crate::batch::Workers;
use crate::error::{Error, Result};
use crate::model::{CtrlMode, Model};
use crate::readings::{self, LINK_STATE};
use crate::state::{Control, State, StepCarry};
use crate::{pipeline, Data};

/// Given states and controls of every env, checked: (n_envs * nq), (n_envs * nv),
/// (n_envs * na), (n_envs * nu) each.
#[derive(Clone, Copy, Debug)]
pub struct StepInputs<'a> {
    /// Positions as given (quaternion blocks not yet normalized).
    pub q: &'a [f64],
    /// Velocities.
    pub v: &'a [f64],
    /// Activations (empty for a model without any).
    pub act: &'a [f64],
    /// Control modes.
    pub modes: &'a [CtrlMode],
    /// Control targets.
    pub targets: &'a [f64],
}

impl StepInputs<'_> {
    /// An error naming the first bad argument (`names` of q and v, as the caller calls them).
    pub fn check(&self, model: &Model, n: usize, names: [&str; 2]) -> Result<()> {
        check_rows(names[0], self.q, n, model.nq)?;
        check_rows(names[1], self.v, n, model.nv)?;
        check_rows("act", self.act, n, model.na())?;
        check_rows("target", self.targets, n, model.nu())?;
        if self.modes.len() != n * model.nu() {
            return Err(Error::invalid(
                "mode",
                format!("expected {} modes", n * model.nu()),
            ));
        }
        check_quaternions(model, self.q)
    }

    /// State (quaternions normalized) and control of env `i`.
    fn env(&self, model: &Model, i: usize) -> (State, Control) {
        let (nq, nv, na) = (model.nq, model.nv, model.na());
        let mut st = State {
            q: self.q[i * nq..(i + 1) * nq].to_vec(),
            v: self.v[i * nv..(i + 1) * nv].to_vec(),
            act: self.act[i * na..(i + 1) * na].to_vec(),
            time: 0.0,
        };
        st.normalize_quaternions(model);
        let nu = model.nu();
        let ctrl = Control {
            mode: self.modes[i * nu..(i + 1) * nu].to_vec(),
            target: self.targets[i * nu..(i + 1) * nu].to_vec(),
        };
        (st, ctrl)
    }
}

/// The adjoint seeds of a tape's reverse pass, env-major; each may be absent.
#[derive(Clone, Copy, Debug, Default)]
pub struct TapeSeeds<'a> {
    /// dL/d(final q) (n * nq).
    pub q: Option<&'a [f64]>,
    /// dL/d(final v) (n * nv).
    pub v: Option<&'a [f64]>,
    /// dL/d(final activations) (n * na).
    pub act: Option<&'a [f64]>,
    /// dL/d(q after each step) (n * T * nq).
    pub traj_q: Option<&'a [f64]>,
    /// dL/d(v after each step) (n * T * nv).
    pub traj_v: Option<&'a [f64]>,
}

impl Sim {
    /// `nsteps` steps of copies of the given states. The solver starts cold (no warm start),
    /// so the result is a function of the arguments and the env's parameters alone, as is the
    /// step [`Sim::step_vjp`] differentiates. Returns (q, v, act) after the steps, env-major.
    pub fn step_functional(
        &self,
        x: &StepInputs<'_>,
        nsteps: usize,
    ) -> Result<(Vec<f64>, Vec<f64>, Vec<f64>)> {
        x.check(&self.model, self.n_envs(), ["qpos", "qvel"])?;
        let model = &*self.model;
        let out = self.map_envs(|i, e, d| {
            let (mut st, ctrl) = x.env(model, i);
            let mut carry = StepCarry::new(model); // a cold solve: a function of the arguments
            for _ in 0..nsteps {
                pipeline::step(model, &e.params, &mut st, &ctrl, &mut carry, d)?;
            }
            Ok((st.q, st.v, st.act))
        })?;
        let (mut q, mut v, mut act) = (Vec::new(), Vec::new(), Vec::new());
        for (qi, vi, ai) in out {
            q.extend(qi);
            v.extend(vi);
            act.extend(ai);
        }
        Ok((q, v, act))
    }

    /// Reverse of one [`Sim::step_functional`] step, given the adjoints `q_bar`, `v_bar`,
    /// `act_bar` of the state after it: one [`StepGrad`] per env, its `q` at the raw `x.q`.
    pub fn step_vjp(
        &self,
        x: &StepInputs<'_>,
        q_bar: &[f64],
        v_bar: &[f64],
        act_bar: &[f64],
    ) -> Result<Vec<StepGrad>> {
        let (n, nq, nv, na) = (self.n_envs(), self.model.nq, self.model.nv, self.model.na());
        x.check(&self.model, n, ["qpos_in", "qvel_in"])?;
        check_rows("qpos_out_bar", q_bar, n, nq)?;
        check_rows("qvel_out_bar", v_bar, n, nv)?;
        check_rows("act_out_bar", act_bar, n, na)?;
        let (model, workers) = (&*self.model, &*self.workers);
        per_item(&self.envs, |i, e| {
            let (st, ctrl) = x.env(model, i);
            let (qb, vb) = (&q_bar[i * nq..(i + 1) * nq], &v_bar[i * nv..(i + 1) * nv]);
            let ab = &act_bar[i * na..(i + 1) * na];
            let mut g = StepGrad::zeros(model);
            let cold = StepCarry::new(model); // the step of `step_functional`
            workers.with_vjp(model, |d, sc| {
                crate::adjoint::step::step_vjp(
                    model, &e.params, &st, &ctrl, &cold, d, sc, qb, vb, ab, &mut g,
                )
            })?;
            normalize_quaternions_vjp(model, &x.q[i * nq..(i + 1) * nq], &mut g.q);
            Ok(g)
        })
    }

    /// Every body's reading ([`readings::link_states`]) at the given states, with each env's
    /// parameters: (n_envs, nbody, 13) floats.
    pub fn link_states(&self, q: &[f64], v: &[f64]) -> Result<Vec<f64>> {
        let (n, nq, nv, nb) = (
            self.n_envs(),
            self.model.nq,
            self.model.nv,
            self.model.nbody,
        );
        check_rows("qpos", q, n, nq)?;
        check_rows("qvel", v, n, nv)?;
        let model = &*self.model;
        let rows = self.map_envs(|i, e, d| {
            let mut qi = q[i * nq..(i + 1) * nq].to_vec();
            crate::state::normalize_quaternions(model, &mut qi);
            let mut out = vec![0.0; nb * LINK_STATE];
            readings::link_states(model, &e.params, &qi, &v[i * nv..(i + 1) * nv], d, &mut out);
            Ok(out)
        })?;
        Ok(rows.concat())
    }

    /// Every geom's world bounding box at the positions `q` (n_envs, nq):
    /// (n_envs, ngeom, 6), see [`readings::geom_aabbs`].
    pub fn geom_aabbs(&self, q: &[f64]) -> Result<Vec<f64>> {
        let (n, nq, ng) = (self.n_envs(), self.model.nq, self.model.ngeom);
        check_rows("qpos", q, n, nq)?;
        let model = &*self.model;
        let rows = self.map_envs(|i, e, d| {
            let mut qi = q[i * nq..(i + 1) * nq].to_vec();
            crate::state::normalize_quaternions(model, &mut qi);
            let mut out = vec![0.0; ng * 6];
            readings::geom_aabbs(model, &e.params, &qi, d, &mut out);
            Ok(out)
        })?;
        Ok(rows.concat())
    }

    /// Reverse of [`Sim::link_states`] given the readings' adjoints `bar` (n_envs, nbody, 13).
    pub fn link_states_vjp(&self, q: &[f64], v: &[f64], bar: &[f64]) -> Result<Vec<StepGrad>> {
        let (n, nq, nv, nb) = (
            self.n_envs(),
            self.model.nq,
            self.model.nv,
            self.model.nbody,
        );
        check_rows("qpos", q, n, nq)?;
        check_rows("qvel", v, n, nv)?;
        check_rows("bar", bar, n, nb * LINK_STATE)?;
        check_quaternions(&self.model, q)?;
        let model = &*self.model;
        let k = nb * LINK_STATE;
        self.map_envs(|i, e, d| {
            let mut g = StepGrad::zeros(model);
            let (qi, vi) = (&q[i * nq..(i + 1) * nq], &v[i * nv..(i + 1) * nv]);
            link_states_vjp(
                model,
                &e.params,
                qi,
                vi,
                d,
                &bar[i * k..(i + 1) * k],
                &mut g,
            );
            Ok(g)
        })
    }

    /// Every joint's world anchor and axis at the positions `q` (n_envs, nq): (n_envs, njnt, 6),
    /// see [`readings::joint_anchors`].
    pub fn joint_anchors(&self, q: &[f64]) -> Result<Vec<f64>> {
        let (n, nq, nj) = (self.n_envs(), self.model.nq, self.model.njnt);
        check_rows("qpos", q, n, nq)?;
        let model = &*self.model;
        let rows = self.map_envs(|i, e, d| {
            let mut qi = q[i * nq..(i + 1) * nq].to_vec();
            crate::state::normalize_quaternions(model, &mut qi);
            let mut out = vec![0.0; nj * 6];
            readings::joint_anchors(model, &e.params, &qi, d, &mut out);
            Ok(out)
        })?;
        Ok(rows.concat())
    }

    /// The Jacobian (n_envs * 6 * nv) of the point `point` (body frame) of body `body` at the
    /// positions `q` (n_envs, nq), see [`readings::point_jacobian`].
    pub fn point_jacobians(&self, q: &[f64], body: usize, point: [f64; 3]) -> Result<Vec<f64>> {
        let (n, nq, nv) = (self.n_envs(), self.model.nq, self.model.nv);
        check_rows("qpos", q, n, nq)?;
        if body == 0 || body >= self.model.nbody {
            return Err(Error::invalid("link", "not a moving link of this scene"));
        }
        if !point.iter().all(|x| x.is_finite()) {
            return Err(Error::invalid("local_point", "not finite"));
        }
        let model = &*self.model;
        let p = crate::math::Vec3::from(point);
        let rows = self.map_envs(|i, e, d| {
            let mut qi = q[i * nq..(i + 1) * nq].to_vec();
            crate::state::normalize_quaternions(model, &mut qi);
            let mut out = vec![0.0; 6 * nv];
            readings::point_jacobian(model, &e.params, &qi, body, &p, d, &mut out);
            Ok(out)
        })?;
        Ok(rows.concat())
    }

    /// Every env's tendon lengths at `q` (n_envs, nq): (n_envs, ntendon).
    pub fn tendon_lengths(&self, q: &[f64]) -> Result<Vec<f64>> {
        let (n, nq, nt) = (self.n_envs(), self.model.nq, self.model.tendons.len());
        check_rows("qpos", q, n, nq)?;
        let model = &*self.model;
        let rows = self.map_envs(|i, e, d| {
            let mut qi = q[i * nq..(i + 1) * nq].to_vec();
            crate::state::normalize_quaternions(model, &mut qi);
            let mut out = vec![0.0; nt];
            readings::tendon_lengths(model, &e.params, &qi, d, &mut out);
            Ok(out)
        })?;
        Ok(rows.concat())
    }

    /// Reverse of [`Sim::tendon_lengths`] given the lengths' adjoints `bar` (n_envs, ntendon).
    pub fn tendon_lengths_vjp(&self, q: &[f64], bar: &[f64]) -> Result<Vec<StepGrad>> {
        let (n, nq, nt) = (self.n_envs(), self.model.nq, self.model.tendons.len());
        check_rows("qpos", q, n, nq)?;
        check_rows("bar", bar, n, nt)?;
        check_quaternions(&self.model, q)?;
        let model = &*self.model;
        self.map_envs(|i, e, d| {
            let mut g = StepGrad::zeros(model);
            let qi = &q[i * nq..(i + 1) * nq];
            tendon_lengths_vjp(model, &e.params, qi, d, &bar[i * nt..(i + 1) * nt], &mut g);
            Ok(g)
        })
    }

    /// Inverse kinematics of every env from its positions `q0` (n_envs * nq) toward its
    /// targets (`targets[i]`, the same links and options for every env), each env with its
    /// own parameters, in parallel ([`crate::ik::solve`]).
    pub fn inverse_kinematics(
        &self,
        q0: &[f64],
        targets: &[Vec<crate::ik::IkTarget>],
        opt: &crate::ik::IkOptions,
    ) -> Result<Vec<crate::ik::IkSolution>> {
        let (n, nq) = (self.n_envs(), self.model.nq);
        check_rows("init_qpos", q0, n, nq)?;
        check_quaternions(&self.model, q0)?;
        if targets.len() != n {
            return Err(Error::invalid(
                "targets",
                format!("expected the targets of {n} envs, got {}", targets.len()),
            ));
        }
        for t in targets {
            crate::ik::check(&self.model, t, opt)?;
        }
        let model = &*self.model;
        self.map_envs(|i, e, d| {
            let mut qi = q0[i * nq..(i + 1) * nq].to_vec();
            crate::state::normalize_quaternions(model, &mut qi);
            Ok(crate::ik::solve(model, &e.params, d, &qi, &targets[i], opt))
        })
    }

    /// The actuator forces (n_envs * nv) of the given states and controls
    /// ([`readings::actuator_forces`]), each env with its own parameters.
    pub fn actuator_forces(&self, x: &StepInputs<'_>) -> Result<Vec<f64>> {
        x.check(&self.model, self.n_envs(), ["qpos", "qvel"])?;
        let model = &*self.model;
        let rows = self.map_envs(|i, e, d| {
            let (st, ctrl) = x.env(model, i);
            let mut out = vec![0.0; model.nv];
            readings::actuator_forces(model, &e.params, &st.q, &st.v, &st.act, &ctrl, d, &mut out);
            Ok(out)
        })?;
        Ok(rows.concat())
    }

    /// Every env's body accelerations (n_envs * nbody * 6, [`readings::link_accelerations`])
    /// at its state under the acceleration of its last step (zeros before any step).
    pub fn link_accelerations(&self) -> Result<Vec<f64>> {
        let model = &*self.model;
        let rows = self.map_envs(|_, e, d| {
            let mut out = vec![0.0; model.nbody * 6];
            readings::link_accelerations(
                model,
                &e.params,
                &e.state.q,
                &e.state.v,
                &e.carry.step.qacc_warmstart,
                d,
                &mut out,
            );
            Ok(out)
        })?;
        Ok(rows.concat())
    }

    /// A path per env from `start` to `goal` (n_envs * coords each) with the rest of each
    /// env's configuration `q` (n_envs * nq), each env with its own parameters, in parallel
    /// ([`crate::plan::plan`]); the seed is varied per env.
    pub fn plan_paths(
        &self,
        q: &[f64],
        start: &[f64],
        goal: &[f64],
        opt: &crate::plan::PlanOptions,
    ) -> Result<Vec<crate::plan::PlannedPath>> {
        let (n, nq, k) = (self.n_envs(), self.model.nq, opt.coords.len());
        check_rows("qpos", q, n, nq)?;
        check_quaternions(&self.model, q)?;
        check_rows("qpos_start", start, n, k)?;
        check_rows("qpos_goal", goal, n, k)?;
        if k == 0
            || opt.coords.iter().any(|&c| c >= nq)
            || opt.lower.len() != k
            || opt.upper.len() != k
        {
            return Err(Error::invalid(
                "coords",
                "no coordinate to plan, or one out of range",
            ));
        }
        let positive = [("resolution", opt.resolution), ("max_step", opt.max_step)];
        for (name, x) in positive {
            if !(x > 0.0 && x.is_finite()) {
                return Err(Error::invalid(
                    name,
                    format!("expected a positive number, got {x}"),
                ));
            }
        }
        if opt.num_waypoints < 2 {
            return Err(Error::invalid("num_waypoints", "expected at least 2"));
        }
        let model = &*self.model;
        self.map_envs(|i, e, d| {
            let mut qi = q[i * nq..(i + 1) * nq].to_vec();
            crate::state::normalize_quaternions(model, &mut qi);
            let mut o = opt.clone();
            o.seed = opt.seed.wrapping_add(i as u64);
            Ok(crate::plan::plan(
                model,
                &e.params,
                d,
                &qi,
                &start[i * k..(i + 1) * k],
                &goal[i * k..(i + 1) * k],
                &o,
            ))
        })
    }

    /// M(q) (nv * nv) with env 0's parameters, armature included.
    pub fn mass_matrix(&self, q: &[f64]) -> Result<Vec<f64>> {
        let (model, nv) = (&*self.model, self.model.nv);
        check_rows("qpos", q, 1, model.nq)?;
        let mut out = vec![0.0; nv * nv];
        self.workers.with(model, |d| {
            readings::mass_matrix(model, &self.envs[0].params, q, d, &mut out)
        });
        Ok(out)
    }

    /// M(q) a + c(q, v) (nv) with env 0's parameters, armature excluded.
    pub fn inverse_dynamics(&self, q: &[f64], v: &[f64], a: &[f64]) -> Result<Vec<f64>> {
        let model = &*self.model;
        check_rows("qpos", q, 1, model.nq)?;
        check_rows("qvel", v, 1, model.nv)?;
        check_rows("qacc", a, 1, model.nv)?;
        let mut out = vec![0.0; model.nv];
        let p = &self.envs[0].params;
        self.workers.with(model, |d| {
            readings::inverse_dynamics(model, p, q, v, a, d, &mut out)
        });
        Ok(out)
    }
}

/// Reverse pass of one tape per env (parallel over envs). `q0` (n * nq): the initial positions
/// as the caller gave them. `controls`: the controls of tapes that do not keep them (those of
/// [`Sim::run`]), else None. `clip`: the norm the state adjoint leaving a step is clipped to.
/// Returns per env its [`TapeGrad`] (`q0` at the raw `q0`) and the control adjoints (T * nv).
pub fn tapes_vjp(
    model: &Model,
    workers: &Workers,
    tapes: &[Tape],
    q0: &[f64],
    seeds: &TapeSeeds<'_>,
    controls: Option<&super::run::Controls<'_>>,
    clip: Option<f64>,
) -> Result<Vec<(TapeGrad, Vec<f64>)>> {
    let (n, nq, nv) = (tapes.len(), model.nq, model.nv);
    let t_end = tapes.first().map_or(0, |t| t.len());
    if let Some(c) = clip {
        if !(c > 0.0) {
            return Err(Error::invalid(
                "clip",
                format!("expected a positive number, got {c}"),
            ));
        }
    }
    let na = model.na();
    check_rows("q0", q0, n, nq)?;
    for (name, s, k) in [
        ("q_bar", seeds.q, nq),
        ("v_bar", seeds.v, nv),
        ("act_bar", seeds.act, na),
    ] {
        s.map(|s| check_rows(name, s, n, k)).transpose()?;
    }
    for (name, s, k) in [
        ("traj_q_bar", seeds.traj_q, nq),
        ("traj_v_bar", seeds.traj_v, nv),
    ] {
        s.map(|s| check_rows(name, s, n * t_end, k)).transpose()?;
    }
    let add = |dst: &mut [f64], src: Option<&[f64]>, at: usize| {
        if let Some(s) = src {
            let k = dst.len();
            dst.iter_mut()
                .zip(&s[at..at + k])
                .for_each(|(d, s)| *d += s);
        }
    };
    let one = |i: usize, tape: &Tape, data: &mut Data| -> Result<(TapeGrad, Vec<f64>)> {
        let nu = model.nu();
        let mut ub = vec![0.0; t_end * nu];
        let given = controls.map(|c| c.of_env(i));
        let mut g = tape.vjp_interruptible(
            model,
            data,
            given.as_deref(),
            clip,
            workers.interrupt(),
            seeds.act.map_or(&[], |a| &a[i * na..(i + 1) * na]),
            |t, q, v| {
                if t + 1 == t_end {
                    add(q, seeds.q, i * nq);
                    add(v, seeds.v, i * nv);
                }
                add(q, seeds.traj_q, (i * t_end + t) * nq);
                add(v, seeds.traj_v, (i * t_end + t) * nv);
            },
            |t, g| ub[t * nu..(t + 1) * nu].copy_from_slice(g),
        )?;
        normalize_quaternions_vjp(model, &q0[i * nq..(i + 1) * nq], &mut g.q0);
        Ok((g, ub))
    };
    super::per_item(tapes, |i, tp| workers.with(model, |d| one(i, tp, d)))
}

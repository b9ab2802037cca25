//! `step_vjp`: the reverse of [`crate::pipeline::step`], and `kinematics_vjp` for readings.

use super::constraint::rows_vjp;
use super::dynamics::{com_vel_vjp, finish_position, rnea_vjp, PosAdjoint};
use super::integrator::integrate_pos_vjp;
use super::StepGrad;
use crate::data::{Contact, Data};
use crate::dynamics::chol;
use crate::error::{Error, Result};
use crate::integrator;
use crate::kinematics;
use crate::math::{Force, Vec3};
use crate::model::{CtrlMode, Integrator, JointType, Model, Params};
use crate::pipeline::{self, Replay};
use crate::state::{Control, State};

/// Scaled solver residual above which a solve is not an optimum and the implicit function
/// theorem does not apply (converged solves end near round-off after the final Newton polish).
const NOT_CONVERGED: f64 = 1e-6;

/// Reverse of one `step` from `state` (the state before the step) under `control`:
/// given dL/dq' and dL/dv' of the state after the step, fill `grad.q`, `grad.v` (overwritten)
/// and accumulate into `grad.target` and `grad.params`. Recomputes the forward substeps; the
/// active constraint set and contact features of each substep are those of the forward pass.
#[allow(clippy::too_many_arguments)]
pub fn step_vjp(
    model: &Model,
    params: &Params,
    state: &State,
    control: &Control,
    data: &mut Data,
    q_out_bar: &[f64],
    v_out_bar: &[f64],
    grad: &mut StepGrad,
) -> Result<()> {
    step_vjp_recorded(
        model, params, state, control, data, q_out_bar, v_out_bar, grad, None,
    )
}

/// What the forward pass of one step left for its reverse pass: each substep's solution and
/// contacts (see [`crate::adjoint::rollout::Tape::record_result`]).
#[derive(Clone, Copy, Debug)]
pub struct StepRecord<'a> {
    qacc: &'a [f64],
    contacts: &'a [Contact],
    ends: &'a [usize],
    base: usize,
}

impl<'a> StepRecord<'a> {
    /// A record from the step's substep accelerations `qacc` (substeps x nv), its contacts
    /// `contacts` (all substeps, concatenated) and the end of each substep's contacts, `ends`
    /// (substeps entries), counted from `base` (the first contact is `contacts[0]` = entry
    /// `base` of the store `ends` indexes).
    pub fn new(qacc: &'a [f64], contacts: &'a [Contact], ends: &'a [usize], base: usize) -> Self {
        Self {
            qacc,
            contacts,
            ends,
            base,
        }
    }

    /// The replay data of substep `k`.
    fn substep(&self, k: usize, nv: usize) -> Replay<'a> {
        let c0 = if k == 0 {
            0
        } else {
            self.ends[k - 1] - self.base
        };
        let c1 = self.ends[k] - self.base;
        Replay {
            qacc: &self.qacc[k * nv..(k + 1) * nv],
            contacts: &self.contacts[c0..c1],
        }
    }
}

/// [`step_vjp`] reusing the forward pass's results of the step when `record` is given: the
/// recomputed substeps skip collision detection (the recorded contacts make the rows) and
/// start their solve at the recorded solution. Same gradients to round-off.
#[allow(clippy::too_many_arguments)]
pub fn step_vjp_recorded(
    model: &Model,
    params: &Params,
    state: &State,
    control: &Control,
    data: &mut Data,
    q_out_bar: &[f64],
    v_out_bar: &[f64],
    grad: &mut StepGrad,
    record: Option<StepRecord<'_>>,
) -> Result<()> {
    let (nq, nv) = (model.nq, model.nv);
    if q_out_bar.len() != nq || v_out_bar.len() != nv {
        return Err(Error::invalid(
            "step_vjp",
            format!("expected adjoints of {nq} positions and {nv} velocities"),
        ));
    }
    if let Some(i) = q_out_bar
        .iter()
        .chain(v_out_bar)
        .position(|x| !x.is_finite())
    {
        return Err(Error::invalid(
            "step_vjp",
            format!("incoming adjoint entry {i} is not finite"),
        ));
    }
    let h = model.opt.timestep / model.opt.substeps as f64;
    // forward: the state at the start of every substep
    if let Some(r) = &record {
        let ns = model.opt.substeps;
        if r.qacc.len() != ns * nv || r.ends.len() != ns {
            return Err(Error::invalid(
                "step_vjp",
                format!("the step record does not hold {ns} substeps of {nv} accelerations"),
            ));
        }
    }
    let forward = |k: usize, st: &State, data: &mut Data| match &record {
        None => pipeline::forward(model, params, st, control, data, h),
        Some(r) => pipeline::forward_replay(model, params, st, control, data, h, r.substep(k, nv)),
    };
    let mut starts = Vec::with_capacity(model.opt.substeps);
    let mut s = state.clone();
    for k in 0..model.opt.substeps {
        starts.push(s.clone());
        forward(k, &s, data)?;
        integrator::integrate_vel(&mut s.v, &data.qacc, h);
        integrator::integrate_pos(model, &mut s.q, &s.v, h);
    }
    let mut qb = q_out_bar.to_vec();
    let mut vb = v_out_bar.to_vec();
    let mut adj = PosAdjoint::new(model);
    for (k, st) in starts.iter().enumerate().rev() {
        // the last substep's forward quantities are still in `data`
        if k + 1 < starts.len() {
            forward(k, st, data)?;
        }
        if data.solver_residual > NOT_CONVERGED {
            return Err(Error::Diverged {
                step: data.nstep,
                message: format!(
                    "the constraint solver did not converge in substep {k} (scaled residual {:.1e}): its gradient would be wrong; raise `iterations`",
                    data.solver_residual
                ),
            });
        }
        substep_vjp(
            model, params, st, control, data, h, &mut qb, &mut vb, &mut adj, grad,
        );
        if let Some(i) = qb.iter().chain(&vb).position(|x| !x.is_finite()) {
            return Err(Error::Diverged {
                step: data.nstep,
                message: format!("adjoint entry {i} of substep {k} is not finite"),
            });
        }
    }
    grad.q.copy_from_slice(&qb);
    grad.v.copy_from_slice(&vb);
    if let Some(i) = grad.target.iter().position(|x| !x.is_finite()) {
        return Err(Error::Diverged {
            step: data.nstep,
            message: format!("adjoint of control target {i} is not finite"),
        });
    }
    Ok(())
}

/// Reverse of one substep whose forward quantities are in `data`. `qb`, `vb` hold the
/// adjoints of the substep's output on entry and of its input on return.
#[allow(clippy::too_many_arguments)]
fn substep_vjp(
    model: &Model,
    params: &Params,
    st: &State,
    control: &Control,
    data: &Data,
    h: f64,
    qb: &mut Vec<f64>,
    vb: &mut Vec<f64>,
    adj: &mut PosAdjoint,
    grad: &mut StepGrad,
) {
    let nv = model.nv;
    let (q, v) = (&st.q[..], &st.v[..]);
    let a = &data.qacc;
    // v' = v + h a ; q' = q (+) h v'
    let v_new: Vec<f64> = (0..nv).map(|i| v[i] + h * a[i]).collect();
    let mut q_bar = vec![0.0; model.nq];
    let mut vnew_bar = vb.clone();
    integrate_pos_vjp(model, q, &v_new, h, qb, &mut q_bar, &mut vnew_bar);
    let mut v_bar = vnew_bar.clone();
    // implicit function theorem: lambda = H^-1 a_bar
    let mut lambda: Vec<f64> = vnew_bar.iter().map(|x| h * x).collect();
    chol::solve(&data.hess_chol, nv, &mut lambda);
    adj.clear();
    let pb = &mut grad.params;
    // F = ID(q, v, a) + armature a + h Dk a - f_act - f_passive + rows
    let neg: Vec<f64> = lambda.iter().map(|x| -x).collect();
    rnea_vjp(
        model,
        params,
        data,
        v,
        Some(a),
        &neg,
        adj,
        &mut v_bar,
        &mut pb.gravity,
    );
    for i in 0..nv {
        let l = lambda[i];
        pb.dof_armature[i] -= l * a[i];
        pb.dof_damping[i] -= l * h * a[i];
        if model.opt.integrator == Integrator::ImplicitFast
            && !data.actuator_clamped[i]
            && control.mode[i] != CtrlMode::Force
        {
            pb.dof_kv[i] -= l * h * a[i];
        }
        // passive: f = -D v - K (q - q_spring)
        v_bar[i] -= params.dof_damping[i] * l;
        pb.dof_damping[i] -= v[i] * l;
        let j = model.dof_jnt[i];
        let scalar = matches!(model.jnt_type[j], JointType::Hinge | JointType::Slide);
        if scalar {
            let qa = model.jnt_qpos_adr[j];
            q_bar[qa] -= params.dof_stiffness[i] * l;
            pb.dof_stiffness[i] -= (q[qa] - model.jnt_qpos_spring[j]) * l;
        }
        // actuation: where the force range clamps, the force is the bound itself
        let u = control.target[i];
        if data.actuator_clamped[i] {
            let side = if data.qfrc_actuator[i] >= params.dof_force_range[i][1] {
                1
            } else {
                0
            };
            pb.dof_force_range[i][side] += l;
            continue;
        }
        match control.mode[i] {
            CtrlMode::Force => grad.target[i] += l,
            CtrlMode::Position => {
                if scalar {
                    let qa = model.jnt_qpos_adr[j];
                    grad.target[i] += params.dof_kp[i] * l;
                    q_bar[qa] -= params.dof_kp[i] * l;
                    pb.dof_kp[i] += (u - q[qa]) * l;
                }
                v_bar[i] -= params.dof_kv[i] * l;
                pb.dof_kv[i] -= v[i] * l;
            }
            CtrlMode::Velocity => {
                grad.target[i] += params.dof_kv[i] * l;
                v_bar[i] -= params.dof_kv[i] * l;
                pb.dof_kv[i] += (u - v[i]) * l;
            }
        }
    }
    rows_vjp(
        model, params, data, v, h, &lambda, adj, &mut q_bar, &mut v_bar, pb,
    );
    com_vel_vjp(model, data, v, adj, &mut v_bar);
    finish_position(model, params, data, q, adj, &mut q_bar, pb);
    *qb = q_bar;
    *vb = v_bar;
}

/// Reverse of the body readings at (q, v): positions (world), quaternions (w, x, y, z),
/// linear velocities of the body origins and angular velocities (world), one entry per body.
/// Overwrites `grad.q`, `grad.v`; accumulates parameter adjoints (centre of mass does not
/// enter these readings, so they stay zero).
#[allow(clippy::too_many_arguments)]
pub fn kinematics_vjp(
    model: &Model,
    params: &Params,
    q: &[f64],
    v: &[f64],
    data: &mut Data,
    pos_bar: &[Vec3],
    quat_bar: &[[f64; 4]],
    vel_bar: &[Vec3],
    ang_bar: &[Vec3],
    grad: &mut StepGrad,
) {
    pipeline::kinematics(model, params, q, data);
    kinematics::com_vel(model, v, data);
    let mut adj = PosAdjoint::new(model);
    for b in 1..model.nbody {
        let p = data.xpos[b];
        let qt = data.xquat[b];
        let qq = [qt.w, qt.i, qt.j, qt.k];
        let qbr = quat_bar[b];
        // position: the body origin moves as a body point
        let mut p_bar = pos_bar[b];
        // quaternion: dQ = (0, w/2) (x) Q  =>  W.ang += Im(qb (x) Q*) / 2
        let conj = [qq[0], -qq[1], -qq[2], -qq[3]];
        let im = [
            qbr[0] * conj[1] + qbr[1] * conj[0] + qbr[2] * conj[3] - qbr[3] * conj[2],
            qbr[0] * conj[2] - qbr[1] * conj[3] + qbr[2] * conj[0] + qbr[3] * conj[1],
            qbr[0] * conj[3] + qbr[1] * conj[2] - qbr[2] * conj[1] + qbr[3] * conj[0],
        ];
        let mut w = Force::new(Vec3::new(im[0], im[1], im[2]) * 0.5, Vec3::zeros());
        // origin velocity = cvel.lin + cvel.ang x p
        let l = vel_bar[b];
        adj.cvel_bar[b] += Force::new(p.cross(&l) + ang_bar[b], l);
        p_bar += l.cross(&data.cvel[b].ang);
        w += Force::new(p.cross(&p_bar), p_bar);
        adj.body_wrench[b] += w;
    }
    grad.q.iter_mut().for_each(|x| *x = 0.0);
    grad.v.iter_mut().for_each(|x| *x = 0.0);
    com_vel_vjp(model, data, v, &mut adj, &mut grad.v);
    finish_position(
        model,
        params,
        data,
        q,
        &mut adj,
        &mut grad.q,
        &mut grad.params,
    );
}

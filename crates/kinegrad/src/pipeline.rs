//! `step`: composes the stages. No physics lives here.

use crate::collision::ContactPoint;
use crate::constraint::{self, solver};
use crate::data::{Contact, Data};
use crate::diagnostics;
use crate::dynamics::{activation, crba, forces, mass, rnea};
use crate::error::{Error, Result};
use crate::integrator;
use crate::interrupt::Interrupt;
use crate::kinematics;
use crate::model::{Integrator, Model, Params};
use crate::state::{Control, State, StepCarry};

/// Advance `state` by one step (`model.opt.substeps` substeps of `timestep / substeps`), the
/// constraint solver warm-started from `carry`, which the step leaves with its last solve's
/// acceleration and its substeps counted. On error the state and the warm start are left as
/// they were before the call (the count keeps the substeps that ran).
pub fn step(
    model: &Model,
    params: &Params,
    state: &mut State,
    control: &Control,
    carry: &mut StepCarry,
    data: &mut Data,
) -> Result<()> {
    step_interruptible(
        model,
        params,
        state,
        control,
        carry,
        data,
        Interrupt::never(),
        None,
    )
}

/// What each substep of a step found, for a reverse pass that replays them (see
/// `adjoint::rollout::Tape::record_result`), kept by the caller of [`step_interruptible`].
/// Filled only when the model has more than one substep per step; with one, the step's
/// results are those `Data` holds after it.
#[derive(Clone, Debug, Default)]
pub struct StepLog {
    /// Constrained acceleration of each substep, (substeps x nv).
    pub qacc: Vec<f64>,
    /// Solver residual of each substep (substeps).
    pub residual: Vec<f64>,
    /// Contacts of each substep, concatenated.
    pub contacts: Vec<Contact>,
    /// End of each substep's contacts in `contacts` (substeps).
    pub contact_end: Vec<usize>,
}

impl StepLog {
    /// An empty log with room for a step of `model`.
    pub fn new(model: &Model) -> Self {
        let sub = model.opt.substeps;
        if sub <= 1 {
            return Self::default();
        }
        Self {
            qacc: Vec::with_capacity(sub * model.nv),
            residual: Vec::with_capacity(sub),
            contacts: Vec::with_capacity(64),
            contact_end: Vec::with_capacity(sub),
        }
    }

    /// Whether the log holds no substep (one substep per step, or not logged).
    pub fn is_empty(&self) -> bool {
        self.contact_end.is_empty()
    }

    fn clear(&mut self) {
        self.qacc.clear();
        self.residual.clear();
        self.contacts.clear();
        self.contact_end.clear();
    }
}

/// [`step`], stopping with [`Error::Interrupted`] (the state as before the call) if
/// `interrupt` is requested before one of its substeps, and, with `log`, keeping what each
/// substep found there (when the model has more than one substep per step).
#[allow(clippy::too_many_arguments)]
pub fn step_interruptible(
    model: &Model,
    params: &Params,
    state: &mut State,
    control: &Control,
    carry: &mut StepCarry,
    data: &mut Data,
    interrupt: &Interrupt,
    log: Option<&mut StepLog>,
) -> Result<()> {
    check_inputs(model, state, control, carry)?;
    let [q0, v0, warm0, act0] = &mut data.scratch_rollback;
    q0.clone_from(&state.q);
    v0.clone_from(&state.v);
    warm0.clone_from(&carry.qacc_warmstart);
    act0.clone_from(&state.act);
    let time0 = state.time;
    let result = substeps(model, params, state, control, carry, data, interrupt, log);
    if result.is_err() {
        let [q0, v0, warm0, act0] = &data.scratch_rollback;
        state.q.clone_from(q0);
        state.v.clone_from(v0);
        carry.qacc_warmstart.clone_from(warm0);
        state.act.clone_from(act0);
        state.time = time0;
    }
    result
}

#[allow(clippy::too_many_arguments)]
fn substeps(
    model: &Model,
    params: &Params,
    state: &mut State,
    control: &Control,
    carry: &mut StepCarry,
    data: &mut Data,
    interrupt: &Interrupt,
    mut log: Option<&mut StepLog>,
) -> Result<()> {
    let h = model.opt.timestep / model.opt.substeps as f64;
    if model.opt.substeps <= 1 {
        log = None;
    }
    if let Some(log) = log.as_deref_mut() {
        log.clear();
    }
    for _ in 0..model.opt.substeps {
        if interrupt.requested() {
            return Err(Error::Interrupted { step: carry.nstep });
        }
        if model.opt.integrator == Integrator::RK4 {
            // (its reverse recomputes the stages: nothing is logged)
            rk4(model, params, state, control, carry, data, h)?;
        } else {
            forward(model, params, state, control, carry, data, h)?;
            if let Some(log) = log.as_deref_mut() {
                // what a reverse pass over this step may reuse (see `adjoint::rollout::Tape`)
                log.qacc.extend_from_slice(&data.qacc);
                log.residual.push(data.solver_residual);
                log.contacts.extend_from_slice(&data.contacts);
                log.contact_end.push(log.contacts.len());
            }
            integrator::integrate_vel(&mut state.v, &data.qacc_int, h);
            integrator::integrate_pos(model, &mut state.q, &state.v, h);
            activation::integrate(model, control, &mut state.act, h);
        }
        state.time += h;
        carry.nstep += 1;
        if let Some(i) = state
            .q
            .iter()
            .chain(&state.v)
            .chain(&state.act)
            .position(|x| !x.is_finite())
        {
            let what = if i < model.nq {
                format!("qpos[{i}]")
            } else if i < model.nq + model.nv {
                format!("qvel[{}]", i - model.nq)
            } else {
                format!("act[{}]", i - model.nq - model.nv)
            };
            return Err(Error::Diverged {
                // the substep that failed (`nstep` already counts it)
                step: carry.nstep - 1,
                message: format!(
                    "{what} is not finite{}",
                    diagnostics::diagnose(model, params, control, data, h)
                ),
            });
        }
    }
    Ok(())
}

fn check_inputs(model: &Model, state: &State, control: &Control, carry: &StepCarry) -> Result<()> {
    check_state(model, state)?;
    if control.target.len() != model.nu() || control.mode.len() != model.nu() {
        return Err(Error::invalid(
            "control",
            format!(
                "expected {} entries (one per dof, then one per tendon)",
                model.nu()
            ),
        ));
    }
    if carry.qacc_warmstart.len() != model.nv {
        return Err(Error::invalid(
            "carry",
            format!(
                "expected a warm start of {} entries, got {}",
                model.nv,
                carry.qacc_warmstart.len()
            ),
        ));
    }
    if let Some(d) = control.target.iter().position(|x| !x.is_finite()) {
        let what = if d < model.nv {
            format!("dof {d}")
        } else {
            format!("tendon '{}'", model.tendons[d - model.nv].name)
        };
        return Err(Error::invalid(
            "control",
            format!("target of {what} is not finite"),
        ));
    }
    Ok(())
}

/// An error unless `state` is shaped for `model` (q, v and activations), or if the model has
/// activations under Runge-Kutta 4 (not supported: its stages would need the activations'
/// too).
pub fn check_state(model: &Model, state: &State) -> Result<()> {
    if state.q.len() != model.nq || state.v.len() != model.nv || state.act.len() != model.na() {
        return Err(Error::invalid(
            "state",
            format!(
                "expected q of {}, v of {} and act of {} entries, got {}, {} and {}",
                model.nq,
                model.nv,
                model.na(),
                state.q.len(),
                state.v.len(),
                state.act.len()
            ),
        ));
    }
    if model.opt.integrator == Integrator::RK4 && model.na() > 0 {
        let ch = model.activations[0].channel;
        let name = model
            .actuators
            .iter()
            .find(|a| a.dof == ch)
            .map_or("", |a| a.name.as_str());
        return Err(Error::unsupported(
            format!("actuator '{name}'"),
            "activation dynamics (dyntype) under the RK4 integrator; use Euler, implicit or implicitfast",
        ));
    }
    Ok(())
}

/// Position-dependent quantities: poses of bodies and geoms, dof subspaces, body inertias.
pub fn kinematics(model: &Model, params: &Params, q: &[f64], data: &mut Data) {
    kinematics::forward_kinematics(model, params, q, data);
    kinematics::com_pos(model, params, data);
    crate::tendon::tendons(model, q, data);
}

/// What a recomputation of a substep reuses from the forward pass that first ran it.
#[derive(Clone, Copy, Debug)]
pub struct Replay<'a> {
    /// The substep's constrained acceleration (nv).
    pub qacc: &'a [f64],
    /// The substep's contacts, used instead of collision detection.
    pub contacts: &'a [ContactRecord],
    /// The scaled optimality residual the substep's solve ended with (`Data::solver_residual`).
    pub residual: f64,
}

/// A contact as a recomputation needs it: the geom pair and the narrowphase result; the rest
/// of the [`Contact`] follows from the model and the parameters
/// ([`crate::detect::contact`]); less than half the size of a `Contact`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ContactRecord {
    /// First geom.
    pub geom1: u32,
    /// Second geom.
    pub geom2: u32,
    /// The narrowphase result (point, normal, distance, feature).
    pub point: ContactPoint,
}

impl ContactRecord {
    /// The record of `c`.
    pub fn of(c: &Contact) -> Self {
        Self {
            geom1: c.geom1 as u32,
            geom2: c.geom2 as u32,
            point: c.point,
        }
    }
}

/// Everything up to the constrained acceleration `data.qacc` at the current state, for a
/// substep of length `h`, the solver warm-started from `carry`, which then holds the
/// solution as the next solve's warm start (`carry.nstep` names the substep in errors).
pub fn forward(
    model: &Model,
    params: &Params,
    state: &State,
    control: &Control,
    carry: &mut StepCarry,
    data: &mut Data,
    h: f64,
) -> Result<()> {
    let (q, v) = (&state.q[..], &state.v[..]);
    // position: kinematics, mass matrix
    kinematics(model, params, q, data);
    crba::crba(model, params, data);
    // velocity: body velocities, bias forces; applied forces
    kinematics::com_vel(model, v, data);
    forces::actuation(model, params, q, v, &state.act, control, data, h);
    smooth_force(model, params, q, v, data);
    implicit_mass(model, params, control, data, h);
    factor_mass(model, params, control, data, h, carry.nstep, true)?;
    // collision and constraints
    crate::detect::detect(model, params, data);
    constraint::make_rows(model, params, q, v, h, data);
    // the solver's start: M^-1 f_smooth under MuJoCo's split (rows solved against M),
    // M_h^-1 f_smooth otherwise
    data.implicit_split = split(model, data);
    data.qacc_smooth.copy_from_slice(&data.qfrc_smooth);
    if data.implicit_split && data.implicit_active {
        factor_mass(model, params, control, data, h, carry.nstep, false)?;
        mass::solve(model, &data.qm_ldl, &mut data.qacc_smooth);
    } else {
        // M_h = M when split for the free bodies alone
        mass::solve(model, &data.qm_h_ldl, &mut data.qacc_smooth);
    }
    let solved = solver::solve(model, data, &carry.qacc_warmstart);
    carry.qacc_warmstart.copy_from_slice(&data.qacc);
    if !solved {
        return Err(Error::Diverged {
            step: carry.nstep,
            message: format!(
                "constraint Hessian is not positive definite{}",
                diagnostics::diagnose(model, params, control, data, h)
            ),
        });
    }
    solver::integrated_acceleration(model, data);
    crate::dynamics::free_gyro::integrate(model, params, data, q, v, h);
    Ok(())
}

/// One Runge-Kutta 4 substep of length `h` from `state` (MuJoCo's `mj_RungeKutta`): the
/// constrained acceleration at four stages ([`forward`] each, warm-started from the one
/// before), then `state` advanced by their combination ([`integrator::rk_combine`]).
fn rk4(
    model: &Model,
    params: &Params,
    state: &mut State,
    control: &Control,
    carry: &mut StepCarry,
    data: &mut Data,
    h: f64,
) -> Result<()> {
    if data.rk.q.len() != 4 || data.rk.u.len() != model.nv {
        // a Data made before the model's integrator became RK4
        data.rk = crate::data::RkStages::new(model);
    }
    let mut rk = std::mem::take(&mut data.rk);
    let result = rk4_stages(model, state, h, &mut rk, |st, a| {
        forward(model, params, st, control, carry, data, h)?;
        a.copy_from_slice(&data.qacc_int);
        Ok(())
    });
    if result.is_ok() {
        integrator::rk_combine(
            model,
            &rk.q[0],
            &rk.v[0],
            &rk.v,
            &rk.a,
            &integrator::RK4_B,
            h,
            &mut state.q,
            &mut state.v,
            &mut rk.u,
        );
    }
    data.rk = rk;
    result
}

/// The four stages of a Runge-Kutta 4 substep of length `h` from `start` into `rk`: each
/// stage's state (`q0 (+) h sum_j A_ij v_j`, `v0 + h sum_j A_ij a_j`) and the acceleration
/// `eval` writes at it. Stops at `eval`'s first error.
pub fn rk4_stages(
    model: &Model,
    start: &State,
    h: f64,
    rk: &mut crate::data::RkStages,
    mut eval: impl FnMut(&State, &mut [f64]) -> Result<()>,
) -> Result<()> {
    rk.q[0].copy_from_slice(&start.q);
    rk.v[0].copy_from_slice(&start.v);
    for i in 0..4 {
        if i > 0 {
            integrator::rk_combine(
                model,
                &rk.q[0],
                &rk.v[0],
                &rk.v,
                &rk.a,
                &integrator::RK4_A[i - 1][..i],
                h,
                &mut rk.state.q,
                &mut rk.state.v,
                &mut rk.u,
            );
            rk.q[i].copy_from_slice(&rk.state.q);
            rk.v[i].copy_from_slice(&rk.state.v);
        } else {
            rk.state.q.copy_from_slice(&start.q);
            rk.state.v.copy_from_slice(&start.v);
        }
        eval(&rk.state, &mut rk.a[i])?;
    }
    Ok(())
}

/// What [`forward`] leaves for the reverse pass, for a substep that already ran, from its
/// recorded contacts and solution: kinematics (geom poses only for the geoms of the contacts;
/// the others keep stale values), mass matrix, body velocities, actuator forces, `M_h`, the
/// constraint rows of the recorded contacts, the solver's outputs at the recorded
/// acceleration with the Newton Hessian of its active set factored, `M_h`'s factor and the
/// integrated acceleration. The bias and passive forces, the unconstrained acceleration and
/// the solver iterations are skipped (`qfrc_bias`, `qfrc_passive`, `qfrc_smooth`,
/// `qacc_smooth` keep stale values): the reverse pass reads none of them. `nstep` names the
/// substep in errors.
#[allow(clippy::too_many_arguments)]
pub fn forward_replay(
    model: &Model,
    params: &Params,
    state: &State,
    control: &Control,
    nstep: u64,
    data: &mut Data,
    h: f64,
    replay: Replay<'_>,
) -> Result<()> {
    let (q, v) = (&state.q[..], &state.v[..]);
    kinematics::body_kinematics(model, params, q, data);
    for c in replay.contacts {
        kinematics::geom_pose(model, data, c.geom1 as usize);
        kinematics::geom_pose(model, data, c.geom2 as usize);
    }
    kinematics::com_pos(model, params, data);
    crate::tendon::tendons(model, q, data);
    crba::crba(model, params, data);
    kinematics::com_vel(model, v, data);
    forces::actuation(model, params, q, v, &state.act, control, data, h);
    implicit_mass(model, params, control, data, h);
    factor_mass(model, params, control, data, h, nstep, true)?;
    data.contacts.clear();
    for c in replay.contacts {
        let (g1, g2) = (c.geom1 as usize, c.geom2 as usize);
        data.contacts.push(crate::detect::contact(
            model,
            params,
            g1,
            g2,
            &data.geom_frame(g1),
            &data.geom_frame(g2),
            &c.point,
        ));
    }
    constraint::make_rows(model, params, q, v, h, data);
    data.implicit_split = split(model, data);
    if !solver::set_solution(model, data, replay.qacc, replay.residual) {
        return Err(if data.nefc == 0 {
            not_positive_definite(model, params, control, data, h, nstep)
        } else {
            Error::Diverged {
                step: nstep,
                message: format!(
                    "constraint Hessian is not positive definite{}",
                    diagnostics::diagnose(model, params, control, data, h)
                ),
            }
        });
    }
    solver::integrated_acceleration(model, data);
    crate::dynamics::free_gyro::integrate(model, params, data, q, v, h);
    Ok(())
}

/// Whether the rows of `data` are solved against M while the integrator uses `M_h != M`
/// ([`Data::implicit_split`]).
fn split(model: &Model, data: &Data) -> bool {
    (data.implicit_active || crate::dynamics::free_gyro::applies(model))
        && data.nefc > 0
        && !model.opt.implicit_constraints
}

/// `qfrc_smooth = applied + actuator + passive - bias`, with the bias and passive forces at
/// `(q, v)`. Needs kinematics, `cvel` and `qfrc_actuator`.
fn smooth_force(model: &Model, params: &Params, q: &[f64], v: &[f64], data: &mut Data) {
    let mut bias = std::mem::take(&mut data.qfrc_bias);
    rnea::rnea(model, params, data, v, None, &mut bias);
    data.qfrc_bias = bias;
    forces::passive(model, params, q, v, data);
    for i in 0..model.nv {
        data.qfrc_smooth[i] =
            data.qfrc_applied[i] + data.qfrc_actuator[i] + data.qfrc_passive[i] - data.qfrc_bias[i];
    }
}

/// `qm_h = M + h (diag(D + Kv) + sum_t k_t J_t^T J_t)`: the matrix of the implicit velocity
/// terms (the tendons' only inside M's tree pattern), and whether it differs from M
/// (`implicit_active`).
fn implicit_mass(model: &Model, params: &Params, control: &Control, data: &mut Data, h: f64) {
    data.qm_h.copy_from_slice(&data.qm);
    data.implicit_active = false;
    for i in 0..model.nv {
        let k = h * forces::implicit_damping(model, params, control, data, i);
        if k != 0.0 {
            data.qm_h[mass::diag(model, i)] += k;
            data.implicit_active = true;
        }
    }
    for (t, ten) in model.tendons.iter().enumerate() {
        let k = h * forces::tendon_implicit_gain(model, params, control, data, t).0;
        if k != 0.0 {
            for pair in &ten.tree_pairs {
                data.qm_h[pair.2] += k * ten.tree_pair_coef(pair, &data.ten_jac[t]);
            }
            data.implicit_active = true;
        }
    }
}

/// Factor `qm_h` into `qm_h_ldl` (`implicit`) or `qm` into `qm_ldl`, or the error naming
/// where it stops being positive definite.
fn factor_mass(
    model: &Model,
    params: &Params,
    control: &Control,
    data: &mut Data,
    h: f64,
    nstep: u64,
    implicit: bool,
) -> Result<()> {
    let (m, ldl) = if implicit {
        (&data.qm_h, &mut data.qm_h_ldl)
    } else {
        (&data.qm, &mut data.qm_ldl)
    };
    ldl.copy_from_slice(m);
    match mass::factor(model, ldl) {
        None => Ok(()),
        Some(_) if implicit => Err(not_positive_definite(
            model, params, control, data, h, nstep,
        )),
        Some(d) => Err(Error::Diverged {
            step: nstep,
            message: format!(
                "the mass matrix is not positive definite without its implicit damping (its \
                 factorization fails at dof {d}, joint '{}'): the constraints are solved against \
                 it (check the mass, inertia and armature of body '{}', or set \
                 RigidOptions(implicit_constraints=True))",
                model.jnt_name[model.dof_jnt[d]], model.body_name[model.dof_body[d]]
            ),
        }),
    }
}

fn not_positive_definite(
    model: &Model,
    params: &Params,
    control: &Control,
    data: &mut Data,
    h: f64,
    nstep: u64,
) -> Error {
    let cause = diagnostics::diagnose(model, params, control, data, h);
    if data.qm_h.iter().any(|x| !x.is_finite()) {
        // a state far out (finite, yet beyond what the mass matrix can be computed at)
        return Error::Diverged {
            step: nstep,
            message: format!("the mass matrix is not finite: the state diverged{cause}"),
        };
    }
    // the dof whose pivot failed: where M stops being positive definite
    data.qm_h_ldl.copy_from_slice(&data.qm_h);
    let d = mass::factor(model, &mut data.qm_h_ldl).unwrap_or(0);
    let body = &model.body_name[model.dof_body[d]];
    let joint = &model.jnt_name[model.dof_jnt[d]];
    let cause = if cause.is_empty() {
        format!(" (check the mass and inertia of body '{body}' and its subtree)")
    } else {
        cause
    };
    Error::Diverged {
        step: nstep,
        message: format!(
            "mass matrix is not positive definite (its factorization fails at dof {d}, joint \
             '{joint}'){cause}"
        ),
    }
}

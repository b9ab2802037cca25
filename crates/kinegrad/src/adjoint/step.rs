//! `step_vjp`: the reverse of [`crate::pipeline::step`]. It only composes the stages' reverse
//! functions (one file per forward stage, see [`super`]) over the substeps in reverse.

use super::constraint_rows::{frictionloss_onset_vjp, rows_vjp};
use super::contact_geom::contacts_vjp;
use super::fluid::{applied_vjp, fluid_vjp};
use super::forces::{actuation_vjp, implicit_damping_vjp, passive_vjp};
use super::free_gyro;
use super::integrator::{integrate_pos_vjp, integrate_vel_vjp, rk_combine_vjp};
use super::kinematics::{com_vel_vjp, position_vjp, PosAdjoint};
use super::rnea::{armature_vjp, rnea_vjp};
use super::solve::{converged, row_seed, solve_vjp};
use super::tendon::tendons_vjp;
use super::StepGrad;
use crate::constraint::cone::MAX_DIM;
use crate::data::{Data, RkStages, RowKind, RowState};
use crate::dynamics::{activation, mass};
use crate::error::{Error, Result};
use crate::integrator;
use crate::model::{Integrator, Model, Params};
use crate::pipeline::{self, ContactRecord, Replay};
use crate::state::{Control, State, StepCarry};

/// Reverse of one `step` from `state` (the state before the step) under `control`, warm-started
/// from `carry` (as the step ran: [`pipeline::step`]'s arguments, `carry` as it was before the
/// step): given dL/dq', dL/dv' and dL/dact' of the state after the step, fill `grad.q`,
/// `grad.v`, `grad.act` (overwritten) and accumulate into `grad.target` and `grad.params`. Recomputes the forward
/// substeps in the scratch `data`; the active constraint set and contact features of each
/// substep are those of the forward pass. `scratch` holds the reverse pass's buffers (made
/// anew when it was made for another model).
#[allow(clippy::too_many_arguments)]
pub fn step_vjp(
    model: &Model,
    params: &Params,
    state: &State,
    control: &Control,
    carry: &StepCarry,
    data: &mut Data,
    scratch: &mut VjpScratch,
    q_out_bar: &[f64],
    v_out_bar: &[f64],
    act_out_bar: &[f64],
    grad: &mut StepGrad,
) -> Result<()> {
    step_vjp_recorded(
        model,
        params,
        state,
        control,
        carry,
        data,
        scratch,
        (q_out_bar, v_out_bar, act_out_bar),
        grad,
        None,
    )
}

/// What the forward pass of one step left for its reverse pass: each substep's solution and
/// contacts (see [`crate::adjoint::rollout::Tape::record_result`]).
#[derive(Clone, Copy, Debug)]
pub struct StepRecord<'a> {
    qacc: &'a [f64],
    residual: &'a [f64],
    contacts: &'a [ContactRecord],
    ends: &'a [usize],
    base: usize,
}

impl<'a> StepRecord<'a> {
    /// A record from the step's substep accelerations `qacc` (substeps x nv) and solver
    /// residuals `residual` (substeps), its contacts `contacts` (all substeps, concatenated)
    /// and the end of each substep's contacts, `ends` (substeps entries), counted from `base`
    /// (the first contact is `contacts[0]` = entry `base` of the store `ends` indexes).
    pub fn new(
        qacc: &'a [f64],
        residual: &'a [f64],
        contacts: &'a [ContactRecord],
        ends: &'a [usize],
        base: usize,
    ) -> Self {
        Self {
            qacc,
            residual,
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
            residual: self.residual[k],
        }
    }
}

/// [`step_vjp`] reusing the forward pass's results of the step when `record` is given: the
/// substeps are recomputed by [`pipeline::forward_replay`], without collision detection (the
/// recorded contacts make the rows), bias forces and solver iterations (the recorded
/// acceleration is the solution; the Newton Hessian of its active set is factored). Same
/// gradients to round-off.
#[allow(clippy::too_many_arguments)]
pub fn step_vjp_recorded(
    model: &Model,
    params: &Params,
    state: &State,
    control: &Control,
    carry: &StepCarry,
    data: &mut Data,
    scratch: &mut VjpScratch,
    (q_out_bar, v_out_bar, act_out_bar): (&[f64], &[f64], &[f64]),
    grad: &mut StepGrad,
    record: Option<StepRecord<'_>>,
) -> Result<()> {
    let (nq, nv, na) = (model.nq, model.nv, model.na());
    if q_out_bar.len() != nq || v_out_bar.len() != nv || act_out_bar.len() != na {
        return Err(Error::invalid(
            "step_vjp",
            format!("expected adjoints of {nq} positions, {nv} velocities and {na} activations"),
        ));
    }
    pipeline::check_state(model, state)?;
    if let Some(i) = q_out_bar
        .iter()
        .chain(v_out_bar)
        .chain(act_out_bar)
        .position(|x| !x.is_finite())
    {
        return Err(Error::invalid(
            "step_vjp",
            format!("incoming adjoint entry {i} is not finite"),
        ));
    }
    let h = model.opt.timestep / model.opt.substeps as f64;
    // Runge-Kutta 4 records nothing: its stages are recomputed
    let record = record.filter(|_| model.opt.integrator != Integrator::RK4);
    if let Some(r) = &record {
        let ns = model.opt.substeps;
        if r.qacc.len() != ns * nv || r.ends.len() != ns || r.residual.len() != ns {
            return Err(Error::invalid(
                "step_vjp",
                format!("the step record does not hold {ns} substeps of {nv} accelerations"),
            ));
        }
    }
    if !scratch.fits(model) {
        *scratch = VjpScratch::new(model);
    }
    // the recomputed substeps run from the step's own warm start
    scratch.carry.clone_from(carry);
    scratch.actb.copy_from_slice(act_out_bar);
    step_vjp_in(
        model, params, state, control, data, h, q_out_bar, v_out_bar, grad, record, scratch,
    )
}

#[allow(clippy::too_many_arguments)]
fn step_vjp_in(
    model: &Model,
    params: &Params,
    state: &State,
    control: &Control,
    data: &mut Data,
    h: f64,
    q_out_bar: &[f64],
    v_out_bar: &[f64],
    grad: &mut StepGrad,
    record: Option<StepRecord<'_>>,
    sc: &mut VjpScratch,
) -> Result<()> {
    let nv = model.nv;
    let forward = |k: usize, st: &State, carry: &mut StepCarry, data: &mut Data| match &record {
        None => pipeline::forward(model, params, st, control, carry, data, h),
        Some(r) => pipeline::forward_replay(
            model,
            params,
            st,
            control,
            carry.nstep,
            data,
            h,
            r.substep(k, nv),
        ),
    };
    // forward: the state at the start of every substep
    let ns = model.opt.substeps;
    let rk4 = model.opt.integrator == Integrator::RK4;
    sc.starts[0].clone_from(state);
    for k in 0..ns {
        if rk4 {
            if k + 1 < ns {
                let (done, next) = sc.starts.split_at_mut(k + 1);
                let carry = &mut sc.carry;
                pipeline::rk4_stages(model, &done[k], h, &mut sc.rk.st, |st, out| {
                    forward(k, st, carry, data)?;
                    out.copy_from_slice(&data.qacc_int);
                    Ok(())
                })?;
                let rk = &mut sc.rk;
                let s = &mut next[0];
                integrator::rk_combine(
                    model,
                    &rk.st.q[0],
                    &rk.st.v[0],
                    &rk.st.v,
                    &rk.st.a,
                    &integrator::RK4_B,
                    h,
                    &mut s.q,
                    &mut s.v,
                    &mut rk.st.u,
                );
            }
            continue;
        }
        forward(k, &sc.starts[k], &mut sc.carry, data)?;
        if k + 1 < ns {
            let (done, next) = sc.starts.split_at_mut(k + 1);
            let s = &mut next[0];
            s.clone_from(&done[k]);
            integrator::integrate_vel(&mut s.v, &data.qacc_int, h);
            integrator::integrate_pos(model, &mut s.q, &s.v, h);
            activation::integrate(model, control, &mut s.act, h);
        }
    }
    sc.qb.copy_from_slice(q_out_bar);
    sc.vb.copy_from_slice(v_out_bar);
    for k in (0..ns).rev() {
        if rk4 {
            rk4_substep_vjp(model, params, k, control, data, h, sc, grad, &forward)?;
        } else {
            // the last substep's forward quantities are still in `data`
            if k + 1 < ns {
                forward(k, &sc.starts[k], &mut sc.carry, data)?;
            }
            check_converged(data, k, sc.carry.nstep)?;
            substep_vjp(model, params, k, control, data, h, sc, grad);
        }
        if let Some(i) = sc.qb.iter().chain(&sc.vb).position(|x| !x.is_finite()) {
            return Err(Error::Diverged {
                step: sc.carry.nstep,
                message: format!("adjoint entry {i} of substep {k} is not finite"),
            });
        }
    }
    grad.q.copy_from_slice(&sc.qb);
    grad.v.copy_from_slice(&sc.vb);
    grad.act.copy_from_slice(&sc.actb);
    if let Some(i) = grad.target.iter().position(|x| !x.is_finite()) {
        return Err(Error::Diverged {
            step: sc.carry.nstep,
            message: format!("adjoint of control target {i} is not finite"),
        });
    }
    Ok(())
}

/// Buffers of [`step_vjp`], kept by its caller from one call to the next (one per thread in
/// `batch::Workers`, one per reverse pass in `Tape::vjp`).
#[derive(Clone, Debug)]
pub struct VjpScratch {
    /// State at the start of each substep.
    starts: Vec<State>,
    /// The warm start and substep count of the recomputed substeps.
    carry: StepCarry,
    /// Adjoints of the current substep's output (on entry) and input (on return): q, v, act.
    qb: Vec<f64>,
    vb: Vec<f64>,
    actb: Vec<f64>,
    q_bar: Vec<f64>,
    v_bar: Vec<f64>,
    v_new: Vec<f64>,
    vnew_bar: Vec<f64>,
    /// Buffers of [`accel_vjp`].
    acc: AccelScratch,
    /// Runge-Kutta 4's stages and their adjoints (empty under the other integrators).
    rk: RkVjp,
}

/// The stages of a Runge-Kutta 4 substep being reversed: their states and accelerations, and
/// the adjoints of each (q, v, a).
#[derive(Clone, Debug, Default)]
struct RkVjp {
    st: RkStages,
    qb: Vec<Vec<f64>>,
    vb: Vec<Vec<f64>>,
    ab: Vec<Vec<f64>>,
    ub: Vec<f64>,
}

impl RkVjp {
    fn new(model: &Model) -> Self {
        let st = RkStages::new(model);
        if st.q.is_empty() {
            return Self::default();
        }
        let (nq, nv) = (model.nq, model.nv);
        Self {
            st,
            qb: vec![vec![0.0; nq]; 4],
            vb: vec![vec![0.0; nv]; 4],
            ab: vec![vec![0.0; nv]; 4],
            ub: vec![0.0; nv],
        }
    }
}

impl VjpScratch {
    /// Buffers for reverse passes over steps of `model`.
    pub fn new(model: &Model) -> Self {
        let (nq, nv) = (model.nq, model.nv);
        Self {
            starts: vec![State::new(model); model.opt.substeps],
            carry: StepCarry::new(model),
            qb: vec![0.0; nq],
            vb: vec![0.0; nv],
            actb: vec![0.0; model.na()],
            q_bar: vec![0.0; nq],
            v_bar: vec![0.0; nv],
            v_new: vec![0.0; nv],
            vnew_bar: vec![0.0; nv],
            acc: AccelScratch {
                w: vec![0.0; nv],
                lambda: vec![0.0; nv],
                neg: vec![0.0; nv],
                adj: PosAdjoint::new(model),
                free: Vec::with_capacity(6 * model.free_gyro.len()),
            },
            rk: RkVjp::new(model),
        }
    }

    /// Whether these buffers fit steps of `model`.
    pub fn fits(&self, model: &Model) -> bool {
        self.starts.len() == model.opt.substeps
            && self.carry.qacc_warmstart.len() == model.nv
            && self.qb.len() == model.nq
            && self.vb.len() == model.nv
            && self.actb.len() == model.na()
            && self.acc.adj.fits(model)
            && (model.opt.integrator != Integrator::RK4 || self.rk.ub.len() == model.nv)
    }
}

/// Reverse of substep `k` (starting at `sc.starts[k]`), whose forward quantities are in
/// `data`. `sc.qb`, `sc.vb` hold the adjoints of the substep's output on entry and of its
/// input on return. The forward substep is [`pipeline::forward`] then the integrator.
#[allow(clippy::too_many_arguments)]
fn substep_vjp(
    model: &Model,
    params: &Params,
    k: usize,
    control: &Control,
    data: &Data,
    h: f64,
    sc: &mut VjpScratch,
    grad: &mut StepGrad,
) {
    let nv = model.nv;
    let st = &sc.starts[k];
    let (q, v, act) = (&st.q[..], &st.v[..], &st.act[..]);
    let a = &data.qacc_int;
    // the activations: act' = next(act, target), independent of q and v
    activation::integrate_vjp(model, control, act, h, &mut sc.actb, &mut grad.target);
    // integrate: v' = v + h a ; q' = q (+) h v'
    for i in 0..nv {
        sc.v_new[i] = v[i] + h * a[i];
    }
    let q_bar = &mut sc.q_bar;
    q_bar.iter_mut().for_each(|x| *x = 0.0);
    sc.vnew_bar.copy_from_slice(&sc.vb);
    integrate_pos_vjp(model, q, &sc.v_new, h, &sc.qb, q_bar, &mut sc.vnew_bar);
    let v_bar = &mut sc.v_bar;
    v_bar.iter_mut().for_each(|x| *x = 0.0);
    let w = &mut sc.acc.w;
    w.iter_mut().for_each(|x| *x = 0.0);
    integrate_vel_vjp(h, &sc.vnew_bar, v_bar, w);
    accel_vjp(
        model,
        params,
        (q, v, act, &mut sc.actb),
        control,
        data,
        h,
        &mut sc.acc,
        &mut sc.q_bar,
        &mut sc.v_bar,
        grad,
    );
    std::mem::swap(&mut sc.qb, &mut sc.q_bar);
    std::mem::swap(&mut sc.vb, &mut sc.v_bar);
}

/// Buffers of [`accel_vjp`]: `w` holds the acceleration's adjoint on entry.
#[derive(Clone, Debug)]
struct AccelScratch {
    w: Vec<f64>,
    lambda: Vec<f64>,
    neg: Vec<f64>,
    adj: PosAdjoint,
    /// The standalone free bodies' blocks of the acceleration's adjoint (6 each).
    free: Vec<f64>,
}

/// Reverse of one evaluation of the acceleration the integrator applies (`data.qacc_int`,
/// from [`pipeline::forward`] at `(q, v)` for a substep of length `h`, whose forward quantities
/// are in `data`): with its adjoint in `sc.w` (overwritten), accumulates `q_bar`, `v_bar`, and
/// the targets' and parameters' adjoints in `grad`.
#[allow(clippy::too_many_arguments)]
fn accel_vjp(
    model: &Model,
    params: &Params,
    (q, v, act, act_bar): (&[f64], &[f64], &[f64], &mut [f64]),
    control: &Control,
    data: &Data,
    h: f64,
    sc: &mut AccelScratch,
    q_bar: &mut [f64],
    v_bar: &mut [f64],
    grad: &mut StepGrad,
) {
    let nv = model.nv;
    // a: the integrated acceleration, M_h a = f_smooth + J^T phi(c) (G = 0); c: the constraint
    // solver's, M c = f_smooth + J^T phi(c) (F = 0); a = c without implicit terms or rows
    let (a, c) = (&data.qacc_int, &data.qacc);
    let two = data.implicit_split;
    let adj = &mut sc.adj;
    let w = &mut sc.w;
    // the integrator's solve: w = M_h^-1 a_bar, the adjoint of G (a standalone free body's
    // block under implicitfast: its transposed (M_h + h B), see `free_gyro`)
    sc.free.clear();
    for &(_, j) in &model.free_gyro {
        let adr = model.jnt_dof_adr[j];
        sc.free.extend_from_slice(&w[adr..adr + 6]);
    }
    mass::solve(model, &data.qm_h_ldl, w);
    free_gyro::solve_transposed(model, params, data, q, v, h, &sc.free, w);
    // the constraint solve (implicit function theorem on F): c_bar = d(J^T phi)/dc^T w =
    // -J_Q^T D_Q J_Q w over the rows in their quadratic piece, lambda_c = H^-1 c_bar; the
    // inputs of both equations then get mu = w + lambda_c, those of G alone (M_h a) w and those
    // of F alone (M c) lambda_c
    let lambda = &mut sc.lambda;
    let neg = &mut sc.neg;
    lambda.iter_mut().for_each(|x| *x = 0.0);
    if data.nefc > 0 {
        for r in 0..data.nefc {
            if let RowKind::ContactElliptic(con, 0) = data.efc_kind[r] {
                if data.efc_state[r] == RowState::Cone {
                    // the cone's block: J_c^T H_c J_c w
                    let k = data.efc_cone[con];
                    let (mut z, mut jw) = ([0.0; MAX_DIM], [0.0; MAX_DIM]);
                    for j in 0..k.dim {
                        z[j] = data.efc_row_dot(r + j, &data.qacc) - data.efc_aref[r + j];
                        jw[j] = data.efc_row_dot(r + j, w);
                    }
                    let h = k.hessian(&z, RowState::Cone);
                    for (j, hrow) in h.iter().enumerate().take(k.dim) {
                        let s: f64 = (0..k.dim).map(|i| hrow[i] * jw[i]).sum();
                        let (dofs, vals) = data.efc_row(r + j);
                        for (&i, jv) in dofs.iter().zip(vals) {
                            lambda[i] -= s * jv;
                        }
                    }
                }
            }
            if data.efc_state[r] != RowState::Quadratic {
                continue;
            }
            let s = data.efc_row_dot(r, w) * data.efc_d[r];
            let (dofs, vals) = data.efc_row(r);
            for (&i, j) in dofs.iter().zip(vals) {
                lambda[i] -= s * j;
            }
        }
        solve_vjp(model, data, lambda);
    }
    adj.clear();
    let pb = &mut grad.params;
    // -(dG/dtheta)^T w - (dF/dtheta)^T lambda_c through M_h a - f_smooth = ID(q, v, a) +
    // armature a + h D_impl a - f_act - f_passive and M c - f_smooth = ID(q, v, c) + armature c
    // - f_act - f_passive (one pass at a = c with -mu when the two coincide)
    for i in 0..nv {
        neg[i] = if two { -w[i] } else { -(w[i] + lambda[i]) };
    }
    rnea_vjp(
        model,
        params,
        data,
        v,
        Some(a),
        neg,
        adj,
        v_bar,
        &mut pb.gravity,
    );
    armature_vjp(a, neg, &mut pb.dof_armature);
    if two {
        for i in 0..nv {
            neg[i] = -lambda[i];
        }
        rnea_vjp(
            model,
            params,
            data,
            v,
            Some(c),
            neg,
            adj,
            v_bar,
            &mut pb.gravity,
        );
        armature_vjp(c, neg, &mut pb.dof_armature);
    }
    // mu = w + lambda_c, in lambda's place
    for i in 0..nv {
        lambda[i] += w[i];
    }
    let mu = &*lambda;
    // the implicit gains enter G alone under MuJoCo's split (and while they are 0: the step is
    // continuous as one leaves 0, see `solver::integrated_acceleration`), both equations when
    // the constraints are solved against M_h (then G = F)
    let kw: &[f64] = if model.opt.implicit_constraints {
        mu
    } else {
        w
    };
    let k_bar = |i: usize, j: usize| {
        if i == j {
            -h * kw[i] * a[i]
        } else {
            -h * (kw[i] * a[j] + kw[j] * a[i])
        }
    };
    implicit_damping_vjp(
        model,
        params,
        control,
        data,
        k_bar,
        (&mut *pb, &mut adj.tendon_bar),
    );
    passive_vjp(
        model,
        params,
        (q, v, data),
        mu,
        q_bar,
        v_bar,
        (&mut *pb, &mut adj.tendon_bar),
    );
    fluid_vjp(model, params, data, mu, adj, pb);
    applied_vjp(model, params, data, mu, adj, pb);
    // G's h B a for the standalone free bodies
    free_gyro::bias_vjp(model, params, data, (q, v, h), w, q_bar, v_bar, pb);
    actuation_vjp(
        model,
        params,
        (q, v, act, h, data),
        control,
        mu,
        q_bar,
        v_bar,
        (&mut grad.target, act_bar),
        (&mut *pb, &mut adj.tendon_bar),
    );
    rows_vjp(
        model,
        params,
        data,
        q,
        v,
        h,
        |r, j_bar| row_seed(data, mu, r, j_bar),
        adj,
        q_bar,
        v_bar,
        pb,
    );
    frictionloss_onset_vjp(model, params, data, v, h, mu, pb);
    contacts_vjp(model, params, data, adj, pb);
    com_vel_vjp(model, data, v, adj, v_bar);
    tendons_vjp(model, data, adj);
    position_vjp(model, params, data, q, adj, q_bar, pb);
}

/// An error unless the last solve in `data` (substep `k`) converged: the implicit function
/// theorem, and so the gradient, needs it.
fn check_converged(data: &Data, k: usize, nstep: u64) -> Result<()> {
    if converged(data) {
        return Ok(());
    }
    Err(Error::Diverged {
        step: nstep,
        message: format!(
            "the constraint solver did not converge in substep {k} (scaled residual {:.1e}): its gradient would be wrong; raise `iterations`",
            data.solver_residual
        ),
    })
}

/// Reverse of Runge-Kutta 4 substep `k` (from `sc.starts[k]`): its four stages forward, then
/// from the last one back each stage's acceleration through [`accel_vjp`] (its forward
/// quantities recomputed into `data`) and its starting state through the combination's reverse
/// ([`rk_combine_vjp`]). `sc.qb`, `sc.vb`: as in [`substep_vjp`].
#[allow(clippy::too_many_arguments)]
fn rk4_substep_vjp<F>(
    model: &Model,
    params: &Params,
    k: usize,
    control: &Control,
    data: &mut Data,
    h: f64,
    sc: &mut VjpScratch,
    grad: &mut StepGrad,
    forward: &F,
) -> Result<()>
where
    F: Fn(usize, &State, &mut StepCarry, &mut Data) -> Result<()>,
{
    let carry = &mut sc.carry;
    pipeline::rk4_stages(model, &sc.starts[k], h, &mut sc.rk.st, |st, out| {
        forward(k, st, carry, data)?;
        out.copy_from_slice(&data.qacc_int);
        Ok(())
    })?;
    let rk = &mut sc.rk;
    for x in rk
        .qb
        .iter_mut()
        .chain(rk.vb.iter_mut())
        .chain(rk.ab.iter_mut())
    {
        x.iter_mut().for_each(|y| *y = 0.0);
    }
    // the result: q' = q0 (+) h sum B_j v_j, v' = v0 + h sum B_j a_j
    rk_combine_vjp(
        model,
        &rk.st.q[0],
        &rk.st.v,
        &integrator::RK4_B,
        h,
        &sc.qb,
        &sc.vb,
        &mut rk.qb[0],
        &mut rk.vb,
        &mut rk.ab,
        &mut rk.st.u,
        &mut rk.ub,
    );
    for i in (0..4).rev() {
        if i < 3 {
            // the last stage's forward quantities are still in `data`
            rk.st.state.q.copy_from_slice(&rk.st.q[i]);
            rk.st.state.v.copy_from_slice(&rk.st.v[i]);
            forward(k, &rk.st.state, &mut sc.carry, data)?;
        }
        check_converged(data, k, sc.carry.nstep)?;
        sc.acc.w.copy_from_slice(&rk.ab[i]);
        // (no activations under RK4: `pipeline::check_state`)
        accel_vjp(
            model,
            params,
            (&rk.st.q[i], &rk.st.v[i], &[], &mut []),
            control,
            data,
            h,
            &mut sc.acc,
            &mut rk.qb[i],
            &mut rk.vb[i],
            grad,
        );
        if i > 0 {
            // stage i's start: q0 (+) h sum_j A_ij v_j, v0 + h sum_j A_ij a_j
            let (q_lo, q_hi) = rk.qb.split_at_mut(i);
            let (v_lo, v_hi) = rk.vb.split_at_mut(i);
            rk_combine_vjp(
                model,
                &rk.st.q[0],
                &rk.st.v,
                &integrator::RK4_A[i - 1][..i],
                h,
                &q_hi[0],
                &v_hi[0],
                &mut q_lo[0],
                v_lo,
                &mut rk.ab[..i],
                &mut rk.st.u,
                &mut rk.ub,
            );
        }
    }
    sc.qb.copy_from_slice(&rk.qb[0]);
    sc.vb.copy_from_slice(&rk.vb[0]);
    Ok(())
}

//! Applied forces: actuators (Genesis control modes) and passive joint forces.
//!
//! Each law is written once, as a function of one dof's inputs that returns the force and its
//! partial derivatives ([`ForcePartials`]): [`actuator_law`], [`passive_law`],
//! [`implicit_damping_law`]. The stages below call them for the force; their reverse
//! (`adjoint/forces.rs`) calls them for the partials.

use super::activation::law_input;
use crate::data::Data;
use crate::model::{CtrlMode, Integrator, Model, Options, Params};
use crate::state::Control;

/// Partial derivatives of one dof's force (or gain) with respect to everything it reads.
/// Entries a law does not read are zero; `q` is the dof's scalar position (hinge and slide
/// dofs; ball and free dofs have none, and their `q` partial is zero).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ForcePartials {
    /// d/d(control target).
    pub target: f64,
    /// d/d(the dof's scalar position).
    pub q: f64,
    /// d/d(the dof's velocity).
    pub v: f64,
    /// d/d(kp).
    pub kp: f64,
    /// d/d(kv).
    pub kv: f64,
    /// d/d(damping).
    pub damping: f64,
    /// d/d(stiffness).
    pub stiffness: f64,
    /// d/d(force range [lower, upper]).
    pub range: [f64; 2],
}

/// Position of dof `d` for PD control and springs: q of hinge/slide joints; none for ball/free
/// dofs.
#[inline]
pub fn dof_position(model: &Model, q: &[f64], d: usize) -> Option<f64> {
    dof_qpos_adr(model, d).map(|a| q[a])
}

/// The coordinate of dof `d`'s scalar position (hinge/slide joints), if it has one.
#[inline]
pub fn dof_qpos_adr(model: &Model, d: usize) -> Option<usize> {
    let j = model.dof_jnt[d];
    model.jnt_type[j]
        .is_scalar()
        .then_some(model.jnt_qpos_adr[j])
}

/// Channel `ch`'s target as the actuator law reads it in `mode`: `u` clamped to the channel's
/// range for that mode ([`Model::ctrl_target_range`], MuJoCo's clamp of `ctrl` to
/// `ctrlrange`), and its derivative with respect to `u` (0 where it clamps).
#[inline]
pub fn channel_target(model: &Model, ch: usize, mode: CtrlMode, u: f64) -> (f64, f64) {
    match model
        .ctrl_target_range
        .get(ch)
        .map(|r| &r[mode.code() as usize])
    {
        Some(&[lo, _]) if u < lo => (lo, 0.0),
        Some(&[_, hi]) if u > hi => (hi, 0.0),
        _ => (u, 1.0),
    }
}

/// The actuator law of one dof: (force, clamped, partials) for target `u` under `mode`, the dof's
/// scalar position `q` (None for ball/free dofs), velocity `v`, gains `kp`, `kv` and force
/// range `[lo, hi]`.
/// Force: u. Position: kp (u - q) - kv v (pure damping -kv v without a scalar position).
/// Velocity: kv (u - v). Clamped to the range; where it clamps (`f < lo || f > hi`) the force is
/// the bound itself, and the partials are those of the bound it equals (the upper one if the
/// clamped force is at or above `hi`).
#[inline]
pub fn actuator_law(
    mode: CtrlMode,
    u: f64,
    q: Option<f64>,
    v: f64,
    kp: f64,
    kv: f64,
    range: [f64; 2],
) -> (f64, bool, ForcePartials) {
    let mut p = ForcePartials::default();
    let f = match mode {
        CtrlMode::Force => {
            p.target = 1.0;
            u
        }
        CtrlMode::Position => {
            let e = match q {
                Some(qd) => {
                    p.target = kp;
                    p.q = -kp;
                    u - qd
                }
                None => 0.0,
            };
            p.kp = e;
            p.v = -kv;
            p.kv = -v;
            kp * e - kv * v
        }
        CtrlMode::Velocity => {
            p.target = kv;
            p.v = -kv;
            p.kv = u - v;
            kv * (u - v)
        }
    };
    let [lo, hi] = range;
    let clamped = f < lo || f > hi;
    // max/min rather than clamp: never panics, even on a range the builder would reject
    let out = f.max(lo).min(hi);
    if clamped {
        p = ForcePartials::default();
        p.range[if out >= hi { 1 } else { 0 }] = 1.0;
    }
    (out, clamped, p)
}

/// The passive law of one dof: (force, partials) of `f = -damping v - stiffness (q - q_spring)`,
/// with `q_spring = Some((q, q_spring))` for dofs with a scalar position (the spring term is
/// absent otherwise, and skipped in the force when `stiffness` is 0).
#[inline]
pub fn passive_law(
    damping: f64,
    stiffness: f64,
    q_spring: Option<(f64, f64)>,
    v: f64,
) -> (f64, ForcePartials) {
    let mut f = -damping * v;
    let mut p = ForcePartials {
        v: -damping,
        damping: -v,
        ..Default::default()
    };
    if let Some((qd, spring)) = q_spring {
        if stiffness != 0.0 {
            f -= stiffness * (qd - spring);
        }
        p.q = -stiffness;
        p.stiffness = -(qd - spring);
    }
    (f, p)
}

/// The implicit damping law of one dof: (gain, partials) of the velocity derivative of the
/// forces the integrator treats implicitly (`-d f / d v`): damping (none under RK4, nor under
/// Euler with `euler_damping` off), plus the actuator's kv under `implicitfast` when it is not
/// clamped and in position or velocity mode.
#[inline]
pub fn implicit_damping_law(
    opt: &Options,
    mode: CtrlMode,
    clamped: bool,
    damping: f64,
    kv: f64,
) -> (f64, ForcePartials) {
    let integrator = opt.integrator;
    if integrator == Integrator::RK4 || (integrator == Integrator::Euler && !opt.euler_damping) {
        // every force explicit
        return (0.0, ForcePartials::default());
    }
    let mut k = damping;
    let mut p = ForcePartials {
        damping: 1.0,
        ..Default::default()
    };
    if integrator == Integrator::ImplicitFast && !clamped {
        match mode {
            CtrlMode::Position | CtrlMode::Velocity => {
                k += kv;
                p.kv = 1.0;
            }
            CtrlMode::Force => {}
        }
    }
    (k, p)
}

/// Actuator forces from the controls ([`actuator_law`] per dof on the [`channel_target`], or on
/// the channel's activation: [`law_input`]) of a substep of length `h` into `qfrc_actuator`, and
/// whether each clamps into `actuator_clamped`.
#[allow(clippy::too_many_arguments)]
pub fn actuation(
    model: &Model,
    params: &Params,
    q: &[f64],
    v: &[f64],
    act: &[f64],
    control: &Control,
    data: &mut Data,
    h: f64,
) {
    for d in 0..model.nv {
        let (f, clamped, _) = actuator_law(
            control.mode[d],
            law_input(model, d, control, act, h).0,
            dof_position(model, q, d),
            v[d],
            params.dof_kp[d],
            params.dof_kv[d],
            params.dof_force_range[d],
        );
        data.actuator_clamped[d] = clamped;
        data.qfrc_actuator[d] = f;
    }
    // tendon channels: the same law on the tendon's length and rate, applied along J^T (their
    // velocity gain is implicit under implicitfast where M has entries, see
    // `tendon_implicit_gain`; the coupling of dofs on different branches stays explicit)
    for t in 0..model.tendons.len() {
        let ch = model.nv + t;
        let (f, clamped, _) = actuator_law(
            control.mode[ch],
            law_input(model, ch, control, act, h).0,
            Some(data.ten_length[t]),
            data.ten_velocity(t, v),
            params.tendon_kp[t],
            params.tendon_kv[t],
            params.tendon_force_range[t],
        );
        data.actuator_clamped[ch] = clamped;
        if f != 0.0 {
            for &(d, c) in &data.ten_jac[t] {
                data.qfrc_actuator[d] += c * f;
            }
        }
    }
}

/// Passive and applied forces ([`passive_law`] per dof: joint springs and damping; tendon
/// springs and dampers; the fluid, [`super::fluid`]; the external wrenches, [`applied`]) into
/// `qfrc_passive`. Needs kinematics, `cvel` and
/// `cdof` when there is a fluid.
pub fn passive(model: &Model, params: &Params, q: &[f64], v: &[f64], data: &mut Data) {
    for d in 0..model.nv {
        // the spring's position only matters to the force when there is a spring
        let k = params.dof_stiffness[d];
        let spring = if k != 0.0 {
            dof_position(model, q, d).map(|qd| (qd, model.jnt_qpos_spring[model.dof_jnt[d]]))
        } else {
            None
        };
        let (f, _) = passive_law(params.dof_damping[d], k, spring, v[d]);
        data.qfrc_passive[d] = f;
    }
    for t in 0..model.tendons.len() {
        let f = tendon_passive_law(params, t, data.ten_length[t], data.ten_velocity(t, v)).0;
        if f != 0.0 {
            for &(d, c) in &data.ten_jac[t] {
                data.qfrc_passive[d] += c * f;
            }
        }
    }
    super::fluid::fluid(model, params, data);
    applied(model, params, data);
}

/// The external wrenches `params.body_xfrc` (force and torque at each body's centre of mass,
/// world frame) as joint forces into `qfrc_passive`: `qfrc_d += cdof_d . F_b` over the dofs of
/// each body's path, `F_b = [t + p x f; f]` the wrench at the world origin, `p` the centre of
/// mass. Needs kinematics and `cdof`.
pub fn applied(model: &Model, params: &Params, data: &mut Data) {
    for (b, w) in params.body_xfrc.iter().enumerate().skip(1) {
        if w.iter().all(|&x| x == 0.0) {
            continue;
        }
        let wrench = applied_wrench(data, b, w);
        let mut d = data.body_dof_last[b];
        while d != usize::MAX {
            data.qfrc_passive[d] += data.cdof[d].dot(&wrench);
            d = model.dof_parent[d];
        }
    }
}

/// Body `b`'s external wrench `w` (force, torque at its centre of mass) at the world origin.
#[inline]
pub fn applied_wrench(data: &Data, b: usize, w: &[f64; 6]) -> crate::math::Force {
    let f = crate::math::Vec3::new(w[0], w[1], w[2]);
    let t = crate::math::Vec3::new(w[3], w[4], w[5]);
    crate::math::Force::new(t + data.xipos[b].cross(&f), f)
}

/// The passive force along tendon `t` at length `len` and rate `vel`, MuJoCo's: a spring with
/// a dead band between the rest lengths `[lo, hi]` and a damper,
/// `-k (len - lo)` below `lo`, `-k (len - hi)` above `hi`, minus `b vel`. Returns the force and
/// its partials with respect to (len, vel, k, b, lo, hi).
#[inline]
pub fn tendon_passive_law(params: &Params, t: usize, len: f64, vel: f64) -> (f64, [f64; 6]) {
    let (k, b) = (params.tendon_stiffness[t], params.tendon_damping[t]);
    let [lo, hi] = params.tendon_lengthspring[t];
    let mut f = -b * vel;
    let mut p = [0.0, -b, 0.0, -vel, 0.0, 0.0];
    if k != 0.0 || len < lo || len > hi {
        if len < lo {
            f -= k * (len - lo);
            p[0] = -k;
            p[2] = -(len - lo);
            p[4] = k;
        } else if len > hi {
            f -= k * (len - hi);
            p[0] = -k;
            p[2] = -(len - hi);
            p[5] = k;
        }
    }
    (f, p)
}

/// Velocity derivative of the forces that the integrator treats implicitly, for dof `d`
/// ([`implicit_damping_law`]; `-d f / d v`, a diagonal). Needs `actuator_clamped`.
#[inline]
pub fn implicit_damping(
    model: &Model,
    params: &Params,
    control: &Control,
    data: &Data,
    d: usize,
) -> f64 {
    implicit_damping_law(
        &model.opt,
        control.mode[d],
        data.actuator_clamped[d],
        params.dof_damping[d],
        params.dof_kv[d],
    )
    .0
}

/// The gain tendon `t` adds to the implicit integrator's matrix along `J^T J` (restricted to
/// M's tree pattern, `Tendon::tree_pairs`): under `implicitfast` its damping plus the kv of
/// its control channel ([`implicit_damping_law`] on the channel), as MuJoCo's implicitfast
/// takes the tendon's damping and an actuator's velocity gain on it; none under Euler (MuJoCo's
/// Euler makes only joint damping implicit). Needs `actuator_clamped`.
#[inline]
pub fn tendon_implicit_gain(
    model: &Model,
    params: &Params,
    control: &Control,
    data: &Data,
    t: usize,
) -> (f64, ForcePartials) {
    if model.opt.integrator != Integrator::ImplicitFast {
        return (0.0, ForcePartials::default());
    }
    let ch = model.nv + t;
    implicit_damping_law(
        &model.opt,
        control.mode[ch],
        data.actuator_clamped[ch],
        params.tendon_damping[t],
        params.tendon_kv[t],
    )
}

//! Reverse of the applied forces ([`crate::dynamics::forces`]): actuators, passive forces and
//! the implicit damping of `M_h`. The laws and their partial derivatives are the forward
//! module's ([`actuator_law`], [`passive_law`], [`implicit_damping_law`]); these functions only
//! contract the partials with the incoming adjoints.

use super::tendon::TendonBar;
use crate::data::Data;
use crate::dynamics::activation::law_input;
use crate::dynamics::forces::{
    actuator_law, dof_qpos_adr, implicit_damping_law, passive_law, tendon_implicit_gain,
    tendon_passive_law, ForcePartials,
};
use crate::model::{Model, Params};
use crate::state::Control;

/// Add `p * f_bar` to every adjoint the law of dof `d` reads (the target's adjoint only when
/// `target_bar` is given, the position's only for dofs with a scalar position).
#[allow(clippy::too_many_arguments)]
#[inline]
fn contract(
    p: &ForcePartials,
    f_bar: f64,
    d: usize,
    qa: Option<usize>,
    q_bar: &mut [f64],
    v_bar: &mut [f64],
    target_bar: Option<&mut [f64]>,
    pb: &mut Params,
) {
    if let Some(t) = target_bar {
        t[d] += p.target * f_bar;
    }
    if let Some(qa) = qa {
        q_bar[qa] += p.q * f_bar;
    }
    v_bar[d] += p.v * f_bar;
    pb.dof_kp[d] += p.kp * f_bar;
    pb.dof_kv[d] += p.kv * f_bar;
    pb.dof_damping[d] += p.damping * f_bar;
    pb.dof_stiffness[d] += p.stiffness * f_bar;
    pb.dof_force_range[d][0] += p.range[0] * f_bar;
    pb.dof_force_range[d][1] += p.range[1] * f_bar;
}

/// Reverse of [`crate::dynamics::forces::actuation`] seeded with `f_bar` (nv, the adjoint of
/// `qfrc_actuator`): accumulates `q_bar` (nq), `v_bar`, `target_bar` (nv), the gain and force
/// range adjoints, and the spatial tendons' length and Jacobian adjoints (`tendon_bar`). A
/// clamped actuator's force is its bound: the adjoint goes to that bound only. Needs the
/// tendons of `data` (`ten_length`, `ten_jac`). A target clamped to its channel's range
/// ([`crate::dynamics::forces::channel_target`]) gets no adjoint. A channel with an activation reads it in its target's
/// place ([`law_input`], at the start of a substep of length `h`): its adjoint goes to `act_bar`
/// (and, for an `actearly` one, to the target through the activation's update too).
#[allow(clippy::too_many_arguments)]
pub fn actuation_vjp(
    model: &Model,
    params: &Params,
    (q, v, act, h, data): (&[f64], &[f64], &[f64], f64, &Data),
    control: &Control,
    f_bar: &[f64],
    q_bar: &mut [f64],
    v_bar: &mut [f64],
    (target_bar, act_bar): (&mut [f64], &mut [f64]),
    (params_bar, tendon_bar): (&mut Params, &mut TendonBar),
) {
    for d in 0..model.nv {
        let qa = dof_qpos_adr(model, d);
        let (u, du, a) = law_input(model, d, control, act, h);
        let (_, _, mut p) = actuator_law(
            control.mode[d],
            u,
            qa.map(|a| q[a]),
            v[d],
            params.dof_kp[d],
            params.dof_kv[d],
            params.dof_force_range[d],
        );
        if let Some((k, da)) = a {
            act_bar[k] += p.target * da * f_bar[d];
        }
        p.target *= du;
        contract(
            &p,
            f_bar[d],
            d,
            qa,
            q_bar,
            v_bar,
            Some(target_bar),
            params_bar,
        );
    }
    // tendon channels: f along J^T, the law on L and Ldot = J v (a spatial tendon's L and J
    // depend on q: their adjoints are kept in `tendon_bar`)
    for t in 0..model.tendons.len() {
        let ch = model.nv + t;
        let jt = &data.ten_jac[t];
        let fb: f64 = jt.iter().map(|&(d, c)| c * f_bar[d]).sum();
        let spatial = model.tendons[t].is_spatial();
        if fb == 0.0 && !spatial {
            continue;
        }
        let (u, du, a) = law_input(model, ch, control, act, h);
        let (f, _, p) = actuator_law(
            control.mode[ch],
            u,
            Some(data.ten_length[t]),
            data.ten_velocity(t, v),
            params.tendon_kp[t],
            params.tendon_kv[t],
            params.tendon_force_range[t],
        );
        target_bar[ch] += p.target * du * fb;
        if let Some((k, da)) = a {
            act_bar[k] += p.target * da * fb;
        }
        tendon_bar.add_length(model, t, p.q * fb, q_bar);
        for &(d, c) in jt {
            v_bar[d] += c * p.v * fb;
        }
        tendon_bar.add_jac(model, t, p.v * fb, v);
        tendon_bar.add_jac(model, t, f, f_bar);
        let pb = &mut *params_bar;
        pb.tendon_kp[t] += p.kp * fb;
        pb.tendon_kv[t] += p.kv * fb;
        pb.tendon_force_range[t][0] += p.range[0] * fb;
        pb.tendon_force_range[t][1] += p.range[1] * fb;
    }
}

/// Reverse of [`crate::dynamics::forces::passive`] seeded with `f_bar` (nv, the adjoint of
/// `qfrc_passive`): accumulates `q_bar` (nq), `v_bar` (nv), the damping and stiffness
/// adjoints, and the spatial tendons' length and Jacobian adjoints (`tendon_bar`). Needs the
/// tendons of `data`.
#[allow(clippy::too_many_arguments)]
pub fn passive_vjp(
    model: &Model,
    params: &Params,
    (q, v, data): (&[f64], &[f64], &Data),
    f_bar: &[f64],
    q_bar: &mut [f64],
    v_bar: &mut [f64],
    (params_bar, tendon_bar): (&mut Params, &mut TendonBar),
) {
    for d in 0..model.nv {
        let qa = dof_qpos_adr(model, d);
        let spring = qa.map(|a| (q[a], model.jnt_qpos_spring[model.dof_jnt[d]]));
        let (_, p) = passive_law(params.dof_damping[d], params.dof_stiffness[d], spring, v[d]);
        contract(&p, f_bar[d], d, qa, q_bar, v_bar, None, params_bar);
    }
    // tendons: qfrc_passive += J^T f(L, Ldot) with Ldot = J v
    for t in 0..model.tendons.len() {
        let jt = &data.ten_jac[t];
        let fb: f64 = jt.iter().map(|&(d, c)| c * f_bar[d]).sum();
        let spatial = model.tendons[t].is_spatial();
        if fb == 0.0 && !spatial {
            continue;
        }
        let (f, p) = tendon_passive_law(params, t, data.ten_length[t], data.ten_velocity(t, v));
        tendon_bar.add_length(model, t, p[0] * fb, q_bar);
        for &(d, c) in jt {
            v_bar[d] += c * p[1] * fb;
        }
        tendon_bar.add_jac(model, t, p[1] * fb, v);
        tendon_bar.add_jac(model, t, f, f_bar);
        params_bar.tendon_stiffness[t] += p[2] * fb;
        params_bar.tendon_damping[t] += p[3] * fb;
        params_bar.tendon_lengthspring[t][0] += p[4] * fb;
        params_bar.tendon_lengthspring[t][1] += p[5] * fb;
    }
}

/// Reverse of [`crate::dynamics::forces::implicit_damping`] and
/// [`crate::dynamics::forces::tendon_implicit_gain`] seeded with `k_bar(i, j)`, the adjoint of
/// the implicit matrix's symmetric entry (i, j) (j = i or an ancestor of i): accumulates the
/// damping and kv adjoints of the dofs and tendons, and a spatial tendon's Jacobian adjoint
/// (its entries `k J_i J_j`: `tendon_bar`). Needs `actuator_clamped` and the tendons in `data`. In a
/// step the gains enter `M_h = M + h K` (`pipeline::implicit_mass`), so `k_bar(i, i) = -h w_i
/// a_i` and `k_bar(i, j) = -h (w_i a_j + w_j a_i)` for `w` the adjoint of `M_h a`.
pub fn implicit_damping_vjp(
    model: &Model,
    params: &Params,
    control: &Control,
    data: &Data,
    k_bar: impl Fn(usize, usize) -> f64,
    (params_bar, tendon_bar): (&mut Params, &mut TendonBar),
) {
    for d in 0..model.nv {
        let (_, p) = implicit_damping_law(
            &model.opt,
            control.mode[d],
            data.actuator_clamped[d],
            params.dof_damping[d],
            params.dof_kv[d],
        );
        let kb = k_bar(d, d);
        params_bar.dof_damping[d] += p.damping * kb;
        params_bar.dof_kv[d] += p.kv * kb;
    }
    for (t, ten) in model.tendons.iter().enumerate() {
        let (k, p) = tendon_implicit_gain(model, params, control, data, t);
        if p.damping == 0.0 && p.kv == 0.0 {
            continue;
        }
        let jac = &data.ten_jac[t];
        let kb: f64 = ten
            .tree_pairs
            .iter()
            .map(|pair| ten.tree_pair_coef(pair, jac) * k_bar(pair.0, pair.1))
            .sum();
        params_bar.tendon_damping[t] += p.damping * kb;
        params_bar.tendon_kv[t] += p.kv * kb;
        // a spatial tendon's entries k J_i J_j move with its Jacobian
        if ten.is_spatial() && k != 0.0 {
            let at = |d: usize| jac.binary_search_by_key(&d, |x| x.0).ok();
            for &(i, j, _, _) in &ten.tree_pairs {
                let (Some(a), Some(b)) = (at(i), at(j)) else {
                    continue;
                };
                let kb = k * k_bar(i, j);
                tendon_bar.jac[t][a] += kb * jac[b].1;
                tendon_bar.jac[t][b] += kb * jac[a].1;
            }
        }
    }
}

//! Reverse of the kinematics stages ([`crate::kinematics`]): body poses
//! ([`forward_kinematics`](crate::kinematics::forward_kinematics) →
//! [`forward_kinematics_vjp`]), dof subspaces and body inertias
//! ([`com_pos`](crate::kinematics::com_pos) → [`com_pos_vjp`]), both
//! ([`crate::pipeline::kinematics`] → [`position_vjp`]), body velocities
//! ([`com_vel`](crate::kinematics::com_vel) → [`com_vel_vjp`]), and the body readings
//! ([`kinematics_vjp`]).
//!
//! Adjoint types: the adjoint of a motion vector is a [`Force`] and the adjoint of a force
//! vector is a [`Motion`] (they pair through `Motion::dot`). Pose adjoints are wrenches at the
//! world origin (see [`super`]). Everything the forward pass computed from body poses is
//! pushed back into three accumulators of [`PosAdjoint`] — body wrenches, `cdof` adjoints and
//! body-inertia adjoints — and [`position_vjp`] turns them into dL/dq and parameter adjoints
//! with one sweep over the dof tree.

use super::contact_geom::ContactBar;
use crate::data::Data;
use crate::joint::AxisFrame;
use crate::math::{Force, Mat3, Motion, Vec3};
use crate::model::{Model, Params};

/// Adjoint of a body's spatial inertia in its stored form (mass, h = m c, i_o).
#[derive(Clone, Copy, Debug, Default)]
pub struct InertiaBar {
    /// dL/dmass (with h and i_o held fixed).
    pub mass: f64,
    /// dL/dh.
    pub h: Vec3,
    /// dL/di_o.
    pub i_o: Mat3,
}

/// Accumulators of the reverse pass over position- and velocity-dependent quantities.
#[derive(Clone, Debug)]
pub struct PosAdjoint {
    /// Wrenches applied to body frames (pose adjoints). (nbody)
    pub body_wrench: Vec<Force>,
    /// Adjoints of the dof motion subspaces `cdof`. (nv)
    pub cdof_bar: Vec<Force>,
    /// Adjoints of `cdof_dot`. (nv)
    pub cdof_dot_bar: Vec<Force>,
    /// Adjoints of body velocities `cvel`. (nbody)
    pub cvel_bar: Vec<Force>,
    /// Adjoints of body inertias `cinert`. (nbody)
    pub inert_bar: Vec<InertiaBar>,
    /// Adjoints of the spatial tendons' lengths and Jacobians, filled by the stages that read
    /// them and consumed by [`tendons_vjp`](super::tendon::tendons_vjp).
    pub tendon_bar: super::tendon::TendonBar,
    /// Adjoints of each contact's point, frame, distance and friction, filled by
    /// [`rows_vjp`](super::constraint_rows::rows_vjp) and consumed by
    /// [`contacts_vjp`](super::contact_geom::contacts_vjp). (ncontact)
    pub contact_bar: Vec<ContactBar>,
    /// Pose adjoints gathered on dof frames (the frame after dof `d` moves; a body's pose is
    /// the frame of its last dof), filled by [`com_pos_vjp`], swept by
    /// [`forward_kinematics_vjp`]. (nv)
    pub(crate) dof_acc: Vec<Force>,
    // scratch of rnea_vjp (body accelerations, subtree forces and momenta, their adjoints),
    // forward_kinematics_vjp (dof projections) and rows_vjp (row Jacobian adjoint, dof
    // coefficients)
    pub(crate) acc_bar: Vec<Force>,
    pub(crate) frc_bar: Vec<Motion>,
    pub(crate) acc: Vec<Motion>,
    pub(crate) total: Vec<Force>,
    pub(crate) mom: Vec<Force>,
    proj: Vec<f64>,
    pub(crate) jbar: Vec<f64>,
    pub(crate) coef: Vec<f64>,
    // scratch of fluid_vjp (the bodies' wrench adjoints, their subtrees' wrenches)
    pub(crate) fluid_motion: Vec<Motion>,
    pub(crate) fluid_force: Vec<Force>,
}

impl PosAdjoint {
    /// Zeroed accumulators for `model`.
    pub fn new(model: &Model) -> Self {
        let (nb, nv) = (model.nbody, model.nv);
        Self {
            body_wrench: vec![Force::zero(); nb],
            cdof_bar: vec![Force::zero(); nv],
            cdof_dot_bar: vec![Force::zero(); nv],
            cvel_bar: vec![Force::zero(); nb],
            inert_bar: vec![InertiaBar::default(); nb],
            acc_bar: vec![Force::zero(); nb],
            frc_bar: vec![Motion::zero(); nb],
            dof_acc: vec![Force::zero(); nv],
            acc: vec![Motion::zero(); nb],
            total: vec![Force::zero(); nb],
            mom: vec![Force::zero(); nb],
            proj: vec![0.0; nv],
            jbar: vec![0.0; nv],
            coef: vec![0.0; nv],
            contact_bar: Vec::new(),
            tendon_bar: super::tendon::TendonBar::new(model),
            fluid_motion: vec![Motion::zero(); nb],
            fluid_force: vec![Force::zero(); nb],
        }
    }

    /// Whether the accumulators are shaped for `model`.
    pub fn fits(&self, model: &Model) -> bool {
        self.body_wrench.len() == model.nbody
            && self.cdof_bar.len() == model.nv
            && self.tendon_bar.length.len() == model.tendons.len()
    }

    /// Reset every accumulator to zero (the scratch that the stages' reverse functions
    /// overwrite before reading is left as it is).
    pub fn clear(&mut self) {
        self.body_wrench.iter_mut().for_each(|x| *x = Force::zero());
        self.cdof_bar.iter_mut().for_each(|x| *x = Force::zero());
        self.cdof_dot_bar
            .iter_mut()
            .for_each(|x| *x = Force::zero());
        self.cvel_bar.iter_mut().for_each(|x| *x = Force::zero());
        self.inert_bar
            .iter_mut()
            .for_each(|x| *x = InertiaBar::default());
        self.tendon_bar.clear();
    }
}

/// `<x, y x* F> = -<y, x x* F>`-style helpers are written out where used; this one is the
/// wrench produced by a motion vector `m` attached to a moving frame with adjoint `m_bar`:
/// for a twist `xi` of the frame, `d<m, m_bar> = <xi, m x* m_bar>`.
#[inline]
pub fn motion_attached_wrench(m: &Motion, m_bar: &Force) -> Force {
    m.cross_force(m_bar)
}

/// Reverse of [`crate::kinematics::com_vel`] (`cvel`, `cdof_dot` from `cdof` and `v`): consumes
/// `cvel_bar` and `cdof_dot_bar`, accumulates `cdof_bar` and `v_bar`. Needs `cdof`, `cvel` at
/// (q, v) in `data`.
pub fn com_vel_vjp(model: &Model, data: &Data, v: &[f64], adj: &mut PosAdjoint, v_bar: &mut [f64]) {
    for b in (1..model.nbody).rev() {
        let mut cv_bar = adj.cvel_bar[b];
        let mut cv = data.cvel[b];
        for j in (model.body_jnt_adr[b]..model.body_jnt_adr[b] + model.body_jnt_num[b]).rev() {
            let d = model.jnt_dof_adr[j];
            let kind = model.jnt_type[j];
            let (rot0, end) = (d + kind.world_fixed_dofs(), d + kind.nv());
            // cvel_after = u + sum_k S_k v_k over the dofs that are not fixed in the world
            for k in rot0..end {
                v_bar[k] += data.cdof[k].dot(&cv_bar);
                adj.cdof_bar[k] += cv_bar * v[k];
                cv -= data.cdof[k] * v[k];
            }
            // cdof_dot[k] = u x S_k with u the velocity before those dofs
            for k in rot0..end {
                let fb = adj.cdof_dot_bar[k];
                cv_bar += data.cdof[k].cross_force(&fb);
                adj.cdof_bar[k] -= cv.cross_force(&fb);
            }
            // dofs fixed in the world (constant cdof: position_vjp drops their adjoint)
            for k in d..rot0 {
                v_bar[k] += data.cdof[k].dot(&cv_bar);
                adj.cdof_bar[k] += cv_bar * v[k];
                cv -= data.cdof[k] * v[k];
            }
        }
        let p = model.body_parent[b];
        adj.cvel_bar[p] += cv_bar;
    }
}

/// `axial(a b - b a)`, with `axial(A)` the axial vector of the skew part of A,
/// `tr(A^T [w]x) = w . axial(A)`, without forming the products: only their off-diagonal
/// entries enter.
#[inline]
fn axial_commutator(a: &Mat3, b: &Mat3) -> Vec3 {
    // (a b - b a)[(i, j)] = sum_l a[(i, l)] b[(l, j)] - b[(i, l)] a[(l, j)]
    let e = |i: usize, j: usize| {
        let mut s = 0.0;
        for l in 0..3 {
            s += a[(i, l)] * b[(l, j)] - b[(i, l)] * a[(l, j)];
        }
        s
    };
    Vec3::new(e(2, 1) - e(1, 2), e(0, 2) - e(2, 0), e(1, 0) - e(0, 1))
}

#[inline]
fn inertia_bar_is_zero(ib: &InertiaBar) -> bool {
    ib.mass == 0.0 && ib.h == Vec3::zeros() && ib.i_o == Mat3::zeros()
}

/// Reverse of [`crate::pipeline::kinematics`] ([`forward_kinematics`] then [`com_pos`]):
/// [`com_pos_vjp`] then [`forward_kinematics_vjp`]. Turns the accumulated adjoints (body
/// wrenches, `cdof_bar`, `inert_bar`) into dL/dq (accumulated into `q_bar`, nq) and parameter
/// adjoints (mass, centre of mass, inertia; accumulated into `params_bar`). Needs the forward
/// kinematics at `q` in `data`.
///
/// [`forward_kinematics`]: crate::kinematics::forward_kinematics
/// [`com_pos`]: crate::kinematics::com_pos
pub fn position_vjp(
    model: &Model,
    params: &Params,
    data: &Data,
    q: &[f64],
    adj: &mut PosAdjoint,
    q_bar: &mut [f64],
    params_bar: &mut Params,
) {
    com_pos_vjp(model, params, data, adj, params_bar);
    forward_kinematics_vjp(model, data, q, adj, q_bar);
    mocap_vjp(model, params, data, adj, params_bar);
}

/// Reverse of the mocap bodies' poses in [`crate::kinematics::body_kinematics`] (a mocap
/// body's pose is the parameters `mocap_pos`, `mocap_quat`, the quaternion normalized): the
/// wrench on everything a mocap body carries (the bodies welded to it, and what flows out of
/// the dofs below it: the swept `dof_acc` of the dofs without a parent dof, and the `cdof`
/// adjoints of axes fixed in its frame) turned into adjoints of its position and quaternion,
/// accumulated into `params_bar`. Runs after [`forward_kinematics_vjp`].
pub fn mocap_vjp(
    model: &Model,
    params: &Params,
    data: &Data,
    adj: &PosAdjoint,
    params_bar: &mut Params,
) {
    let nm = model.nmocap();
    if nm == 0 {
        return;
    }
    let of = |b: usize| model.body_mocap[model.body_root[b]];
    let mut w = vec![Force::zero(); nm];
    for b in 1..model.nbody {
        let k = of(b);
        if k != usize::MAX && data.body_dof_last[b] == usize::MAX {
            w[k] += adj.body_wrench[b];
        }
    }
    for d in 0..model.nv {
        // the first dofs below a mocap body carry their subtrees' wrench (swept)
        let k = of(model.dof_body[d]);
        if k != usize::MAX && model.dof_parent[d] == usize::MAX {
            w[k] += adj.dof_acc[d];
        }
    }
    for j in 0..model.njnt {
        let k = of(model.jnt_body[j]);
        let d = model.jnt_dof_adr[j];
        let kind = model.jnt_type[j];
        // axes fixed in the frame before a first joint: the mocap body's (`com_pos_vjp` takes
        // them as fixed in the world)
        if k != usize::MAX
            && model.dof_parent[d] == usize::MAX
            && matches!(kind.axis_frame(), AxisFrame::Before)
        {
            for c in d + kind.world_fixed_dofs()..d + kind.nv() {
                w[k] += motion_attached_wrench(&data.cdof[c], &adj.cdof_bar[c]);
            }
        }
    }
    for (k, wk) in w.iter().enumerate() {
        let p = params.mocap_pos[k];
        params_bar.mocap_pos[k] += wk.lin;
        // a turn dtheta (world frame) about the body origin p is the twist [dtheta; -dtheta x p]:
        // dL = dtheta . (W_ang - p x W_lin); with R' = exp(dtheta) R, n' = [1, dtheta/2] n, so
        // dL/dn = 2 [0, tau] n, then through n = q / |q|
        let tau = wk.ang - p.cross(&wk.lin);
        let q = params.mocap_quat[k];
        let qn = (q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]).sqrt();
        let (nw, nv) = (q[0] / qn, Vec3::new(q[1], q[2], q[3]) / qn);
        let n_bar_w = -2.0 * tau.dot(&nv);
        let n_bar_v = (tau * nw + tau.cross(&nv)) * 2.0;
        let n_bar = [n_bar_w, n_bar_v.x, n_bar_v.y, n_bar_v.z];
        let n = [nw, nv.x, nv.y, nv.z];
        let dot: f64 = (0..4).map(|i| n[i] * n_bar[i]).sum();
        for i in 0..4 {
            params_bar.mocap_quat[k][i] += (n_bar[i] - n[i] * dot) / qn;
        }
    }
}

/// Reverse of [`crate::kinematics::com_pos`] (body inertias `cinert` from the poses and the
/// mass parameters, dof subspaces `cdof` from the poses): consumes `inert_bar` into parameter
/// adjoints (mass, centre of mass, inertia; accumulated into `params_bar`) and body wrenches,
/// then gathers every pose adjoint on the dof frames (`dof_acc`): the body wrenches (a body's
/// pose is the frame of its last dof) and the wrenches of `cdof_bar` (a hinge or slide axis is
/// fixed in the frame before its joint, a ball or free joint's rotational axes in the body).
/// Needs the forward kinematics in `data`.
pub fn com_pos_vjp(
    model: &Model,
    params: &Params,
    data: &Data,
    adj: &mut PosAdjoint,
    params_bar: &mut Params,
) {
    // body inertias: (mass, h, i_o) -> mass, centre of mass (world), world inertia
    for b in 1..model.nbody {
        let ib = adj.inert_bar[b];
        if data.body_dof_last[b] == usize::MAX && inertia_bar_is_zero(&ib) {
            // a body fixed to the world that nothing read the inertia of: no adjoint to add
            continue;
        }
        let m = params.body_mass[b];
        let c = data.xipos[b];
        let r = data.xmat[b];
        let g = ib.i_o;
        // i_o = I_w - m [c]x^2 with [c]x^2 = c c^T - |c|^2 I ; h = m c
        // <g, [c]x^2> = c^T g c - |c|^2 tr(g)
        let gc = g * c;
        let gtc = g.tr_mul(&c);
        let mass_bar = ib.mass + ib.h.dot(&c) - (c.dot(&gc) - c.norm_squared() * g.trace());
        let c_bar = ib.h * m - ((gc + gtc) - c * (2.0 * g.trace())) * m;
        params_bar.body_mass[b] += mass_bar;
        // I_w = r I r^T: dL/dI = r^T g r
        let g_body = r.tr_mul(&(g * r));
        params_bar.body_inertia[b] += g_body;
        params_bar.body_ipos[b] += r.tr_mul(&c_bar);
        // pose: the centre of mass moves as a body point, the inertia rotates with the body:
        // axial(g I_w - I_w g) = r axial(g_body I - I g_body) (axial(r A r^T) = r axial(A))
        let turn = r * axial_commutator(&g_body, &params.body_inertia[b]);
        let w = Force::new(c.cross(&c_bar) + turn, c_bar);
        adj.body_wrench[b] += w;
    }
    // inject wrenches at the frame each quantity is attached to, then sweep the dof tree
    for d in 0..model.nv {
        adj.dof_acc[d] = Force::zero();
    }
    for b in 1..model.nbody {
        let d = data.body_dof_last[b];
        if d != usize::MAX {
            adj.dof_acc[d] += adj.body_wrench[b];
        }
    }
    for j in 0..model.njnt {
        let d = model.jnt_dof_adr[j];
        let kind = model.jnt_type[j];
        // dofs fixed in the world have constant subspaces; the others' axes are fixed in the
        // frame before the joint (the frame after the parent dof) or in the body
        let (r0, end) = (d + kind.world_fixed_dofs(), d + kind.nv());
        let frame = match kind.axis_frame() {
            AxisFrame::Before => model.dof_parent[d],
            AxisFrame::Body => end - 1,
        };
        if frame == usize::MAX {
            continue; // fixed in the world
        }
        for k in r0..end {
            let w = motion_attached_wrench(&data.cdof[k], &adj.cdof_bar[k]);
            adj.dof_acc[frame] += w;
        }
    }
}

/// Reverse of [`crate::kinematics::forward_kinematics`] (body poses from `q`): sweeps the pose
/// adjoints gathered on the dof frames (`dof_acc`, see [`com_pos_vjp`]) from the leaves to the
/// root (a dof moves everything downstream of it) and maps each dof's projection to its
/// coordinates, accumulated into `q_bar` (nq; quaternion blocks as raw 4-vectors). Needs
/// `cdof` at `q` in `data`.
pub fn forward_kinematics_vjp(
    model: &Model,
    data: &Data,
    q: &[f64],
    adj: &mut PosAdjoint,
    q_bar: &mut [f64],
) {
    // dof tree, leaves to root: a dof moves everything downstream of it
    let mut proj = std::mem::take(&mut adj.proj);
    for d in (0..model.nv).rev() {
        proj[d] = data.cdof[d].dot(&adj.dof_acc[d]);
        let p = model.dof_parent[d];
        if p != usize::MAX {
            let w = adj.dof_acc[d];
            adj.dof_acc[p] += w;
        }
    }
    // map dof projections to coordinates
    for j in 0..model.njnt {
        let kind = model.jnt_type[j];
        let qa = model.jnt_qpos_adr[j]..model.jnt_qpos_adr[j] + kind.nq();
        let d = model.jnt_dof_adr[j];
        kind.transform_vjp(&q[qa.clone()], &proj[d..d + kind.nv()], &mut q_bar[qa]);
    }
    adj.proj = proj;
}

//! Constraint rows (equalities, dof friction, joint limits and contacts) in MuJoCo's soft
//! convex formulation, and the Newton solver that finds the constrained acceleration.
//!
//! Every row i has a Jacobian J_i, a reference acceleration
//! `aref_i = -b (J_i v) - k imp (pos_i - margin_i)` from the spring-damper given by
//! solref (time constant, damping ratio), and a regularizer `R_i = (1 - imp)/imp * A_i`
//! where `imp` is the impedance from solimp and `A_i` approximates `J_i M^-1 J_i^T` with
//! body and dof inverse weights computed once at the reference configuration (so R does
//! not depend on q). A frictional contact gives, under the pyramidal cone (the default),
//! `2 (condim - 1)` rows `J_n +- f_j J_dj` (condim 3: `J_n +- mu J_t1`, `J_n +- mu J_t2`; 4 and
//! 6 add torsion and rolling about the relative rotation); under the elliptic cone, `condim`
//! rows `J_n`, `J_t1`, `J_t2`, ... with one cost over them ([`cone`]).

pub mod cone;
pub mod equality;
pub mod hessian;
pub mod solver;

use crate::data::{Data, RowKind, RowState};
use crate::joint::JointType;
use crate::kinematics::add_point_jacobian;
use crate::math::{Mat3, Vec3};
use crate::model::{FrictionCone, Model, Params};
pub use cone::Elliptic;

/// MuJoCo's bounds on dmin and dmax.
pub(crate) const MIN_IMP: f64 = 0.0001;
pub(crate) const MAX_IMP: f64 = 0.9999;

/// Impedance d(r) from solimp = (dmin, dmax, width, midpoint, power) at `violation` = pos - margin,
/// as MuJoCo computes it: dmin and dmax clamped to [0.0001, 0.9999], then a power sigmoid in
/// |violation| / width from dmin to dmax.
pub fn impedance(solimp: &[f64; 5], violation: f64) -> f64 {
    let [dmin, dmax, width, mid, power] = *solimp;
    let dmin = dmin.clamp(MIN_IMP, MAX_IMP);
    let dmax = dmax.clamp(MIN_IMP, MAX_IMP);
    if dmin == dmax || width <= 1e-15 {
        return 0.5 * (dmin + dmax);
    }
    let x = violation.abs() / width;
    if x >= 1.0 || x <= 0.0 {
        return if x >= 1.0 { dmax } else { dmin };
    }
    let y = if power == 1.0 {
        x
    } else if power == 2.0 {
        // MuJoCo's default power, without the calls to powf
        if x <= mid {
            x * x / mid
        } else {
            1.0 - (1.0 - x) * (1.0 - x) / (1.0 - mid)
        }
    } else if x <= mid {
        x.powf(power) / mid.powf(power - 1.0)
    } else {
        1.0 - (1.0 - x).powf(power) / (1.0 - mid).powf(power - 1.0)
    };
    dmin + y * (dmax - dmin)
}

/// Derivative of [`impedance`] with respect to the signed violation.
pub fn impedance_derivative(solimp: &[f64; 5], violation: f64) -> f64 {
    let [dmin, dmax, width, mid, power] = *solimp;
    let dmin = dmin.clamp(MIN_IMP, MAX_IMP);
    let dmax = dmax.clamp(MIN_IMP, MAX_IMP);
    if dmin == dmax || width <= 1e-15 {
        return 0.0;
    }
    let x = violation.abs() / width;
    if x >= 1.0 || x <= 0.0 {
        return 0.0;
    }
    let dy = if power == 1.0 {
        1.0
    } else if x <= mid {
        power * x.powf(power - 1.0) / mid.powf(power - 1.0)
    } else {
        power * (1.0 - x).powf(power - 1.0) / (1.0 - mid).powf(power - 1.0)
    };
    dy * (dmax - dmin) * violation.signum() / width
}

/// Stiffness and damping (k, b) of the reference acceleration from solref, with the
/// time constant kept at least 2 substeps long (MuJoCo's "refsafe").
pub fn ref_gains(solref: &[f64; 2], dmax: f64, h: f64) -> (f64, f64) {
    let dmax = dmax.clamp(MIN_IMP, MAX_IMP);
    if solref[0] > 0.0 {
        let tc = solref[0].max(2.0 * h);
        let dr = solref[1];
        (1.0 / (dmax * dmax * tc * tc * dr * dr), 2.0 / (dmax * tc))
    } else {
        // direct stiffness and damping
        (-solref[0] / (dmax * dmax), -solref[1] / dmax)
    }
}

/// The sliding friction of a contact from its two geoms' coefficients `f1`, `f2` (MuJoCo's
/// default mixing: the larger one), and which of the two it equals (0 or 1, the first on a
/// tie): its derivative is 1 with respect to that one and 0 with respect to the other.
#[inline]
pub fn mix_friction(f1: f64, f2: f64) -> (f64, usize) {
    (f1.max(f2), if f1 >= f2 { 0 } else { 1 })
}

/// A contact's parameters mixed from its two geoms' ([`contact_params`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ContactParams {
    /// Sliding, torsional and rolling friction.
    pub friction: [f64; 3],
    /// Which geom each coefficient came from (0 or 1: its derivative goes there).
    pub side: [usize; 3],
    /// Number of rows: 1 (frictionless), 3 (sliding), 4 (and torsion), 6 (and rolling).
    pub condim: usize,
    /// Reference (time constant, damping ratio) or direct (stiffness, damping).
    pub solref: [f64; 2],
    /// Impedance.
    pub solimp: [f64; 5],
}

/// The parameters of a contact between geoms `g1` and `g2`, as MuJoCo's `mj_contactParam`
/// mixes them: the geom of higher `priority` gives them all; between equal priorities condim
/// and each friction coefficient take the larger, solref and solimp the `solmix`-weighted mean
/// (solref the smaller of each entry when either is in the direct format).
pub fn contact_params(model: &Model, params: &Params, g1: usize, g2: usize) -> ContactParams {
    let (p1, p2) = (model.geom_priority[g1], model.geom_priority[g2]);
    if p1 != p2 {
        let (g, side) = if p1 > p2 { (g1, 0) } else { (g2, 1) };
        return ContactParams {
            friction: params.geom_friction[g],
            side: [side; 3],
            condim: model.geom_condim[g],
            solref: model.geom_solref[g],
            solimp: model.geom_solimp[g],
        };
    }
    let (s1, s2) = (model.geom_solmix[g1], model.geom_solmix[g2]);
    let min = 1e-15;
    let mix = match (s1 >= min, s2 >= min) {
        (true, true) => s1 / (s1 + s2),
        (false, false) => 0.5,
        (false, true) => 0.0,
        (true, false) => 1.0,
    };
    let (r1, r2) = (model.geom_solref[g1], model.geom_solref[g2]);
    let solref = if r1[0] > 0.0 && r2[0] > 0.0 {
        [0, 1].map(|k| mix * r1[k] + (1.0 - mix) * r2[k])
    } else {
        [0, 1].map(|k| r1[k].min(r2[k]))
    };
    let (i1, i2) = (model.geom_solimp[g1], model.geom_solimp[g2]);
    let solimp = [0, 1, 2, 3, 4].map(|k| mix * i1[k] + (1.0 - mix) * i2[k]);
    let (f1, f2) = (params.geom_friction[g1], params.geom_friction[g2]);
    let mixed = [0, 1, 2].map(|k| mix_friction(f1[k], f2[k]));
    ContactParams {
        friction: mixed.map(|x| x.0),
        side: mixed.map(|x| x.1),
        condim: model.geom_condim[g1].max(model.geom_condim[g2]),
        solref,
        solimp,
    }
}

/// The direction of a contact row: `J = lin . J_p + ang . J_r`, with `J_p` the relative point
/// Jacobian (body2 - body1 at the contact point) and `J_r` the relative rotation Jacobian;
/// and what it is built from, for the reverse.
#[derive(Clone, Copy, Debug)]
pub struct ContactDir {
    /// Along the relative translation.
    pub lin: Vec3,
    /// About the relative rotation.
    pub ang: Vec3,
    /// The friction part, if any.
    pub friction: Option<FrictionPart>,
}

/// The friction part of a contact row ([`ContactDir`]): `sign f_index` times a frame row,
/// along the translation or about the rotation.
#[derive(Clone, Copy, Debug)]
pub struct FrictionPart {
    /// The frame row (0 normal, 1 and 2 tangents).
    pub axis: usize,
    /// About the rotation (torsion, rolling) rather than along the translation (sliding).
    pub angular: bool,
    /// +1 or -1 for a pyramid edge (`n + sign f d`); 0 for an elliptic row, which runs along
    /// the frame row alone.
    pub sign: f64,
    /// Index in the contact's friction rows ([`crate::data::Contact::friction_rows`]: 0 and 1
    /// sliding, 2 torsion, 3 and 4 rolling).
    pub index: usize,
}

impl ContactDir {
    /// Row `k` (0 to dim - 1) of an elliptic contact with `frame`: the frame's rows along the
    /// translation, then (torsion, rolling) the normal and the tangents about the rotation.
    #[inline]
    pub fn elliptic(frame: &Mat3, k: usize) -> Self {
        let axis = if k < 3 { k } else { k - 3 };
        let row: Vec3 = frame.row(axis).transpose();
        let friction = (k > 0).then_some(FrictionPart {
            axis,
            angular: k >= 3,
            sign: 0.0,
            index: k - 1,
        });
        if k < 3 {
            Self {
                lin: row,
                ang: Vec3::zeros(),
                friction,
            }
        } else {
            Self {
                lin: Vec3::zeros(),
                ang: row,
                friction,
            }
        }
    }

    /// Edge `e` (0 to 2 (dim - 1) - 1) of a contact's pyramid with `frame` and friction rows
    /// `f`: `n + sign f_j d_j` for pair `j = e / 2` (sign +1 for even edges), `d_j` the
    /// tangents along the translation (sliding), then the normal and the tangents about the
    /// rotation (torsion, rolling).
    #[inline]
    pub fn pyramid(frame: &Mat3, f: &[f64; 5], e: usize) -> Self {
        let n: Vec3 = frame.row(0).transpose();
        let j = e / 2;
        let sign = if e.is_multiple_of(2) { 1.0 } else { -1.0 };
        let (axis, angular) = if j < 2 { (j + 1, false) } else { (j - 2, true) };
        let d: Vec3 = frame.row(axis).transpose() * (sign * f[j]);
        let friction = Some(FrictionPart {
            axis,
            angular,
            sign,
            index: j,
        });
        if angular {
            Self {
                lin: n,
                ang: d,
                friction,
            }
        } else {
            Self {
                lin: n + d,
                ang: Vec3::zeros(),
                friction,
            }
        }
    }

    /// The frictionless contact's normal row.
    #[inline]
    pub fn normal(frame: &Mat3) -> Self {
        Self {
            lin: frame.row(0).transpose(),
            ang: Vec3::zeros(),
            friction: None,
        }
    }

    /// `J_d` of dof `d` from the relative point Jacobian column `jp` and rotation one `jr`.
    #[inline]
    pub fn apply(&self, jp: &Vec3, jr: &Vec3) -> f64 {
        self.lin.dot(jp) + self.ang.dot(jr)
    }
}

/// Regularizer R shared by the pyramid rows of a contact with friction `mu`, impedance
/// `imp` and translational inverse weight `tw` (MuJoCo: the regularized cone
/// `mu_reg = mu / sqrt(impratio)`, `R = 2 mu_reg^2 (1 - imp)/imp tw (1 + mu^2)`), and
/// `d ln R / d mu = 2/mu + 2 mu / (1 + mu^2)` (the floors at 1e-15 are held fixed).
#[inline]
pub fn pyramid_regularizer(mu: f64, tw: f64, imp: f64, impratio: f64) -> (f64, f64) {
    let a0 = tw * (1.0 + mu * mu);
    let r0 = ((1.0 - imp) / imp * a0).max(1e-15);
    let mu_reg = mu * (1.0 / impratio.max(1e-15)).sqrt();
    let r = (2.0 * mu_reg * mu_reg * r0).max(1e-15);
    (r, 2.0 / mu + 2.0 * mu / (1.0 + mu * mu))
}

/// The state of row `r` at residual `z = J_r a - aref_r`: which piece of its cost applies
/// (MuJoCo's `mj_constraintUpdate`).
#[inline]
pub fn row_state(data: &Data, r: usize, z: f64) -> RowState {
    match data.efc_kind[r] {
        RowKind::Equality(..) => RowState::Quadratic,
        RowKind::Friction(_) | RowKind::TendonFriction(_) => {
            let rf = data.efc_r[r] * data.efc_floss[r];
            if z <= -rf {
                RowState::LinearNeg
            } else if z >= rf {
                RowState::LinearPos
            } else {
                RowState::Quadratic
            }
        }
        RowKind::Limit(_)
        | RowKind::TendonLimit(_)
        | RowKind::ContactNormal(_)
        | RowKind::ContactPyramid(..)
        // (an elliptic contact's rows are evaluated together by `visit_rows`; alone, a row
        // reads as a one-sided one)
        | RowKind::ContactElliptic(..) => {
            if z < 0.0 {
                RowState::Quadratic
            } else {
                RowState::Inactive
            }
        }
    }
}

/// The state of row `r` just past residual `z` moving in the direction `dz`: [`row_state`]
/// with a tie at a kink resolved towards the piece the residual enters.
#[inline]
pub fn row_state_along(data: &Data, r: usize, z: f64, dz: f64) -> RowState {
    match data.efc_kind[r] {
        RowKind::Equality(..) => RowState::Quadratic,
        RowKind::Friction(_) | RowKind::TendonFriction(_) => {
            let rf = data.efc_r[r] * data.efc_floss[r];
            if z < -rf || (z == -rf && dz < 0.0) {
                RowState::LinearNeg
            } else if z > rf || (z == rf && dz > 0.0) {
                RowState::LinearPos
            } else {
                RowState::Quadratic
            }
        }
        _ => {
            if z < 0.0 || (z == 0.0 && dz < 0.0) {
                RowState::Quadratic
            } else {
                RowState::Inactive
            }
        }
    }
}

/// The state, force and cost of every row at residuals `jar` (nefc), in order:
/// `visit(r, state, force, cost)`. A row alone by [`row_state`], [`row_force`] and
/// [`row_cost`]; an elliptic contact's rows together ([`Elliptic`]), its cost given
/// with its first row and 0 with the others.
#[inline]
pub fn visit_rows(data: &Data, jar: &[f64], mut visit: impl FnMut(usize, RowState, f64, f64)) {
    let mut r = 0;
    while r < jar.len() {
        if let Some((k, z, state)) = elliptic_at(data, jar, r) {
            let f = k.force(&z, state);
            let cost = k.cost(&z, state);
            for j in 0..k.dim {
                visit(r + j, state, f[j], if j == 0 { cost } else { 0.0 });
            }
            r += k.dim;
            continue;
        }
        let z = jar[r];
        let state = row_state(data, r, z);
        visit(
            r,
            state,
            row_force(data, r, z, state),
            row_cost(data, r, z, state),
        );
        r += 1;
    }
}

/// The elliptic contact whose rows start at `r` with its residuals in `jar` (nefc): the cone,
/// its residuals and its state; `None` when row `r` is not an elliptic contact's first row.
#[inline]
pub fn elliptic_at(data: &Data, jar: &[f64], r: usize) -> Option<(Elliptic, cone::Rows, RowState)> {
    match data.efc_kind[r] {
        RowKind::ContactElliptic(c, 0) => {
            let k = data.efc_cone[c];
            let mut z = [0.0; cone::MAX_DIM];
            z[..k.dim].copy_from_slice(&jar[r..r + k.dim]);
            let state = k.state(&z);
            Some((k, z, state))
        }
        _ => None,
    }
}

/// The force of row `r` at residual `z` in `state`: `-D z` in the quadratic piece, the bound
/// `+-frictionloss` of a saturated friction row, 0 for a satisfied inequality. (An elliptic
/// contact's rows: [`visit_rows`].)
#[inline]
pub fn row_force(data: &Data, r: usize, z: f64, state: RowState) -> f64 {
    match state {
        RowState::Inactive | RowState::Cone => 0.0,
        RowState::Quadratic => -data.efc_d[r] * z,
        RowState::LinearNeg => data.efc_floss[r],
        RowState::LinearPos => -data.efc_floss[r],
    }
}

/// The cost of row `r` at residual `z` in `state` (continuous across the pieces).
#[inline]
pub fn row_cost(data: &Data, r: usize, z: f64, state: RowState) -> f64 {
    let f = data.efc_floss[r];
    match state {
        RowState::Inactive | RowState::Cone => 0.0,
        RowState::Quadratic => 0.5 * data.efc_d[r] * z * z,
        RowState::LinearNeg => -0.5 * data.efc_r[r] * f * f - f * z,
        RowState::LinearPos => -0.5 * data.efc_r[r] * f * f + f * z,
    }
}

/// The slope along a line search direction of row `r`'s cost in `state`, as `(c0, c1)` with
/// slope `c0 + c1 t` at step `t` (residual `z + t dz`).
#[inline]
pub fn row_slope(data: &Data, r: usize, state: RowState, z: f64, dz: f64) -> (f64, f64) {
    match state {
        RowState::Inactive | RowState::Cone => (0.0, 0.0),
        RowState::Quadratic => {
            let d = data.efc_d[r];
            (d * dz * z, d * dz * dz)
        }
        RowState::LinearNeg => (-data.efc_floss[r] * dz, 0.0),
        RowState::LinearPos => (data.efc_floss[r] * dz, 0.0),
    }
}

/// Build all constraint rows for the current positions and velocities `v`, in MuJoCo's order:
/// equalities, dof friction, joint limits, contacts. `h` is the substep length. Needs
/// kinematics, `cdof`, `cvel`, `cdof_dot` and `data.contacts`.
pub fn make_rows(model: &Model, params: &Params, q: &[f64], v: &[f64], h: f64, data: &mut Data) {
    data.efc_version = data.efc_version.wrapping_add(1);
    data.efc_kind.clear();
    data.efc_j.clear();
    data.efc_nz.clear();
    data.efc_nz_adr.clear();
    data.efc_nz_adr.push(0);
    data.efc_pos.clear();
    data.efc_aref.clear();
    data.efc_d.clear();
    data.efc_r.clear();
    data.efc_floss.clear();
    data.nefc = 0;
    data.efc_elliptic = false;
    data.efc_cone.clear();
    data.efc_cone
        .resize(data.contacts.len(), Elliptic::default());

    equality::equality_rows(model, params, q, v, h, data);

    // dry friction of the dofs: aref = -b v (no position term), R from the impedance at zero
    // violation, the force bounded by the frictionloss
    if model.opt.enable_frictionloss {
        for d in 0..model.nv {
            let floss = params.dof_frictionloss[d];
            if floss == 0.0 {
                continue;
            }
            let j = model.dof_jnt[d];
            let solimp = &model.jnt_solimp_fri[j];
            let imp = impedance(solimp, 0.0);
            let (_, b) = ref_gains(&model.jnt_solref_fri[j], solimp[1], h);
            let r = ((1.0 - imp) / imp * model.dof_invweight0[d]).max(1e-15);
            data.efc_j.push(1.0);
            data.efc_nz.push(d);
            push_row(data, RowKind::Friction(d), 0.0, -b * v[d], r);
            *data.efc_floss.last_mut().expect("pushed") = floss;
        }
        for (t, ten) in model.tendons.iter().enumerate() {
            let floss = params.tendon_frictionloss[t];
            if floss == 0.0 {
                continue;
            }
            let imp = impedance(&ten.solimp_fri, 0.0);
            let (_, b) = ref_gains(&ten.solref_fri, ten.solimp_fri[1], h);
            let r = ((1.0 - imp) / imp * ten.invweight0).max(1e-15);
            for &(d, c) in &data.ten_jac[t] {
                data.efc_nz.push(d);
                data.efc_j.push(c);
            }
            let vel = data.ten_velocity(t, v);
            push_row(data, RowKind::TendonFriction(t), 0.0, -b * vel, r);
            *data.efc_floss.last_mut().expect("pushed") = floss;
        }
    }

    // joint limits (hinge and slide: one row per violated side; ball: one row on the
    // rotation angle)
    if model.opt.enable_joint_limit {
        for j in 0..model.njnt {
            if !model.jnt_limited[j] {
                continue;
            }
            if model.jnt_type[j] == JointType::Ball {
                let a = model.jnt_qpos_adr[j];
                let (angle, axis) = ball_angle_axis(&q[a..a + 4]);
                let dist = model.jnt_range[j][0].max(model.jnt_range[j][1]) - angle;
                let margin = model.jnt_margin[j];
                if dist >= margin {
                    continue;
                }
                let d = model.jnt_dof_adr[j];
                let mut vel = 0.0;
                for k in 0..3 {
                    data.efc_j.push(-axis[k]);
                    data.efc_nz.push(d + k);
                    vel -= axis[k] * v[d + k];
                }
                let solimp = &model.jnt_solimp[j];
                let imp = impedance(solimp, dist - margin);
                let (k, b) = ref_gains(&model.jnt_solref[j], solimp[1], h);
                let r = ((1.0 - imp) / imp * model.dof_invweight0[d]).max(1e-15);
                push_row(
                    data,
                    RowKind::Limit(j),
                    dist,
                    -b * vel - k * imp * (dist - margin),
                    r,
                );
                continue;
            }
            if !model.jnt_type[j].is_scalar() {
                continue;
            }
            let qv = q[model.jnt_qpos_adr[j]];
            let d = model.jnt_dof_adr[j];
            let margin = model.jnt_margin[j];
            for side in [-1.0f64, 1.0] {
                // distance to the limit: q - lo (side -1) or hi - q (side +1)
                let dist = if side < 0.0 {
                    qv - model.jnt_range[j][0]
                } else {
                    model.jnt_range[j][1] - qv
                };
                if dist >= margin {
                    continue;
                }
                let jsign = -side;
                data.efc_j.push(jsign);
                data.efc_nz.push(d);
                let vel = jsign * v[d];
                let solimp = &model.jnt_solimp[j];
                let imp = impedance(solimp, dist - margin);
                let (k, b) = ref_gains(&model.jnt_solref[j], solimp[1], h);
                let a = model.dof_invweight0[d];
                let r = ((1.0 - imp) / imp * a).max(1e-15);
                push_row(
                    data,
                    RowKind::Limit(j),
                    dist,
                    -b * vel - k * imp * (dist - margin),
                    r,
                );
            }
        }
    }

    // tendon limits: as joint limits, on the tendon's length along its (constant) Jacobian
    if model.opt.enable_joint_limit {
        for (t, ten) in model.tendons.iter().enumerate() {
            if !ten.limited {
                continue;
            }
            let len = data.ten_length[t];
            let vel = data.ten_velocity(t, v);
            for side in [-1.0f64, 1.0] {
                let dist = if side < 0.0 {
                    len - ten.range[0]
                } else {
                    ten.range[1] - len
                };
                if dist >= ten.margin {
                    continue;
                }
                let jsign = -side;
                for k in 0..data.ten_jac[t].len() {
                    let (d, c) = data.ten_jac[t][k];
                    data.efc_nz.push(d);
                    data.efc_j.push(jsign * c);
                }
                let imp = impedance(&ten.solimp_lim, dist - ten.margin);
                let (k, b) = ref_gains(&ten.solref_lim, ten.solimp_lim[1], h);
                let r = ((1.0 - imp) / imp * ten.invweight0).max(1e-15);
                push_row(
                    data,
                    RowKind::TendonLimit(t),
                    dist,
                    -b * jsign * vel - k * imp * (dist - ten.margin),
                    r,
                );
            }
        }
    }

    // contacts
    for c in 0..data.contacts.len() {
        let con = data.contacts[c];
        data.contacts[c].efc_adr = data.nefc;
        let b1 = model.geom_body[con.geom1];
        let b2 = model.geom_body[con.geom2];
        // relative point Jacobian (body2 - body1) along each frame axis, over the dofs of the
        // two bodies' paths to the root (the row's non-zeros, ascending in `row_dofs`)
        let dofs = &mut data.row_dofs;
        contact_dofs(model, &data.body_dof_last, b1, b2, dofs);
        let jac = &mut data.scratch_jac;
        for &d in dofs.iter() {
            jac[d] = Vec3::zeros();
        }
        add_point_jacobian(
            model,
            &data.body_dof_last,
            &data.cdof,
            b2,
            &con.pos,
            1.0,
            jac,
        );
        add_point_jacobian(
            model,
            &data.body_dof_last,
            &data.cdof,
            b1,
            &con.pos,
            -1.0,
            jac,
        );
        // the relative rotation Jacobian, for the torsion and rolling rows
        if con.condim > 3 {
            let jr = &mut data.scratch_jac_rot;
            for &d in data.row_dofs.iter() {
                jr[d] = Vec3::zeros();
            }
            for (body, w) in [(b2, 1.0), (b1, -1.0)] {
                let mut d = data.body_dof_last[body];
                while d != usize::MAX {
                    jr[d] += data.cdof[d].ang * w;
                    d = model.dof_parent[d];
                }
            }
        }
        let tw = model.body_invweight0[b1][0] + model.body_invweight0[b2][0];
        let solimp = con.solimp;
        let imp = impedance(&solimp, con.dist - con.margin);
        let (k, b) = ref_gains(&con.solref, solimp[1], h);
        let pos_term = k * imp * (con.dist - con.margin);
        // (a contact without sliding friction is frictionless, whatever its condim: MuJoCo
        // instead keeps every row with each coefficient floored at 1e-5)
        let frictionless = con.condim == 1 || con.friction <= 0.0;
        let f_rows = con.friction_rows();
        // (row kind, direction, position, aref's position term, R) of each row
        let r0 = ((1.0 - imp) / imp * tw).max(1e-15);
        let nrow = if frictionless {
            1
        } else if model.opt.cone == FrictionCone::Elliptic {
            data.efc_elliptic = true;
            con.condim
        } else {
            2 * (con.condim - 1)
        };
        let rpy = if frictionless || model.opt.cone == FrictionCone::Elliptic {
            0.0
        } else {
            pyramid_regularizer(con.friction, tw, imp, model.opt.impratio).0
        };
        // elliptic: R1 = R0 / impratio, then R_j f_j^2 = R1 f_1^2 (MuJoCo's `mj_makeImpedance`)
        let r1 = (r0 / model.opt.impratio.max(1e-15)).max(1e-15);
        for k in 0..nrow {
            let (kind, dir, pos, aref_pos, r) = if frictionless {
                (
                    RowKind::ContactNormal(c),
                    ContactDir::normal(&con.frame),
                    con.dist,
                    pos_term,
                    r0,
                )
            } else if model.opt.cone == FrictionCone::Elliptic {
                let dir = ContactDir::elliptic(&con.frame, k);
                let kind = RowKind::ContactElliptic(c, k);
                match k {
                    0 => (kind, dir, con.dist, pos_term, r0),
                    _ => {
                        let fj = f_rows[k - 1];
                        let r = (r1 * f_rows[0] * f_rows[0] / (fj * fj)).max(1e-15);
                        (kind, dir, 0.0, 0.0, if k == 1 { r1 } else { r })
                    }
                }
            } else {
                let dir = ContactDir::pyramid(&con.frame, &f_rows, k);
                (RowKind::ContactPyramid(c, k), dir, con.dist, pos_term, rpy)
            };
            let mut vel = 0.0;
            for &dd in &data.row_dofs {
                let jr = if con.condim > 3 {
                    data.scratch_jac_rot[dd]
                } else {
                    Vec3::zeros()
                };
                let jv = dir.apply(&data.scratch_jac[dd], &jr);
                data.efc_j.push(jv);
                vel += jv * v[dd];
            }
            data.efc_nz.extend_from_slice(&data.row_dofs);
            push_row(data, kind, pos, -b * vel - aref_pos, r);
        }
        if matches!(data.efc_kind[data.nefc - 1], RowKind::ContactElliptic(..)) {
            let r0 = data.nefc - con.condim;
            let k = Elliptic::of(data, r0, c);
            data.efc_cone[c] = k;
        }
    }
}

/// A ball joint's rotation as MuJoCo measures it for its limit (`mju_quat2Vel` of the
/// normalized quaternion `q`): the angle in `[0, pi]` of the shortest rotation and its unit
/// axis in the joint frame (x for no rotation).
pub fn ball_angle_axis(q: &[f64]) -> (f64, Vec3) {
    let n = (q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]).sqrt();
    let u = Vec3::new(q[1], q[2], q[3]) / n;
    let s = u.norm();
    if !(s > 1e-15) {
        return (0.0, Vec3::x());
    }
    let mut theta = 2.0 * s.atan2(q[0] / n);
    if theta > std::f64::consts::PI {
        theta -= 2.0 * std::f64::consts::PI;
    }
    (theta.abs(), u * (theta.signum() / s))
}

/// The dofs a contact between bodies `b1` and `b2` moves, into `out`: the union of their paths
/// to the root, ascending (its rows' non-zero dofs; the Newton Hessian's block of the pair).
pub fn contact_dofs(
    model: &Model,
    body_dof_last: &[usize],
    b1: usize,
    b2: usize,
    out: &mut Vec<usize>,
) {
    out.clear();
    for b in [b1, b2] {
        let mut d = body_dof_last[b];
        while d != usize::MAX {
            out.push(d);
            d = model.dof_parent[d];
        }
    }
    out.sort_unstable();
    out.dedup();
}

/// The end of the run of rows from `r` that belong to one contact: its pyramid or elliptic rows, which
/// [`make_rows`] makes consecutive and over the same dofs; `r + 1` for any other row.
#[inline]
pub fn row_group_end(data: &Data, r: usize) -> usize {
    let contact = |r: usize| match data.efc_kind[r] {
        RowKind::ContactNormal(c)
        | RowKind::ContactPyramid(c, _)
        | RowKind::ContactElliptic(c, _) => Some(c),
        RowKind::Limit(_)
        | RowKind::TendonLimit(_)
        | RowKind::Friction(_)
        | RowKind::TendonFriction(_)
        | RowKind::Equality(..) => None,
    };
    let c = contact(r);
    let mut end = r + 1;
    if c.is_some() {
        while end < data.nefc && contact(end) == c {
            end += 1;
        }
    }
    end
}

/// Close the row whose entries were just pushed (its bound `efc_floss` 0).
fn push_row(data: &mut Data, kind: RowKind, pos: f64, aref: f64, r: f64) {
    data.efc_nz_adr.push(data.efc_nz.len());
    data.efc_floss.push(0.0);
    data.efc_kind.push(kind);
    data.efc_pos.push(pos);
    data.efc_aref.push(aref);
    data.efc_r.push(r);
    data.efc_d.push(1.0 / r);
    data.nefc += 1;
}

/// A contact of a step as users read it: the two geoms, the point, the normal, the signed
/// distance and the force of the step's solve (world frame; see [`contact_force`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ContactReport {
    /// First geom (the normal points from it to `geom2`).
    pub geom1: usize,
    /// Second geom.
    pub geom2: usize,
    /// Contact point (m).
    pub pos: Vec3,
    /// Unit normal, from geom1 to geom2.
    pub normal: Vec3,
    /// Signed distance (negative = penetration) (m).
    pub dist: f64,
    /// Force geom1 exerts on geom2 (N).
    pub force: Vec3,
}

impl ContactReport {
    /// Contact `c` of the last step `data` took.
    pub fn of(data: &Data, c: usize) -> Self {
        let con = &data.contacts[c];
        Self {
            geom1: con.geom1,
            geom2: con.geom2,
            pos: con.pos,
            normal: con.frame.row(0).transpose(),
            dist: con.dist,
            force: contact_force(data, c),
        }
    }
}

/// World-frame force that geom1 exerts on geom2 at contact `c` (N), from the row forces of the
/// last solve (geom2 receives `+f`, geom1 `-f`).
pub fn contact_force(data: &Data, c: usize) -> Vec3 {
    let con = &data.contacts[c];
    let n: Vec3 = con.frame.row(0).transpose();
    let mut f = Vec3::zeros();
    for r in con.efc_adr..data.nefc.min(data.efc_force.len()) {
        match data.efc_kind[r] {
            RowKind::ContactNormal(k) if k == c => f += n * data.efc_force[r],
            RowKind::ContactPyramid(k, e) if k == c => {
                let f_rows = con.friction_rows();
                f += ContactDir::pyramid(&con.frame, &f_rows, e).lin * data.efc_force[r];
            }
            RowKind::ContactElliptic(k, j) if k == c => {
                f += ContactDir::elliptic(&con.frame, j).lin * data.efc_force[r];
            }
            _ => break,
        }
    }
    f
}

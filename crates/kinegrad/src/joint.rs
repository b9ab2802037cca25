//! Joint kinds in one place (Pinocchio's joint models): everything that depends on a joint's
//! kind, in both directions. The stages (kinematics, forces, constraint rows, integrator, the
//! builder, the state) and their reverse (`adjoint/`) dispatch to these methods and match no
//! kind themselves; the parsers (`model/mjcf.rs`, `model/urdf.rs`) map file names to kinds.
//!
//! Per kind: its size ([`nq`](JointType::nq), [`nv`](JointType::nv)), name, which coordinates
//! form a quaternion block, its default coordinates, the body transform it applies and its
//! reverse ([`transform`](JointType::transform), [`transform_vjp`](JointType::transform_vjp)),
//! its motion subspace ([`motion_subspace`](JointType::motion_subspace)) and the frame its axes
//! are fixed in, and the position update and its reverse
//! ([`integrate`](JointType::integrate), [`integrate_vjp`](JointType::integrate_vjp)).
//!
//! Conventions: `q` is a joint's slice of the coordinates (nq), `v` of the dofs (nv);
//! quaternions are `[w, x, y, z]`; angular velocities of ball and free joints are in the local
//! (body) frame, a free joint's linear velocity in the world frame.

use crate::math::{quat_from_wxyz, Mat3, Motion, Quat, Vec3};

/// The most dofs a joint kind has.
pub const MAX_NV: usize = 6;

/// Joint kinds. Fixed joints do not exist in the model: a body without joints is welded to its
/// parent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JointType {
    /// 6 dof: q = [x y z qw qx qy qz], v = [linear velocity (world); angular velocity (local)].
    Free,
    /// 3 dof: q = [qw qx qy qz], v = angular velocity (local).
    Ball,
    /// 1 dof translation along `jnt_axis`.
    Slide,
    /// 1 dof rotation about `jnt_axis` through `jnt_pos`.
    Hinge,
}

/// What a joint's range measures (and how model files and scaling treat it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeUnit {
    /// An angle (rad; degrees in MJCF files with `angle="degree"`).
    Angle,
    /// A length (m; scaled with the model).
    Length,
}

/// The frame a joint's (non world-fixed) motion axes are fixed in, which is where the adjoint of
/// its motion subspace acts (`adjoint/kinematics.rs::com_pos_vjp`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AxisFrame {
    /// The frame before the joint (hinge and slide axes).
    Before,
    /// The body's final frame (the rotational axes of ball and free joints, as in MuJoCo).
    Body,
}

impl JointType {
    /// Every kind.
    pub const ALL: [JointType; 4] = [
        JointType::Free,
        JointType::Ball,
        JointType::Slide,
        JointType::Hinge,
    ];

    /// The kind's name (MJCF's joint type).
    #[inline]
    pub fn name(self) -> &'static str {
        match self {
            JointType::Free => "free",
            JointType::Ball => "ball",
            JointType::Slide => "slide",
            JointType::Hinge => "hinge",
        }
    }

    /// The kind named `name` (see [`JointType::name`]).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Number of position coordinates.
    #[inline]
    pub fn nq(self) -> usize {
        match self {
            JointType::Free => 7,
            JointType::Ball => 4,
            JointType::Slide | JointType::Hinge => 1,
        }
    }

    /// Number of degrees of freedom.
    #[inline]
    pub fn nv(self) -> usize {
        match self {
            JointType::Free => 6,
            JointType::Ball => 3,
            JointType::Slide | JointType::Hinge => 1,
        }
    }

    /// Whether the joint has one coordinate that is its one dof's position (hinge, slide): only
    /// those have joint limits, springs, position-control errors and actuators.
    #[inline]
    pub fn is_scalar(self) -> bool {
        matches!(self, JointType::Slide | JointType::Hinge)
    }

    /// Whether the joint has an axis (`jnt_axis`, normalized by the builder, required non-zero).
    #[inline]
    pub fn has_axis(self) -> bool {
        self.is_scalar()
    }

    /// What the joint's range measures; `None` for kinds whose range is ignored (free).
    #[inline]
    pub fn range_unit(self) -> Option<RangeUnit> {
        match self {
            JointType::Free => None,
            JointType::Ball | JointType::Hinge => Some(RangeUnit::Angle),
            JointType::Slide => Some(RangeUnit::Length),
        }
    }

    /// Offset of the joint's quaternion block in its coordinates, if it has one.
    #[inline]
    pub fn quat_offset(self) -> Option<usize> {
        match self {
            JointType::Free => Some(3),
            JointType::Ball => Some(0),
            JointType::Slide | JointType::Hinge => None,
        }
    }

    /// Number of leading dofs whose motion axes are fixed in the world (a free joint's
    /// translations): constant in q, so their subspaces have no time derivative.
    #[inline]
    pub fn world_fixed_dofs(self) -> usize {
        match self {
            JointType::Free => 3,
            _ => 0,
        }
    }

    /// The frame the joint's other dofs' axes are fixed in.
    #[inline]
    pub fn axis_frame(self) -> AxisFrame {
        match self {
            JointType::Free | JointType::Ball => AxisFrame::Body,
            JointType::Slide | JointType::Hinge => AxisFrame::Before,
        }
    }

    /// Append the joint's default coordinates (`qpos0`) to `out`, for a body placed at `pos`,
    /// `quat` and the joint's `reference` position: a free joint starts at the body's placed
    /// pose, a ball at the identity, hinge and slide at the reference.
    pub fn default_qpos(self, pos: &Vec3, quat: &Quat, reference: f64, out: &mut Vec<f64>) {
        match self {
            JointType::Free => {
                out.extend_from_slice(&[pos.x, pos.y, pos.z, quat.w, quat.i, quat.j, quat.k])
            }
            JointType::Ball => out.extend_from_slice(&[1.0, 0.0, 0.0, 0.0]),
            JointType::Slide | JointType::Hinge => out.push(reference),
        }
    }

    /// The body pose that coordinates `q` give by themselves, for a kind that places its body
    /// in the world outright (free); `None` for kinds that move it relative to the frame before
    /// them (and leave it unchanged at their default coordinates).
    #[inline]
    pub fn placement(self, q: &[f64]) -> Option<(Vec3, Quat)> {
        match self {
            JointType::Free => Some((Vec3::new(q[0], q[1], q[2]), quat_from_wxyz(&q[3..7]))),
            _ => None,
        }
    }

    /// Apply the joint at coordinates `q` (its default coordinates `qpos0`) to the body frame
    /// `(xpos, xquat)` (the frame before the joint on entry, after it on return), for the joint
    /// at `pos` with `axis` in the body frame. Returns the joint's world anchor and axis (a
    /// hinge's and slide's axis before their motion, a ball's after its rotation).
    #[inline]
    pub fn transform(
        self,
        q: &[f64],
        qpos0: &[f64],
        pos: &Vec3,
        axis: &Vec3,
        xpos: &mut Vec3,
        xquat: &mut Quat,
    ) -> (Vec3, Vec3) {
        match self {
            JointType::Free => {
                (*xpos, *xquat) = self.placement(q).expect("a free joint places its body");
                (*xpos, *axis)
            }
            JointType::Ball => {
                let anchor = *xquat * pos + *xpos;
                *xquat *= quat_from_wxyz(&q[0..4]);
                *xpos = anchor - *xquat * pos;
                (anchor, *xquat * axis)
            }
            JointType::Hinge => {
                let anchor = *xquat * pos + *xpos;
                let world_axis = *xquat * axis;
                *xquat *= axis_angle(axis, q[0] - qpos0[0]);
                *xpos = anchor - *xquat * pos;
                (anchor, world_axis)
            }
            JointType::Slide => {
                let anchor = *xquat * pos + *xpos;
                let world_axis = *xquat * axis;
                *xpos += world_axis * (q[0] - qpos0[0]);
                (anchor, world_axis)
            }
        }
    }

    /// Reverse of [`JointType::transform`] in the coordinates: given `proj` (nv), the adjoint of
    /// the joint's motion along its dofs (the pose wrench downstream of the joint projected on
    /// its motion subspace), accumulate dL/dq into `q_bar` (nq; a quaternion block as a raw
    /// 4-vector, through its normalization). The pose's other inputs (the frame before the
    /// joint) are reversed by the dof tree sweep of `adjoint/kinematics.rs`.
    #[inline]
    pub fn transform_vjp(self, q: &[f64], proj: &[f64], q_bar: &mut [f64]) {
        match self {
            JointType::Slide | JointType::Hinge => q_bar[0] += proj[0],
            JointType::Ball => {
                quat_bar_from_local(&q[0..4], &[proj[0], proj[1], proj[2]], &mut q_bar[0..4])
            }
            JointType::Free => {
                for k in 0..3 {
                    q_bar[k] += proj[k];
                }
                quat_bar_from_local(&q[3..7], &[proj[3], proj[4], proj[5]], &mut q_bar[3..7]);
            }
        }
    }

    /// The joint's dof motion subspaces (`cdof`, world frame at the origin) into `out` (nv), from
    /// its world `anchor` and `axis` (as [`JointType::transform`] returns them) and the body's
    /// final rotation `body_rot`.
    #[inline]
    pub fn motion_subspace(self, anchor: &Vec3, axis: &Vec3, body_rot: &Mat3, out: &mut [Motion]) {
        match self {
            JointType::Free => {
                for k in 0..3 {
                    out[k] = Motion::new(Vec3::zeros(), Vec3::ith(k, 1.0));
                    let a: Vec3 = body_rot.column(k).into();
                    out[3 + k] = Motion::new(a, anchor.cross(&a));
                }
            }
            JointType::Ball => {
                for k in 0..3 {
                    let a: Vec3 = body_rot.column(k).into();
                    out[k] = Motion::new(a, anchor.cross(&a));
                }
            }
            JointType::Hinge => out[0] = Motion::new(*axis, anchor.cross(axis)),
            JointType::Slide => out[0] = Motion::new(Vec3::zeros(), *axis),
        }
    }

    /// `q <- q (+) h v` on the joint's configuration manifold (quaternions stay unit length:
    /// `q <- normalize(normalize(q) exp(h w / 2))` with `w` in the local frame).
    #[inline]
    pub fn integrate(self, q: &mut [f64], v: &[f64], h: f64) {
        match self {
            JointType::Slide | JointType::Hinge => q[0] += h * v[0],
            JointType::Ball => quat_integrate(&mut q[0..4], &Vec3::new(v[0], v[1], v[2]), h),
            JointType::Free => {
                for k in 0..3 {
                    q[k] += h * v[k];
                }
                quat_integrate(&mut q[3..7], &Vec3::new(v[3], v[4], v[5]), h);
            }
        }
    }

    /// Reverse of [`JointType::integrate`] at coordinates `q` and velocity `v`: given dL/dq'
    /// (`q_new_bar`, nq), accumulate dL/dq (`q_bar`, nq) and dL/dv (`v_bar`, nv).
    #[inline]
    pub fn integrate_vjp(
        self,
        q: &[f64],
        v: &[f64],
        h: f64,
        q_new_bar: &[f64],
        q_bar: &mut [f64],
        v_bar: &mut [f64],
    ) {
        match self {
            JointType::Slide | JointType::Hinge => {
                q_bar[0] += q_new_bar[0];
                v_bar[0] += h * q_new_bar[0];
            }
            JointType::Ball => {
                let mut wb = [0.0; 3];
                quat_integrate_vjp(
                    &q[0..4],
                    &[v[0], v[1], v[2]],
                    h,
                    &q_new_bar[0..4],
                    &mut q_bar[0..4],
                    &mut wb,
                );
                for k in 0..3 {
                    v_bar[k] += wb[k];
                }
            }
            JointType::Free => {
                for k in 0..3 {
                    q_bar[k] += q_new_bar[k];
                    v_bar[k] += h * q_new_bar[k];
                }
                let mut wb = [0.0; 3];
                quat_integrate_vjp(
                    &q[3..7],
                    &[v[3], v[4], v[5]],
                    h,
                    &q_new_bar[3..7],
                    &mut q_bar[3..7],
                    &mut wb,
                );
                for k in 0..3 {
                    v_bar[3 + k] += wb[k];
                }
            }
        }
    }
}

/// Rotation by `angle` about the unit `axis`.
#[inline]
fn axis_angle(axis: &Vec3, angle: f64) -> Quat {
    let (s, c) = (0.5 * angle).sin_cos();
    Quat::new_unchecked(nalgebra::Quaternion::new(
        c,
        axis.x * s,
        axis.y * s,
        axis.z * s,
    ))
}

/// dL/dq for a raw (not necessarily unit) quaternion q, given dL/dtheta for local rotations
/// theta (the body turns by R(q^) exp([theta]x)): `q_bar = (2/|q|) q^ (x) (0, theta_bar)`.
pub fn quat_bar_from_local(q: &[f64], theta_bar: &[f64; 3], out: &mut [f64]) {
    let n = (q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]).sqrt();
    let (w, x, y, z) = (q[0] / n, q[1] / n, q[2] / n, q[3] / n);
    let (a, b, c) = (theta_bar[0], theta_bar[1], theta_bar[2]);
    // Hamilton product (w, x, y, z) (x) (0, a, b, c)
    let s = 2.0 / n;
    out[0] += s * (-x * a - y * b - z * c);
    out[1] += s * (w * a + y * c - z * b);
    out[2] += s * (w * b + z * a - x * c);
    out[3] += s * (w * c + x * b - y * a);
}

/// `quat <- normalize(quat * exp(h w / 2))`, w in the local frame.
fn quat_integrate(quat: &mut [f64], w: &Vec3, h: f64) {
    let q = quat_from_wxyz(quat);
    let rot = Quat::from_scaled_axis(w * h);
    let r = Quat::new_normalize((q * rot).into_inner());
    quat.copy_from_slice(&[r.w, r.i, r.j, r.k]);
}

/// Hamilton product of `[w, x, y, z]` quaternions.
#[inline]
fn qmul(a: &[f64; 4], b: &[f64; 4]) -> [f64; 4] {
    [
        a[0] * b[0] - a[1] * b[1] - a[2] * b[2] - a[3] * b[3],
        a[0] * b[1] + a[1] * b[0] + a[2] * b[3] - a[3] * b[2],
        a[0] * b[2] - a[1] * b[3] + a[2] * b[0] + a[3] * b[1],
        a[0] * b[3] + a[1] * b[2] - a[2] * b[1] + a[3] * b[0],
    ]
}

#[inline]
fn conj(a: &[f64; 4]) -> [f64; 4] {
    [a[0], -a[1], -a[2], -a[3]]
}

/// `exp` of a rotation vector `phi` as a unit quaternion, and the coefficients of its
/// derivative: r = (cos(t/2), s phi) with t = |phi|, s = sin(t/2)/t, c = (ds/dt)/t.
fn exp_coeffs(phi: &[f64; 3]) -> ([f64; 4], f64, f64) {
    let t2 = phi[0] * phi[0] + phi[1] * phi[1] + phi[2] * phi[2];
    let t = t2.sqrt();
    let (s, c, cw) = if t < 1e-4 {
        // series: s = 1/2 - t^2/48 + t^4/3840, c = -1/24 + t^2/960
        (
            0.5 - t2 / 48.0 + t2 * t2 / 3840.0,
            -1.0 / 24.0 + t2 / 960.0,
            1.0 - t2 / 8.0 + t2 * t2 / 384.0,
        )
    } else {
        let (sh, ch) = (0.5 * t).sin_cos();
        (sh / t, (0.5 * ch * t - sh) / (t * t * t), ch)
    };
    ([cw, s * phi[0], s * phi[1], s * phi[2]], s, c)
}

/// Reverse of `quat_integrate`, `q' = normalize(normalize(q) (x) exp(h w))`, for one
/// quaternion block: given `qn_bar` (dL/dq', 4), accumulate dL/dq (4) and dL/dw (3).
pub fn quat_integrate_vjp(
    q: &[f64],
    w: &[f64; 3],
    h: f64,
    qn_bar: &[f64],
    q_bar: &mut [f64],
    w_bar: &mut [f64; 3],
) {
    let nq = (q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]).sqrt();
    let qh = [q[0] / nq, q[1] / nq, q[2] / nq, q[3] / nq];
    let phi = [h * w[0], h * w[1], h * w[2]];
    let (r, s, c) = exp_coeffs(&phi);
    let p = qmul(&qh, &r);
    let np = (p[0] * p[0] + p[1] * p[1] + p[2] * p[2] + p[3] * p[3]).sqrt();
    let ph = [p[0] / np, p[1] / np, p[2] / np, p[3] / np];
    // normalization of p
    let dot: f64 = (0..4).map(|k| ph[k] * qn_bar[k]).sum();
    let p_bar: [f64; 4] = std::array::from_fn(|k| (qn_bar[k] - ph[k] * dot) / np);
    // p = qh (x) r : qh_bar = p_bar (x) r*, r_bar = qh* (x) p_bar
    let qh_bar = qmul(&p_bar, &conj(&r));
    let r_bar = qmul(&conj(&qh), &p_bar);
    // normalization of q
    let dq: f64 = (0..4).map(|k| qh[k] * qh_bar[k]).sum();
    for k in 0..4 {
        q_bar[k] += (qh_bar[k] - qh[k] * dq) / nq;
    }
    // r = (cos(t/2), s phi): d cos(t/2)/dphi = -(s/2) phi ; d(s phi)/dphi = s I + c phi phi^T
    let vb = [r_bar[1], r_bar[2], r_bar[3]];
    let pv = phi[0] * vb[0] + phi[1] * vb[1] + phi[2] * vb[2];
    for k in 0..3 {
        let phi_bar = -0.5 * s * r_bar[0] * phi[k] + s * vb[k] + c * phi[k] * pv;
        w_bar[k] += h * phi_bar;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn integrate(q: &[f64; 4], w: &[f64; 3], h: f64) -> [f64; 4] {
        let mut out = *q;
        quat_integrate(&mut out, &Vec3::new(w[0], w[1], w[2]), h);
        out
    }

    fn check(q: [f64; 4], w: [f64; 3], h: f64) {
        let bar = [0.3, -0.7, 0.2, 0.9];
        let mut qb = [0.0; 4];
        let mut wb = [0.0; 3];
        quat_integrate_vjp(&q, &w, h, &bar, &mut qb, &mut wb);
        let f = |q: &[f64; 4], w: &[f64; 3]| -> f64 {
            integrate(q, w, h)
                .iter()
                .zip(&bar)
                .map(|(a, b)| a * b)
                .sum()
        };
        let eps = 1e-6;
        for k in 0..4 {
            let (mut qp, mut qm) = (q, q);
            qp[k] += eps;
            qm[k] -= eps;
            let fd = (f(&qp, &w) - f(&qm, &w)) / (2.0 * eps);
            assert!(
                (fd - qb[k]).abs() < 1e-8 * (1.0 + fd.abs()),
                "q[{k}]: fd {fd} vs {}",
                qb[k]
            );
        }
        for k in 0..3 {
            let (mut wp, mut wm) = (w, w);
            wp[k] += eps;
            wm[k] -= eps;
            let fd = (f(&q, &wp) - f(&q, &wm)) / (2.0 * eps);
            assert!(
                (fd - wb[k]).abs() < 1e-8 * (1.0 + fd.abs()),
                "w[{k}]: fd {fd} vs {}",
                wb[k]
            );
        }
    }

    #[test]
    fn quaternion_integration_vjp_matches_finite_differences() {
        let q = [0.8, 0.2, -0.4, 0.3];
        check(q, [0.5, -1.0, 2.0], 0.01); // ordinary
        check(q, [50.0, -80.0, 120.0], 0.02); // large angle
        check(q, [1e-4, 2e-5, -3e-5], 0.01); // small-angle series
        check(q, [0.0, 0.0, 0.0], 0.01); // exactly zero
        check([1.3, 0.1, 0.0, -0.2], [0.3, 0.1, -0.2], 0.01); // non-unit input
    }

    #[test]
    fn names_round_trip_and_sizes_agree() {
        for k in JointType::ALL {
            assert_eq!(JointType::from_name(k.name()), Some(k));
            let mut q = Vec::new();
            k.default_qpos(&Vec3::zeros(), &Quat::identity(), 0.0, &mut q);
            assert_eq!(q.len(), k.nq());
            // a quaternion block is 4 coordinates for 3 dofs; every other coordinate is one dof
            assert_eq!(k.nv(), k.nq() - usize::from(k.quat_offset().is_some()));
            assert!(k.world_fixed_dofs() <= k.nv());
        }
    }
}

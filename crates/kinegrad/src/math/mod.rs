//! Spatial algebra and small 3-D helpers.
//!
//! Spatial vectors are expressed in the world frame and referenced at the world
//! origin (Featherstone's "world coordinates"): a motion vector is `[w; v_O]` where
//! `v_O` is the velocity of the body-fixed point that currently sits at the origin,
//! and a force vector is `[n_O; f]` with `n_O` the moment about the origin.
//! Keeping every body in one frame removes the per-joint transforms from the
//! recursions and makes their adjoints short.

/// MuJoCo's smallest meaningful value (`mjMINVAL`): the slack of its tests and the floor of
/// its divisions, which kinegrad's reproductions of MuJoCo's rules take with it.
pub const MINVAL: f64 = 1e-15;

pub mod dual;
pub mod spatial;

pub use spatial::{Force, Inertia, Motion};

/// 3-vector of f64.
pub type Vec3 = nalgebra::Vector3<f64>;
/// 3x3 matrix of f64.
pub type Mat3 = nalgebra::Matrix3<f64>;
/// Unit quaternion (nalgebra stores `[x, y, z, w]`; kinegrad's `q` vectors store `[w, x, y, z]` as MuJoCo and Genesis do).
pub type Quat = nalgebra::UnitQuaternion<f64>;

/// Skew-symmetric cross-product matrix: `skew(a) * b == a x b`.
#[inline]
pub fn skew(a: &Vec3) -> Mat3 {
    Mat3::new(0.0, -a.z, a.y, a.z, 0.0, -a.x, -a.y, a.x, 0.0)
}

/// Quaternion from `[w, x, y, z]` (normalized).
#[inline]
pub fn quat_from_wxyz(q: &[f64]) -> Quat {
    Quat::from_quaternion(nalgebra::Quaternion::new(q[0], q[1], q[2], q[3]))
}

/// `[w, x, y, z]` of a unit quaternion.
#[inline]
pub fn quat_to_wxyz(q: &Quat) -> [f64; 4] {
    [q.w, q.i, q.j, q.k]
}

/// Rigid transform (rotation then translation): `x_world = rot * x_local + pos`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pose {
    /// Translation (m).
    pub pos: Vec3,
    /// Rotation matrix (local axes as columns, expressed in the parent frame).
    pub rot: Mat3,
}

impl Default for Pose {
    fn default() -> Self {
        Self::identity()
    }
}

impl Pose {
    /// Identity transform.
    pub fn identity() -> Self {
        Self {
            pos: Vec3::zeros(),
            rot: Mat3::identity(),
        }
    }
    /// Transform from a translation and a unit quaternion.
    pub fn from_pos_quat(pos: Vec3, quat: &Quat) -> Self {
        Self {
            pos,
            rot: *quat.to_rotation_matrix().matrix(),
        }
    }
    /// Transform from a position and a quaternion (w, x, y, z) as users give them: an error
    /// names `pos` or `quat` when not finite (or the quaternion is zero); it is normalized.
    pub fn checked(pos: [f64; 3], quat: [f64; 4]) -> crate::Result<Self> {
        if !pos.iter().all(|x| x.is_finite()) {
            return Err(crate::Error::invalid(
                "pos",
                format!("must be finite, got {pos:?}"),
            ));
        }
        let n = quat.iter().map(|x| x * x).sum::<f64>().sqrt();
        if !n.is_finite() || n < 1e-12 {
            return Err(crate::Error::invalid(
                "quat",
                format!("must be a finite non-zero quaternion (w, x, y, z), got {quat:?}"),
            ));
        }
        Ok(Self::from_pos_quat(Vec3::from(pos), &quat_from_wxyz(&quat)))
    }
    /// Map a point from the local frame to the parent frame.
    #[inline]
    pub fn apply(&self, p: &Vec3) -> Vec3 {
        self.rot * p + self.pos
    }
    /// Compose: `self * other` (other expressed in self's frame).
    #[inline]
    pub fn mul(&self, other: &Pose) -> Pose {
        Pose {
            pos: self.rot * other.pos + self.pos,
            rot: self.rot * other.rot,
        }
    }
    /// Inverse transform.
    pub fn inverse(&self) -> Pose {
        let rt = self.rot.transpose();
        Pose {
            pos: -(rt * self.pos),
            rot: rt,
        }
    }
}

/// SplitMix64, a small deterministic generator of uniform numbers in [0, 1) for the samplers
/// of the kinematic tools (inverse kinematics restarts, path planning).
#[derive(Clone, Debug)]
pub struct SplitMix(pub u64);

impl SplitMix {
    /// The next number, uniform in [0, 1) (53 bits).
    pub fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

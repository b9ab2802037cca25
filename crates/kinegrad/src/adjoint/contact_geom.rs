//! VJPs of contact geometry (point, normal, distance) with respect to the two geom poses,
//! the contact feature held fixed.
//! (Stand-in returning zero, replaced at merge by the per-pair VJPs.)

use crate::collision::{ContactPoint, Shape};
use crate::math::{Force, Pose, Vec3};

/// Adjoints of the two geom poses as wrenches at the world origin.
pub fn contact_point_vjp(
    _s1: &Shape,
    _p1: &Pose,
    _s2: &Shape,
    _p2: &Pose,
    _cp: &ContactPoint,
    _pos_bar: &Vec3,
    _normal_bar: &Vec3,
    _dist_bar: f64,
) -> (Force, Force) {
    (Force::zero(), Force::zero())
}

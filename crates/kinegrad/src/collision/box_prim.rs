//! Sphere-box and capsule-box.

use super::convex::shape_contact_f;
use super::gjk::Placed;
use super::{emit2, sgn, ContactPoint, Core, Feature, FeatureKind, IncPoint, RefFace, Shape};
use crate::math::{Pose, Vec3};

/// Sphere (centre `c`, radius `r`) against a box: `(box surface point, normal sphere->box, dist)`.
/// Outside: the closest box point. Centre inside: the nearest face (lowest axis index on ties).
#[cfg(test)]
pub(crate) fn ball_box(c: &Vec3, r: f64, pb: &Pose, half: &Vec3) -> (Vec3, Vec3, f64) {
    let (q, n, d, _) = ball_box_f(c, &Vec3::zeros(), r, pb, half);
    (q, n, d)
}

/// [`ball_box`] with the contact feature; `c_local` is the centre in the ball's own frame.
pub(crate) fn ball_box_f(
    c: &Vec3,
    c_local: &Vec3,
    r: f64,
    pb: &Pose,
    half: &Vec3,
) -> (Vec3, Vec3, f64, FeatureKind) {
    let cl = pb.rot.transpose() * (c - pb.pos);
    let q = Vec3::new(
        cl.x.clamp(-half.x, half.x),
        cl.y.clamp(-half.y, half.y),
        cl.z.clamp(-half.z, half.z),
    );
    let diff = q - cl;
    let len = diff.norm();
    if len > 1e-12 * (1.0 + half.norm()) {
        let n = pb.rot * (diff / len);
        let code = [0, 1, 2].map(|k| {
            if cl[k] > half[k] {
                1
            } else if cl[k] < -half[k] {
                -1
            } else {
                0
            }
        });
        let kind = FeatureKind::Balls {
            c1: Core::Fixed(*c_local),
            c2: Core::BoxClamp(code),
        };
        return (pb.apply(&q), n, len - r, kind);
    }
    // Centre inside (or on the surface): push out through the nearest face.
    let mut i = 0;
    let mut best = f64::INFINITY;
    for k in 0..3 {
        let gap = half[k] - cl[k].abs();
        if gap < best {
            best = gap;
            i = k;
        }
    }
    let s = sgn(cl[i]);
    let mut qf = cl;
    qf[i] = s * half[i];
    let mut m = Vec3::zeros();
    m[i] = s;
    let n = -(pb.rot * m);
    let kind = FeatureKind::FacePoint {
        ref_is_a: false,
        face: RefFace::Box {
            axis: i as u8,
            sign: s as i8,
        },
        point: IncPoint::Local(*c_local),
        radius: r,
    };
    (pb.apply(&qf), n, -best - r, kind)
}

/// Sphere-box: 1 contact.
pub fn sphere_box(
    ps: &Pose,
    r: f64,
    pb: &Pose,
    half: &Vec3,
    margin: f64,
    out: &mut Vec<ContactPoint>,
) {
    let (q, n, d, kind) = ball_box_f(&ps.pos, &Vec3::zeros(), r, pb, half);
    emit2(out, margin, q, n, d, kind);
}

/// Capsule-box: the GJK/EPA contact of the capsule segment (plus radius) and the box: 1 contact.
/// When both end balls of the capsule touch the box with (within ~2.5 degrees) that same normal,
/// i.e. the capsule lies along a face, the two end-ball contacts are returned instead (2).
pub fn capsule_box(
    pc: &Pose,
    r: f64,
    h: f64,
    pb: &Pose,
    half: &Vec3,
    margin: f64,
    out: &mut Vec<ContactPoint>,
) {
    let cap = Shape::Capsule {
        radius: r,
        half_length: h,
    };
    let bx = Shape::Box { half: *half };
    let a = Placed {
        shape: &cap,
        pose: pc,
    };
    let b = Placed {
        shape: &bx,
        pose: pb,
    };
    let (qa, qb, n, dist, kind) = shape_contact_f(&a, &b);
    if dist >= margin {
        return;
    }
    if h > 0.0 {
        let ax = pc.rot.column(2) * h;
        let e0 = ball_box_f(&(pc.pos - ax), &Vec3::new(0.0, 0.0, -h), r, pb, half);
        let e1 = ball_box_f(&(pc.pos + ax), &Vec3::new(0.0, 0.0, h), r, pb, half);
        if e0.1.dot(&n) > 0.999 && e1.1.dot(&n) > 0.999 {
            let a0 = emit2(out, margin, e0.0, e0.1, e0.2, e0.3);
            let a1 = emit2(out, margin, e1.0, e1.1, e1.2, e1.3);
            if a0 || a1 {
                return;
            }
        }
    }
    out.push(ContactPoint {
        pos: (qa + qb) * 0.5,
        normal: n,
        dist,
        feature: Feature {
            swapped: false,
            kind,
        },
    });
}

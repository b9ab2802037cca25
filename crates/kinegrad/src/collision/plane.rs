//! Plane against every other shape. The plane is shape 1: normals are the plane's `+z` axis.
//!
//! Each contact is a point of shape 2 (sphere/capsule surface point, box corner, cylinder rim
//! point, hull vertex) with `dist = n . (x - plane_origin)` (minus the radius for round shapes).

use super::{emit2, ContactPoint, ConvexHull, FeatureKind, IncPoint, RefFace};
use crate::math::{Pose, Vec3};

/// Face-point feature: the plane against a point fixed in shape 2's frame.
fn fp(local: Vec3, radius: f64) -> FeatureKind {
    FeatureKind::FacePoint {
        ref_is_a: true,
        face: RefFace::Plane,
        point: IncPoint::Local(local),
        radius,
    }
}

#[inline]
fn normal_of(pl: &Pose) -> Vec3 {
    pl.rot.column(2).into_owned()
}

/// Plane-sphere: 1 contact (the deepest sphere point).
pub fn plane_sphere(pl: &Pose, ps: &Pose, r: f64, margin: f64, out: &mut Vec<ContactPoint>) {
    let n = normal_of(pl);
    let d = n.dot(&(ps.pos - pl.pos)) - r;
    emit2(out, margin, ps.pos - n * r, n, d, fp(Vec3::zeros(), r));
}

/// Plane-capsule: up to 2 contacts, one per end of the axis segment (1 if `half_length == 0`).
pub fn plane_capsule(
    pl: &Pose,
    pc: &Pose,
    r: f64,
    h: f64,
    margin: f64,
    out: &mut Vec<ContactPoint>,
) {
    let n = normal_of(pl);
    let a = pc.rot.column(2) * h;
    let ends: &[f64] = if h > 0.0 { &[-1.0, 1.0] } else { &[0.0] };
    for &s in ends {
        let e = pc.pos + a * s;
        let d = n.dot(&(e - pl.pos)) - r;
        emit2(
            out,
            margin,
            e - n * r,
            n,
            d,
            fp(Vec3::new(0.0, 0.0, s * h), r),
        );
    }
}

/// Plane-box: up to 4 contacts, the deepest box corners with `dist < margin`
/// (a box resting on a face gives its 4 corners, on an edge 2).
pub fn plane_box(pl: &Pose, pb: &Pose, half: &Vec3, margin: f64, out: &mut Vec<ContactPoint>) {
    let n = normal_of(pl);
    let mut cand = [(0.0f64, Vec3::zeros(), Vec3::zeros()); 8];
    let mut k = 0;
    for i in 0..8 {
        let l = Vec3::new(
            if i & 1 == 0 { -half.x } else { half.x },
            if i & 2 == 0 { -half.y } else { half.y },
            if i & 4 == 0 { -half.z } else { half.z },
        );
        let x = pb.apply(&l);
        let d = n.dot(&(x - pl.pos));
        if d < margin {
            cand[k] = (d, x, l);
            k += 1;
        }
    }
    // Stable sort by depth (corner index breaks ties, deterministic).
    cand[..k].sort_by(|a, b| a.0.total_cmp(&b.0));
    for &(d, x, l) in cand[..k.min(4)].iter() {
        emit2(out, margin, x, n, d, fp(l, 0.0));
    }
}

/// Plane-cylinder: up to 4 rim points. With `a` the axis and `v` the unit direction of `-n`
/// projected perpendicular to `a` (for an upright cylinder: the cylinder's local x axis),
/// candidates are on the lower cap `b`: `b + r v` (deepest), `b +- r (a x v)`, then the deepest
/// point of the upper cap `t + r v`, or if that is not within the margin the far point `b - r v`.
/// Resting flat this gives 4 points spread on the rim; lying on the side it gives 2.
pub fn plane_cylinder(
    pl: &Pose,
    pc: &Pose,
    r: f64,
    h: f64,
    margin: f64,
    out: &mut Vec<ContactPoint>,
) {
    let n = normal_of(pl);
    let mut a = pc.rot.column(2).into_owned();
    let mut flip = 1i8;
    if a.dot(&n) < 0.0 {
        a = -a;
        flip = -1;
    }
    // a now points away from the plane: bottom cap at -h a.
    let bottom = pc.pos - a * h;
    let top = pc.pos + a * h;
    let mut v = -(n - a * a.dot(&n));
    let vn = v.norm();
    let fixed_v = vn <= 1e-9;
    if !fixed_v {
        v /= vn;
    } else {
        v = pc.rot.column(0).into_owned();
    }
    // Feature of rim point `dir` on the `top` cap (body-fixed when `v` is the fallback axis).
    let feat = |top: bool, dir: u8, p: &Vec3| {
        if fixed_v {
            fp(pc.rot.transpose() * (p - pc.pos), 0.0)
        } else {
            FeatureKind::PlaneRim { flip, top, dir }
        }
    };
    let w = a.cross(&v);
    let depth = |x: &Vec3| n.dot(&(x - pl.pos));
    let p1 = bottom + v * r;
    let p2 = bottom + w * r;
    let p3 = bottom - w * r;
    let p4 = top + v * r;
    let p5 = bottom - v * r;
    for (dir, p) in [(0u8, p1), (1, p2), (2, p3)] {
        emit2(out, margin, p, n, depth(&p), feat(false, dir, &p));
    }
    if h > 0.0 && depth(&p4) < margin {
        emit2(out, margin, p4, n, depth(&p4), feat(true, 0, &p4));
    } else {
        emit2(out, margin, p5, n, depth(&p5), feat(false, 3, &p5));
    }
}

/// Plane-convex: hull vertices with `dist < margin`; if more than 4, keeps the deepest, then the
/// one farthest from it along the plane, then the two farthest on either side of that line.
pub fn plane_convex(
    pl: &Pose,
    ph: &Pose,
    hull: &ConvexHull,
    margin: f64,
    out: &mut Vec<ContactPoint>,
) {
    let n = normal_of(pl);
    let world = |i: usize| ph.apply(&hull.vertices[i]);
    let depth = |x: &Vec3| n.dot(&(x - pl.pos));
    let mut count = 0;
    let mut deepest = usize::MAX;
    let mut dmin = f64::INFINITY;
    for i in 0..hull.vertices.len() {
        let d = depth(&world(i));
        if d < margin {
            count += 1;
            if d < dmin {
                dmin = d;
                deepest = i;
            }
        }
    }
    if count == 0 {
        return;
    }
    if count <= 4 {
        for i in 0..hull.vertices.len() {
            let x = world(i);
            emit2(out, margin, x, n, depth(&x), fp(hull.vertices[i], 0.0));
        }
        return;
    }
    let x0 = world(deepest);
    let tangential = |x: &Vec3| {
        let d = x - x0;
        d - n * n.dot(&d)
    };
    // Farthest from the deepest point, in the plane.
    let mut i1 = deepest;
    let mut best = -1.0;
    for i in 0..hull.vertices.len() {
        let x = world(i);
        if depth(&x) < margin {
            let t = tangential(&x).norm_squared();
            if t > best {
                best = t;
                i1 = i;
            }
        }
    }
    let x1 = world(i1);
    let e = x1 - x0;
    let (mut i2, mut i3) = (usize::MAX, usize::MAX);
    let (mut a2, mut a3) = (0.0, 0.0);
    for i in 0..hull.vertices.len() {
        let x = world(i);
        if depth(&x) < margin {
            let s = n.dot(&e.cross(&(x - x0)));
            if s > a2 {
                a2 = s;
                i2 = i;
            }
            if s < a3 {
                a3 = s;
                i3 = i;
            }
        }
    }
    for i in [deepest, i1, i2, i3] {
        if i != usize::MAX && (i != i1 || i1 != deepest) {
            let x = world(i);
            emit2(out, margin, x, n, depth(&x), fp(hull.vertices[i], 0.0));
        }
    }
}

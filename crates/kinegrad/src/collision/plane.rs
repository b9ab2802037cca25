//! Plane against every other shape. The plane is shape 1: normals are the plane's `+z` axis.
//!
//! Each contact is a point of shape 2 (sphere/capsule surface point, box corner, cylinder rim
//! point, hull vertex) with `dist = n . (x - plane_origin)` (minus the radius for round shapes).

use super::{emit2, ContactPoint, ConvexHull, FeatureKind, IncPoint, RefFace};
use crate::math::{Pose, Vec3};
use std::cell::RefCell;

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

/// Plane-ellipsoid: 1 contact, the ellipsoid's deepest point along minus the plane normal (as
/// MuJoCo's `mjc_PlaneConvex`; [`FeatureKind::PlaneEllipsoid`]).
pub fn plane_ellipsoid(
    pl: &Pose,
    pe: &Pose,
    semi: &Vec3,
    margin: f64,
    out: &mut Vec<ContactPoint>,
) {
    let n = normal_of(pl);
    let x = pe.apply(&super::gjk::ellipsoid_support(
        semi,
        &(pe.rot.transpose() * -n),
    ));
    let d = n.dot(&(x - pl.pos));
    emit2(out, margin, x, n, d, FeatureKind::PlaneEllipsoid);
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
    // the +axis end first, as MuJoCo's mjc_PlaneCapsule
    let ends: &[f64] = if h > 0.0 { &[1.0, -1.0] } else { &[0.0] };
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
    // MuJoCo's `mjc_PlaneCylinder`: the deepest rim point of the near cap (none of the others
    // without it), the same on the far cap, and two points of the near cap's rim at 120 degrees
    // from the first
    let p1 = bottom + v * r;
    if !emit2(out, margin, p1, n, depth(&p1), feat(false, 0, &p1)) {
        return;
    }
    let p2 = top + v * r;
    emit2(out, margin, p2, n, depth(&p2), feat(true, 0, &p2));
    let (c, s) = (-0.5, 0.75f64.sqrt());
    let (p3, p4) = (bottom + (v * c + w * s) * r, bottom + (v * c - w * s) * r);
    if depth(&p3) < margin {
        emit2(out, margin, p3, n, depth(&p3), feat(false, 4, &p3));
        emit2(out, margin, p4, n, depth(&p4), feat(false, 5, &p4));
    }
}

thread_local! {
    // Per-thread scratch of [`plane_convex`]: a visit stamp per hull vertex, the epoch, and the
    // vertices within the margin (reused, so steady-state steps do not allocate).
    static BELOW: RefCell<(Vec<u32>, u32, Vec<u32>)> = const { RefCell::new((Vec::new(), 0, Vec::new())) };
}

/// The hull vertices within `margin` of the plane (`depth < margin`), ascending, into `list`.
/// The deepest vertex is found by the hull's hill climb; with none within the margin the list
/// stays empty. Otherwise the others are collected by a walk over hull edges from it: the
/// vertices of a convex polytope on one side of a plane induce a connected subgraph of its
/// edges (every vertex but the lowest has a lower neighbour), so the walk meets them all while
/// touching only them and their neighbours.
fn vertices_below(
    hull: &ConvexHull,
    depth: impl Fn(usize) -> f64,
    down: &Vec3,
    margin: f64,
    list: &mut Vec<u32>,
    stamp: &mut Vec<u32>,
    epoch: &mut u32,
) {
    list.clear();
    let (_, i0) = hull.support_idx(down);
    if i0 == u32::MAX || depth(i0 as usize) >= margin {
        return;
    }
    if hull.neighbors.len() != hull.vertices.len() {
        list.extend((0..hull.vertices.len() as u32).filter(|&i| depth(i as usize) < margin));
        return;
    }
    if stamp.len() < hull.vertices.len() || *epoch == u32::MAX {
        stamp.clear();
        stamp.resize(hull.vertices.len(), 0);
        *epoch = 0;
    }
    *epoch += 1;
    let e = *epoch;
    stamp[i0 as usize] = e;
    list.push(i0);
    let mut k = 0;
    while k < list.len() {
        for &nb in &hull.neighbors[list[k] as usize] {
            if stamp[nb as usize] != e {
                stamp[nb as usize] = e;
                if depth(nb as usize) < margin {
                    list.push(nb);
                }
            }
        }
        k += 1;
    }
    list.sort_unstable();
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
    BELOW.with(|b| {
        let (stamp, epoch, list) = &mut *b.borrow_mut();
        let n = normal_of(pl);
        let world = |i: usize| ph.apply(&hull.vertices[i]);
        let down = ph.rot.transpose() * (-n);
        vertices_below(
            hull,
            |i| n.dot(&(world(i) - pl.pos)),
            &down,
            margin,
            list,
            stamp,
            epoch,
        );
        plane_convex_of(pl, ph, hull, margin, list, out);
    });
}

/// [`plane_convex`] over the hull vertices within the margin, `below` (ascending).
fn plane_convex_of(
    pl: &Pose,
    ph: &Pose,
    hull: &ConvexHull,
    margin: f64,
    below: &[u32],
    out: &mut Vec<ContactPoint>,
) {
    let n = normal_of(pl);
    let world = |i: usize| ph.apply(&hull.vertices[i]);
    let depth = |x: &Vec3| n.dot(&(x - pl.pos));
    let mut deepest = usize::MAX;
    let mut dmin = f64::INFINITY;
    for &i in below {
        let d = depth(&world(i as usize));
        if d < dmin {
            dmin = d;
            deepest = i as usize;
        }
    }
    if below.is_empty() {
        return;
    }
    if below.len() <= 4 {
        for &i in below {
            let x = world(i as usize);
            emit2(
                out,
                margin,
                x,
                n,
                depth(&x),
                fp(hull.vertices[i as usize], 0.0),
            );
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
    for &i in below {
        let (i, x) = (i as usize, world(i as usize));
        let t = tangential(&x).norm_squared();
        if t > best {
            best = t;
            i1 = i;
        }
    }
    let x1 = world(i1);
    let e = x1 - x0;
    let (mut i2, mut i3) = (usize::MAX, usize::MAX);
    let (mut a2, mut a3) = (0.0, 0.0);
    for &i in below {
        let (i, x) = (i as usize, world(i as usize));
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
    for i in [deepest, i1, i2, i3] {
        if i != usize::MAX && (i != i1 || i1 != deepest) {
            let x = world(i);
            emit2(out, margin, x, n, depth(&x), fp(hull.vertices[i], 0.0));
        }
    }
}

//! Box-box, as MuJoCo's `mjc_BoxBox`: a separating-axis test over the 15 candidate axes (3 + 3
//! face normals, 9 edge cross products) picks the axis of largest separation, then
//! * face axis: the incident face of the other box (most anti-parallel to the reference normal)
//!   is clipped against the reference face rectangle; every clipped vertex within the margin is
//!   a contact (up to 8, near-duplicates dropped), with `dist` measured along the reference
//!   normal;
//! * edge-edge axis: 1 contact midway between the closest points of the two supporting edges.
//!
//! An edge axis wins when it separates better than every face axis by a relative `1e-6`, unless
//! it lies within about 8 degrees of the best face axis and beats it by less than 5% of the
//! face's depth (then the face's manifold is kept). One deliberate difference: on a tie within
//! a relative 1e-9 between a face of A and a face of B, A's face is the reference.

use super::{
    emit1, emit2, sgn, BoxPlane, ContactPoint, Feature, FeatureKind, IncPoint, RefFace, MINVAL,
};
use crate::math::dual::{self, Real};
use crate::math::{Pose, Vec3};

/// Slack of the separation tests, times the summed half sizes (MuJoCo's `mjBOXBOX_SEPEPS`).
const SEPEPS: f64 = 1e-13;
/// `sin^2` of the angle below which two edges are parallel (`mjBOXBOX_PAREPS`).
const PAREPS: f64 = 1e-16;
/// Axis component below which a supporting corner is ambiguous (`mjBOXBOX_SGNEPS`).
const SGNEPS: f64 = 1e-9;
/// Squared relative radius within which clipped vertices are duplicates (`mjBOXBOX_DUPEPS`).
const DUPEPS: f64 = 1e-14;
/// Relative handicap of edge axes against face axes (`mjBOXBOX_EDGEBIAS`).
const EDGEBIAS: f64 = 1e-6;

#[derive(Clone, Copy, PartialEq)]
enum Axis {
    FaceA(usize),
    FaceB(usize),
    Edge(usize, usize),
}

/// Closest points of the edges `c1 + s d1`, `|s| <= h1`, and `c2 + t d2`, `|t| <= h2` (unit
/// directions), as MuJoCo's box-box finds them: `s` from the lines (0 when parallel), clamped;
/// `t` for that `s`, clamped; `s` again for that `t`, clamped. `path` gives the clamps to take
/// (the reverse pass replays the forward pass's) or `None` to decide them; returns the two
/// points and the clamps taken (`s`'s first state 0 free, 1 at `-h1`, 2 at `+h1`, 3 parallel;
/// then `t`'s and `s`'s final state 0 free, 1 at the lower, 2 at the upper end).
pub(crate) fn edge_witnesses<T: Real>(
    (c1, d1, h1): (&[T; 3], &[T; 3], f64),
    (c2, d2, h2): (&[T; 3], &[T; 3], f64),
    path: Option<[u8; 3]>,
) -> ([T; 3], [T; 3], [u8; 3]) {
    let e = dual::sub(c2, c1);
    let (d1e, d2e, b) = (dual::dot(d1, &e), dual::dot(d2, &e), dual::dot(d1, d2));
    let denom = T::c(1.0) - b * b;
    let mut taken = [0u8; 3];
    // clamp `x` to `[-h, h]` as recorded in `taken[k]` (or decide it)
    let mut clamp = |x: T, h: f64, k: usize| {
        let state = match path {
            Some(p) => p[k] % 3,
            None if x.v() < -h => 1,
            None if x.v() > h => 2,
            None => 0,
        };
        taken[k] = state;
        match state {
            1 => T::c(-h),
            2 => T::c(h),
            _ => x,
        }
    };
    let parallel = match path {
        Some(p) => p[0] == 3,
        None => denom.v() < MINVAL,
    };
    let s = if parallel {
        T::c(0.0)
    } else {
        clamp((d1e - b * d2e) / denom, h1, 0)
    };
    let t = clamp(b * s - d2e, h2, 1);
    let s = clamp(d1e + b * t, h1, 2);
    if parallel {
        taken[0] = 3;
    }
    let p1 = std::array::from_fn(|k| c1[k] + d1[k] * s);
    let p2 = std::array::from_fn(|k| c2[k] + d2[k] * t);
    (p1, p2, taken)
}

/// Box-box: up to 8 contacts (face) or 1 (edge-edge).
#[allow(clippy::needless_range_loop)] // axis indices are meaningful here
pub fn box_box(
    p1: &Pose,
    h1: &Vec3,
    p2: &Pose,
    h2: &Vec3,
    margin: f64,
    out: &mut Vec<ContactPoint>,
) {
    let a: [Vec3; 3] = [0, 1, 2].map(|k| p1.rot.column(k).into_owned());
    let b: [Vec3; 3] = [0, 1, 2].map(|k| p2.rot.column(k).into_owned());
    let d = p2.pos - p1.pos;
    // in box 1's frame: B's axes (rot[r][c] = component r of B's axis c), B's centre; A's
    // centre in B's frame
    let rot: [[f64; 3]; 3] = std::array::from_fn(|r| std::array::from_fn(|c| a[r].dot(&b[c])));
    let pos21: [f64; 3] = std::array::from_fn(|k| a[k].dot(&d));
    let pos12: [f64; 3] = std::array::from_fn(|k| -b[k].dot(&d));
    let septol = margin + SEPEPS * (h1.sum() + h2.sum());
    let mut best_s = f64::NEG_INFINITY;
    let mut best = Axis::FaceA(0);
    for i in 0..3 {
        let rb: f64 = (0..3).map(|k| rot[i][k].abs() * h2[k]).sum();
        let s = pos21[i].abs() - h1[i] - rb;
        if s > septol {
            return;
        }
        if s > best_s {
            (best_s, best) = (s, Axis::FaceA(i));
        }
    }
    for j in 0..3 {
        let ra: f64 = (0..3).map(|k| rot[k][j].abs() * h1[k]).sum();
        let s = pos12[j].abs() - h2[j] - ra;
        if s > septol {
            return;
        }
        // B's face must beat A's by a relative 1e-9 where MuJoCo's takes any excess: equal boxes
        // resting face to face tie exactly, and MuJoCo's choice then follows rounding noise
        // from step to step (and within a finite difference); kinegrad keeps A's
        if s > best_s + 1e-9 * (1.0 + best_s.abs()) {
            (best_s, best) = (s, Axis::FaceB(j));
        }
    }
    let (face_s, face) = (best_s, best);
    // the edge axis (A's axis i x B's axis j) in box 1's frame, unit, or None when parallel
    let edge_axis = |i: usize, j: usize| {
        let (i1, i2) = ((i + 1) % 3, (i + 2) % 3);
        let mut l = [0.0; 3];
        (l[i1], l[i2]) = (-rot[i2][j], rot[i1][j]);
        let n2 = l[i1] * l[i1] + l[i2] * l[i2];
        (n2 >= PAREPS).then(|| l.map(|x| x / n2.sqrt()))
    };
    for i in 0..3 {
        for j in 0..3 {
            let Some(l) = edge_axis(i, j) else {
                continue;
            };
            let (i1, i2) = ((i + 1) % 3, (i + 2) % 3);
            let (j1, j2) = ((j + 1) % 3, (j + 2) % 3);
            let ra = h1[i1] * l[i1].abs() + h1[i2] * l[i2].abs();
            let lb = |c: usize| l[i1] * rot[i1][c] + l[i2] * rot[i2][c];
            let rb = h2[j1] * lb(j1).abs() + h2[j2] * lb(j2).abs();
            let s = (l[i1] * pos21[i1] + l[i2] * pos21[i2]).abs() - ra - rb;
            if s > septol {
                return;
            }
            if s - EDGEBIAS * s.abs() > best_s && s > face_s {
                (best_s, best) = (s, Axis::Edge(i, j));
            }
        }
    }
    // an edge axis within ~8 degrees of the best face axis that beats it by less than 5% of
    // its depth gives way to the face's manifold
    if let Axis::Edge(i, j) = best {
        let l = edge_axis(i, j).expect("a winning edge axis is not parallel");
        let along = match face {
            Axis::FaceA(f) => l[f].abs(),
            Axis::FaceB(f) => (l[0] * rot[0][f] + l[1] * rot[1][f] + l[2] * rot[2][f]).abs(),
            Axis::Edge(..) => unreachable!("the face axis is a face"),
        };
        if along > 0.99 && best_s < face_s + 0.05 * face_s.abs() + MINVAL {
            best = face;
        }
    }
    match best {
        Axis::FaceA(i) => {
            let n = if pos21[i] >= 0.0 { a[i] } else { -a[i] };
            face_contacts(&p1.pos, &a, h1, i, &p2.pos, &b, h2, &n, margin, true, out)
        }
        Axis::FaceB(j) => {
            let n = if pos12[j] >= 0.0 { b[j] } else { -b[j] };
            face_contacts(&p2.pos, &b, h2, j, &p1.pos, &a, h1, &n, margin, false, out)
        }
        Axis::Edge(i, j) => edge_contact(p1, &a, h1, i, p2, &b, h2, j, margin, out),
    }
}

/// The edge-edge contact of A's axis `i` and B's axis `j` (the separating axis): the supporting
/// edges (both corners tried where an axis component is within `SGNEPS` of zero, the closer
/// pair kept), their closest points ([`edge_witnesses`]), the contact midway between them.
#[allow(clippy::too_many_arguments)]
fn edge_contact(
    p1: &Pose,
    a: &[Vec3; 3],
    h1: &Vec3,
    i: usize,
    p2: &Pose,
    b: &[Vec3; 3],
    h2: &Vec3,
    j: usize,
    margin: f64,
    out: &mut Vec<ContactPoint>,
) {
    let l = a[i].cross(&b[j]).normalize();
    let nsign: i8 = if l.dot(&(p2.pos - p1.pos)) < 0.0 {
        -1
    } else {
        1
    };
    let n = l * nsign as f64;
    let (i1, i2) = ((i + 1) % 3, (i + 2) % 3);
    let (j1, j2) = ((j + 1) % 3, (j + 2) % 3);
    let (na, nb) = (a.map(|x| n.dot(&x)), b.map(|x| n.dot(&x)));
    let ambiguous =
        |c: &[f64; 3], k1: usize, k2: usize| [k1, k2].into_iter().find(|&k| c[k].abs() < SGNEPS);
    let (amb1, amb2) = (ambiguous(&na, i1, i2), ambiguous(&nb, j1, j2));
    let arr = |v: &Vec3| [v.x, v.y, v.z];
    // the closest pair of supporting edges: squared gap, corners, clamps, closest points
    struct Pick {
        gap2: f64,
        ca: [i8; 3],
        cb: [i8; 3],
        path: [u8; 3],
        q1: Vec3,
        q2: Vec3,
    }
    let mut best: Option<Pick> = None;
    for v1 in 0..1 + amb1.is_some() as usize {
        for v2 in 0..1 + amb2.is_some() as usize {
            // A's corner supports +n, B's supports -n (an ambiguous sign flipped on the retry)
            let mut ca = [0i8; 3];
            let mut cb = [0i8; 3];
            for k in [i1, i2] {
                ca[k] = if na[k] >= 0.0 { 1 } else { -1 };
            }
            for k in [j1, j2] {
                cb[k] = if nb[k] >= 0.0 { -1 } else { 1 };
            }
            if let (Some(k), 1) = (amb1, v1) {
                ca[k] = -ca[k];
            }
            if let (Some(k), 1) = (amb2, v2) {
                cb[k] = -cb[k];
            }
            let la = Vec3::from_fn(|k, _| ca[k] as f64 * h1[k]);
            let lb = Vec3::from_fn(|k, _| cb[k] as f64 * h2[k]);
            let (q1, q2, path) = edge_witnesses(
                (&arr(&p1.apply(&la)), &arr(&a[i]), h1[i]),
                (&arr(&p2.apply(&lb)), &arr(&b[j]), h2[j]),
                None,
            );
            let (q1, q2) = (Vec3::from(q1), Vec3::from(q2));
            let gap2 = (q2 - q1).norm_squared();
            if best.as_ref().is_none_or(|b| gap2 < b.gap2) {
                best = Some(Pick {
                    gap2,
                    ca,
                    cb,
                    path,
                    q1,
                    q2,
                });
            }
        }
    }
    let Some(Pick {
        ca,
        cb,
        path,
        q1,
        q2,
        ..
    }) = best
    else {
        return;
    };
    let dist = n.dot(&(q2 - q1));
    // (MuJoCo also drops it beyond its slackened margin, which this implies)
    if dist >= margin {
        return;
    }
    out.push(ContactPoint {
        pos: (q1 + q2) * 0.5,
        normal: n,
        dist,
        feature: Feature {
            swapped: false,
            kind: FeatureKind::BoxEdges {
                i: i as u8,
                j: j as u8,
                ca,
                cb,
                nsign,
                path,
            },
        },
    });
}

/// Reference face `i` of box R (centre `cr`, axes `r`, half sizes `hr`) with outward normal
/// `nr` (pointing towards the incident box I). Clips I's face most anti-parallel to `nr`.
/// `r_is_1`: whether R is shape 1 (then the contact normal is `nr`, else `-nr`).
#[allow(clippy::too_many_arguments)]
fn face_contacts(
    cr: &Vec3,
    r: &[Vec3; 3],
    hr: &Vec3,
    i: usize,
    ci: &Vec3,
    ax: &[Vec3; 3],
    hi: &Vec3,
    nr: &Vec3,
    margin: f64,
    r_is_1: bool,
    out: &mut Vec<ContactPoint>,
) {
    // Incident face.
    let mut j = 0;
    for k in 1..3 {
        if ax[k].dot(nr).abs() > ax[j].dot(nr).abs() {
            j = k;
        }
    }
    let sj = -sgn(ax[j].dot(nr));
    let fc = ci + ax[j] * (sj * hi[j]);
    let (u, v) = ((j + 1) % 3, (j + 2) % 3);
    let mut poly = [Vec3::zeros(); 8];
    let mut tmp = [Vec3::zeros(); 8];
    // Each polygon vertex as the intersection of three box planes (None: not tracked).
    type Tag = Option<[BoxPlane; 3]>;
    let bp = |on_ref: bool, axis: usize, sign: f64| BoxPlane {
        on_ref,
        axis: axis as u8,
        sign: sign as i8,
    };
    let mut tags: [Tag; 8] = [None; 8];
    let mut ttmp: [Tag; 8] = [None; 8];
    // The line shared by two tagged vertices, cut by plane `p`.
    let cut_tag = |t0: &Tag, t1: &Tag, p: BoxPlane| -> Tag {
        let (t0, t1) = (t0.as_ref()?, t1.as_ref()?);
        let mut common = [p; 3];
        let mut nc = 0;
        for x in t0.iter().filter(|x| t1.contains(x)) {
            common[nc] = *x;
            nc += 1;
        }
        (nc == 2).then(|| [common[0], common[1], p])
    };
    let mut np = 4;
    for (k, (su, sv)) in [(1.0, 1.0), (-1.0, 1.0), (-1.0, -1.0), (1.0, -1.0)]
        .into_iter()
        .enumerate()
    {
        poly[k] = fc + ax[u] * (su * hi[u]) + ax[v] * (sv * hi[v]);
        tags[k] = Some([bp(false, j, sj), bp(false, u, su), bp(false, v, sv)]);
    }
    // Reference face centre and clipping half-planes.
    let rc = cr + nr * hr[i];
    for k in [(i + 1) % 3, (i + 2) % 3] {
        for s in [1.0, -1.0] {
            let m = r[k] * s;
            let lim = hr[k];
            let f = |x: &Vec3| m.dot(&(x - rc)) - lim;
            let mut nt = 0;
            for q in 0..np {
                let x0 = poly[q];
                let x1 = poly[(q + 1) % np];
                let (d0, d1) = (f(&x0), f(&x1));
                if d0 <= 0.0 && nt < 8 {
                    tmp[nt] = x0;
                    ttmp[nt] = tags[q];
                    nt += 1;
                }
                // (an edge ending on the plane is not cut: its end is kept on its own)
                if ((d0 < 0.0 && d1 > 0.0) || (d0 > 0.0 && d1 < 0.0)) && nt < 8 {
                    tmp[nt] = x0 + (x1 - x0) * (d0 / (d0 - d1));
                    ttmp[nt] = cut_tag(&tags[q], &tags[(q + 1) % np], bp(true, k, s));
                    nt += 1;
                }
            }
            poly[..nt].copy_from_slice(&tmp[..nt]);
            tags[..nt].copy_from_slice(&ttmp[..nt]);
            np = nt;
            if np == 0 {
                return;
            }
        }
    }
    let face = RefFace::Box {
        axis: i as u8,
        sign: if nr.dot(&r[i]) > 0.0 { 1 } else { -1 },
    };
    // vertices closer than a relative 1e-7 to a kept one (clipping at a corner) are dropped
    let (ru, rv) = (r[(i + 1) % 3], r[(i + 2) % 3]);
    let dupe2 = DUPEPS * (hr[(i + 1) % 3].powi(2) + hr[(i + 2) % 3].powi(2));
    let mut kept = [Vec3::zeros(); 8];
    let mut nkept = 0;
    for (x, tag) in poly[..np].iter().zip(&tags[..np]) {
        let dist = nr.dot(&(x - rc));
        if dist >= margin {
            continue;
        }
        if kept[..nkept]
            .iter()
            .any(|y| ru.dot(&(x - y)).powi(2) + rv.dot(&(x - y)).powi(2) < dupe2)
        {
            continue;
        }
        kept[nkept] = *x;
        nkept += 1;
        let kind = match tag {
            Some(t) => FeatureKind::FacePoint {
                ref_is_a: r_is_1,
                face,
                point: IncPoint::Planes(*t),
                radius: 0.0,
            },
            None => FeatureKind::Unknown,
        };
        if r_is_1 {
            emit2(out, margin, *x, *nr, dist, kind);
        } else {
            emit1(out, margin, *x, -nr, dist, kind);
        }
    }
}

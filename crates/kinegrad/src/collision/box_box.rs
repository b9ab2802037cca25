//! Box-box: separating-axis test over the 15 candidate axes (3 + 3 face normals, 9 edge
//! cross products), then
//! * face axis: the incident face of the other box (most anti-parallel to the reference normal)
//!   is clipped against the reference face rectangle; every clipped vertex below the margin is a
//!   contact (up to 8), with `dist` measured along the reference normal;
//! * edge-edge axis: 1 contact at the closest points of the two supporting edges.
//!
//! Face axes are preferred over edge axes unless an edge axis separates noticeably better
//! (5% of the depth), which keeps resting contacts on the face manifold (as ODE's dBoxBox does).

use super::{
    closest_seg_seg, emit1, emit2, sgn, BoxPlane, ContactPoint, FeatureKind, IncPoint, RefFace,
};
use crate::math::{Pose, Vec3};

#[derive(Clone, Copy)]
enum Axis {
    FaceA(usize),
    FaceB(usize),
    Edge(usize, usize),
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
    let a: [Vec3; 3] = [
        p1.rot.column(0).into(),
        p1.rot.column(1).into(),
        p1.rot.column(2).into(),
    ];
    let b: [Vec3; 3] = [
        p2.rot.column(0).into(),
        p2.rot.column(1).into(),
        p2.rot.column(2).into(),
    ];
    let d = p2.pos - p1.pos;
    let proj = |l: &Vec3| -> f64 {
        let ra: f64 = (0..3).map(|k| h1[k] * l.dot(&a[k]).abs()).sum();
        let rb: f64 = (0..3).map(|k| h2[k] * l.dot(&b[k]).abs()).sum();
        l.dot(&d).abs() - ra - rb
    };
    let mut best_s = f64::NEG_INFINITY;
    let mut best = Axis::FaceA(0);
    let mut best_l = a[0];
    for i in 0..3 {
        let s = proj(&a[i]);
        if s > margin {
            return;
        }
        if s > best_s {
            best_s = s;
            best = Axis::FaceA(i);
            best_l = a[i];
        }
    }
    for j in 0..3 {
        let s = proj(&b[j]);
        if s > margin {
            return;
        }
        // Prefer A's faces on ties (strict, relative tolerance).
        if s > best_s + 1e-9 * (1.0 + best_s.abs()) {
            best_s = s;
            best = Axis::FaceB(j);
            best_l = b[j];
        }
    }
    let face_s = best_s;
    let scale = h1.norm() + h2.norm();
    for i in 0..3 {
        for j in 0..3 {
            let l = a[i].cross(&b[j]);
            let len = l.norm();
            if len < 1e-6 {
                continue;
            }
            let l = l / len;
            let s = proj(&l);
            if s > margin {
                return;
            }
            if s > best_s && s > face_s + 0.05 * face_s.abs() + 1e-9 * scale {
                best_s = s;
                best = Axis::Edge(i, j);
                best_l = l;
            }
        }
    }
    let n = if best_l.dot(&d) >= 0.0 {
        best_l
    } else {
        -best_l
    };
    match best {
        Axis::FaceA(i) => face_contacts(&p1.pos, &a, h1, i, &p2.pos, &b, h2, &n, margin, true, out),
        Axis::FaceB(j) => {
            face_contacts(&p2.pos, &b, h2, j, &p1.pos, &a, h1, &-n, margin, false, out)
        }
        Axis::Edge(i, j) => {
            // Supporting edge of A in direction n, of B in direction -n.
            let mut ca = p1.pos;
            let mut sa = [-1i8; 3];
            for k in 0..3 {
                if k != i {
                    ca += a[k] * (sgn(n.dot(&a[k])) * h1[k]);
                    sa[k] = sgn(n.dot(&a[k])) as i8;
                }
            }
            let mut cb = p2.pos;
            let mut sb = [-1i8; 3];
            for k in 0..3 {
                if k != j {
                    cb -= b[k] * (sgn(n.dot(&b[k])) * h2[k]);
                    sb[k] = -sgn(n.dot(&b[k])) as i8;
                }
            }
            let signs = (sa, sb);
            let sa = ca - a[i] * h1[i];
            let sb = cb - b[j] * h2[j];
            let (s, t) =
                closest_seg_seg(&sa, &(a[i] * (2.0 * h1[i])), &sb, &(b[j] * (2.0 * h2[j])));
            let qa = sa + a[i] * (2.0 * h1[i] * s);
            let qb = sb + b[j] * (2.0 * h2[j] * t);
            let end = |x: f64| {
                if x <= 0.0 {
                    -1
                } else if x >= 1.0 {
                    1
                } else {
                    0
                }
            };
            let kind = FeatureKind::BoxEdges {
                i: i as u8,
                j: j as u8,
                ca: signs.0,
                cb: signs.1,
                nsign: if n == best_l { 1 } else { -1 },
                ends: [end(s), end(t)],
            };
            emit1(out, margin, qa, n, n.dot(&(qb - qa)), kind);
        }
    }
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
                if (d0 <= 0.0) != (d1 <= 0.0) && nt < 8 {
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
    for (x, tag) in poly[..np].iter().zip(&tags[..np]) {
        let dist = nr.dot(&(x - rc));
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

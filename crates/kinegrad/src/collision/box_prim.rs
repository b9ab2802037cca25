//! Sphere-box and capsule-box.

use super::{emit2, sgn, ContactPoint, Core, Feature, FeatureKind, IncPoint, RefFace, MINVAL};
use crate::math::dual::{self, Real};
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

/// `|x|` on any [`Real`].
fn abs<T: Real>(x: T) -> T {
    if x.v() < 0.0 {
        -x
    } else {
        x
    }
}

/// The branches a rule took, packed as digits (`push(digit, radix)`): two evaluations with the
/// same signature are the same smooth function of the poses.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Sig(u64);

impl Sig {
    fn push(&mut self, digit: usize, radix: usize) {
        debug_assert!(digit < radix);
        self.0 = self.0.wrapping_mul(radix as u64).wrapping_add(digit as u64);
    }
    /// The first smallest of `xs` (by value), its index recorded.
    fn min<T: Real, const N: usize>(&mut self, xs: [T; N]) -> T {
        let mut k = 0;
        for i in 1..N {
            if xs[i].v() < xs[k].v() {
                k = i;
            }
        }
        self.push(k, N);
        xs[k]
    }
}

/// A ball (centre `c`, radius `r`) against a box of half sizes `half` at the origin, both in the
/// box's frame, as MuJoCo's sphere-box: `(point, normal from the ball to the box, distance)`.
/// Outside: the normal joins the centre to its closest box point, the point is midway between
/// that box point and the ball's deepest point. Centre inside (within `mjMINVAL` of the surface):
/// pushed out through the nearest face, the first of `-x, +x, -y, +y, -z, +z` on ties.
/// The clamp pattern or the face is pushed on `sig`.
fn ball_box_local<T: Real>(c: &[T; 3], r: f64, half: &[f64; 3], sig: &mut Sig) -> Ball<T> {
    let mut code = 0;
    let clamped: [T; 3] = std::array::from_fn(|k| {
        code *= 3;
        if c[k].v() < -half[k] {
            code += 1;
            T::c(-half[k])
        } else if c[k].v() > half[k] {
            code += 2;
            T::c(half[k])
        } else {
            c[k]
        }
    });
    let gap = dual::sub(&clamped, c);
    let len2 = dual::dot(&gap, &gap);
    if len2.v().sqrt() <= MINVAL {
        let mut best = 2.0 * (half[0] + half[1] + half[2]);
        let mut face = 0;
        for f in 0..6 {
            let s = if f % 2 == 1 { 1.0 } else { -1.0 };
            let d = (s * half[f / 2] - c[f / 2].v()).abs();
            if best > d {
                best = d;
                face = f;
            }
        }
        sig.push(27 + face, 33);
        let (k, s) = (face / 2, if face % 2 == 1 { 1.0 } else { -1.0 });
        let closest = abs(T::c(s * half[k]) - c[k]);
        let mut n = [T::c(0.0); 3];
        n[k] = T::c(-s);
        let pos = std::array::from_fn(|i| c[i] + n[i] * (T::c(r) - closest) * T::c(0.5));
        return (pos, n, -closest - T::c(r));
    }
    sig.push(code, 33);
    let len = len2.sqrt();
    let n = dual::scale(&gap, T::c(1.0) / len);
    let pos = std::array::from_fn(|i| (clamped[i] + c[i] + n[i] * T::c(r)) * T::c(0.5));
    (pos, n, len - T::c(r))
}

/// The points of a capsule's segment at which MuJoCo's capsule-box collision places its one or
/// two balls: segment parameters in `[-1, 1]` (`-1`, `+1` the ends). `pos` and `axis` are the
/// capsule's centre and unit axis in the box's frame, `h` its half length, `r` its radius.
///
/// The first is the segment's point closest to the box: an end closest to a face, or the
/// closest point of the segment to one of the 12 edges. The second, when the capsule is not
/// pointing at the box, is a "sensible" second point MuJoCo's rule walks to along the segment:
/// to the other end, or to where the segment leaves the box's extent (across the face the
/// first point touches, or along the edge it touches). `None` when no point was found. The
/// branches taken are pushed on `sig`.
fn capsule_box_params<T: Real>(
    pos: &[T; 3],
    axis: &[T; 3],
    (r, h): (f64, f64),
    half: &[f64; 3],
    margin: f64,
    sig: &mut Sig,
) -> Option<(T, Option<T>)> {
    let hax = dual::scale(axis, T::c(h));
    // bit k: the half axis points to +k; an axis and its opposite are the same segment
    let axisdir = (0..3)
        .filter(|&k| hax[k].v() > 0.0)
        .map(|k| 1 << k)
        .sum::<usize>();
    let far = margin + 2.0 * (r + h + half[0] + half[1] + half[2]);
    let mut best = far;
    let mut t1 = T::c(0.0);
    // what is closest: an end to a face (the end, the face's axis or none if the end is inside)
    // or an edge (axis j, corner bits, the edge parameter's clamp code 0/1/2 and the parameter,
    // and which of the clamping formulas gave the two parameters)
    enum Closest<T> {
        None,
        End {
            t: f64,
            face: Option<usize>,
        },
        Edge {
            j: usize,
            corner: usize,
            s1: u8,
            x1: T,
            path: usize,
        },
    }
    let mut closest = Closest::None;
    for t in [-1.0, 1.0] {
        let p: [T; 3] = std::array::from_fn(|k| pos[k] + hax[k] * T::c(t));
        let (mut clamps, mut face) = (0, None);
        let mut d2 = 0.0;
        for k in 0..3 {
            let v = p[k].v();
            let q = v.clamp(-half[k], half[k]);
            if q != v {
                clamps += 1;
                face = Some(k);
            }
            d2 += (q - v) * (q - v);
        }
        if clamps <= 1 && d2 < best {
            best = d2;
            t1 = T::c(t);
            closest = Closest::End { t, face };
        }
    }
    for j in 0..3 {
        for corner in (0..8).filter(|i| i & (1 << j) == 0) {
            // the edge along axis j through the corner, at `mid + x1 half[j] e_j`, x1 in [-1, 1]
            let mid: [f64; 3] = std::array::from_fn(|k| {
                if k == j {
                    0.0
                } else if corner & (1 << k) != 0 {
                    half[k]
                } else {
                    -half[k]
                }
            });
            let dif: [T; 3] = std::array::from_fn(|k| T::c(mid[k]) - pos[k]);
            let ma = half[j] * half[j];
            let mb = -hax[j] * T::c(half[j]);
            let mc = h * h;
            let u = -dif[j] * T::c(half[j]);
            let v = dual::dot(&hax, &dif);
            let det = T::c(ma * mc) - mb * mb;
            if det.v().abs() < MINVAL {
                continue;
            }
            let mut x1 = (u * T::c(mc) - mb * v) / det;
            let mut x2 = (v * T::c(ma) - mb * u) / det;
            let mut s1 = 1u8;
            let mut path = 0;
            if x1.v() > 1.0 {
                (x1, s1, x2, path) = (T::c(1.0), 2, (v - mb) / T::c(mc), 1);
            } else if x1.v() < -1.0 {
                (x1, s1, x2, path) = (T::c(-1.0), 0, (v + mb) / T::c(mc), 2);
            }
            // the segment clamped: the edge parameter again, clamped (its code kept if inside)
            let reclamp = |x: T, s1: &mut u8, path: &mut usize| {
                if x.v() > 1.0 {
                    (*s1, *path) = (2, *path + 3);
                    T::c(1.0)
                } else if x.v() < -1.0 {
                    (*s1, *path) = (0, *path + 6);
                    T::c(-1.0)
                } else {
                    x
                }
            };
            if x2.v() > 1.0 {
                (x2, path) = (T::c(1.0), 9 * path + 27);
                x1 = reclamp((u - mb) / T::c(ma), &mut s1, &mut path);
            } else if x2.v() < -1.0 {
                (x2, path) = (T::c(-1.0), 9 * path + 54);
                x1 = reclamp((u + mb) / T::c(ma), &mut s1, &mut path);
            }
            let mut e: [T; 3] = std::array::from_fn(|k| dif[k] - hax[k] * x2);
            e[j] = e[j] + x1 * T::c(half[j]);
            let d2 = dual::dot(&e, &e).v();
            // (MuJoCo's slack against an axis numerically parallel to the box)
            if d2 < best - MINVAL {
                best = d2;
                t1 = x2;
                let upper = if s1 == 2 { 1 << j } else { 0 };
                closest = Closest::Edge {
                    j,
                    corner: corner + upper,
                    s1,
                    x1,
                    path,
                };
            }
        }
    }
    match closest {
        Closest::None => return None,
        Closest::End { t, face } => {
            sig.push((t > 0.0) as usize, 2);
            sig.push(face.map_or(0, |f| f + 1), 4);
        }
        Closest::Edge {
            j, corner, path, ..
        } => {
            sig.push(2 + j, 5);
            sig.push(corner, 8);
            sig.push(path, 81);
        }
    }
    let one = T::c(1.0);
    // how far along the segment, in parameter units, a move of `len` along box axis k takes
    let span = |len: T, k: usize| len / abs(hax[k]);
    let second = match closest {
        Closest::None => None,
        // the box's closest point is a corner
        Closest::Edge { corner, s1, .. } if s1 != 1 => {
            let mut rel = axisdir ^ corner;
            if rel == 0 || rel == 7 {
                // the capsule points at (or away from) the corner: no second point
                None
            } else {
                let (mul, de, dp) = if [1, 2, 4].contains(&rel) {
                    (1.0, one - t1, one + t1)
                } else {
                    rel = 7 - rel;
                    (-1.0, one + t1, one - t1)
                };
                let ax = rel.trailing_zeros() as usize;
                let (ax1, ax2) = ((ax + 1) % 3, (ax + 2) % 3);
                if (axis[ax] * axis[ax]).v() > 0.5 {
                    // along the corner's edge, to the segment's end or the edge's other corner
                    Some(sig.min([de, span(T::c(2.0 * half[ax]), ax)]) * T::c(mul))
                } else {
                    // across a face
                    let spans = [ax1, ax2].map(|k| span(T::c(2.0 * half[k]), k));
                    Some(sig.min([dp, spans[0], spans[1]]) * T::c(-mul))
                }
            }
        }
        // the box's closest point is inside an edge
        Closest::Edge { j, corner, x1, .. } => {
            let rel = (axisdir ^ corner) & (7 - (1 << j));
            if ![1, 2, 4].contains(&rel) {
                // a T: the capsule crosses the edge square on; no second point
                None
            } else {
                let ax = j;
                let (mut ax1, mut ax2) = ((j + 1) % 3, (j + 2) % 3);
                // the face with which the capsule makes the smaller angle
                if axis[ax1].v().abs() > axis[ax2].v().abs() {
                    ax1 = ax2;
                }
                ax2 = 3 - ax - ax1;
                let up = rel & (1 << ax2) != 0;
                let (mul, to_end) = if up {
                    (1.0, one - t1)
                } else {
                    (-1.0, one + t1)
                };
                let along = if (axisdir & (1 << ax) != 0) == up {
                    one - x1
                } else {
                    one + x1
                };
                let spans = [
                    span(T::c(2.0 * half[ax2]), ax2),
                    span(along * T::c(half[ax]), ax),
                ];
                Some(sig.min([to_end, spans[0], spans[1]]) * T::c(mul))
            }
        }
        // an end is closest, inside the box (no second point) or over a face
        Closest::End { face: None, .. } => None,
        Closest::End { t, face: Some(f) } => {
            let mul = -t;
            let end: [T; 3] = std::array::from_fn(|k| pos[k] - hax[k] * T::c(mul));
            // to the other end, or to where the segment first leaves another slab of the box
            let (mut s, mut won) = (T::c(2.0), 0);
            for k in (0..3).filter(|&k| k != f) {
                for (i, side) in [half[k], -half[k]].into_iter().enumerate() {
                    let e = (T::c(side) - end[k]) / hax[k] * T::c(mul);
                    if e.v() > 0.0 && e.v() < s.v() {
                        (s, won) = (e, 1 + 2 * k + i);
                    }
                }
            }
            sig.push(won, 7);
            Some(s * T::c(mul))
        }
    };
    sig.push(second.is_some() as usize, 2);
    Some((t1, second.map(|s| t1 + s)))
}

/// A ball contact: `(point, normal, distance)`.
pub(crate) type Ball<T> = ([T; 3], [T; 3], T);

/// MuJoCo's capsule-box contacts ([`capsule_box_params`]) in world coordinates, on any
/// [`Real`]: capsule centre `c` and unit axis `a`, box centre `bp` and rotation columns `bcols`.
/// For the first and the second segment point: its ball against the box (not filtered by
/// `margin`, which only bounds the search as MuJoCo's), with the signature of the branches that
/// produced it.
#[allow(clippy::too_many_arguments)]
pub(crate) fn capsule_box_balls<T: Real>(
    c: &[T; 3],
    a: &[T; 3],
    bp: &[T; 3],
    bcols: &[[T; 3]; 3],
    r: f64,
    h: f64,
    half: &[f64; 3],
    margin: f64,
) -> [Option<(Ball<T>, u64)>; 2] {
    let rel = dual::sub(c, bp);
    let pos = bcols.map(|col| dual::dot(&col, &rel));
    let axis = bcols.map(|col| dual::dot(&col, a));
    let mut sig = Sig::default();
    // a capsule without length is a ball (MuJoCo's rule, finding no edge of a zero segment,
    // would miss a ball off an edge or a corner)
    let params = if h > 0.0 {
        capsule_box_params(&pos, &axis, (r, h), half, margin, &mut sig)
    } else {
        Some((T::c(0.0), None))
    };
    let Some((t1, t2)) = params else {
        return [None, None];
    };
    let ball = |t: T| {
        let centre: [T; 3] = std::array::from_fn(|k| pos[k] + axis[k] * T::c(h) * t);
        let mut s = sig;
        let (p, n, d) = ball_box_local(&centre, r, half, &mut s);
        let world = |x: &[T; 3], o: &[T; 3]| -> [T; 3] {
            std::array::from_fn(|i| {
                o[i] + bcols[0][i] * x[0] + bcols[1][i] * x[1] + bcols[2][i] * x[2]
            })
        };
        ((world(&p, bp), world(&n, &[T::c(0.0); 3]), d), s.0)
    };
    [Some(ball(t1)), t2.map(ball)]
}

/// Capsule-box, as MuJoCo's: one or two contacts, each a ball on the capsule's segment against
/// the box ([`capsule_box_params`] places them).
pub fn capsule_box(
    pc: &Pose,
    r: f64,
    h: f64,
    pb: &Pose,
    half: &Vec3,
    margin: f64,
    out: &mut Vec<ContactPoint>,
) {
    let arr = |v: &Vec3| [v.x, v.y, v.z];
    let cols = [0, 1, 2].map(|k| arr(&pb.rot.column(k).into_owned()));
    let balls = capsule_box_balls(
        &arr(&pc.pos),
        &arr(&pc.rot.column(2).into_owned()),
        &arr(&pb.pos),
        &cols,
        r,
        h,
        &arr(half),
        margin,
    );
    for (k, ball) in balls.into_iter().enumerate() {
        let Some(((p, n, dist), branch)) = ball else {
            continue;
        };
        if dist < margin {
            out.push(ContactPoint {
                pos: Vec3::from(p),
                normal: Vec3::from(n),
                dist,
                feature: Feature {
                    swapped: false,
                    kind: FeatureKind::CapsuleBox {
                        second: k == 1,
                        branch,
                    },
                },
            });
        }
    }
}

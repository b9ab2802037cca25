//! VJPs of contact geometry (point, normal, distance) with respect to the two geom poses,
//! the contact feature held fixed, and of the contact made from it
//! ([`crate::collision::detect::contact`]: frame, friction mixing) → [`contact_vjp`].
//!
//! Every [`ContactPoint`] records its [`Feature`](crate::collision::Feature): which corner,
//! face, edge, segment end or rim point produced it. For a fixed feature the contact is a
//! smooth function of the two poses; [`contact_point_vjp`] re-evaluates that function in
//! forward-mode dual numbers (12 tangents: a rigid twist of each geom), which gives exact
//! derivatives (no finite differences), and contracts them with the output adjoints.
//!
//! Pose adjoints are wrenches at the world origin (see [`crate::adjoint`]): if geom `i` moves by
//! the twist `xi_i = [w; v_O]` (`x -> x + v_O + w x x`, `R -> (I + [w]x) R`), then
//! `dL = <xi_1, W_1> + <xi_2, W_2>` with `dL = pos_bar . dpos + normal_bar . dnormal +
//! dist_bar * ddist`.
//!
//! # Exact features
//! * [`FeatureKind::FacePoint`]: plane-sphere, plane-capsule (segment ends), plane-box (corners),
//!   plane-convex (hull vertices), plane-cylinder resting upright (body-fixed rim points),
//!   sphere/capsule-end centre inside a box (face), box-box face contacts (incident corners,
//!   incident edges cut by reference side planes, reference side edges cut by the incident face:
//!   each the intersection of three box planes).
//! * [`FeatureKind::PlaneRim`]: plane-cylinder rim points (the rim point slides with the plane).
//! * [`FeatureKind::PlaneEllipsoid`]: the ellipsoid's support point along minus the plane
//!   normal (it slides on the surface as either geom turns).
//! * [`FeatureKind::Balls`]: sphere-sphere, sphere-capsule (end or interior of the axis),
//!   capsule-capsule (ends, end-interior, interior-interior, and the parallel 2-contact case),
//!   sphere-box and capsule-box end balls outside the box (closest box point, any clamp pattern).
//! * [`FeatureKind::BoxEdges`]: box-box edge-edge contacts (MuJoCo's closest points of the
//!   two edges, each clamp it took replayed).
//! * [`FeatureKind::Poly`]: single GJK/EPA contacts of polyhedral or round cores (box, convex
//!   hull, sphere centre, capsule segment) other than cylinders: box-convex, convex-convex,
//!   sphere-convex, capsule-convex and the generic capsule-box contact. The supporting vertices
//!   of the final GJK simplex / EPA face are recorded: vertex-vertex, vertex-edge, vertex-face,
//!   face-vertex or edge-edge.
//! * [`FeatureKind::FacePoint`] with [`RefFace::Verts`]: the face-clipping manifolds of those
//!   pairs (a flat box/hull face or a capsule side resting on a hull face, a hull on a box
//!   face): reference plane through three core vertices; incident hull vertex / box corner /
//!   capsule end (+ radius), incident edge cut by a reference side plane, or reference corner
//!   projected on the incident face. A cylinder cap is clipped as an octagon whose corners are
//!   body-fixed rim points (core vertices `k + 8 top` of the cylinder), so the cap manifolds
//!   (a cylinder standing on a box/hull face or on another cap, a box/hull resting on a cap)
//!   are exact with the same features. A cylinder lying on its side on a face: the side line
//!   through the two rim points deepest along minus the reference normal ([`IncPoint::Rim`]
//!   ends) cut by reference side planes ([`IncPoint::RimSide`]).
//!
//! * [`FeatureKind::FaceFace`] and [`FeatureKind::FacePoint`] with [`RefFace::Verts`] from
//!   MuJoCo's polytope multi-contact of box/hull pairs without margins
//!   ([`crate::collision::multiccd`]): a point of B's face clipped by A's face (incident
//!   vertex, edge cut by a side plane, or A's corner projected on B's face), measured between
//!   the two face planes with B's face normal; an edge lying in a face clipped by its sides.
//! * [`FeatureKind::SegmentFace`]: the same clipping of a capsule's segment lying in a hull's
//!   face (MuJoCo 4.0's radius rule: the point `v - r (n - (n . a) a)`).
//!
//! * Cylinders against non-planes (single GJK/EPA contact, recomputed exactly in
//!   [`crate::collision::convex`] when the GJK/EPA result matches): a box face, hull face or
//!   cylinder cap against a core vertex + radius (`FacePoint` with `Local`) or a cylinder rim
//!   point (`FacePoint` with [`IncPoint::Rim`]), the point projecting inside the face; the
//!   cylinder side against a core vertex (`Balls(ProjOther, Fixed)`) or a capsule/cylinder axis
//!   interior (`Balls(LineLine, LineLine)`) or a box/hull edge interior (`Balls` with
//!   [`Core::EdgeLine`]: closest points of the edge line and the axis line, the edge not passing
//!   within `0.05 r` of the axis); a core vertex (sphere centre, capsule end, box corner, hull
//!   vertex, + radius) beyond a cap and outside the radius against the rim circle (`Balls` with
//!   [`Core::RimNear`]: the rim point nearest the vertex); a line against the rim circle: a
//!   capsule segment interior or another cylinder's side (`Balls` with [`Core::OnAxis`] and
//!   `RimNear`) or a box/hull edge interior ([`Core::OnEdge`] and `RimNear`), the stationary
//!   point of the line-circle distance (no closed form: Newton's method in `f64` from the
//!   forward contact, then one Newton step in dual numbers, which gives the exact implicit
//!   derivatives); a rim against another cylinder's rim (`RimNear` on both: the stationary
//!   point of the circle-circle distance, the same way in the two angles).
//! * [`FeatureKind::BallsCrossed`]: the same two-ball cylinder contacts when the centres have
//!   crossed (deep overlaps: an edge or axis past the cylinder axis, a line or vertex past the
//!   rim into the cylinder): normal from B's centre to A's, `dist = -|c1 - c2| - r1 - r2`.
//!
//! # Fallback ([`FeatureKind::Unknown`])
//! Contacts of an ellipsoid with anything but a plane (single GJK/EPA contacts on a curved
//! surface). Contacts involving a cylinder (against a plane it is exact): an edge through (within
//! `0.05 r` of) the cylinder axis (ill-conditioned radial normal), deep penetrations whose
//! minimal translation is none of the exact kinds above, stationary points where Newton's
//! method does not converge or is singular, and the two-contact manifold of a cylinder side
//! parallel to a box/hull edge, a capsule segment or another side line. Generally: GJK/EPA
//! results whose simplex is not a generic feature pair (parallel edges/faces) or where EPA
//! returned its support upper bound, manifold points whose clipping provenance is not tracked
//! (degenerate clipping), the two-contact parallel-edge manifolds of the general convex pairs,
//! and degenerate configurations (coincident ball centres) carry no feature. For them, and for
//! any contact whose recorded feature does not reproduce it (a safety check, relative 1e-7),
//! the VJP uses this first-order model, stated here so that nothing is silently wrong:
//! * the normal rotates with geom 1: `dn = w_1 x n`;
//! * the point moves with the average of the two bodies' motions at the point:
//!   `dpos = (v_1(pos) + v_2(pos)) / 2`, `v_i(x) = v_O,i + w_i x x`;
//! * `ddist = n . (v_2(pos) - v_1(pos))` (the normal gap rate). For a single GJK/EPA contact of
//!   polyhedral or round cores this is exact for translations of either geom (the gradient of
//!   the signed distance with respect to a translation is the normal); it is an approximation
//!   for rotations, for the point and normal, and for clipped manifold points (which slide along
//!   incident edges).

use super::kinematics::PosAdjoint;
use crate::collision::box_box::edge_witnesses;
use crate::collision::box_prim::capsule_box_balls;
use crate::collision::contact_frame_axis;
use crate::collision::gjk::core_vertex;
use crate::collision::{BoxPlane, ContactPoint, Core, FeatureKind, IncPoint, RefFace, Shape};
use crate::data::{Contact, Data};
use crate::detect::geom_shape;
use crate::detect::pair_tangent;
use crate::math::dual::Dual;
use crate::math::{Force, Mat3, Motion, Pose, Vec3};
use crate::model::{Model, Params};
use std::ops::{Add, Div, Mul, Neg, Sub};

/// Number of tangents carried: a 6-twist per geom.
const NT: usize = 12;

/// Dual number with `NT` tangents.
#[derive(Clone, Copy, Debug)]
struct J {
    v: f64,
    d: [f64; NT],
}

impl J {
    fn c(v: f64) -> J {
        J { v, d: [0.0; NT] }
    }
    fn sin(self) -> J {
        let c = self.v.cos();
        J {
            v: self.v.sin(),
            d: self.d.map(|x| x * c),
        }
    }
    fn cos(self) -> J {
        let s = -self.v.sin();
        J {
            v: self.v.cos(),
            d: self.d.map(|x| x * s),
        }
    }
    fn sqrt(self) -> J {
        let s = self.v.sqrt();
        let k = 0.5 / s;
        J {
            v: s,
            d: self.d.map(|x| x * k),
        }
    }
}

impl Add for J {
    type Output = J;
    fn add(self, o: J) -> J {
        let mut d = self.d;
        for (x, y) in d.iter_mut().zip(o.d) {
            *x += y;
        }
        J { v: self.v + o.v, d }
    }
}
impl Sub for J {
    type Output = J;
    fn sub(self, o: J) -> J {
        self + (-o)
    }
}
impl Neg for J {
    type Output = J;
    fn neg(self) -> J {
        J {
            v: -self.v,
            d: self.d.map(|x| -x),
        }
    }
}
impl Mul for J {
    type Output = J;
    fn mul(self, o: J) -> J {
        let mut d = [0.0; NT];
        for (k, x) in d.iter_mut().enumerate() {
            *x = self.d[k] * o.v + self.v * o.d[k];
        }
        J { v: self.v * o.v, d }
    }
}
impl Mul<f64> for J {
    type Output = J;
    fn mul(self, s: f64) -> J {
        J {
            v: self.v * s,
            d: self.d.map(|x| x * s),
        }
    }
}
impl Div for J {
    type Output = J;
    fn div(self, o: J) -> J {
        let inv = 1.0 / o.v;
        let q = self.v * inv;
        let mut d = [0.0; NT];
        for (k, x) in d.iter_mut().enumerate() {
            *x = (self.d[k] - q * o.d[k]) * inv;
        }
        J { v: q, d }
    }
}

/// 3-vector of duals.
#[derive(Clone, Copy, Debug)]
struct V([J; 3]);

impl V {
    fn c(x: &Vec3) -> V {
        V([J::c(x.x), J::c(x.y), J::c(x.z)])
    }
    fn val(&self) -> Vec3 {
        Vec3::new(self.0[0].v, self.0[1].v, self.0[2].v)
    }
    /// Tangent `k` as a vector.
    fn tan(&self, k: usize) -> Vec3 {
        Vec3::new(self.0[0].d[k], self.0[1].d[k], self.0[2].d[k])
    }
    fn dot(&self, o: &V) -> J {
        self.0[0] * o.0[0] + self.0[1] * o.0[1] + self.0[2] * o.0[2]
    }
    fn cross(&self, o: &V) -> V {
        let (a, b) = (&self.0, &o.0);
        V([
            a[1] * b[2] - a[2] * b[1],
            a[2] * b[0] - a[0] * b[2],
            a[0] * b[1] - a[1] * b[0],
        ])
    }
    fn norm(&self) -> J {
        self.dot(self).sqrt()
    }
    fn scale(&self, s: J) -> V {
        V(self.0.map(|x| x * s))
    }
}
impl Add for V {
    type Output = V;
    fn add(self, o: V) -> V {
        V([self.0[0] + o.0[0], self.0[1] + o.0[1], self.0[2] + o.0[2]])
    }
}
impl Sub for V {
    type Output = V;
    fn sub(self, o: V) -> V {
        V([self.0[0] - o.0[0], self.0[1] - o.0[1], self.0[2] - o.0[2]])
    }
}
impl Neg for V {
    type Output = V;
    fn neg(self) -> V {
        V(self.0.map(|x| -x))
    }
}
impl Mul<f64> for V {
    type Output = V;
    fn mul(self, s: f64) -> V {
        V(self.0.map(|x| x * s))
    }
}

/// A vector of duals as the `[T; 3]` of the routines written once on [`crate::math::dual::Real`].
fn to_dual(x: &V) -> [Dual<NT>; 3] {
    x.0.map(|j| Dual { v: j.v, d: j.d })
}

/// The inverse of [`to_dual`].
fn from_dual(x: [Dual<NT>; 3]) -> V {
    V(x.map(|j| J { v: j.v, d: j.d }))
}

/// A pose carrying tangents: `x -> x + v_O + w x x`, `R -> [w]x R` per seeded slot.
struct JPose {
    pos: V,
    col: [V; 3],
}

impl JPose {
    /// Seed: `slots[(k, xi)]` puts the derivative along twist `xi` in tangent `k`.
    fn seed(p: &Pose, slots: &[(usize, Motion)]) -> JPose {
        let mut pos = V::c(&p.pos);
        let mut col = [0, 1, 2].map(|c| V::c(&p.rot.column(c).into_owned()));
        for &(k, xi) in slots {
            let dp = xi.point_velocity(&p.pos);
            for i in 0..3 {
                pos.0[i].d[k] = dp[i];
            }
            for (c, cv) in col.iter_mut().enumerate() {
                let dc = xi.ang.cross(&p.rot.column(c).into_owned());
                for i in 0..3 {
                    cv.0[i].d[k] = dc[i];
                }
            }
        }
        JPose { pos, col }
    }
    /// `R l` for a constant local vector.
    fn rot(&self, l: &Vec3) -> V {
        self.col[0] * l.x + self.col[1] * l.y + self.col[2] * l.z
    }
    /// `R l` for a dual local vector.
    fn rot_v(&self, l: &V) -> V {
        self.col[0].scale(l.0[0]) + self.col[1].scale(l.0[1]) + self.col[2].scale(l.0[2])
    }
    /// `R l + p`.
    fn apply(&self, l: &Vec3) -> V {
        self.rot(l) + self.pos
    }
    /// `R^T (x - p)`.
    fn to_local(&self, x: &V) -> V {
        let d = *x - self.pos;
        V([
            self.col[0].dot(&d),
            self.col[1].dot(&d),
            self.col[2].dot(&d),
        ])
    }
}

/// Radius around the core of a ball contact (a cylinder's side: around its axis).
fn ball_radius(s: &Shape) -> f64 {
    match *s {
        Shape::Sphere { radius }
        | Shape::Capsule { radius, .. }
        | Shape::Cylinder { radius, .. } => radius,
        _ => 0.0,
    }
}

fn box_half(s: &Shape) -> Option<Vec3> {
    match *s {
        Shape::Box { half } => Some(half),
        _ => None,
    }
}

fn unit(axis: u8, s: f64) -> Vec3 {
    let mut e = Vec3::zeros();
    e[axis as usize] = s;
    e
}

/// Closest points of the lines `p1 + s d1` and `p2 + t d2` (non-parallel).
fn line_line(p1: &V, d1: &V, p2: &V, d2: &V) -> (V, V) {
    let r = *p1 - *p2;
    let a = d1.dot(d1);
    let e = d2.dot(d2);
    let b = d1.dot(d2);
    let c = d1.dot(&r);
    let f = d2.dot(&r);
    let den = a * e - b * b;
    let s = (b * f - c * e) / den;
    let t = (b * s + f) / e;
    (*p1 + d1.scale(s), *p2 + d2.scale(t))
}

/// Projection of `x` on the axis line (local z) of `p`.
fn on_axis(p: &JPose, x: &V) -> V {
    let a = p.col[2];
    p.pos + a.scale(a.dot(&(*x - p.pos)))
}

/// A ball centre that does not depend on the other one.
fn core_indep(c: &Core, me: &JPose, other: &JPose) -> Option<V> {
    match c {
        Core::Fixed(l) => Some(me.apply(l)),
        Core::ProjOther(l) => Some(on_axis(me, &other.apply(l))),
        _ => None,
    }
}

/// A ball centre that depends on the other centre `x`.
fn core_dep(c: &Core, me: &JPose, shape: &Shape, x: &V) -> Option<V> {
    match c {
        Core::OnAxis => Some(on_axis(me, x)),
        Core::RimNear { top } => {
            let Shape::Cylinder {
                radius,
                half_length,
            } = *shape
            else {
                return None;
            };
            let a = me.col[2];
            let z = if *top { half_length } else { -half_length };
            let c = me.pos + a * z;
            let rel = *x - c;
            let perp = rel - a.scale(a.dot(&rel));
            Some(c + perp.scale(J::c(radius) / perp.norm()))
        }
        Core::BoxClamp(code) => {
            let half = box_half(shape)?;
            let mut y = me.to_local(x);
            for k in 0..3 {
                if code[k] != 0 {
                    y.0[k] = J::c(code[k] as f64 * half[k]);
                }
            }
            Some(me.rot_v(&y) + me.pos)
        }
        _ => None,
    }
}

/// Mutually dependent ball centres on two rim circles (`RimNear` on both cylinders): the
/// stationary point of their distance with angles (in each cylinder's frame) nearest those of
/// `hint`, found in `f64` by Newton's method ([`crate::collision::circle_circle`]), then one
/// Newton step in dual numbers (exact implicit derivatives).
fn rim_rim(
    c1: &Core,
    a: &JPose,
    sa: &Shape,
    c2: &Core,
    b: &JPose,
    sb: &Shape,
    hint: &Vec3,
) -> Option<(V, V)> {
    let (
        Core::RimNear { top: t1 },
        Core::RimNear { top: t2 },
        Shape::Cylinder {
            radius: r1,
            half_length: h1,
        },
        Shape::Cylinder {
            radius: r2,
            half_length: h2,
        },
    ) = (*c1, *c2, *sa, *sb)
    else {
        return None;
    };
    let ca = a.pos + a.col[2] * if t1 { h1 } else { -h1 };
    let cb = b.pos + b.col[2] * if t2 { h2 } else { -h2 };
    let v = |x: &V| x.val();
    let ang = |c: &V, p: &JPose| {
        let rel = hint - c.val();
        p.col[1].val().dot(&rel).atan2(p.col[0].val().dot(&rel))
    };
    let (t, inv) = crate::collision::circle_circle(
        [&v(&ca), &v(&cb)],
        [
            (&v(&a.col[0]), &v(&a.col[1])),
            (&v(&b.col[0]), &v(&b.col[1])),
        ],
        [r1, r2],
        [ang(&ca, a), ang(&cb, b)],
    )?;
    // g in duals at the converged angles, then t1 = t - J^-1 g.
    let at = |c: &V, p: &JPose, r: f64, t: J| {
        let (s, co) = (t.sin(), t.cos());
        (
            *c + (p.col[0].scale(co) + p.col[1].scale(s)) * r,
            (p.col[1].scale(co) - p.col[0].scale(s)) * r,
        )
    };
    let (y1, d1) = at(&ca, a, r1, J::c(t[0]));
    let (y2, d2) = at(&cb, b, r2, J::c(t[1]));
    let w = y2 - y1;
    let g = [w.dot(&d1), -w.dot(&d2)];
    let tj = [
        J::c(t[0]) - g[0] * inv[0][0] - g[1] * inv[0][1],
        J::c(t[1]) - g[0] * inv[1][0] - g[1] * inv[1][1],
    ];
    Some((at(&ca, a, r1, tj[0]).0, at(&cb, b, r2, tj[1]).0))
}

/// Rim point of the cylinder `i` (upper cap if `top`) deepest along minus the reference normal
/// `nw`: `c + z a + r u`, `u = -(nw - a (a.nw)) / |.|`.
fn rim_point(i: &JPose, si: &Shape, nw: &V, top: bool) -> Option<V> {
    let Shape::Cylinder {
        radius,
        half_length,
    } = *si
    else {
        return None;
    };
    let ax = i.col[2];
    let perp = *nw - ax.scale(ax.dot(nw));
    let u = perp.scale(J::c(-radius) / perp.norm());
    let z = if top { half_length } else { -half_length };
    Some(i.pos + ax * z + u)
}

/// The two ball centres of a [`FeatureKind::Balls`] / [`FeatureKind::BallsCrossed`] feature.
fn ball_centres(
    c1: &Core,
    sa: &Shape,
    a: &JPose,
    c2: &Core,
    sb: &Shape,
    b: &JPose,
    hint: &Vec3,
) -> Option<(V, V)> {
    let edge = |p: &JPose, sh: &Shape, e: &[u32; 2]| -> Option<(V, V)> {
        let x0 = p.apply(&core_vertex(sh, e[0])?);
        let x1 = p.apply(&core_vertex(sh, e[1])?);
        Some((x0, x1 - x0))
    };
    Some(match (c1, c2) {
        (Core::LineLine, Core::LineLine) => line_line(&a.pos, &a.col[2], &b.pos, &b.col[2]),
        (Core::EdgeLine(e), Core::LineLine) => {
            let (x0, d) = edge(a, sa, e)?;
            line_line(&x0, &d, &b.pos, &b.col[2])
        }
        (Core::LineLine, Core::EdgeLine(e)) => {
            let (x0, d) = edge(b, sb, e)?;
            line_line(&a.pos, &a.col[2], &x0, &d)
        }
        _ => match core_indep(c1, a, b) {
            Some(q1) => {
                let q2 = core_indep(c2, b, a).or_else(|| core_dep(c2, b, sb, &q1))?;
                (q1, q2)
            }
            None => match core_indep(c2, b, a) {
                Some(q2) => (core_dep(c1, a, sa, &q2)?, q2),
                None => match rim_line(c1, a, sa, c2, b, sb, hint) {
                    Some(q) => q,
                    None => match rim_line(c2, b, sb, c1, a, sa, hint) {
                        Some((q2, q1)) => (q1, q2),
                        None => rim_rim(c1, a, sa, c2, b, sb, hint)?,
                    },
                },
            },
        },
    })
}

/// Mutually dependent ball centres: the line of `cl` on `lp` (`OnAxis`: the axis line,
/// `OnEdge`: an edge line) and the rim circle `RimNear` of the cylinder `rp`, at the stationary
/// point of their distance nearest `hint` (the forward contact point). The stationary point is
/// found in `f64` by Newton's method ([`crate::collision::line_circle`]), then one Newton step
/// in dual numbers from it gives the exact derivatives (implicit function theorem: `dt =
/// -f_theta / f_t`). Returns `(rim point, line point)`.
fn rim_line(
    cr: &Core,
    rp: &JPose,
    rs: &Shape,
    cl: &Core,
    lp: &JPose,
    ls: &Shape,
    hint: &Vec3,
) -> Option<(V, V)> {
    let Core::RimNear { top } = *cr else {
        return None;
    };
    let Shape::Cylinder {
        radius,
        half_length,
    } = *rs
    else {
        return None;
    };
    let (p, d) = match cl {
        Core::OnAxis => (lp.pos, lp.col[2]),
        Core::OnEdge(e) => {
            let x0 = lp.apply(&core_vertex(ls, e[0])?);
            (x0, lp.apply(&core_vertex(ls, e[1])?) - x0)
        }
        _ => return None,
    };
    let a = rp.col[2];
    let c = rp.pos + a * if top { half_length } else { -half_length };
    let (pv, dv) = (p.val(), d.val());
    let t0 = dv.dot(&(hint - pv)) / dv.dot(&dv);
    let (t, ft) = crate::collision::line_circle(&pv, &dv, &c.val(), &a.val(), radius, t0)?;
    // f(t) = d . (R(L(t)) - L(t)) in duals at the converged t, then t1 = t - f / f'.
    let x = p + d * t;
    let y = core_dep(cr, rp, rs, &x)?;
    let f = d.dot(&(y - x));
    let t1 = J::c(t) - f * (1.0 / ft);
    let x = p + d.scale(t1);
    let y = core_dep(cr, rp, rs, &x)?;
    Some((y, x))
}

/// Intersection of three box planes (world), `r`/`i` the reference/incident boxes.
fn planes_point(t: &[BoxPlane; 3], r: (&JPose, &Shape), i: (&JPose, &Shape)) -> Option<V> {
    let mut n = [V::c(&Vec3::zeros()); 3];
    let mut d = [J::c(0.0); 3];
    for (k, p) in t.iter().enumerate() {
        let (pose, shape) = if p.on_ref { r } else { i };
        let half = box_half(shape)?;
        let m = pose.rot(&unit(p.axis, p.sign as f64));
        d[k] = m.dot(&pose.pos) + J::c(half[p.axis as usize]);
        n[k] = m;
    }
    let c12 = n[1].cross(&n[2]);
    let c20 = n[2].cross(&n[0]);
    let c01 = n[0].cross(&n[1]);
    let det = n[0].dot(&c12);
    if det.v.abs() < 1e-9 {
        return None;
    }
    let num = c12.scale(d[0]) + c20.scale(d[1]) + c01.scale(d[2]);
    Some(V(num.0.map(|x| x / det)))
}

/// Contact (pos, normal A->B, dist) of a recorded feature in the routine's order, as duals.
fn eval_feature(
    kind: &FeatureKind,
    sa: &Shape,
    a: &JPose,
    sb: &Shape,
    b: &JPose,
    hint: &Vec3,
) -> Option<(V, V, J)> {
    match kind {
        FeatureKind::Unknown => None,
        FeatureKind::FacePoint {
            ref_is_a,
            face,
            point,
            radius,
        } => {
            let (r, sr, i, si) = if *ref_is_a {
                (a, sa, b, sb)
            } else {
                (b, sb, a, sa)
            };
            let (nl, ol) = match (face, sr) {
                (RefFace::Plane, Shape::Plane) => (Vec3::z(), Vec3::zeros()),
                (RefFace::Box { axis, sign }, Shape::Box { half }) => {
                    let s = *sign as f64;
                    (unit(*axis, s), unit(*axis, s * half[*axis as usize]))
                }
                (RefFace::CylCap { top }, Shape::Cylinder { half_length: h, .. }) => {
                    let s = if *top { 1.0 } else { -1.0 };
                    (Vec3::new(0.0, 0.0, s), Vec3::new(0.0, 0.0, s * h))
                }
                (RefFace::Verts(v), _) => {
                    let p0 = core_vertex(sr, v[0])?;
                    let nl = (core_vertex(sr, v[1])? - p0).cross(&(core_vertex(sr, v[2])? - p0));
                    (nl.try_normalize(1e-300)?, p0)
                }
                _ => return None,
            };
            let nw = r.rot(&nl);
            let ow = r.apply(&ol);
            let x = match point {
                IncPoint::Local(l) => i.apply(l),
                IncPoint::Planes(t) => planes_point(t, (r, sr), (i, si))?,
                IncPoint::Rim { top } => rim_point(i, si, &nw, *top)?,
                IncPoint::RimSide { side } => {
                    let x0 = rim_point(i, si, &nw, false)?;
                    let x1 = rim_point(i, si, &nw, true)?;
                    let s0 = r.apply(&core_vertex(sr, side[0])?);
                    let s1 = r.apply(&core_vertex(sr, side[1])?);
                    let sn = (s1 - s0).cross(&nw);
                    let (f0, f1) = (sn.dot(&(x0 - s0)), sn.dot(&(x1 - s0)));
                    x0 + (x1 - x0).scale(f0 / (f0 - f1))
                }
                IncPoint::EdgeSide { inc, side } => {
                    let x0 = i.apply(&core_vertex(si, inc[0])?);
                    let x1 = i.apply(&core_vertex(si, inc[1])?);
                    let s0 = r.apply(&core_vertex(sr, side[0])?);
                    let s1 = r.apply(&core_vertex(sr, side[1])?);
                    let sn = (s1 - s0).cross(&nw);
                    let (f0, f1) = (sn.dot(&(x0 - s0)), sn.dot(&(x1 - s0)));
                    x0 + (x1 - x0).scale(f0 / (f0 - f1))
                }
                IncPoint::CornerFace { corner, face } => {
                    let c = r.apply(&core_vertex(sr, *corner)?);
                    let f0 = i.apply(&core_vertex(si, face[0])?);
                    let f1 = i.apply(&core_vertex(si, face[1])?);
                    let f2 = i.apply(&core_vertex(si, face[2])?);
                    let nf = (f1 - f0).cross(&(f2 - f0));
                    c + nw.scale(nf.dot(&(f0 - c)) / nf.dot(&nw))
                }
            };
            let dist = nw.dot(&(x - ow)) - J::c(*radius);
            let pos = x - nw.scale(J::c(*radius) + dist * 0.5);
            let normal = if *ref_is_a { nw } else { -nw };
            Some((pos, normal, dist))
        }
        FeatureKind::SegmentFace { face, point } => {
            let Shape::Capsule { radius, .. } = *sa else {
                return None;
            };
            // the segment point and its height over B's face, then the radius along the part
            // of the face normal across the axis
            let (v, n, d0) = point_over_face(*face, false, point, (sa, a), (sb, b), hint)?;
            let ax = a.col[2];
            let x1 = v - (n - ax.scale(n.dot(&ax))) * radius;
            let dist = d0 - (J::c(1.0) - n.dot(&ax) * n.dot(&ax)) * radius;
            Some((x1 - n.scale(dist * 0.5), -n, dist))
        }
        FeatureKind::CapsuleBox { second, branch } => {
            let (
                Shape::Capsule {
                    radius,
                    half_length,
                },
                Shape::Box { half },
            ) = (*sa, *sb)
            else {
                return None;
            };
            // the rule itself on duals: at the forward pass's poses it takes the same branches
            let balls = capsule_box_balls(
                &to_dual(&a.pos),
                &to_dual(&a.col[2]),
                &to_dual(&b.pos),
                &b.col.map(|c| to_dual(&c)),
                radius,
                half_length,
                &[half.x, half.y, half.z],
                f64::INFINITY,
            );
            let ((p, n, d), sig) = balls[*second as usize]?;
            if sig != *branch {
                return None;
            }
            Some((from_dual(p), from_dual(n), J { v: d.v, d: d.d }))
        }
        FeatureKind::FaceFace {
            face_a,
            face_b,
            point,
        } => {
            // the clipped point and its depth d0 along A's face normal, then B's face normal:
            // x1 = v - d0 n on A's plane, x2 its projection on B's plane
            let (x, nw, dist) = point_over_face(*face_a, true, point, (sa, a), (sb, b), hint)?;
            let q0 = b.apply(&core_vertex(sb, face_b[0])?);
            let q1 = b.apply(&core_vertex(sb, face_b[1])?);
            let q2 = b.apply(&core_vertex(sb, face_b[2])?);
            let m = (q1 - q0).cross(&(q2 - q0));
            let m = m.scale(J::c(1.0) / m.norm());
            let c = nw.dot(&m);
            Some((
                x - nw.scale(dist) + m.scale(dist * c * 0.5),
                -m,
                -(dist * c),
            ))
        }
        FeatureKind::PlaneRim { flip, top, dir } => {
            let (
                Shape::Plane,
                Shape::Cylinder {
                    radius,
                    half_length,
                },
            ) = (sa, sb)
            else {
                return None;
            };
            let n = a.col[2];
            let ax = b.col[2] * (*flip as f64);
            let v = -(n - ax.scale(ax.dot(&n)));
            let v = v.scale(J::c(1.0) / v.norm());
            let w = ax.cross(&v);
            let (c, s) = (-0.5, 0.75f64.sqrt());
            let u = match dir {
                0 => v,
                1 => w,
                2 => -w,
                3 => -v,
                4 => v.scale(J::c(c)) + w.scale(J::c(s)),
                _ => v.scale(J::c(c)) - w.scale(J::c(s)),
            };
            let h = if *top { *half_length } else { -*half_length };
            let x = b.pos + ax * h + u * *radius;
            let dist = n.dot(&(x - a.pos));
            Some((x - n.scale(dist * 0.5), n, dist))
        }
        FeatureKind::PlaneEllipsoid => {
            let (Shape::Plane, Shape::Ellipsoid { semi }) = (sa, sb) else {
                return None;
            };
            let n = a.col[2];
            // t = S R^T (-n), x = c + R S t / |t|
            let t = V([0, 1, 2].map(|k| -(b.col[k].dot(&n)) * semi[k]));
            let inv = J::c(1.0) / t.norm();
            let l = V([0, 1, 2].map(|k| t.0[k] * semi[k] * inv));
            let x = b.pos + b.rot_v(&l);
            let dist = n.dot(&(x - a.pos));
            Some((x - n.scale(dist * 0.5), n, dist))
        }
        FeatureKind::Balls { c1, c2 } | FeatureKind::BallsCrossed { c1, c2 } => {
            let (q1, q2) = ball_centres(c1, sa, a, c2, sb, b, hint)?;
            let br = |c: &Core, s: &Shape| match c {
                Core::RimNear { .. } | Core::EdgeLine(_) | Core::OnEdge(_) => 0.0,
                _ => ball_radius(s),
            };
            let (r1, r2) = (br(c1, sa), br(c2, sb));
            let d = q2 - q1;
            let len = d.norm();
            // Crossed: the normal points from B's centre to A's.
            let crossed = matches!(kind, FeatureKind::BallsCrossed { .. });
            let (n, dist) = if crossed {
                (d.scale(J::c(-1.0) / len), -len - J::c(r1 + r2))
            } else {
                (d.scale(J::c(1.0) / len), len - J::c(r1 + r2))
            };
            Some((q1 + n.scale(J::c(r1) + dist * 0.5), n, dist))
        }
        FeatureKind::BoxEdges {
            i,
            j,
            ca,
            cb,
            nsign,
            path,
        } => {
            let (ha, hb) = (box_half(sa)?, box_half(sb)?);
            let (i, j) = (*i as usize, *j as usize);
            let mut la = Vec3::zeros();
            let mut lb = Vec3::zeros();
            for k in 0..3 {
                if k != i {
                    la[k] = ca[k] as f64 * ha[k];
                }
                if k != j {
                    lb[k] = cb[k] as f64 * hb[k];
                }
            }
            // the forward pass's clamps, replayed
            let (q1, q2, _) = edge_witnesses(
                (&to_dual(&a.apply(&la)), &to_dual(&a.col[i]), ha[i]),
                (&to_dual(&b.apply(&lb)), &to_dual(&b.col[j]), hb[j]),
                Some(*path),
            );
            let (q1, q2) = (from_dual(q1), from_dual(q2));
            let l = a.col[i].cross(&b.col[j]);
            let n = l.scale(J::c(*nsign as f64) / l.norm());
            let dist = n.dot(&(q2 - q1));
            Some(((q1 + q2) * 0.5, n, dist))
        }
        FeatureKind::Poly {
            na,
            nb,
            ia,
            ib,
            nsign,
        } => {
            let (na, nb) = (*na as usize, *nb as usize);
            if !(1..=3).contains(&na) || !(1..=3).contains(&nb) {
                return None;
            }
            let mut va = [V::c(&Vec3::zeros()); 3];
            let mut vb = va;
            for k in 0..na {
                va[k] = a.apply(&core_vertex(sa, ia[k])?);
            }
            for k in 0..nb {
                vb[k] = b.apply(&core_vertex(sb, ib[k])?);
            }
            let s = J::c(*nsign as f64);
            let unit_v = |x: V| x.scale(J::c(1.0) / x.norm());
            // Core closest points and the unit core normal (A to B).
            let (ca, cb, n) = match (na, nb) {
                (1, 1) => (va[0], vb[0], unit_v(vb[0] - va[0])),
                (1, 2) => {
                    let q = on_line(&vb[0], &(vb[1] - vb[0]), &va[0]);
                    (va[0], q, unit_v(q - va[0]))
                }
                (2, 1) => {
                    let q = on_line(&va[0], &(va[1] - va[0]), &vb[0]);
                    (q, vb[0], unit_v(vb[0] - q))
                }
                (3, 1) => {
                    let n = unit_v((va[1] - va[0]).cross(&(va[2] - va[0]))).scale(s);
                    let dc = n.dot(&(vb[0] - va[0]));
                    (vb[0] - n.scale(dc), vb[0], n)
                }
                (1, 3) => {
                    let n = unit_v((vb[1] - vb[0]).cross(&(vb[2] - vb[0]))).scale(s);
                    let dc = n.dot(&(vb[0] - va[0]));
                    (va[0], va[0] + n.scale(dc), n)
                }
                (2, 2) => {
                    let (ea, eb) = (va[1] - va[0], vb[1] - vb[0]);
                    let (q1, q2) = line_line(&va[0], &ea, &vb[0], &eb);
                    (q1, q2, unit_v(ea.cross(&eb)).scale(s))
                }
                _ => return None,
            };
            let (r1, r2) = (ball_radius(sa), ball_radius(sb));
            let dist = n.dot(&(cb - ca)) - J::c(r1 + r2);
            let pos = (ca + n * r1 + cb - n * r2) * 0.5;
            Some((pos, n, dist))
        }
    }
}

/// A clipped point `v` of MuJoCo's polytope multi-contact and its height `d` over the face through
/// three core vertices `face` of A (`on_a`) or of B, whose outward normal is `n`: `(v, n, d)`
/// (a [`FeatureKind::FacePoint`] without radius, its point taken back off the face).
fn point_over_face(
    face: [u32; 3],
    on_a: bool,
    point: &IncPoint,
    (sa, a): (&Shape, &JPose),
    (sb, b): (&Shape, &JPose),
    hint: &Vec3,
) -> Option<(V, V, J)> {
    let fp = FeatureKind::FacePoint {
        ref_is_a: on_a,
        face: RefFace::Verts(face),
        point: *point,
        radius: 0.0,
    };
    let (pos, normal, d) = eval_feature(&fp, sa, a, sb, b, hint)?;
    let n = if on_a { normal } else { -normal };
    Some((pos + n.scale(d * 0.5), n, d))
}

/// Orthogonal projection of `x` on the line `p + t d`.
fn on_line(p: &V, d: &V, x: &V) -> V {
    *p + d.scale(d.dot(&(*x - *p)) / d.dot(d))
}

/// The recorded feature evaluated with tangents seeded by `slots_1`, `slots_2` (caller's order),
/// in the caller's order; `None` if it has no feature or does not reproduce `cp`.
fn eval_checked(
    s1: &Shape,
    p1: &Pose,
    s2: &Shape,
    p2: &Pose,
    cp: &ContactPoint,
    slots_1: &[(usize, Motion)],
    slots_2: &[(usize, Motion)],
) -> Option<(V, V, J)> {
    let j1 = JPose::seed(p1, slots_1);
    let j2 = JPose::seed(p2, slots_2);
    let (pos, n, dist) = if cp.feature.swapped {
        let (pos, n, dist) = eval_feature(&cp.feature.kind, s2, &j2, s1, &j1, &cp.pos)?;
        (pos, -n, dist)
    } else {
        eval_feature(&cp.feature.kind, s1, &j1, s2, &j2, &cp.pos)?
    };
    let scale = 1.0 + cp.pos.norm() + cp.dist.abs();
    let ok = (pos.val() - cp.pos).norm() <= 1e-7 * scale
        && (n.val() - cp.normal).norm() <= 1e-7
        && (dist.v - cp.dist).abs() <= 1e-7 * scale;
    ok.then_some((pos, n, dist))
}

/// Basis twists: slot `off + k` is the unit twist along component `k` of `[w; v_O]`.
fn basis(off: usize) -> [(usize, Motion); 6] {
    std::array::from_fn(|k| {
        let mut m = Motion::zero();
        if k < 3 {
            m.ang[k] = 1.0;
        } else {
            m.lin[k - 3] = 1.0;
        }
        (off + k, m)
    })
}

/// Adjoints of the two geom poses (wrenches at the world origin, see the module documentation)
/// of `L = pos_bar . cp.pos + normal_bar . cp.normal + dist_bar * cp.dist`, for the contact `cp`
/// produced by [`crate::collision::collide`]`(s1, p1, s2, p2, ..)` (same argument order).
/// Exact for the recorded feature; the documented first-order fallback for
/// [`FeatureKind::Unknown`].
#[allow(clippy::too_many_arguments)]
pub fn contact_point_vjp(
    s1: &Shape,
    p1: &Pose,
    s2: &Shape,
    p2: &Pose,
    cp: &ContactPoint,
    pos_bar: &Vec3,
    normal_bar: &Vec3,
    dist_bar: f64,
) -> (Force, Force) {
    let Some((pos, n, dist)) = eval_checked(s1, p1, s2, p2, cp, &basis(0), &basis(6)) else {
        return fallback_vjp(cp, pos_bar, normal_bar, dist_bar);
    };
    let dl = |k: usize| pos_bar.dot(&pos.tan(k)) + normal_bar.dot(&n.tan(k)) + dist_bar * dist.d[k];
    let w = |off: usize| Force {
        ang: Vec3::new(dl(off), dl(off + 1), dl(off + 2)),
        lin: Vec3::new(dl(off + 3), dl(off + 4), dl(off + 5)),
    };
    (w(0), w(6))
}

/// The fallback VJP (module documentation).
fn fallback_vjp(
    cp: &ContactPoint,
    pos_bar: &Vec3,
    normal_bar: &Vec3,
    dist_bar: f64,
) -> (Force, Force) {
    let x = cp.pos;
    let n = cp.normal;
    let half = pos_bar * 0.5;
    let mut w1 = Force::at_point(&x, &(half - n * dist_bar));
    w1.ang += n.cross(normal_bar);
    let w2 = Force::at_point(&x, &(half + n * dist_bar));
    (w1, w2)
}

/// Adjoints of one contact's outputs that the constraint rows read (see
/// [`crate::data::Contact`]): point, normal and tangents (the rows of `frame`), distance and
/// friction.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ContactBar {
    /// dL/d(point).
    pub pos: Vec3,
    /// dL/d(normal), the frame's row 0 as read.
    pub normal: Vec3,
    /// dL/d(tangents), the frame's rows 1 and 2 as read.
    pub tangent: [Vec3; 2],
    /// dL/d(signed distance).
    pub dist: f64,
    /// dL/d(combined sliding friction coefficient).
    pub friction: f64,
    /// dL/d(combined torsional friction coefficient).
    pub spin: f64,
    /// dL/d(combined rolling friction coefficient).
    pub roll: f64,
}

/// Reverse of [`crate::collision::contact_frame`] (t1 the normalized projection of the pair's
/// `tangent`, or else of the fixed helper axis [`contact_frame_axis`], on the tangent plane,
/// t2 = n x t1): the total adjoints of the unit normal and of the pair's tangent (zero without
/// one), from the adjoints of the frame's rows (`normal_bar`, `tangent_bar`).
pub fn contact_frame_vjp(
    frame: &Mat3,
    tangent: Option<&Vec3>,
    normal_bar: &Vec3,
    tangent_bar: &[Vec3; 2],
) -> (Vec3, Vec3) {
    let n: Vec3 = frame.row(0).transpose();
    let t1: Vec3 = frame.row(1).transpose();
    let mut n_bar = *normal_bar;
    // t2 = n x t1
    let [t1_bar0, t2_bar] = *tangent_bar;
    n_bar += t1.cross(&t2_bar);
    let t1_bar = t1_bar0 + t2_bar.cross(&n);
    // t1 = u / |u|, u = a - n (n . a) (t1 = x, constant, where u vanishes)
    let ax = tangent.copied().unwrap_or_else(|| contact_frame_axis(&n));
    let u = ax - n * n.dot(&ax);
    let un = u.norm();
    if un < 1e-15 {
        return (n_bar, Vec3::zeros());
    }
    let u_bar = (t1_bar - t1 * t1.dot(&t1_bar)) / un;
    n_bar -= u_bar * n.dot(&ax) + ax * n.dot(&u_bar);
    let a_bar = if tangent.is_some() {
        u_bar - n * n.dot(&u_bar)
    } else {
        Vec3::zeros()
    };
    (n_bar, a_bar)
}

/// Reverse of [`crate::collision::detect::contact`] for the contact `con` (between its geoms
/// at their poses in `data`): the frame ([`contact_frame_vjp`]), the friction mixing
/// ([`crate::constraint::contact_params`]: the adjoint goes to the geom whose coefficient the contact took,
/// accumulated into `params_bar`) and the narrowphase ([`contact_point_vjp`]). Returns the
/// wrenches on the two geoms (zero when the point, normal and distance adjoints are).
pub fn contact_vjp(
    model: &Model,
    params: &Params,
    data: &Data,
    con: &Contact,
    bar: &ContactBar,
    params_bar: &mut Params,
) -> (Force, Force) {
    let (g1, g2) = (con.geom1, con.geom2);
    let p1 = data.geom_frame(g1);
    let p2 = data.geom_frame(g2);
    let tangent = pair_tangent(model.geom_type[g1], model.geom_type[g2], &p1, &p2);
    let (n_bar, a_bar) = contact_frame_vjp(&con.frame, tangent.as_ref(), &bar.normal, &bar.tangent);
    // the pair's tangent is a capsule's axis: a = R e_z turns with the capsule (da = w x a),
    // a torque a x a_bar on it
    let mut axis_wrench = [Force::zero(), Force::zero()];
    if let Some(a) = tangent {
        let side = usize::from(model.geom_type[g2] == crate::model::GeomType::Capsule);
        axis_wrench[side] = Force::new(a.cross(&a_bar), Vec3::zeros());
    }
    // torsional and rolling friction below MuJoCo's floor act as the floor
    // (`Contact::friction_rows`): no derivative reaches them there
    let floor = |x: f64, b: f64| if x < crate::data::MIN_MU { 0.0 } else { b };
    let f_bar = [
        bar.friction,
        floor(con.spin, bar.spin),
        floor(con.roll, bar.roll),
    ];
    if f_bar.iter().any(|x| *x != 0.0) {
        let side = crate::constraint::contact_params(model, params, g1, g2).side;
        for k in 0..3 {
            params_bar.geom_friction[[g1, g2][side[k]]][k] += f_bar[k];
        }
    }
    if bar.pos == Vec3::zeros() && n_bar == Vec3::zeros() && bar.dist == 0.0 {
        return (axis_wrench[0], axis_wrench[1]);
    }
    let cp = ContactPoint {
        pos: con.pos,
        normal: con.frame.row(0).transpose(),
        dist: con.dist,
        ..con.point
    };
    let (w1, w2) = contact_point_vjp(
        &geom_shape(model, g1),
        &p1,
        &geom_shape(model, g2),
        &p2,
        &cp,
        &bar.pos,
        &n_bar,
        bar.dist,
    );
    (w1 + axis_wrench[0], w2 + axis_wrench[1])
}

/// [`contact_vjp`] for every contact of `data` with the adjoints `adj.contact_bar` (filled by
/// [`super::constraint_rows::rows_vjp`]): the geom wrenches go to their bodies'
/// `adj.body_wrench`.
pub fn contacts_vjp(
    model: &Model,
    params: &Params,
    data: &Data,
    adj: &mut PosAdjoint,
    params_bar: &mut Params,
) {
    for (con, bar) in data.contacts.iter().zip(&adj.contact_bar) {
        let (w1, w2) = contact_vjp(model, params, data, con, bar, params_bar);
        if w1 == Force::zero() && w2 == Force::zero() {
            continue;
        }
        adj.body_wrench[model.geom_body[con.geom1]] += w1;
        adj.body_wrench[model.geom_body[con.geom2]] += w2;
    }
}

/// Forward derivative (dpos, dnormal, ddist) of the contact along the twists `xi1`, `xi2`
/// (exact for recorded features, the fallback model otherwise).
#[cfg(test)]
fn contact_point_jvp(
    s1: &Shape,
    p1: &Pose,
    s2: &Shape,
    p2: &Pose,
    cp: &ContactPoint,
    xi1: &Motion,
    xi2: &Motion,
) -> (Vec3, Vec3, f64) {
    match eval_checked(s1, p1, s2, p2, cp, &[(0, *xi1)], &[(0, *xi2)]) {
        Some((pos, n, dist)) => (pos.tan(0), n.tan(0), dist.d[0]),
        None => {
            let (v1, v2) = (xi1.point_velocity(&cp.pos), xi2.point_velocity(&cp.pos));
            (
                (v1 + v2) * 0.5,
                xi1.ang.cross(&cp.normal),
                cp.normal.dot(&(v2 - v1)),
            )
        }
    }
}

#[cfg(test)]
mod tests_support {
    use crate::math::{Mat3, Motion, Quat, Vec3};

    pub(super) struct Rng(pub(super) u64);
    impl Rng {
        pub(super) fn next(&mut self) -> f64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
        pub(super) fn range(&mut self, a: f64, b: f64) -> f64 {
            a + (b - a) * self.next()
        }
        pub(super) fn vec(&mut self, s: f64) -> Vec3 {
            Vec3::new(self.range(-s, s), self.range(-s, s), self.range(-s, s))
        }
        pub(super) fn rot(&mut self) -> Mat3 {
            let q = nalgebra::Quaternion::new(
                self.range(-1., 1.),
                self.range(-1., 1.),
                self.range(-1., 1.),
                self.range(-1., 1.),
            );
            *Quat::from_quaternion(q).to_rotation_matrix().matrix()
        }
        pub(super) fn unit(&mut self) -> Vec3 {
            loop {
                let v = self.vec(1.0);
                let n = v.norm();
                if n > 0.1 && n < 1.0 {
                    return v / n;
                }
            }
        }
        pub(super) fn twist(&mut self) -> Motion {
            Motion::new(self.vec(1.0), self.vec(1.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::tests_support::*;
    use super::*;
    use crate::collision::{collide, ConvexHull, Feature};
    use crate::math::Mat3;

    const H: f64 = 1e-7;
    const MARGIN: f64 = 0.3;

    thread_local! {
        /// The margin [`check`] and [`find`] collide with: [`MARGIN`], or 0 for MuJoCo's
        /// polytope multi-contact (which only pairs without margins get).
        static CHECK_MARGIN: std::cell::Cell<f64> = const { std::cell::Cell::new(MARGIN) };
    }

    /// Exact rigid update by the twist `xi * h`.
    fn moved(p: &Pose, xi: &Motion, h: f64) -> Pose {
        let r = nalgebra::Rotation3::new(xi.ang * h).into_inner();
        Pose {
            pos: p.pos + (xi.lin + xi.ang.cross(&p.pos)) * h,
            rot: r * p.rot,
        }
    }

    /// Same feature (body-fixed points recomputed from world coordinates compared loosely).
    fn same_feature(a: &Feature, b: &Feature) -> bool {
        use crate::collision::IncPoint::Local;
        match (a.kind, b.kind) {
            (
                FeatureKind::FacePoint {
                    ref_is_a: r1,
                    face: f1,
                    point: Local(l1),
                    radius: q1,
                },
                FeatureKind::FacePoint {
                    ref_is_a: r2,
                    face: f2,
                    point: Local(l2),
                    radius: q2,
                },
            ) => {
                a.swapped == b.swapped
                    && r1 == r2
                    && f1 == f2
                    && q1 == q2
                    && (l1 - l2).norm() < 1e-6
            }
            _ => a == b,
        }
    }

    struct Bars {
        pos: Vec3,
        n: Vec3,
        d: f64,
    }

    fn loss(c: &ContactPoint, b: &Bars) -> f64 {
        b.pos.dot(&c.pos) + b.n.dot(&c.normal) + b.d * c.dist
    }

    /// The contact of `(s1, p1, s2, p2)` with feature `f` (closest to `near`).
    fn find(
        s1: &Shape,
        p1: &Pose,
        s2: &Shape,
        p2: &Pose,
        f: &Feature,
        near: &Vec3,
    ) -> Option<ContactPoint> {
        let mut out = Vec::new();
        collide(s1, p1, s2, p2, CHECK_MARGIN.get(), &mut out);
        out.into_iter()
            .filter(|c| same_feature(&c.feature, f))
            .min_by(|a, b| (a.pos - near).norm().total_cmp(&(b.pos - near).norm()))
    }

    #[derive(Default, Debug)]
    struct Count {
        exact: usize,
        fallback: usize,
        skipped: usize,
        kinds: std::collections::BTreeSet<String>,
    }

    fn core_name(c: &Core) -> &'static str {
        match c {
            Core::Fixed(_) => "Fixed",
            Core::ProjOther(_) => "ProjOther",
            Core::OnAxis => "OnAxis",
            Core::LineLine => "LineLine",
            Core::BoxClamp(_) => "BoxClamp",
            Core::EdgeLine(_) => "EdgeLine",
            Core::OnEdge(_) => "OnEdge",
            Core::RimNear { .. } => "RimNear",
        }
    }

    /// Short name of a feature (coverage bookkeeping).
    fn label(k: &FeatureKind) -> String {
        match k {
            FeatureKind::Unknown => "Unknown".into(),
            FeatureKind::FacePoint { face, point, .. } => {
                let f = match face {
                    RefFace::Plane => "Plane",
                    RefFace::Box { .. } => "Box",
                    RefFace::Verts(_) => "Verts",
                    RefFace::CylCap { .. } => "CylCap",
                };
                match point {
                    IncPoint::Local(_) => format!("FacePoint({f},Local)"),
                    IncPoint::EdgeSide { .. } => format!("FacePoint({f},EdgeSide)"),
                    IncPoint::Rim { .. } => format!("FacePoint({f},Rim)"),
                    IncPoint::RimSide { .. } => format!("FacePoint({f},RimSide)"),
                    IncPoint::CornerFace { .. } => format!("FacePoint({f},CornerFace)"),
                    IncPoint::Planes(t) => format!(
                        "FacePoint({f},Planes{})",
                        t.iter().filter(|p| p.on_ref).count()
                    ),
                }
            }
            FeatureKind::FaceFace { point, .. } => match point {
                IncPoint::Local(_) => "FaceFace(Local)".into(),
                IncPoint::EdgeSide { .. } => "FaceFace(EdgeSide)".into(),
                IncPoint::CornerFace { .. } => "FaceFace(CornerFace)".into(),
                _ => "FaceFace(other)".into(),
            },
            FeatureKind::SegmentFace { point, .. } => match point {
                IncPoint::Local(_) => "SegmentFace(Local)".into(),
                IncPoint::EdgeSide { .. } => "SegmentFace(EdgeSide)".into(),
                _ => "SegmentFace(other)".into(),
            },
            FeatureKind::CapsuleBox { second, branch } => format!("CapsuleBox({second},{branch})"),
            FeatureKind::PlaneRim { .. } => "PlaneRim".into(),
            FeatureKind::PlaneEllipsoid => "PlaneEllipsoid".into(),
            FeatureKind::Balls { c1, c2 } => format!("Balls({},{})", core_name(c1), core_name(c2)),
            FeatureKind::BallsCrossed { c1, c2 } => {
                format!("BallsCrossed({},{})", core_name(c1), core_name(c2))
            }
            FeatureKind::BoxEdges {
                path: [0, 0, 0], ..
            } => "BoxEdges".into(),
            FeatureKind::BoxEdges { .. } => "BoxEdges(end)".into(),
            FeatureKind::Poly { na, nb, .. } => format!("Poly({na},{nb})"),
        }
    }

    /// Finite-difference and dot-product checks of every contact of the pair.
    fn check(s1: &Shape, p1: &Pose, s2: &Shape, p2: &Pose, rng: &mut Rng, cnt: &mut Count) {
        let mut out = Vec::new();
        collide(s1, p1, s2, p2, CHECK_MARGIN.get(), &mut out);
        'contacts: for cp in &out {
            if cp.feature.kind == FeatureKind::Unknown {
                cnt.fallback += 1;
                continue;
            }
            cnt.kinds.insert(label(&cp.feature.kind));
            let bars = Bars {
                pos: rng.vec(1.0),
                n: rng.vec(1.0),
                d: rng.range(-1.0, 1.0),
            };
            let (w1, w2) = contact_point_vjp(s1, p1, s2, p2, cp, &bars.pos, &bars.n, bars.d);
            // The feature must reproduce the contact (else the VJP silently fell back).
            assert!(
                eval_checked(s1, p1, s2, p2, cp, &[], &[]).is_some(),
                "feature does not reproduce {cp:?}"
            );
            let mut an = [0.0; 12];
            let mut fd = [0.0; 12];
            for g in 0..2 {
                for (k, xi) in basis(0) {
                    let w = if g == 0 { &w1 } else { &w2 };
                    an[6 * g + k] = xi.dot(w);
                    let lp = |h: f64| {
                        let (q1, q2) = if g == 0 {
                            (moved(p1, &xi, h), *p2)
                        } else {
                            (*p1, moved(p2, &xi, h))
                        };
                        find(s1, &q1, s2, &q2, &cp.feature, &cp.pos).map(|c| loss(&c, &bars))
                    };
                    let (Some(a), Some(b)) = (lp(H), lp(-H)) else {
                        cnt.skipped += 1;
                        continue 'contacts;
                    };
                    fd[6 * g + k] = (a - b) / (2.0 * H);
                }
            }
            let err: f64 = an
                .iter()
                .zip(&fd)
                .map(|(a, b)| (a - b).powi(2))
                .sum::<f64>()
                .sqrt();
            let mag: f64 = an.iter().map(|a| a * a).sum::<f64>().sqrt();
            assert!(
                err <= 1e-6 * mag.max(1e-3),
                "VJP vs FD: rel err {:.3e}\n an {an:?}\n fd {fd:?}\n {cp:?}\n {s1:?} {p1:?}\n {s2:?} {p2:?}",
                err / mag
            );
            // Dot-product test: <JVP, bars> == <xi1, W1> + <xi2, W2>.
            let (xi1, xi2) = (rng.twist(), rng.twist());
            let (dp, dn, dd) = contact_point_jvp(s1, p1, s2, p2, cp, &xi1, &xi2);
            let lhs = bars.pos.dot(&dp) + bars.n.dot(&dn) + bars.d * dd;
            let rhs = xi1.dot(&w1) + xi2.dot(&w2);
            assert!(
                (lhs - rhs).abs() <= 1e-10 * (1.0 + lhs.abs()),
                "dot test {lhs} vs {rhs}"
            );
            cnt.exact += 1;
        }
    }

    /// Random poses of `(s1, s2)` at centre distance `reach * [lo, hi]`; both argument orders.
    fn run_pair(s1: &Shape, s2: &Shape, reach: (f64, f64), trials: usize, seed: u64) -> Count {
        let mut rng = Rng(seed);
        let mut cnt = Count::default();
        for _ in 0..trials {
            let p1 = Pose {
                pos: rng.vec(1.0),
                rot: rng.rot(),
            };
            let off = if matches!(s1, Shape::Plane) {
                let n = p1.rot.column(2).into_owned();
                let t = rng.vec(1.0);
                (t - n * n.dot(&t)) + n * rng.range(reach.0, reach.1)
            } else {
                rng.unit() * rng.range(reach.0, reach.1)
            };
            let p2 = Pose {
                pos: p1.pos + off,
                rot: rng.rot(),
            };
            check(s1, &p1, s2, &p2, &mut rng, &mut cnt);
            check(s2, &p2, s1, &p1, &mut rng, &mut cnt);
        }
        cnt
    }

    fn assert_exact(name: &str, c: &Count, min: usize) {
        eprintln!("{name}: {c:?}");
        assert!(
            c.skipped * 10 <= c.exact,
            "{name}: too many feature switches {c:?}"
        );
        assert!(c.exact >= min, "{name}: too few exact checks {c:?}");
        assert_eq!(c.fallback, 0, "{name}: unexpected fallback contacts {c:?}");
    }

    const SPHERE: Shape<'static> = Shape::Sphere { radius: 0.3 };
    const CAPSULE: Shape<'static> = Shape::Capsule {
        radius: 0.2,
        half_length: 0.4,
    };
    const BOX: Shape<'static> = Shape::Box {
        half: Vec3::new(0.3, 0.4, 0.5),
    };
    const CYL: Shape<'static> = Shape::Cylinder {
        radius: 0.3,
        half_length: 0.4,
    };
    const ELLIPSOID: Shape<'static> = Shape::Ellipsoid {
        semi: Vec3::new(0.2, 0.35, 0.5),
    };

    fn hull() -> ConvexHull {
        let mut rng = Rng(99);
        let pts: Vec<Vec3> = (0..14).map(|_| rng.unit() * rng.range(0.3, 0.5)).collect();
        ConvexHull::from_points(&pts).unwrap()
    }

    #[test]
    fn contact_geom_plane_pairs() {
        let h = hull();
        for (name, s, reach) in [
            ("plane-sphere", SPHERE, (0.0, 0.5)),
            ("plane-capsule", CAPSULE, (0.0, 0.6)),
            ("plane-box", BOX, (0.0, 0.7)),
            ("plane-cylinder", CYL, (0.0, 0.6)),
            ("plane-convex", Shape::Convex(&h), (0.0, 0.6)),
            ("plane-ellipsoid", ELLIPSOID, (0.0, 0.6)),
        ] {
            let c = run_pair(&Shape::Plane, &s, reach, 40, 7);
            assert_exact(name, &c, 40);
        }
    }

    #[test]
    fn contact_geom_round_pairs() {
        for (name, s1, s2, reach) in [
            ("sphere-sphere", SPHERE, SPHERE, (0.3, 0.8)),
            ("sphere-capsule", SPHERE, CAPSULE, (0.2, 0.9)),
            ("capsule-capsule", CAPSULE, CAPSULE, (0.1, 1.0)),
            ("sphere-box", SPHERE, BOX, (0.1, 0.9)),
        ] {
            let c = run_pair(&s1, &s2, reach, 40, 11);
            assert_exact(name, &c, 40);
            if name == "capsule-capsule" {
                for k in [
                    "Balls(Fixed,OnAxis)",
                    "Balls(LineLine,LineLine)",
                    "Balls(OnAxis,Fixed)",
                ] {
                    assert!(c.kinds.contains(k), "{name}: {k} not covered");
                }
            }
            if name == "sphere-box" {
                for k in ["Balls(Fixed,BoxClamp)", "FacePoint(Box,Local)"] {
                    assert!(c.kinds.contains(k), "{name}: {k} not covered");
                }
            }
        }
    }

    #[test]
    fn contact_geom_capsule_capsule_parallel() {
        let mut rng = Rng(5);
        let mut cnt = Count::default();
        for i in 0..30 {
            let p1 = Pose {
                pos: rng.vec(1.0),
                rot: rng.rot(),
            };
            let a = p1.rot.column(2).into_owned();
            let flip = if i % 2 == 0 {
                Mat3::identity()
            } else {
                Mat3::from_diagonal(&Vec3::new(1.0, -1.0, -1.0))
            };
            let spin = nalgebra::Rotation3::new(Vec3::z() * rng.range(0.0, 6.0)).into_inner();
            let perp = (rng.unit()).cross(&a).normalize();
            let p2 = Pose {
                pos: p1.pos + perp * rng.range(0.3, 0.6) + a * rng.range(-0.7, 0.7),
                rot: p1.rot * flip * spin,
            };
            check(&CAPSULE, &p1, &CAPSULE, &p2, &mut rng, &mut cnt);
            check(&CAPSULE, &p2, &CAPSULE, &p1, &mut rng, &mut cnt);
        }
        // Exactly parallel axes: the projection of an end of one segment on the other lands on
        // the other's end (a kink of the clamped projection), so one-sided switches are expected.
        eprintln!("capsule-capsule parallel: {cnt:?}");
        assert!(cnt.exact >= 40 && cnt.fallback == 0, "{cnt:?}");
        assert!(cnt.kinds.contains("Balls(ProjOther,OnAxis)"), "{cnt:?}");
        assert!(cnt.kinds.contains("Balls(Fixed,OnAxis)"), "{cnt:?}");
    }

    #[test]
    fn contact_geom_box_box() {
        // Random poses: face contacts (all three kinds of clipped points) and edge-edge.
        let c = run_pair(&BOX, &BOX, (0.3, 1.1), 150, 3);
        eprintln!("box-box random: {c:?}");
        assert!(c.exact >= 100 && c.skipped * 10 <= c.exact, "{c:?}");
        // Resting: box 2 on a face of box 1, slightly tilted and turned.
        let mut rng = Rng(17);
        let mut cnt = Count::default();
        for _ in 0..30 {
            let p1 = Pose {
                pos: rng.vec(1.0),
                rot: rng.rot(),
            };
            let tilt = nalgebra::Rotation3::new(rng.vec(0.05) + Vec3::z() * rng.range(-1.5, 1.5))
                .into_inner();
            let up = p1.rot.column(2).into_owned();
            let p2 = Pose {
                pos: p1.pos
                    + up * rng.range(0.93, 1.0)
                    + p1.rot * Vec3::new(rng.range(-0.3, 0.3), rng.range(-0.3, 0.3), 0.0),
                rot: p1.rot * tilt,
            };
            check(&BOX, &p1, &BOX, &p2, &mut rng, &mut cnt);
            check(&BOX, &p2, &BOX, &p1, &mut rng, &mut cnt);
        }
        assert_exact("box-box resting", &cnt, 100);
        // Edge-edge contacts whose closest points sit at an edge end (rare in random poses:
        // searched for).
        let mut ends = Count::default();
        let mut rng = Rng(37);
        for _ in 0..20000 {
            if ends.exact >= 40 {
                break;
            }
            let p1 = Pose {
                pos: rng.vec(1.0),
                rot: rng.rot(),
            };
            let p2 = Pose {
                pos: p1.pos + rng.unit() * rng.range(0.6, 1.2),
                rot: rng.rot(),
            };
            let mut out = Vec::new();
            collide(&BOX, &p1, &BOX, &p2, MARGIN, &mut out);
            if out.iter().any(
                |c| matches!(c.feature.kind, FeatureKind::BoxEdges { path, .. } if path != [0, 0, 0]),
            ) {
                check(&BOX, &p1, &BOX, &p2, &mut rng, &mut ends);
                check(&BOX, &p2, &BOX, &p1, &mut rng, &mut ends);
            }
        }
        assert_exact("box-box edge ends", &ends, 40);
        let mut all = c.kinds.clone();
        all.extend(cnt.kinds.iter().cloned());
        all.extend(ends.kinds.iter().cloned());
        for k in [
            "FacePoint(Box,Planes0)",
            "FacePoint(Box,Planes1)",
            "FacePoint(Box,Planes2)",
            "BoxEdges",
            "BoxEdges(end)",
        ] {
            assert!(all.contains(k), "box-box: {k} not covered: {all:?}");
        }
    }

    /// GJK/EPA pairs of polyhedral and round cores: [`FeatureKind::Poly`] features.
    #[test]
    fn contact_geom_gjk_polytope_pairs() {
        let h = hull();
        let hs = Shape::Convex(&h);
        let mut all = std::collections::BTreeSet::new();
        for (name, s1, s2, reach) in [
            ("box-convex", BOX, hs, (0.3, 1.1)),
            ("convex-convex", hs, hs, (0.2, 1.0)),
            ("sphere-convex", SPHERE, hs, (0.2, 0.9)),
            ("capsule-convex", CAPSULE, hs, (0.2, 1.0)),
        ] {
            let c = run_pair(&s1, &s2, reach, 60, 13);
            eprintln!("{name}: {c:?}");
            assert!(c.exact >= 60 && c.skipped * 10 <= c.exact, "{name}: {c:?}");
            assert_eq!(c.fallback, 0, "{name}: {c:?}");
            all.extend(c.kinds.iter().cloned());
            // without margins, polyhedra get MuJoCo's multi-contact: an edge in a face
            // (`FacePoint`), facing faces (`FaceFace`), or the single EPA contact
            if crate::collision::multiccd::applies(&s1, &s2) {
                CHECK_MARGIN.set(0.0);
                let c = run_pair(&s1, &s2, reach, 200, 17);
                CHECK_MARGIN.set(MARGIN);
                eprintln!("{name}, no margin: {c:?}");
                assert!(c.exact >= 60 && c.skipped * 10 <= c.exact, "{name}: {c:?}");
                assert_eq!(c.fallback, 0, "{name}: {c:?}");
                all.extend(c.kinds.iter().cloned());
            }
        }
        for k in [
            "Poly(1,1)",
            "Poly(1,2)",
            "Poly(2,1)",
            "Poly(1,3)",
            "Poly(3,1)",
            "Poly(2,2)",
        ] {
            assert!(all.contains(k), "{k} not covered: {all:?}");
        }
    }

    /// A face of `s` for resting tests: (local point on it, local outward normal).
    fn rest_face(s: &Shape, rng: &mut Rng) -> (Vec3, Vec3) {
        match *s {
            Shape::Box { half } => (Vec3::new(0.0, 0.0, half.z), Vec3::z()),
            Shape::Capsule { radius, .. } => (Vec3::new(radius, 0.0, 0.0), Vec3::x()),
            Shape::Cylinder { half_length, .. } => {
                let s = if rng.next() < 0.5 { 1.0 } else { -1.0 };
                (Vec3::new(0.0, 0.0, s * half_length), Vec3::z() * s)
            }
            Shape::Convex(h) => {
                let f = (rng.next() * h.faces.len() as f64) as usize % h.faces.len();
                let c = h.faces[f]
                    .iter()
                    .fold(Vec3::zeros(), |a, &i| a + h.vertices[i as usize])
                    / 3.0;
                (c, h.normals[f])
            }
            _ => unreachable!(),
        }
    }

    /// Shape 2 resting on a face of shape 1 (slightly tilted, turned, shifted, at a small gap or
    /// penetration): the face-clipping manifolds of the general convex pairs.
    fn run_resting(s1: &Shape, s2: &Shape, trials: usize, seed: u64) -> Count {
        run_resting_on(s1, s2, trials, seed, false)
    }

    /// [`run_resting`]; `side`: shape 2 (a cylinder) lies on its curved side.
    fn run_resting_on(s1: &Shape, s2: &Shape, trials: usize, seed: u64, side: bool) -> Count {
        let mut rng = Rng(seed);
        let mut cnt = Count::default();
        for _ in 0..trials {
            let p1 = Pose {
                pos: rng.vec(1.0),
                rot: rng.rot(),
            };
            let (c1, n1) = rest_face(s1, &mut rng);
            let (c2, n2) = match *s2 {
                Shape::Cylinder { radius, .. } if side => (Vec3::new(radius, 0.0, 0.0), Vec3::x()),
                _ => rest_face(s2, &mut rng),
            };
            let nw = p1.rot * n1;
            // R2 n2 = -nw, then a spin about nw and a small tilt.
            let align = nalgebra::Rotation3::rotation_between(&n2, &-nw).unwrap_or_else(|| {
                nalgebra::Rotation3::new(crate::collision::any_perp(&n2) * std::f64::consts::PI)
            });
            let spin = nalgebra::Rotation3::new(nw * rng.range(0.0, 6.3));
            let tilt = nalgebra::Rotation3::new(rng.vec(0.015));
            let r2 = (tilt * spin * align).into_inner();
            let t = rng.vec(0.08);
            let p2 = Pose {
                pos: p1.apply(&c1) + nw * rng.range(-0.02, 0.03) + (t - nw * nw.dot(&t)) - r2 * c2,
                rot: r2,
            };
            check(s1, &p1, s2, &p2, &mut rng, &mut cnt);
            check(s2, &p2, s1, &p1, &mut rng, &mut cnt);
        }
        cnt
    }

    /// Face-clipping manifolds of box/hull/capsule on hulls and hulls on boxes:
    /// `FacePoint(Verts, ..)` features.
    #[test]
    fn contact_geom_gjk_manifolds() {
        let h = hull();
        let hs = Shape::Convex(&h);
        let cube = {
            let pts: Vec<Vec3> = (0..8)
                .map(|i| {
                    Vec3::new(
                        if i & 1 == 0 { -0.3 } else { 0.3 },
                        if i & 2 == 0 { -0.35 } else { 0.35 },
                        if i & 4 == 0 { -0.4 } else { 0.4 },
                    )
                })
                .collect();
            ConvexHull::from_points(&pts).unwrap()
        };
        let cs = Shape::Convex(&cube);
        let mut all = std::collections::BTreeSet::new();
        for (name, s1, s2) in [
            ("box on convex", hs, BOX),
            ("convex on convex", hs, hs),
            ("capsule on convex", hs, CAPSULE),
            ("convex on box", BOX, hs),
            ("box on cube hull", cs, BOX),
            ("cube hull on cube hull", cs, cs),
            ("capsule on cube hull", cs, CAPSULE),
        ] {
            let c = run_resting(&s1, &s2, 40, 29);
            eprintln!("{name}: {c:?}");
            assert!(c.exact >= 60 && c.skipped * 10 <= c.exact, "{name}: {c:?}");
            assert_eq!(c.fallback, 0, "{name}: {c:?}");
            all.extend(c.kinds.iter().cloned());
            // without margins, the polyhedra get MuJoCo's multi-contact instead
            if crate::collision::multiccd::applies(&s1, &s2) {
                CHECK_MARGIN.set(0.0);
                let c = run_resting(&s1, &s2, 40, 31);
                CHECK_MARGIN.set(MARGIN);
                eprintln!("{name}, no margin: {c:?}");
                // skipped: contacts whose feature changes within the finite-difference step;
                // here also the corners MuJoCo's largest-quadrilateral search keeps out of more
                // than 4 clipped points, which swap under a 1e-6 turn when two quadrilaterals
                // of the nearly square faces have equal areas (those contacts are not checked,
                // every other one is)
                assert!(c.exact >= 40 && c.skipped * 5 <= c.exact, "{name}: {c:?}");
                assert_eq!(c.fallback, 0, "{name}: {c:?}");
                all.extend(c.kinds.iter().cloned());
            }
        }
        eprintln!("covered: {all:?}");
        for k in [
            "FacePoint(Verts,Local)",
            "FacePoint(Verts,EdgeSide)",
            "FacePoint(Verts,CornerFace)",
            "FaceFace(Local)",
            "FaceFace(EdgeSide)",
            "FaceFace(CornerFace)",
        ] {
            assert!(all.contains(k), "{k} not covered: {all:?}");
        }
    }

    /// Cylinders against non-planes: flat face (box, hull, cap) against a core vertex or a rim
    /// point, the cap octagon clipping manifolds, a box/hull edge against the curved side, a
    /// core vertex or a line (capsule/cylinder axis, box/hull edge) against the rim circle,
    /// rim against rim, also crossed (deep), and a cylinder lying on a face are exact; the rest
    /// (edges through the axis, parallel side manifolds) still falls back.
    #[test]
    fn contact_geom_cylinder_pairs() {
        let h = hull();
        let hs = Shape::Convex(&h);
        let mut all = std::collections::BTreeSet::new();
        let (mut exact, mut fallback) = (0, 0);
        for (name, s1, s2) in [
            ("sphere-cylinder", SPHERE, CYL),
            ("capsule-cylinder", CAPSULE, CYL),
            ("box-cylinder", BOX, CYL),
            ("cylinder-cylinder", CYL, CYL),
            ("cylinder-convex", CYL, hs),
        ] {
            let c = run_pair(&s1, &s2, (0.2, 1.0), 100, 43);
            eprintln!("{name}: {c:?}");
            assert!(c.skipped * 10 <= c.exact, "{name}: {c:?}");
            exact += c.exact;
            fallback += c.fallback;
            all.extend(c.kinds.iter().cloned());
            // Resting on a flat face.
            if !matches!(s1, Shape::Sphere { .. } | Shape::Capsule { .. }) {
                // Cap octagon clipping manifolds: reference plane / incident points through
                // octagon corners (core vertices of the cylinder).
                let c = run_resting(&s1, &s2, 40, 47);
                eprintln!("{name} resting: {c:?}");
                assert!(
                    c.exact >= 250 && c.fallback * 20 <= c.exact,
                    "{name} resting: {c:?}"
                );
                for k in [
                    "FacePoint(Verts,Local)",
                    "FacePoint(Verts,EdgeSide)",
                    "FacePoint(Verts,CornerFace)",
                ] {
                    assert!(
                        c.kinds.contains(k),
                        "{name} resting: {k} not covered: {c:?}"
                    );
                }
                exact += c.exact;
                fallback += c.fallback;
                all.extend(c.kinds.iter().cloned());
            }
        }
        // A cylinder lying on its side on a box/hull face or a cap: the side line clipped
        // (ends: `Rim`, cuts: `RimSide`).
        for (name, s1) in [("box", BOX), ("convex", hs), ("cylinder cap", CYL)] {
            let c = run_resting_on(&s1, &CYL, 40, 53, true);
            eprintln!("cylinder lying on {name}: {c:?}");
            assert!(
                c.exact >= 100 && c.fallback * 20 <= c.exact,
                "cylinder lying on {name}: {c:?}"
            );
            assert!(
                c.kinds.contains("FacePoint(Verts,RimSide)"),
                "lying on {name}: {c:?}"
            );
            exact += c.exact;
            fallback += c.fallback;
            all.extend(c.kinds.iter().cloned());
        }
        eprintln!("cylinder pairs: exact {exact}, fallback {fallback}: {all:?}");
        assert!(exact >= 2300, "cylinder pairs: exact {exact}");
        assert!(
            fallback * 100 <= exact,
            "cylinder pairs: fallback {fallback}"
        );
        for k in [
            "FacePoint(Verts,RimSide)",
            "BallsCrossed(OnAxis,RimNear)",
            "BallsCrossed(RimNear,OnAxis)",
            "BallsCrossed(EdgeLine,LineLine)",
            "BallsCrossed(LineLine,EdgeLine)",
            "BallsCrossed(OnEdge,RimNear)",
            "BallsCrossed(RimNear,OnEdge)",
            "Balls(OnAxis,RimNear)",
            "Balls(RimNear,OnAxis)",
            "Balls(RimNear,OnEdge)",
            "Balls(EdgeLine,LineLine)",
            "Balls(LineLine,EdgeLine)",
            "Balls(RimNear,Fixed)",
            "Balls(Fixed,RimNear)",
            "Balls(ProjOther,Fixed)",
            "Balls(Fixed,ProjOther)",
            "Balls(LineLine,LineLine)",
            "FacePoint(Box,Rim)",
            "FacePoint(Verts,Rim)",
            "FacePoint(CylCap,Local)",
            "FacePoint(CylCap,Rim)",
        ] {
            assert!(all.contains(k), "{k} not covered: {all:?}");
        }
    }

    /// Two cylinders rim to rim (separated or slightly overlapping): the stationary point of
    /// the circle-circle distance, `Balls(RimNear, RimNear)`.
    #[test]
    fn contact_geom_cylinder_rim_rim() {
        let mut rng = Rng(59);
        let mut cnt = Count::default();
        let (r, h) = (0.3, 0.4);
        for _ in 0..40 {
            let pa = Pose {
                pos: rng.vec(1.0),
                rot: rng.rot(),
            };
            // Rim point of A (upper cap) and a direction in its normal cone.
            let th = rng.range(0.0, 6.3);
            let rad = Vec3::new(th.cos(), th.sin(), 0.0);
            let phi = rng.range(0.3, 1.2);
            let ya = pa.apply(&(rad * r + Vec3::z() * h));
            let wa = pa.rot * (rad * phi.cos() + Vec3::z() * phi.sin());
            // B: its lower-cap rim point at angle psi, cone direction cb (local) turned onto -wa.
            let psi = rng.range(0.0, 6.3);
            let radb = Vec3::new(psi.cos(), psi.sin(), 0.0);
            let phi2 = rng.range(0.3, 1.2);
            let cb = radb * phi2.cos() - Vec3::z() * phi2.sin();
            let align = nalgebra::Rotation3::rotation_between(&cb, &-wa).unwrap();
            let spin = nalgebra::Rotation3::new(wa * rng.range(0.0, 6.3));
            let rb = (spin * align).into_inner();
            let yb_local = radb * r - Vec3::z() * h;
            let gap = rng.range(-0.01, 0.1);
            let pb = Pose {
                pos: ya + wa * gap - rb * yb_local,
                rot: rb,
            };
            check(&CYL, &pa, &CYL, &pb, &mut rng, &mut cnt);
            check(&CYL, &pb, &CYL, &pa, &mut rng, &mut cnt);
        }
        eprintln!("rim-rim: {cnt:?}");
        assert!(
            cnt.kinds.contains("Balls(RimNear,RimNear)"),
            "rim-rim not covered: {cnt:?}"
        );
        assert_exact("cylinder rim-rim", &cnt, 60);
    }

    #[test]
    fn contact_geom_capsule_box() {
        // MuJoCo's rule at random poses (every branch of it the poses reach) and with the
        // capsule lying along a face (its second point walks to the other end or to the edge).
        let mut cnt = run_pair(&CAPSULE, &BOX, (0.1, 1.0), 300, 29);
        let mut rng = Rng(23);
        let bx = Shape::Box {
            half: Vec3::new(0.7, 0.6, 0.5),
        };
        for _ in 0..60 {
            let p1 = Pose {
                pos: rng.vec(1.0),
                rot: rng.rot(),
            };
            let tilt =
                nalgebra::Rotation3::new(Vec3::y() * std::f64::consts::FRAC_PI_2 + rng.vec(0.3))
                    .into_inner();
            let p2 = Pose {
                pos: p1.apply(&Vec3::new(
                    rng.range(-0.8, 0.8),
                    rng.range(-0.7, 0.7),
                    0.5 + rng.range(0.1, 0.25),
                )),
                rot: p1.rot * tilt,
            };
            check(&bx, &p1, &CAPSULE, &p2, &mut rng, &mut cnt);
            check(&CAPSULE, &p2, &bx, &p1, &mut rng, &mut cnt);
        }
        let branches = |second: bool| {
            let tag = format!("CapsuleBox({second},");
            cnt.kinds.iter().filter(|k| k.starts_with(&tag)).count()
        };
        let (first, second) = (branches(false), branches(true));
        eprintln!("capsule-box: {first} first-point and {second} second-point branches");
        assert!(first >= 20 && second >= 20, "{cnt:?}");
        assert_exact("capsule-box", &cnt, 300);
    }
}

#[cfg(test)]
mod fallback_tests {
    //! The documented fallback (GJK/EPA pairs): stated, and checked where it is exact.
    use super::tests_support::*;
    use super::*;
    use crate::collision::{collide, ConvexHull};

    #[test]
    fn contact_geom_fallback_gjk_pairs() {
        let cube = {
            let mut pts = Vec::new();
            for i in 0..8 {
                pts.push(Vec3::new(
                    if i & 1 == 0 { -0.3 } else { 0.3 },
                    if i & 2 == 0 { -0.35 } else { 0.35 },
                    if i & 4 == 0 { -0.4 } else { 0.4 },
                ));
            }
            ConvexHull::from_points(&pts).unwrap()
        };
        let bx = Shape::Box {
            half: Vec3::new(0.3, 0.4, 0.5),
        };
        let cyl = Shape::Cylinder {
            radius: 0.3,
            half_length: 0.4,
        };
        let cap = Shape::Capsule {
            radius: 0.2,
            half_length: 0.4,
        };
        let hull = Shape::Convex(&cube);
        let mut rng = Rng(31);
        let (mut n_fallback, mut n_checked) = (0, 0);
        for (s1, s2, exact_translation) in [
            (bx, hull, true),
            (hull, hull, true),
            (cap, hull, true),
            (bx, cyl, false),
            (cyl, cyl, false),
        ] {
            for _ in 0..30 {
                let p1 = Pose {
                    pos: rng.vec(1.0),
                    rot: rng.rot(),
                };
                let p2 = Pose {
                    pos: p1.pos + rng.unit() * rng.range(0.4, 0.8),
                    rot: rng.rot(),
                };
                let mut out = Vec::new();
                collide(&s1, &p1, &s2, &p2, 0.3, &mut out);
                for cp in &out {
                    // Polyhedral pairs now carry exact features: strip them to exercise the
                    // fallback (used for cylinders, clipped manifolds, failed replays).
                    let mut cp = *cp;
                    cp.feature.kind = FeatureKind::Unknown;
                    let cp = &cp;
                    n_fallback += 1;
                    let (pb, nb, db) = (rng.vec(1.0), rng.vec(1.0), rng.range(-1.0, 1.0));
                    // Stated: the fallback model, exactly.
                    let (w1, w2) = contact_point_vjp(&s1, &p1, &s2, &p2, cp, &pb, &nb, db);
                    let x = cp.pos;
                    let n = cp.normal;
                    let e1 = Force::at_point(&x, &(pb * 0.5 - n * db))
                        + Force::new(n.cross(&nb), Vec3::zeros());
                    let e2 = Force::at_point(&x, &(pb * 0.5 + n * db));
                    assert!((w1.ang - e1.ang).norm() + (w1.lin - e1.lin).norm() < 1e-12);
                    assert!((w2.ang - e2.ang).norm() + (w2.lin - e2.lin).norm() < 1e-12);
                    // Dot-product test of the fallback JVP.
                    let (xi1, xi2) = (rng.twist(), rng.twist());
                    let (dp, dn, dd) = contact_point_jvp(&s1, &p1, &s2, &p2, cp, &xi1, &xi2);
                    let lhs = pb.dot(&dp) + nb.dot(&dn) + db * dd;
                    assert!((lhs - xi1.dot(&w1) - xi2.dot(&w2)).abs() < 1e-10 * (1.0 + lhs.abs()));
                    // Manifold (clipped) points slide along incident edges: not exact there.
                    if !exact_translation || out.len() != 1 {
                        continue;
                    }
                    // Where it is exact: d(dist) under translations of either geom.
                    let h = 1e-5;
                    let mut ok = true;
                    for k in 0..3 {
                        let mut v = Vec3::zeros();
                        v[k] = h;
                        let d_at = |q1: Pose, q2: Pose| {
                            let mut o = Vec::new();
                            collide(&s1, &q1, &s2, &q2, 0.3, &mut o);
                            o.into_iter()
                                .min_by(|a, b| (a.pos - x).norm().total_cmp(&(b.pos - x).norm()))
                                .map(|c| (c.dist, (c.normal - n).norm() < 1e-6))
                        };
                        let sh = |p: &Pose, s: f64| Pose {
                            pos: p.pos + v * s,
                            rot: p.rot,
                        };
                        let (Some(a), Some(b)) = (d_at(p1, sh(&p2, 1.0)), d_at(p1, sh(&p2, -1.0)))
                        else {
                            ok = false;
                            break;
                        };
                        if !(a.1 && b.1) {
                            ok = false;
                            break;
                        }
                        let fd = (a.0 - b.0) / (2.0 * h);
                        let (_, w2d) = contact_point_vjp(
                            &s1,
                            &p1,
                            &s2,
                            &p2,
                            cp,
                            &Vec3::zeros(),
                            &Vec3::zeros(),
                            1.0,
                        );
                        let (w1d, _) = contact_point_vjp(
                            &s1,
                            &p1,
                            &s2,
                            &p2,
                            cp,
                            &Vec3::zeros(),
                            &Vec3::zeros(),
                            1.0,
                        );
                        assert!(
                            (fd - w2d.lin[k]).abs() < 1e-6,
                            "translation ddist {fd} vs {}",
                            w2d.lin[k]
                        );
                        assert!((w1d.lin[k] + w2d.lin[k]).abs() < 1e-12);
                    }
                    n_checked += ok as usize;
                }
            }
        }
        eprintln!("fallback contacts: {n_fallback}, translation-checked: {n_checked}");
        assert!(n_fallback >= 50 && n_checked >= 20);
    }
}

#[cfg(test)]
mod upright_cylinder_tests {
    use super::tests_support::*;
    use super::*;
    use crate::collision::collide;

    /// A cylinder standing exactly upright on a plane: the rim points are body-fixed (the rim
    /// direction is the cylinder's x axis). Any tilt switches the feature, so only translations
    /// are checked against finite differences.
    #[test]
    fn contact_geom_plane_cylinder_upright_translations() {
        let cyl = Shape::Cylinder {
            radius: 0.3,
            half_length: 0.4,
        };
        let mut rng = Rng(41);
        let mut checked = 0;
        for _ in 0..10 {
            let pl = Pose {
                pos: rng.vec(1.0),
                rot: rng.rot(),
            };
            let spin = nalgebra::Rotation3::new(Vec3::z() * rng.range(0.0, 6.0)).into_inner();
            let pc = Pose {
                pos: pl.apply(&Vec3::new(rng.range(-1.0, 1.0), 0.3, 0.38)),
                rot: pl.rot * spin,
            };
            for (s1, p1, s2, p2) in [
                (&Shape::Plane, &pl, &cyl, &pc),
                (&cyl, &pc, &Shape::Plane, &pl),
            ] {
                let mut out = Vec::new();
                collide(s1, p1, s2, p2, 0.1, &mut out);
                assert!(!out.is_empty());
                for cp in &out {
                    assert!(matches!(cp.feature.kind, FeatureKind::FacePoint { .. }));
                    let (pb, nb, db) = (rng.vec(1.0), rng.vec(1.0), rng.range(-1.0, 1.0));
                    let (w1, w2) = contact_point_vjp(s1, p1, s2, p2, cp, &pb, &nb, db);
                    let h = 1e-6;
                    for g in 0..2 {
                        for k in 0..3 {
                            let mut v = Vec3::zeros();
                            v[k] = h;
                            let l_at = |s: f64| {
                                let sh = |p: &Pose, on: bool| Pose {
                                    pos: p.pos + v * if on { s } else { 0.0 },
                                    rot: p.rot,
                                };
                                let mut o = Vec::new();
                                collide(s1, &sh(p1, g == 0), s2, &sh(p2, g == 1), 0.1, &mut o);
                                let c = o
                                    .into_iter()
                                    .min_by(|a, b| {
                                        (a.pos - cp.pos).norm().total_cmp(&(b.pos - cp.pos).norm())
                                    })
                                    .unwrap();
                                pb.dot(&c.pos) + nb.dot(&c.normal) + db * c.dist
                            };
                            let fd = (l_at(1.0) - l_at(-1.0)) / (2.0 * h);
                            let an = if g == 0 { w1.lin[k] } else { w2.lin[k] };
                            assert!((fd - an).abs() < 1e-6 * (1.0 + an.abs()), "{fd} vs {an}");
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert!(checked >= 200);
    }
}

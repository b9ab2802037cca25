//! General convex pairs (anything involving a cylinder or a convex hull): GJK on the cores for
//! the distance when separated, EPA when the cores overlap, radii added back for round shapes.
//!
//! Contacts: 1 (the GJK/EPA witness pair). When both shapes present a flat feature to each other
//! (a face within ~2 degrees of the contact normal on one side, a face or an edge on the other,
//! a cylinder's side within ~5 degrees: box on hull, hull on hull, cylinder cap on a face, ...),
//! the incident feature is clipped
//! against the reference face (as in box-box) and up to 4 contacts are returned instead; their
//! normal is the reference face normal and `dist` is measured along it.
//!
//! Features (for exact contact derivatives, see [`crate::adjoint::contact_geom`]): the single
//! contact records the supporting core vertices of the final GJK simplex / EPA face
//! ([`FeatureKind::Poly`]); manifold points record the reference plane (three core vertices)
//! and how each clipped point arose ([`IncPoint`]). A cylinder cap is clipped as an octagon
//! whose corners are core vertices of the cylinder (body-fixed rim points, see
//! [`core_vertex`]), so cap manifolds carry the same features; a cylinder side clipped on a
//! face is the line of rim points deepest along minus the reference normal
//! ([`IncPoint::Rim`], [`IncPoint::RimSide`]). Cylinder GJK support points are
//! not core vertices: single contacts involving a cylinder are recomputed for a few exact
//! features when they match, else carry `FeatureKind::Unknown`.
//!
//! Accuracy: exact (to ~1e-9) for polyhedral and round cores (sphere point, capsule segment, box,
//! hull); for the curved cylinder, GJK/EPA converge to ~1e-6 in the normal. If EPA's polytope
//! degenerates before converging (can happen on curved shapes), the best support-function upper
//! bound found is returned (a direction along which translating B by `-dist` separates the pair).
//! Allocation-free once warm: GJK works on fixed arrays; EPA and the manifold clipping reuse
//! per-thread scratch vectors.

use super::epa::epa;
use super::gjk::{core_vertex, gjk_within, Placed, SVert, NO_VERTEX};
use super::multiccd;
use super::{
    closest_on_segment, emit1, emit2, sgn, ContactPoint, Core, FeatureKind, IncPoint, RefFace,
    Shape,
};
use crate::math::{Pose, Vec3};
use std::cell::RefCell;

/// Alignment tolerance (sine of the angle) for treating features as parallel.
const FLAT_TOL: f64 = 0.035;

/// A cylinder's side lies on a face when `|axis . normal|` is below this (about 5.1 degrees):
/// MuJoCo's `mjEDGE_TOL`, which MuJoCo 4.0 applies to a cylinder's side against a box face
/// (probed: tilted up to that, it gives the side's two clipped points).
const SIDE_TOL: f64 = 0.0888;

/// Canonical vertex set of a face given by three core vertices: for a box, the first three
/// corners (by index) of the box face holding them; for a hull, the first three non-collinear
/// hull vertices (by index) in their plane. Keeps the contact feature stable when the
/// GJK/EPA triangulation of a flat face changes.
fn canonical_face(shape: &Shape, idx: &mut [u32; 3]) {
    match *shape {
        Shape::Box { .. } => {
            for k in 0..3 {
                let bit = idx[0] >> k & 1;
                if idx.iter().all(|&i| i >> k & 1 == bit) {
                    let mut c = (0..8u32).filter(|&i| i >> k & 1 == bit);
                    *idx = [c.next().unwrap(), c.next().unwrap(), c.next().unwrap()];
                    return;
                }
            }
        }
        Shape::Convex(h) => {
            let v = |i: u32| h.vertices[i as usize];
            let (v0, v1, v2) = (v(idx[0]), v(idx[1]), v(idx[2]));
            let nrm = (v1 - v0).cross(&(v2 - v0));
            let len = nrm.norm();
            let size = h.bound_radius().max(1e-300);
            if len <= 1e-12 * size * size {
                return;
            }
            let nf = nrm / len;
            let mut on =
                (0..h.vertices.len() as u32).filter(|&i| nf.dot(&(v(i) - v0)).abs() <= 1e-9 * size);
            let (Some(p0), Some(p1)) = (on.next(), on.next()) else {
                return;
            };
            let e = v(p1) - v(p0);
            if let Some(p2) = on.find(|&i| e.cross(&(v(i) - v(p0))).norm() > 1e-6 * size * size) {
                *idx = [p0, p1, p2];
            }
        }
        _ => {}
    }
}

/// The supporting feature of a GJK simplex / EPA face (`verts`), for the core normal `n`
/// (A to B): [`FeatureKind::Poly`], or `Unknown` when a support point is not a core vertex
/// (cylinder) or the vertex sets are not a generic feature pair.
fn poly_feature(a: &Placed, b: &Placed, verts: &[SVert], n: &Vec3) -> FeatureKind {
    // The distinct vertex indices on each side (a simplex has at most 4 vertices).
    let (mut ia, mut ib) = ([0u32; 4], [0u32; 4]);
    let (mut na, mut nb) = (0, 0);
    for v in verts {
        if v.ia == NO_VERTEX || v.ib == NO_VERTEX {
            return FeatureKind::Unknown;
        }
        if !ia[..na].contains(&v.ia) {
            ia[na] = v.ia;
            na += 1;
        }
        if !ib[..nb].contains(&v.ib) {
            ib[nb] = v.ib;
            nb += 1;
        }
    }
    // A generic pair of features spans exactly the simplex.
    if na + nb != verts.len() + 1 || na > 3 || nb > 3 {
        return FeatureKind::Unknown;
    }
    ia[..na].sort_unstable();
    ib[..nb].sort_unstable();
    let mut fa = [0u32; 3];
    let mut fb = [0u32; 3];
    fa[..na].copy_from_slice(&ia[..na]);
    fb[..nb].copy_from_slice(&ib[..nb]);
    if na == 3 {
        canonical_face(a.shape, &mut fa);
    }
    if nb == 3 {
        canonical_face(b.shape, &mut fb);
    }
    let wv = |p: &Placed, i: u32| core_vertex(p.shape, i).map(|l| p.pose.apply(&l));
    let dir = match (na, nb) {
        (3, 1) | (1, 3) => {
            let (p, f) = if na == 3 { (a, &fa) } else { (b, &fb) };
            let (Some(v0), Some(v1), Some(v2)) = (wv(p, f[0]), wv(p, f[1]), wv(p, f[2])) else {
                return FeatureKind::Unknown;
            };
            Some((v1 - v0).cross(&(v2 - v0)))
        }
        (2, 2) => {
            let (Some(a0), Some(a1), Some(b0), Some(b1)) =
                (wv(a, fa[0]), wv(a, fa[1]), wv(b, fb[0]), wv(b, fb[1]))
            else {
                return FeatureKind::Unknown;
            };
            Some((a1 - a0).cross(&(b1 - b0)))
        }
        _ => None,
    };
    let nsign = match dir {
        Some(d) => {
            let c = d.dot(n);
            if c.abs() < 1e-6 * d.norm() {
                return FeatureKind::Unknown;
            }
            sgn(c) as i8
        }
        None => 1,
    };
    FeatureKind::Poly {
        na: na as u8,
        nb: nb as u8,
        ia: fa,
        ib: fb,
        nsign,
    }
}

/// The result of [`core_contact_within`]: core-level closest points `(pa, pb, n,
/// signed_core_distance, feature, EPA's final face when the cores overlap)` with `n` from A to
/// B and the supporting feature ([`FeatureKind::Poly`] or `Unknown`).
type CoreContact = (Vec3, Vec3, Vec3, f64, FeatureKind, Option<[SVert; 3]>);

/// The cores' closest points and feature, or `None` when the cores are more than `cutoff`
/// apart (see [`super::gjk::gjk_within`]).
fn core_contact_within(a: &Placed, b: &Placed, cutoff: f64) -> Option<CoreContact> {
    let g = gjk_within(a, b, cutoff)?;
    let fallback_n = || {
        let d = b.pose.pos - a.pose.pos;
        if d.norm() > 1e-12 {
            d.normalize()
        } else {
            Vec3::z()
        }
    };
    if !g.overlap {
        let v = g.pb - g.pa;
        let len = v.norm();
        if len > 1e-300 {
            let n = v / len;
            if len >= cutoff {
                return None;
            }
            let f = poly_feature(a, b, &g.simplex[..g.n], &n);
            return Some((g.pa, g.pb, n, len, f, None));
        }
        return Some((g.pa, g.pb, fallback_n(), len, FeatureKind::Unknown, None));
    }
    Some(match epa(a, b, &g) {
        Some(e) => {
            let f = match &e.face {
                Some(face) => poly_feature(a, b, face, &e.normal),
                None => FeatureKind::Unknown,
            };
            (e.pa, e.pb, e.normal, -e.depth, f, e.face)
        }
        None => (g.pa, g.pb, fallback_n(), 0.0, FeatureKind::Unknown, None),
    })
}

/// GJK/EPA contact between two placed shapes, including radii:
/// `(point on surface A, point on surface B, normal A->B, dist)`.
#[cfg(test)]
pub(crate) fn shape_contact(a: &Placed, b: &Placed) -> (Vec3, Vec3, Vec3, f64) {
    let (ca, cb, n, dc, _, _) = core_contact_within(a, b, f64::INFINITY).expect("no cutoff");
    let (ra, rb) = (a.radius(), b.radius());
    (ca + n * ra, cb - n * rb, n, dc - ra - rb)
}

/// Buffers of [`manifold`] and [`cylinder_face_contact`] (each use clears what it fills).
#[derive(Default)]
struct Scratch {
    /// The hull face polygon of [`snap_face`].
    face: Vec<Vec3>,
    /// Points and core vertices of the features of A and B ([`feature`]).
    pts_a: Vec<Vec3>,
    idx_a: Vec<u32>,
    pts_b: Vec<Vec3>,
    idx_b: Vec<u32>,
    /// The clipped incident polygon and its next clipping stage.
    poly: Vec<(Vec3, Lbl)>,
    tmp: Vec<(Vec3, Lbl)>,
    /// The clipped points (for [`select4`]).
    xs: Vec<Vec3>,
    /// MuJoCo's polytope multi-contact's buffers.
    multi: multiccd::Scratch,
}

thread_local! {
    // Per-thread scratch of the general pair, reused (keeping its capacity) so steady-state
    // steps do not allocate.
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// General pair: see the module documentation.
pub fn collide_general(
    s1: &Shape,
    p1: &Pose,
    s2: &Shape,
    p2: &Pose,
    margin: f64,
    out: &mut Vec<ContactPoint>,
) {
    let a = Placed {
        shape: s1,
        pose: p1,
    };
    let b = Placed {
        shape: s2,
        pose: p2,
    };
    // the cores must come within the margin plus the radii
    let (ra, rb) = (a.radius(), b.radius());
    let Some((ca, cb, n, dc, kind, epa_face)) = core_contact_within(&a, &b, margin + ra + rb)
    else {
        return;
    };
    let (qa, qb, dist) = (ca + n * ra, cb - n * rb, dc - ra - rb);
    if dist >= margin {
        return;
    }
    // MuJoCo's multi-contact of two polyhedra without margins, from the EPA face; its single
    // EPA contact when no faces or edges line up
    let mujoco_polytope = margin == 0.0 && multiccd::applies(s1, s2);
    let handled = SCRATCH.with(|s| {
        let s = &mut *s.borrow_mut();
        if mujoco_polytope {
            // a capsule's core (its segment) is apart from the hull while its radius
            // overlaps: the features are those of GJK's closest points
            let face = epa_face.or_else(|| gjk_features(&a, &b, &kind));
            return match face {
                Some(face) if dist < 0.0 => {
                    multiccd::polytope_contacts(&a, &b, &face, &n, out, &mut s.multi) > 0
                }
                _ => false,
            };
        }
        if manifold(&a, &b, &n, margin, out, s) > 0 {
            return true;
        }
        if kind == FeatureKind::Unknown {
            if let Some(c) = cylinder_face_contact(&a, &b, &n, dist, &mut s.face) {
                if c.dist < margin {
                    out.push(c);
                }
                return true;
            }
        }
        false
    });
    if handled {
        return;
    }
    out.push(ContactPoint {
        pos: (qa + qb) * 0.5,
        normal: n,
        dist,
        feature: super::Feature {
            swapped: false,
            kind,
        },
    });
}

/// The closest features of a GJK result (`FeatureKind::Poly`) as an EPA face would name them
/// (three Minkowski vertices; repeated indices for a vertex or an edge), for
/// [`multiccd::polytope_contacts`].
fn gjk_features(a: &Placed, b: &Placed, kind: &FeatureKind) -> Option<[SVert; 3]> {
    let FeatureKind::Poly { na, nb, ia, ib, .. } = *kind else {
        return None;
    };
    let (na, nb) = (na as usize, nb as usize);
    if !(1..=3).contains(&na) || !(1..=3).contains(&nb) {
        return None;
    }
    let pick = |ix: &[u32; 3], n: usize, k: usize| ix[k.min(n - 1)];
    let mut out = [SVert {
        w: Vec3::zeros(),
        a: Vec3::zeros(),
        b: Vec3::zeros(),
        ia: NO_VERTEX,
        ib: NO_VERTEX,
    }; 3];
    for (k, v) in out.iter_mut().enumerate() {
        let (i, j) = (pick(&ia, na, k), pick(&ib, nb, k));
        v.a = a.pose.apply(&core_vertex(a.shape, i)?);
        v.b = b.pose.apply(&core_vertex(b.shape, j)?);
        v.w = v.a - v.b;
        (v.ia, v.ib) = (i, j);
    }
    Some(out)
}

/// Core vertex index of the box corner `x` (see [`core_vertex`]).
fn box_corner(x: &Vec3) -> u32 {
    (x.x > 0.0) as u32 | ((x.y > 0.0) as u32) << 1 | ((x.z > 0.0) as u32) << 2
}

/// Angle tolerance (cosine deficit) for matching a GJK/EPA normal on curved shapes to a face.
const SNAP_COS: f64 = 1e-6;

/// The inside test of a face found by [`snap_face`]: whether a world point projects strictly
/// (by `1e-9` of the size) inside the face of the placed shape.
enum Inside<'s> {
    /// Box face normal to local axis `axis`.
    Box { axis: usize, half: Vec3 },
    /// Cylinder cap.
    Cap { radius: f64 },
    /// Hull face: its vertices (local) ordered counter-clockwise around its local normal `nl`.
    Poly { poly: &'s [Vec3], nl: Vec3 },
}

impl Inside<'_> {
    fn contains(&self, p: &Placed, x: &Vec3) -> bool {
        let margin = 1e-9 * p.size();
        let q = p.pose.rot.transpose() * (x - p.pose.pos);
        match *self {
            Inside::Box { axis, half } => {
                (0..3).all(|k| k == axis || q[k].abs() <= half[k] - margin)
            }
            Inside::Cap { radius } => q.x.hypot(q.y) <= radius - margin,
            // On the inner side of every edge of the face polygon.
            Inside::Poly { poly, nl } => (0..poly.len()).all(|k| {
                let (p0, p1) = (poly[k], poly[(k + 1) % poly.len()]);
                let e = (p1 - p0).normalize();
                nl.dot(&e.cross(&(q - p0))) >= margin
            }),
        }
    }
}

/// A flat face of `p` with outward normal within [`SNAP_COS`] of world direction `m`:
/// `(face, exact world normal, world point on the plane, inside-test of a world point)`;
/// `poly` holds a hull face's polygon.
fn snap_face<'s>(
    p: &Placed,
    m: &Vec3,
    poly: &'s mut Vec<Vec3>,
) -> Option<(RefFace, Vec3, Vec3, Inside<'s>)> {
    let rot = p.pose.rot;
    let l = rot.transpose() * m;
    match *p.shape {
        Shape::Box { half } => {
            let i = l.iamax();
            if l[i].abs() < 1.0 - SNAP_COS {
                return None;
            }
            let s = sgn(l[i]);
            let mut nl = Vec3::zeros();
            nl[i] = s;
            let face = RefFace::Box {
                axis: i as u8,
                sign: s as i8,
            };
            Some((
                face,
                rot * nl,
                p.pose.apply(&(nl * half[i])),
                Inside::Box { axis: i, half },
            ))
        }
        Shape::Cylinder {
            radius,
            half_length,
        } => {
            if l.z.abs() < 1.0 - SNAP_COS {
                return None;
            }
            let top = l.z > 0.0;
            let s = if top { 1.0 } else { -1.0 };
            Some((
                RefFace::CylCap { top },
                rot * Vec3::new(0.0, 0.0, s),
                p.pose.apply(&Vec3::new(0.0, 0.0, s * half_length)),
                Inside::Cap { radius },
            ))
        }
        Shape::Convex(h) => {
            if h.faces.is_empty() || h.normals.len() != h.faces.len() {
                return None;
            }
            let mut best = 0;
            for (i, nf) in h.normals.iter().enumerate() {
                if nf.dot(&l) > h.normals[best].dot(&l) {
                    best = i;
                }
            }
            let nf = h.normals[best];
            if nf.dot(&l) < 1.0 - SNAP_COS {
                return None;
            }
            let mut f = h.faces[best];
            canonical_face(p.shape, &mut f);
            let v = |i: u32| h.vertices[i as usize];
            if (v(f[1]) - v(f[0])).cross(&(v(f[2]) - v(f[0]))).dot(&nf) < 0.0 {
                f.swap(1, 2);
            }
            let nl = (v(f[1]) - v(f[0])).cross(&(v(f[2]) - v(f[0]))).normalize();
            let off = nl.dot(&v(f[0]));
            let tol = 1e-9 * h.bound_radius().max(1e-300);
            poly.clear();
            poly.extend(
                h.vertices
                    .iter()
                    .filter(|x| (nl.dot(x) - off).abs() <= tol)
                    .copied(),
            );
            // Inside the convex face polygon: on the inner side of every edge of the hull of
            // these vertices (a point is inside iff no vertex pair has it strictly outside and
            // all others on the inner side; tested through the supporting lines of the polygon).
            let c = poly.iter().fold(Vec3::zeros(), |s, x| s + x) / poly.len() as f64;
            let u = super::any_perp(&nl);
            let w = nl.cross(&u);
            poly.sort_by(|x, y| {
                let ax = (x - c).dot(&w).atan2((x - c).dot(&u));
                let ay = (y - c).dot(&w).atan2((y - c).dot(&u));
                ax.total_cmp(&ay)
            });
            Some((
                RefFace::Verts(f),
                rot * nl,
                p.pose.apply(&v(f[0])),
                Inside::Poly { poly, nl },
            ))
        }
        _ => None,
    }
}

/// The pair seen from its cylinder (shape `a` when `cyl_is_a`): the cylinder, the other shape,
/// the cylinder's radius and half length, the contact normal oriented from the cylinder to the
/// other shape, and the cylinder's axis; None when that shape is not a cylinder.
fn cylinder_side<'p, 'a>(
    a: &'p Placed<'a>,
    b: &'p Placed<'a>,
    n: &Vec3,
    cyl_is_a: bool,
) -> Option<(&'p Placed<'a>, &'p Placed<'a>, f64, f64, Vec3, Vec3)> {
    let (cy, o) = if cyl_is_a { (a, b) } else { (b, a) };
    let Shape::Cylinder {
        radius,
        half_length,
    } = *cy.shape
    else {
        return None;
    };
    let m = if cyl_is_a { *n } else { -n };
    Some((
        cy,
        o,
        radius,
        half_length,
        m,
        cy.pose.rot.column(2).into_owned(),
    ))
}

/// A contact involving a cylinder (not found exactly by GJK/EPA, which converge slowly on the
/// curved surface) recomputed exactly when it is a flat face (box face, hull face, cylinder cap)
/// against the other shape's deepest point along the face normal (a core vertex plus radius,
/// or a cylinder rim point), the point projecting strictly inside the face: the GJK/EPA normal
/// `n` (A to B) must be within [`SNAP_COS`] of the face normal and the distances must agree to
/// `1e-6` of the size. Likewise the curved side against a core vertex (sphere centre, capsule
/// end, box corner, hull vertex), a capsule/cylinder axis interior or a box/hull edge interior,
/// projecting strictly inside the cylinder's axis segment: two balls (radial normal). Likewise
/// a core vertex beyond a cap and outside the radius against the rim circle (the nearest rim
/// point), and a line (capsule segment or cylinder side: the axis line plus a radius; box/hull
/// edge) or another cylinder's rim against the rim circle (a stationary point of their
/// distance). Each also when the
/// centres have crossed (deep overlaps, [`FeatureKind::BallsCrossed`]). `None` otherwise.
fn cylinder_face_contact(
    a: &Placed,
    b: &Placed,
    n: &Vec3,
    dist: f64,
    face_poly: &mut Vec<Vec3>,
) -> Option<ContactPoint> {
    if !matches!(a.shape, Shape::Cylinder { .. }) && !matches!(b.shape, Shape::Cylinder { .. }) {
        return None;
    }
    let scale = a.size() + b.size();
    let mut best: Option<(f64, ContactPoint)> = None;
    for ref_is_a in [true, false] {
        let (r, i, m) = if ref_is_a { (a, b, *n) } else { (b, a, -n) };
        let Some((face, nw, o, inside)) = snap_face(r, &m, face_poly) else {
            continue;
        };
        // The incident point: deepest along -nw.
        let (x, point, radius) = match *i.shape {
            Shape::Cylinder {
                radius,
                half_length,
            } => {
                let ax = i.pose.rot.column(2).into_owned();
                let an = ax.dot(&nw);
                let perp = nw - ax * an;
                if an.abs() < 1e-3 || perp.norm() < 1e-3 {
                    continue;
                }
                let top = an < 0.0;
                let z = if top { half_length } else { -half_length };
                let x = i.pose.pos + ax * z - perp.normalize() * radius;
                (x, IncPoint::Rim { top }, 0.0)
            }
            _ => {
                let (x, idx) = i.support_idx(&-nw);
                let Some(l) = core_vertex(i.shape, idx) else {
                    continue;
                };
                (x, IncPoint::Local(l), i.radius())
            }
        };
        let d = nw.dot(&(x - o)) - radius;
        let normal = if ref_is_a { nw } else { -nw };
        if (d - dist).abs() > 1e-6 * scale || !inside.contains(r, &x) {
            continue;
        }
        let score = (normal - n).norm();
        let c = ContactPoint {
            pos: x - nw * (radius + 0.5 * d),
            normal,
            dist: d,
            feature: super::Feature {
                swapped: false,
                kind: FeatureKind::FacePoint {
                    ref_is_a,
                    face,
                    point,
                    radius,
                },
            },
        };
        if best.as_ref().is_none_or(|b| score < b.0) {
            best = Some((score, c));
        }
    }
    // The curved side of a cylinder against a core vertex (a ball centre) or the interior of
    // a capsule segment: two balls (the cylinder's centred on its axis).
    for cyl_is_a in [true, false] {
        let Some((cy, o, rc, hc, m, ax)) = cylinder_side(a, b, n, cyl_is_a) else {
            continue;
        };
        let margin = 1e-9 * scale;
        let on_axis = |x: &Vec3| cy.pose.pos + ax * ax.dot(&(x - cy.pose.pos));
        // (point, core on the cylinder, core on the other, radius around the other's core)
        let (xs, sidx) = o.support_idx(&-m);
        let candidates = [
            core_vertex(o.shape, sidx)
                .map(|l| (xs, Core::ProjOther(l), Core::Fixed(l), o.radius())),
            match *o.shape {
                Shape::Capsule {
                    radius,
                    half_length,
                }
                | Shape::Cylinder {
                    radius,
                    half_length,
                } if half_length > 0.0 => {
                    let (e0, e1) = super::axis_ends(o.pose, half_length);
                    let (s0, t0) = super::closest_seg_seg(
                        &(cy.pose.pos - ax * hc),
                        &(ax * (2.0 * hc)),
                        &e0,
                        &(e1 - e0),
                    );
                    let interior = s0 > 1e-9 && s0 < 1.0 - 1e-9 && t0 > 1e-9 && t0 < 1.0 - 1e-9;
                    interior.then(|| (e0 + (e1 - e0) * t0, Core::LineLine, Core::LineLine, radius))
                }
                _ => None,
            },
        ];
        // A box or hull edge from the supporting vertex, nearly perpendicular to the normal:
        // the closest points of the edge line and the axis line (edge interior).
        let mut buf = [0; 3];
        let edges = vertex_neighbors(o.shape, sidx, &mut buf)
            .iter()
            .filter_map(|&j| {
                let (Some(l0), Some(l1)) = (core_vertex(o.shape, sidx), core_vertex(o.shape, j))
                else {
                    return None;
                };
                let (x0, x1) = (o.pose.apply(&l0), o.pose.apply(&l1));
                let e = x1 - x0;
                if e.norm() <= 1e-9 * scale || m.dot(&e).abs() > 1e-3 * e.norm() {
                    return None;
                }
                let (s0, t0) =
                    super::closest_seg_seg(&(cy.pose.pos - ax * hc), &(ax * (2.0 * hc)), &x0, &e);
                let interior = s0 > 1e-9 && s0 < 1.0 - 1e-9 && t0 > 1e-9 && t0 < 1.0 - 1e-9;
                // Either end may be the support vertex: record the edge canonically.
                let edge = [sidx.min(j), sidx.max(j)];
                interior.then(|| (x0 + e * t0, Core::LineLine, Core::EdgeLine(edge), 0.0))
            });
        for (x, c_cyl, c_other, ro) in candidates.into_iter().flatten().chain(edges) {
            let q = on_axis(&x);
            let z = ax.dot(&(q - cy.pose.pos));
            let v = x - q;
            let len = v.norm();
            if z.abs() >= hc - margin || len <= 1e-9 * scale {
                continue;
            }
            // An edge passing (nearly) through the axis: the radial normal is ill-conditioned.
            if matches!(c_other, Core::EdgeLine(_)) && len < 0.05 * rc {
                continue;
            }
            for through in [false, true] {
                try_balls(
                    &mut best,
                    (cyl_is_a, n, dist, scale),
                    (q, c_cyl, rc),
                    (x, c_other, ro),
                    through,
                );
            }
        }
    }
    // The rim circle of a cylinder against a core vertex (a ball centre) beyond the cap and
    // outside the radius, or crossed (below the cap inside the radius): two balls, the rim
    // point nearest the vertex.
    for cyl_is_a in [true, false] {
        let Some((cy, o, rc, hc, m, ax)) = cylinder_side(a, b, n, cyl_is_a) else {
            continue;
        };
        let (x, idx) = o.support_idx(&-m);
        let Some(l) = core_vertex(o.shape, idx) else {
            continue;
        };
        let ro = o.radius();
        for top in [true, false] {
            let sz = if top { 1.0 } else { -1.0 };
            let c = cy.pose.pos + ax * (sz * hc);
            try_rim(
                &mut best,
                (cyl_is_a, n, dist, scale),
                (&c, &ax, sz, top, rc),
                (x, Core::Fixed(l), ro),
            );
        }
    }
    // The rim circle of a cylinder against a line: a capsule segment or cylinder side (the
    // axis line, + radius) or a box/hull edge, a stationary point of their distance (found by
    // Newton's method, see [`super::line_circle`]) with the line point strictly inside its
    // segment, beyond the cap and outside the radius.
    for cyl_is_a in [true, false] {
        let Some((cy, o, rc, hc, m, ax)) = cylinder_side(a, b, n, cyl_is_a) else {
            continue;
        };
        // (segment start, segment vector, core on the other, radius around it)
        let axis_line = match *o.shape {
            Shape::Capsule {
                radius,
                half_length,
            }
            | Shape::Cylinder {
                radius,
                half_length,
            } if half_length > 0.0 => {
                let (e0, e1) = super::axis_ends(o.pose, half_length);
                Some((e0, e1 - e0, Core::OnAxis, radius))
            }
            _ => None,
        };
        let mut buf = [0; 3];
        let (sidx, nbrs) = match *o.shape {
            Shape::Box { .. } | Shape::Convex(_) => {
                let (_, sidx) = o.support_idx(&-m);
                (sidx, vertex_neighbors(o.shape, sidx, &mut buf))
            }
            _ => (0, &[][..]),
        };
        let edge_lines = nbrs.iter().filter_map(|&j| {
            let (Some(l0), Some(l1)) = (core_vertex(o.shape, sidx), core_vertex(o.shape, j)) else {
                return None;
            };
            let (i0, i1) = (sidx.min(j), sidx.max(j));
            let (x0, x1) = if i0 == sidx {
                (o.pose.apply(&l0), o.pose.apply(&l1))
            } else {
                (o.pose.apply(&l1), o.pose.apply(&l0))
            };
            let e = x1 - x0;
            (e.norm() > 1e-9 * scale && m.dot(&e).abs() <= 1e-3 * e.norm()).then_some((
                x0,
                e,
                Core::OnEdge([i0, i1]),
                0.0,
            ))
        });
        let ys = cy.support(&m);
        for (p0, e, c_other, ro) in axis_line.into_iter().chain(edge_lines) {
            for top in [true, false] {
                let sz = if top { 1.0 } else { -1.0 };
                let c = cy.pose.pos + ax * (sz * hc);
                let t0 = e.dot(&(ys - p0)) / e.dot(&e);
                let Some((t, _)) = super::line_circle(&p0, &e, &c, &ax, rc, t0) else {
                    continue;
                };
                if t <= 1e-9 || t >= 1.0 - 1e-9 {
                    continue;
                }
                let x = p0 + e * t;
                try_rim(
                    &mut best,
                    (cyl_is_a, n, dist, scale),
                    (&c, &ax, sz, top, rc),
                    (x, c_other, ro),
                );
            }
        }
    }
    // Rim against rim (two cylinders): a stationary point of the distance between the two
    // circles (Newton's method, see [`super::circle_circle`]), the normal in both rims' normal
    // cones.
    if let (
        Shape::Cylinder {
            radius: r1,
            half_length: h1,
        },
        Shape::Cylinder {
            radius: r2,
            half_length: h2,
        },
    ) = (*a.shape, *b.shape)
    {
        let ya = a.support(n);
        let yb = b.support(&-n);
        let col = |p: &Placed, k: usize| p.pose.rot.column(k).into_owned();
        let (a0, a1, a2) = (col(a, 0), col(a, 1), col(a, 2));
        let (b0, b1, b2) = (col(b, 0), col(b, 1), col(b, 2));
        let top1 = a2.dot(&(ya - a.pose.pos)) > 0.0;
        let top2 = b2.dot(&(yb - b.pose.pos)) > 0.0;
        let ca = a.pose.pos + a2 * if top1 { h1 } else { -h1 };
        let cb = b.pose.pos + b2 * if top2 { h2 } else { -h2 };
        let ang =
            |y: &Vec3, c: &Vec3, e0: &Vec3, e1: &Vec3| e1.dot(&(y - c)).atan2(e0.dot(&(y - c)));
        let t0 = [ang(&ya, &ca, &a0, &a1), ang(&yb, &cb, &b0, &b1)];
        if let Some((t, _)) =
            super::circle_circle([&ca, &cb], [(&a0, &a1), (&b0, &b1)], [r1, r2], t0)
        {
            let y1 = super::circle_at(&ca, &a0, &a1, r1, t[0]).0;
            let y2 = super::circle_at(&cb, &b0, &b1, r2, t[1]).0;
            let w = y2 - y1;
            let len = w.norm();
            if len > 1e-9 * scale {
                let (sa, sb) = (if top1 { 1.0 } else { -1.0 }, if top2 { 1.0 } else { -1.0 });
                for through in [false, true] {
                    // Outward normal of A (towards B).
                    let nv = if through { -w / len } else { w / len };
                    let cone = |v: &Vec3, y: &Vec3, c: &Vec3, ax: &Vec3, s: f64| {
                        v.dot(&(ax * s)) >= -1e-9 && v.dot(&(y - c)) >= -1e-9
                    };
                    if !cone(&nv, &y1, &ca, &a2, sa) || !cone(&-nv, &y2, &cb, &b2, sb) {
                        continue;
                    }
                    try_balls(
                        &mut best,
                        (true, n, dist, scale),
                        (y1, Core::RimNear { top: top1 }, 0.0),
                        (y2, Core::RimNear { top: top2 }, 0.0),
                        through,
                    );
                }
            }
        }
    }
    best.map(|b| b.1)
}

/// The core vertices joined to core vertex `i` of a box or hull by an edge (`buf` holds a box's).
fn vertex_neighbors<'a>(shape: &Shape<'a>, i: u32, buf: &'a mut [u32; 3]) -> &'a [u32] {
    match *shape {
        Shape::Box { .. } if i < 8 => {
            *buf = [i ^ 1, i ^ 2, i ^ 4];
            buf
        }
        Shape::Convex(h) => h.neighbors.get(i as usize).map_or(&[], |v| v.as_slice()),
        _ => &[],
    }
}

/// A point `x` of the other shape (with its core and radius) against the rim circle of the
/// cylinder cap centred at `c` (axis `ax`, `sz` = +1 top / -1 bottom, radius `rc`): outside
/// (beyond the cap and the radius) or crossed (below the cap, inside the radius) it is a
/// two-ball contact with the rim point nearest `x`; anything else gives no candidate.
fn try_rim(
    best: &mut Option<(f64, ContactPoint)>,
    ctx: (bool, &Vec3, f64, f64),
    (c, ax, sz, top, rc): (&Vec3, &Vec3, f64, bool, f64),
    (x, core, ro): (Vec3, Core, f64),
) {
    let margin = 1e-9 * ctx.3;
    let rel = x - c;
    let along = ax.dot(&rel);
    let perp = rel - ax * along;
    let pl = perp.norm();
    let through = if sz * along > margin && pl > rc + margin {
        false
    } else if sz * along < -margin && pl < rc - margin && pl > margin {
        true
    } else {
        return;
    };
    let y = c + perp * (rc / pl);
    try_balls(
        best,
        ctx,
        (y, Core::RimNear { top }, 0.0),
        (x, core, ro),
        through,
    );
}

/// A two-ball candidate of [`cylinder_face_contact`]: the cylinder's ball (centre `pc`, core
/// `cc`, radius `rc`) and the other's (`po`, `co`, `ro`); `through`: the centres have crossed
/// (the normal points from the other centre to the cylinder's, [`FeatureKind::BallsCrossed`]).
/// Kept in `best` (by normal agreement) if its normal and distance match the GJK/EPA `n`
/// (A to B) and `dist`.
fn try_balls(
    best: &mut Option<(f64, ContactPoint)>,
    (cyl_is_a, n, dist, scale): (bool, &Vec3, f64, f64),
    (pc, cc, rc): (Vec3, Core, f64),
    (po, co, ro): (Vec3, Core, f64),
    through: bool,
) {
    let v = po - pc;
    let len = v.norm();
    if len <= 1e-9 * scale {
        return;
    }
    // Cylinder to other.
    let (nv, d) = if through {
        (-v / len, -len - rc - ro)
    } else {
        (v / len, len - rc - ro)
    };
    let m = if cyl_is_a { *n } else { -n };
    if (d - dist).abs() > 1e-6 * scale || (nv - m).norm() > 2e-3 {
        return;
    }
    let normal = if cyl_is_a { nv } else { -nv };
    let (c1, c2) = if cyl_is_a { (cc, co) } else { (co, cc) };
    let kind = if through {
        FeatureKind::BallsCrossed { c1, c2 }
    } else {
        FeatureKind::Balls { c1, c2 }
    };
    let c = ContactPoint {
        pos: pc + nv * (rc + 0.5 * d),
        normal,
        dist: d,
        feature: super::Feature {
            swapped: false,
            kind,
        },
    };
    let score = (normal - n).norm();
    if best.as_ref().is_none_or(|b| score < b.0) {
        *best = Some((score, c));
    }
}

/// A flat feature of a shape facing a direction. `idx` are the core vertex indices of the
/// points ([`NO_VERTEX`] for points on a cylinder side).
enum Feature<'s> {
    /// Face polygon (counter-clockwise around `normal`), with its exact outward normal.
    Face {
        pts: &'s [Vec3],
        idx: &'s [u32],
        normal: Vec3,
    },
    /// Segment, swept by `radius` (capsule: the core segment).
    Edge {
        pts: [Vec3; 2],
        idx: [u32; 2],
        radius: f64,
    },
    /// Point or curved: no multi-contact.
    None,
}

/// The flat feature of `p` facing world direction `dir` (unit); a face's points and indices are
/// written to `pts` and `idx`.
fn feature<'s>(
    p: &Placed,
    dir: &Vec3,
    pts: &'s mut Vec<Vec3>,
    idx: &'s mut Vec<u32>,
) -> Feature<'s> {
    let rot = &p.pose.rot;
    let l = rot.transpose() * dir;
    let w = |x: Vec3| p.pose.apply(&x);
    let cos_tol = (1.0 - FLAT_TOL * FLAT_TOL).sqrt();
    match *p.shape {
        Shape::Box { half } => {
            let i = l.iamax();
            if l[i].abs() >= cos_tol {
                let (j, k) = ((i + 1) % 3, (i + 2) % 3);
                let s = sgn(l[i]);
                pts.clear();
                idx.clear();
                // CCW around s*e_i: (j,k) order is right-handed for s = +1.
                let loop_ = [(1.0, 1.0), (-1.0, 1.0), (-1.0, -1.0), (1.0, -1.0)];
                for (u, v) in loop_ {
                    let mut x = Vec3::zeros();
                    x[i] = s * half[i];
                    x[j] = u * half[j];
                    x[k] = s * v * half[k];
                    pts.push(w(x));
                    idx.push(box_corner(&x));
                }
                let mut nl = Vec3::zeros();
                nl[i] = s;
                return Feature::Face {
                    pts,
                    idx,
                    normal: rot * nl,
                };
            }
            // Edge: exactly one small component.
            let mut small = (0..3).filter(|&m| l[m].abs() < FLAT_TOL);
            if let (Some(m), None) = (small.next(), small.next()) {
                let mut x = Vec3::new(sgn(l.x) * half.x, sgn(l.y) * half.y, sgn(l.z) * half.z);
                x[m] = -half[m];
                let (x0, i0) = (w(x), box_corner(&x));
                x[m] = half[m];
                return Feature::Edge {
                    pts: [x0, w(x)],
                    idx: [i0, box_corner(&x)],
                    radius: 0.0,
                };
            }
            Feature::None
        }
        Shape::Cylinder {
            radius,
            half_length,
        } => {
            if l.z.abs() >= cos_tol {
                let s = sgn(l.z);
                // Octagon corners: core vertices `k + 8 top` (see [`core_vertex`]).
                idx.clear();
                idx.extend((0..8).map(|k| k + if s > 0.0 { 8 } else { 0 }));
                pts.clear();
                pts.extend(
                    idx.iter()
                        .map(|&i| w(core_vertex(p.shape, i).unwrap_or_default())),
                );
                return Feature::Face {
                    pts,
                    idx,
                    normal: rot * Vec3::new(0.0, 0.0, s),
                };
            }
            if l.z.abs() < SIDE_TOL {
                let rxy = l.x.hypot(l.y);
                let (cx, cy) = (radius * l.x / rxy, radius * l.y / rxy);
                return Feature::Edge {
                    pts: [
                        w(Vec3::new(cx, cy, -half_length)),
                        w(Vec3::new(cx, cy, half_length)),
                    ],
                    idx: [NO_VERTEX; 2],
                    radius: 0.0,
                };
            }
            Feature::None
        }
        Shape::Capsule {
            radius,
            half_length,
        } => {
            if half_length > 0.0 && l.z.abs() < FLAT_TOL {
                return Feature::Edge {
                    pts: [
                        w(Vec3::new(0.0, 0.0, -half_length)),
                        w(Vec3::new(0.0, 0.0, half_length)),
                    ],
                    idx: [0, 1],
                    radius,
                };
            }
            Feature::None
        }
        Shape::Convex(h) => {
            if h.faces.is_empty() || h.normals.len() != h.faces.len() {
                return Feature::None;
            }
            let mut best = 0;
            for (i, nf) in h.normals.iter().enumerate() {
                if nf.dot(&l) > h.normals[best].dot(&l) {
                    best = i;
                }
            }
            let nf = h.normals[best];
            if nf.dot(&l) < cos_tol {
                return Feature::None;
            }
            let off = nf.dot(&h.vertices[h.faces[best][0] as usize]);
            let tol = 1e-9 * h.bound_radius().max(1e-300);
            idx.clear();
            idx.extend(
                (0..h.vertices.len() as u32)
                    .filter(|&i| (nf.dot(&h.vertices[i as usize]) - off).abs() <= tol),
            );
            let vx = |i: &u32| h.vertices[*i as usize];
            // Order counter-clockwise around nf.
            let c = idx.iter().fold(Vec3::zeros(), |s, i| s + vx(i)) / idx.len() as f64;
            let u = super::any_perp(&nf);
            let v = nf.cross(&u);
            idx.sort_by(|x, y| {
                let (x, y) = (vx(x), vx(y));
                let ax = (x - c).dot(&v).atan2((x - c).dot(&u));
                let ay = (y - c).dot(&v).atan2((y - c).dot(&u));
                ax.total_cmp(&ay)
            });
            pts.clear();
            pts.extend(idx.iter().map(|i| w(vx(i))));
            Feature::Face {
                pts,
                idx,
                normal: rot * nf,
            }
        }
        _ => Feature::None,
    }
}

/// Provenance of a clipped manifold point (for its contact feature).
#[derive(Clone, Copy, PartialEq, Debug)]
pub(crate) enum Lbl {
    /// Incident core vertex.
    V(u32),
    /// Incident edge (core vertices) cut by reference side `k` (from corner `k` to `k + 1`).
    E(u32, u32, usize),
    /// Reference corner `k` projected on the incident face along the reference normal.
    C(usize),
    /// End of a cylinder's side line (the rim point deepest along minus the reference normal,
    /// on the upper cap if `true`).
    R(bool),
    /// A cylinder's side line cut by reference side `k`.
    RS(usize),
    /// The intersection of two non-adjacent reference side planes with the incident face
    /// (an intermediate clipping point).
    SS(usize, usize),
    /// Not trackable (degenerate clipping).
    X,
}

/// Label of the point where the segment `(l0, l1)` crosses reference side `k` (of `m`).
pub(crate) fn cut_label(l0: Lbl, l1: Lbl, k: usize, m: usize) -> Lbl {
    use Lbl::*;
    if matches!(l0, R(_) | RS(_)) && matches!(l1, R(_) | RS(_)) {
        return RS(k);
    }
    let edge = match (l0, l1) {
        (V(i), V(j)) => Some((i, j)),
        (V(i), E(a, b, _)) | (E(a, b, _), V(i)) if i == a || i == b => Some((a, b)),
        (E(a, b, _), E(c, d, _)) if (a, b) == (c, d) || (a, b) == (d, c) => Some((a, b)),
        _ => None,
    };
    if let Some((a, b)) = edge {
        return E(a, b, k);
    }
    // Reference side planes a point lies on (all points are in the incident face plane).
    let sides = |l: Lbl| match l {
        E(_, _, s) => [Some(s), None],
        C(c) => [Some((c + m - 1) % m), Some(c)],
        SS(s, t) => [Some(s), Some(t)],
        _ => [None, None],
    };
    let s1 = sides(l1);
    for sm in sides(l0).into_iter().flatten() {
        if s1.contains(&Some(sm)) && sm != k {
            if k == (sm + 1) % m {
                return C(k);
            }
            if sm == (k + 1) % m {
                return C(sm);
            }
            // Two non-adjacent sides: an intermediate point outside the reference polygon,
            // normally clipped away (or turned into a corner) by a later side.
            return SS(sm, k);
        }
    }
    X
}

/// Clip the incident feature against the reference face; push up to 4 contacts.
/// Returns the number pushed (0 if no manifold applies).
fn manifold(
    a: &Placed,
    b: &Placed,
    n: &Vec3,
    margin: f64,
    out: &mut Vec<ContactPoint>,
    s: &mut Scratch,
) -> usize {
    let Scratch {
        pts_a,
        idx_a,
        pts_b,
        idx_b,
        poly,
        tmp,
        xs,
        ..
    } = s;
    let fa = feature(a, n, pts_a, idx_a);
    let fb = feature(b, &-n, pts_b, idx_b);
    if let (
        Feature::Edge {
            pts: ea,
            radius: ra,
            ..
        },
        Feature::Edge {
            pts: eb,
            radius: rb,
            ..
        },
    ) = (&fa, &fb)
    {
        let ea = ea.map(|x| x + n * *ra);
        let eb = eb.map(|x| x - n * *rb);
        return parallel_edges(&ea, &eb, n, margin, out);
    }
    let align = |f: &Feature, d: &Vec3| match f {
        Feature::Face { normal, .. } => normal.dot(d),
        _ => -1.0,
    };
    let (al_a, al_b) = (align(&fa, n), align(&fb, &-n));
    if al_a < 0.0 && al_b < 0.0 {
        return 0;
    }
    // Reference face on A (ref_is_a) or on B.
    let ref_is_a = al_a >= al_b;
    let (rf, inc, rshape, ishape) = if ref_is_a {
        (&fa, &fb, a.shape, b.shape)
    } else {
        (&fb, &fa, b.shape, a.shape)
    };
    let Feature::Face {
        pts: rpts,
        idx: ridx,
        normal: rn,
    } = rf
    else {
        return 0;
    };
    let lbl = |i: &u32| if *i == NO_VERTEX { Lbl::X } else { Lbl::V(*i) };
    // The incident polygon (into `poly`), its face's core vertices and its radius.
    poly.clear();
    let (iface, iradius): (Option<&[u32]>, f64) = match inc {
        Feature::Face { pts, idx, .. } => {
            poly.extend(pts.iter().zip(idx.iter()).map(|(x, i)| (*x, lbl(i))));
            (Some(idx), 0.0)
        }
        // A swept segment (capsule): its surface points nearest to the face.
        // A cylinder's side: the line of rim points deepest along minus the reference normal
        // (recomputed with the exact reference normal, see `IncPoint::Rim`).
        Feature::Edge { .. } if matches!(ishape, Shape::Cylinder { .. }) => {
            let (ip, (radius, half_length)) = match (ref_is_a, ishape) {
                (
                    true,
                    Shape::Cylinder {
                        radius,
                        half_length,
                    },
                ) => (b.pose, (*radius, *half_length)),
                (
                    false,
                    Shape::Cylinder {
                        radius,
                        half_length,
                    },
                ) => (a.pose, (*radius, *half_length)),
                _ => return 0,
            };
            let ax = ip.rot.column(2).into_owned();
            let perp = rn - ax * ax.dot(rn);
            if perp.norm() < 1e-3 {
                return 0;
            }
            let u = -perp.normalize() * radius;
            let side = |top: bool| {
                let z = if top { half_length } else { -half_length };
                (ip.pos + ax * z + u, Lbl::R(top))
            };
            poly.push(side(false));
            poly.push(side(true));
            (None, 0.0)
        }
        Feature::Edge { pts, idx, radius } => {
            poly.extend(pts.iter().zip(idx).map(|(x, i)| (x - rn * *radius, lbl(i))));
            (None, *radius)
        }
        Feature::None => return 0,
    };
    if rpts.len() < 3 {
        return 0;
    }
    let m = rpts.len();
    let is_segment = poly.len() == 2;
    for i in 0..m {
        let p0 = rpts[i];
        let p1 = rpts[(i + 1) % m];
        let side = (p1 - p0).cross(rn);
        let f = |x: &Vec3| side.dot(&(x - p0));
        tmp.clear();
        if is_segment {
            if poly.len() < 2 {
                break;
            }
            let ((x0, l0), (x1, l1)) = (poly[0], poly[1]);
            let (d0, d1) = (f(&x0), f(&x1));
            if d0 > 0.0 && d1 > 0.0 {
                poly.clear();
                break;
            }
            let cut = |xi: Vec3, di: f64, xo: Vec3, do_: f64| xi + (xo - xi) * (di / (di - do_));
            let y0 = if d0 > 0.0 {
                (cut(x1, d1, x0, d0), cut_label(l0, l1, i, m))
            } else {
                (x0, l0)
            };
            let y1 = if d1 > 0.0 {
                (cut(x0, d0, x1, d1), cut_label(l0, l1, i, m))
            } else {
                (x1, l1)
            };
            poly[0] = y0;
            poly[1] = y1;
            continue;
        }
        for k in 0..poly.len() {
            let (x0, l0) = poly[k];
            let (x1, l1) = poly[(k + 1) % poly.len()];
            let (d0, d1) = (f(&x0), f(&x1));
            if d0 <= 0.0 {
                tmp.push((x0, l0));
            }
            if (d0 <= 0.0) != (d1 <= 0.0) {
                tmp.push((x0 + (x1 - x0) * (d0 / (d0 - d1)), cut_label(l0, l1, i, m)));
            }
        }
        std::mem::swap(poly, tmp);
        if poly.is_empty() {
            break;
        }
    }
    let r0 = rpts[0];
    // Contact normal from A to B.
    let normal = if ref_is_a { *rn } else { -rn };
    let dist_of = |x: &Vec3| rn.dot(&(x - r0));
    poly.retain(|(x, _)| dist_of(x) < margin);
    if poly.is_empty() {
        return 0;
    }
    xs.clear();
    xs.extend(poly.iter().map(|p| p.0));
    let keep = select4(xs, &normal, &dist_of);
    // The reference plane through three core vertices, if its orientation is right.
    let rface = {
        let ok = ridx.len() >= 3 && ridx[..3].iter().all(|&i| i != NO_VERTEX);
        ok.then(|| [ridx[0], ridx[1], ridx[2]]).filter(|v| {
            let c = |i: u32| core_vertex(rshape, i);
            match (c(v[0]), c(v[1]), c(v[2])) {
                (Some(p0), Some(p1), Some(p2)) => {
                    let nl = (p1 - p0).cross(&(p2 - p0));
                    let nw = if ref_is_a { a.pose.rot } else { b.pose.rot } * nl;
                    nw.dot(rn) > 0.999 * nw.norm()
                }
                _ => false,
            }
        })
    };
    let iface3 = iface
        .filter(|f| f.len() >= 3 && f[..3].iter().all(|&i| i != NO_VERTEX))
        .map(|f| [f[0], f[1], f[2]]);
    let kind_of = |l: Lbl| -> FeatureKind {
        let Some(rv) = rface else {
            return FeatureKind::Unknown;
        };
        let point = match l {
            Lbl::V(i) => match core_vertex(ishape, i) {
                Some(x) => IncPoint::Local(x),
                None => return FeatureKind::Unknown,
            },
            Lbl::E(p, q, k) => IncPoint::EdgeSide {
                inc: [p, q],
                side: [ridx[k], ridx[(k + 1) % m]],
            },
            Lbl::C(c) => match iface3 {
                Some(face) => IncPoint::CornerFace {
                    corner: ridx[c],
                    face,
                },
                None => return FeatureKind::Unknown,
            },
            Lbl::R(top) => IncPoint::Rim { top },
            Lbl::RS(k) => IncPoint::RimSide {
                side: [ridx[k], ridx[(k + 1) % m]],
            },
            Lbl::X | Lbl::SS(..) => return FeatureKind::Unknown,
        };
        FeatureKind::FacePoint {
            ref_is_a,
            face: RefFace::Verts(rv),
            point,
            radius: iradius,
        }
    };
    let mut count = 0;
    for &i in keep.iter().flatten() {
        let (x, l) = poly[i];
        let d = dist_of(&x);
        let added = if ref_is_a {
            emit2(out, margin, x, normal, d, kind_of(l))
        } else {
            emit1(out, margin, x, normal, d, kind_of(l))
        };
        count += added as usize;
    }
    count
}

/// Two (nearly) parallel edges: 2 contacts at the ends of their overlap (measured along `n`).
fn parallel_edges(
    ea: &[Vec3; 2],
    eb: &[Vec3; 2],
    n: &Vec3,
    margin: f64,
    out: &mut Vec<ContactPoint>,
) -> usize {
    let da = ea[1] - ea[0];
    let db = eb[1] - eb[0];
    let (la, lb) = (da.norm(), db.norm());
    if la < 1e-12 || lb < 1e-12 {
        return 0;
    }
    let u = da / la;
    if u.cross(&(db / lb)).norm() > FLAT_TOL {
        return 0;
    }
    let t0 = u.dot(&(eb[0] - ea[0]));
    let t1 = u.dot(&(eb[1] - ea[0]));
    let lo = t0.min(t1).max(0.0);
    let hi = t0.max(t1).min(la);
    if hi - lo <= 1e-9 * la {
        return 0;
    }
    let mut count = 0;
    for t in [lo, hi] {
        let qa = ea[0] + u * t;
        let qb = closest_on_segment(&qa, &eb[0], &eb[1]);
        count += emit1(out, margin, qa, *n, n.dot(&(qb - qa)), FeatureKind::Unknown) as usize;
    }
    count
}

/// Indices of at most 4 points: all if <= 4, else the deepest, the farthest from it, and the two
/// farthest on either side of that line (in the plane normal to `n`).
pub(crate) fn select4(pts: &[Vec3], n: &Vec3, depth: &dyn Fn(&Vec3) -> f64) -> [Option<usize>; 4] {
    let mut r = [None; 4];
    if pts.len() <= 4 {
        for (i, slot) in r.iter_mut().enumerate().take(pts.len()) {
            *slot = Some(i);
        }
        return r;
    }
    let i0 = (0..pts.len())
        .min_by(|&i, &j| depth(&pts[i]).total_cmp(&depth(&pts[j])))
        .unwrap_or(0);
    let tang = |x: &Vec3| {
        let d = x - pts[i0];
        d - n * n.dot(&d)
    };
    let i1 = (0..pts.len())
        .max_by(|&i, &j| {
            tang(&pts[i])
                .norm_squared()
                .total_cmp(&tang(&pts[j]).norm_squared())
        })
        .unwrap_or(0);
    let e = pts[i1] - pts[i0];
    let area = |x: &Vec3| n.dot(&e.cross(&(x - pts[i0])));
    let i2 = (0..pts.len())
        .max_by(|&i, &j| area(&pts[i]).total_cmp(&area(&pts[j])))
        .unwrap_or(0);
    let i3 = (0..pts.len())
        .min_by(|&i, &j| area(&pts[i]).total_cmp(&area(&pts[j])))
        .unwrap_or(0);
    r[0] = Some(i0);
    if i1 != i0 {
        r[1] = Some(i1);
    }
    if area(&pts[i2]) > 0.0 {
        r[2] = Some(i2);
    }
    if area(&pts[i3]) < 0.0 {
        r[3] = Some(i3);
    }
    r
}

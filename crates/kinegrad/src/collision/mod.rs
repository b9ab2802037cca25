//! Collision detection: shapes, world bounding boxes and one narrowphase routine per shape pair.
//!
//! # Conventions (MuJoCo's)
//! * A [`Shape`] is placed by a [`Pose`]. The plane is the half-space `z <= 0` of its frame
//!   (normal `+z`, infinite). Capsule and cylinder axes are the local `z` axis; `half_length`
//!   is half the length of the axis segment (for the capsule: without the caps).
//! * A [`ContactPoint`] is in the world frame. `normal` is a unit vector pointing **from shape 1
//!   to shape 2**; `dist` is the signed distance between the surfaces along the normal
//!   (negative = penetration); `pos` is the midpoint between the two surface points.
//! * [`collide`] appends every contact with `dist < margin` and returns how many it added.
//!   It accepts either argument order: internally the pair is put in a canonical order
//!   (plane < sphere < capsule < box < cylinder < ellipsoid < convex) and normals are flipped
//!   back.
//!
//! # Pairs and contact counts
//! | pair | routine | contacts |
//! |---|---|---|
//! | plane-plane | none | 0 |
//! | plane-sphere | [`plane`] | 1 |
//! | plane-capsule | [`plane`] | up to 2 (segment ends) |
//! | plane-box | [`plane`] | up to 4 (deepest corners) |
//! | plane-cylinder | [`plane`] | up to 4 (rim points) |
//! | plane-convex | [`plane`] | up to 4 (deepest, spread hull vertices) |
//! | sphere-sphere, sphere-capsule | [`capsule`] | 1 |
//! | capsule-capsule | [`capsule`] | 1, or 2 for parallel overlapping segments |
//! | sphere-box | [`box_prim`] | 1 |
//! | capsule-box | [`box_prim`] | 1, or 2 when the capsule lies along a face |
//! | box-box | [`box_box`] | up to 8 (face clipping) or 1 (edge-edge) |
//! | plane-ellipsoid | [`plane`] | 1 (the deepest point, MuJoCo's `mjc_PlaneConvex`) |
//! | anything with cylinder or convex | [`convex`] (GJK + EPA) | 1, or up to 4 when two flat faces rest on each other |
//! | ellipsoid with anything but a plane | [`convex`] (GJK + EPA) | 1 |
//!
//! Each contact is, for a fixed feature (corner, face, edge, or simplex of the GJK/EPA solution),
//! a smooth function of the poses; nothing is randomized.

pub mod box_box;
pub mod box_prim;
pub mod capsule;
pub mod convex;
pub mod epa;
pub mod gjk;
pub mod hull;
pub mod multiccd;
pub mod plane;
#[cfg(test)]
mod tests;

pub use hull::ConvexHull;

use crate::math::{Mat3, Pose, Vec3};

/// A collision shape, in its own frame.
#[derive(Clone, Copy, Debug)]
pub enum Shape<'a> {
    /// Half-space `z <= 0` of its frame (infinite).
    Plane,
    /// Ball centred at the frame origin.
    Sphere {
        /// Radius (m).
        radius: f64,
    },
    /// Segment `[-half_length, half_length]` along local z, swept by a ball.
    Capsule {
        /// Radius (m).
        radius: f64,
        /// Half length of the axis segment (m).
        half_length: f64,
    },
    /// Box `|x_i| <= half_i`.
    Box {
        /// Half sizes (m).
        half: Vec3,
    },
    /// Solid cylinder along local z.
    Cylinder {
        /// Radius (m).
        radius: f64,
        /// Half height (m).
        half_length: f64,
    },
    /// Convex hull of a mesh (vertices in the shape frame).
    Convex(&'a ConvexHull),
    /// Solid ellipsoid `sum_i (x_i / semi_i)^2 <= 1`.
    Ellipsoid {
        /// Semi-axes along local x, y, z (m).
        semi: Vec3,
    },
}

/// One contact point (world frame).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ContactPoint {
    /// Midpoint between the two surface points.
    pub pos: Vec3,
    /// Unit normal pointing from shape 1 to shape 2.
    pub normal: Vec3,
    /// Signed surface distance along `normal` (negative = penetration).
    pub dist: f64,
    /// The feature pair that produced this contact (for re-evaluating it as a smooth function
    /// of the two poses, see [`crate::adjoint::contact_geom`]).
    pub feature: Feature,
}

/// The contact feature, in the canonical order of the pair routine ("A", "B": see [`collide`]).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Feature {
    /// The dispatcher swapped the arguments: the routine's shape A is the caller's shape 2
    /// (and the routine's normal was flipped).
    pub swapped: bool,
    /// What the contact is made of, in the routine's order.
    pub kind: FeatureKind,
}

/// A plane of a box in the box-box face clipping: face `axis`, `sign` (`x_axis = sign * half_axis`
/// in the box frame) of the reference box (`on_ref`) or of the incident box.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BoxPlane {
    /// Plane of the reference box (else of the incident box).
    pub on_ref: bool,
    /// Axis index 0..3.
    pub axis: u8,
    /// `+1` or `-1`.
    pub sign: i8,
}

/// A face used as the reference of a face-point contact.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RefFace {
    /// The plane shape (`z = 0`, normal `+z`).
    Plane,
    /// Box face `x_axis = sign * half_axis`.
    Box {
        /// Axis index 0..3.
        axis: u8,
        /// `+1` or `-1`.
        sign: i8,
    },
    /// Plane through three core vertices `v0, v1, v2` (see [`gjk::core_vertex`]: box corners,
    /// hull vertices, cylinder cap octagon corners) with outward normal `(v1 - v0) x (v2 - v0) / |.|` (general convex
    /// manifolds).
    Verts([u32; 3]),
    /// Cylinder cap `z = +-half_length` (`top`: `+`), normal `+-z`.
    CylCap {
        /// Upper cap.
        top: bool,
    },
}

/// The incident point of a face-point contact.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum IncPoint {
    /// A point fixed in the incident geom's frame (sphere centre, capsule end, box corner, hull
    /// vertex, cylinder rim point when the rim direction is body-fixed).
    Local(Vec3),
    /// Intersection of three box planes (box-box clipping: an incident corner, an incident edge
    /// crossing a reference side plane, or a reference side edge crossing the incident face).
    Planes([BoxPlane; 3]),
    /// General convex manifolds: the incident edge (line through incident core vertices
    /// `inc`) cut by the reference side plane through the reference core vertices `side` that
    /// contains the reference normal.
    EdgeSide {
        /// Incident core vertices.
        inc: [u32; 2],
        /// Reference core vertices (an edge of the reference face).
        side: [u32; 2],
    },
    /// Rim point of the incident cylinder farthest along minus the reference normal `m`:
    /// `c + z a + r u`, `z = +-half_length` (`top`: `+`), `u = -(m - a (a.m)) / |.|`.
    Rim {
        /// On the upper cap.
        top: bool,
    },
    /// The side line of the incident cylinder (through its two [`IncPoint::Rim`] points) cut
    /// by the reference side plane through the reference core vertices `side` that contains the
    /// reference normal (a cylinder lying on a face).
    RimSide {
        /// Reference core vertices (an edge of the reference face).
        side: [u32; 2],
    },
    /// General convex manifolds: the line through the reference core vertex `corner` along the
    /// reference normal, cut by the incident face plane through the incident core vertices
    /// `face`.
    CornerFace {
        /// Reference core vertex (a corner of the reference face).
        corner: u32,
        /// Incident core vertices spanning the incident face.
        face: [u32; 3],
    },
}

/// Centre of one of the two balls of a round contact (sphere/capsule/box closest point).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Core {
    /// Point fixed in this geom's frame.
    Fixed(Vec3),
    /// Orthogonal projection, on this geom's axis line (local z), of the other geom's point
    /// given in the other geom's frame.
    ProjOther(Vec3),
    /// Orthogonal projection, on this geom's axis line, of the other ball's centre.
    OnAxis,
    /// Closest point of this axis line to the other axis line (both `LineLine`).
    LineLine,
    /// Closest point of this box to the other centre: per axis `0` = free (the centre's local
    /// coordinate), `+-1` = clamped at `+-half`.
    BoxClamp([i8; 3]),
    /// Closest point of the line through this geom's core vertices `[i, j]` (a box or hull
    /// edge, see [`gjk::core_vertex`]) to the other geom's axis line (the other `LineLine`, a
    /// cylinder side); ball radius 0.
    EdgeLine([u32; 2]),
    /// Orthogonal projection, on the line through this geom's core vertices `[i, j]` (a box or
    /// hull edge), of the other ball's centre; ball radius 0. Paired with [`Core::RimNear`]
    /// (and [`Core::OnAxis`] with `RimNear`) the two centres depend on each other: a stationary
    /// point of the distance between the line and the rim circle (see
    /// `line_circle` in this module).
    OnEdge([u32; 2]),
    /// Point of this cylinder's rim circle (upper cap if `top`) nearest the other ball's
    /// centre: `c + r p / |p|`, `p` the part of `x - c` perpendicular to the axis; ball
    /// radius 0 (not the cylinder radius). `RimNear` on both geoms: the stationary point of the
    /// distance of the two rim circles (see `circle_circle` in this module).
    RimNear {
        /// On the upper cap.
        top: bool,
    },
}

/// See [`Feature`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum FeatureKind {
    /// Not recorded (GJK/EPA results, degenerate configurations): the VJP uses its documented
    /// first-order fallback.
    #[default]
    Unknown,
    /// Reference face on A (`ref_is_a`) or B and a point of the other geom, pushed in by
    /// `radius` along the face normal: plane-sphere/capsule/box/convex, sphere/capsule end
    /// inside a box, box-box face contacts.
    FacePoint {
        /// The reference face belongs to A.
        ref_is_a: bool,
        /// The reference face.
        face: RefFace,
        /// The incident point.
        point: IncPoint,
        /// Radius around the incident point.
        radius: f64,
    },
    /// Plane (A) against a cylinder (B) rim point `c + r u`: `c` the cap centre at `+-h a`
    /// (`top`), `a = flip * z`, `u` one of `v, a x v, -(a x v), -v, -v/2 + sqrt(3)/2 a x v,
    /// -v/2 - sqrt(3)/2 a x v` (`dir` 0..6) with `v` the unit direction of `-n` perpendicular
    /// to `a`.
    PlaneRim {
        /// `+1` or `-1`: the axis used, `flip * local z`, points away from the plane.
        flip: i8,
        /// Upper cap (`+h a`) instead of the lower one.
        top: bool,
        /// Rim direction index.
        dir: u8,
    },
    /// Two balls: centres on A and B, radii from the shapes (0 for a box).
    Balls {
        /// Centre on A.
        c1: Core,
        /// Centre on B.
        c2: Core,
    },
    /// Two balls whose centres have crossed (a deep overlap through a cylinder's axis or rim):
    /// centres as in [`FeatureKind::Balls`], normal from B's centre to A's, `dist = -|c1 - c2| -
    /// r1 - r2`.
    BallsCrossed {
        /// Centre on A.
        c1: Core,
        /// Centre on B.
        c2: Core,
    },
    /// Plane (A) against an ellipsoid (B): B's support point along minus the plane normal `n`,
    /// `x = c + R S^2 R^T (-n) / |S R^T n|` (`S = diag(semi)`), as MuJoCo's `mjc_PlaneConvex`.
    PlaneEllipsoid,
    /// Box-box edge-edge: edge along axis `i` of A through the corner with signs `ca`, edge
    /// along axis `j` of B through the corner with signs `cb` (each edge centred at its corner's
    /// projection); normal `nsign * (a_i x b_j)/|.|`; the contact midway between the closest
    /// points [`box_box::edge_witnesses`] finds by the clamps `path`, `dist` their gap along the
    /// normal.
    BoxEdges {
        /// Axis of A's edge.
        i: u8,
        /// Axis of B's edge.
        j: u8,
        /// Corner signs of A's edge (entry `i` ignored).
        ca: [i8; 3],
        /// Corner signs of B's edge (entry `j` ignored).
        cb: [i8; 3],
        /// Sign of the normal relative to `a_i x b_j`.
        nsign: i8,
        /// The clamps taken (see [`box_box::edge_witnesses`]).
        path: [u8; 3],
    },
    /// MuJoCo's polytope multi-contact of two facing faces
    /// ([`crate::collision::multiccd`]): a point `v` of B's face clipped by A's face (`point`,
    /// as in [`FeatureKind::FacePoint`] with A's face as reference, normal `n`), at depth
    /// `d0 = n . (v - p)` below it; the contact joins `x1 = v - d0 n` to its projection on B's
    /// face plane (normal `m`): normal `-m`, depth `-d0 (n . m)`, position the midpoint.
    FaceFace {
        /// A's face: a plane through three core vertices, outward normal as [`RefFace::Verts`].
        face_a: [u32; 3],
        /// B's face, likewise.
        face_b: [u32; 3],
        /// The clipped point.
        point: IncPoint,
    },
    /// MuJoCo's polytope multi-contact of a capsule's segment (A) lying in a face of a hull (B)
    /// ([`crate::collision::multiccd`]): a point `v` of the segment (`point`, incident on B's face
    /// as in [`FeatureKind::FacePoint`]) touches at `x1 = v - r (n - (n . a) a)` (`n` B's outward
    /// face normal, `a` the capsule's axis, `r` its radius), depth `n . (x1 - p)`, position
    /// `x1 - n depth / 2`, normal `-n`.
    SegmentFace {
        /// B's face: a plane through three core vertices, outward normal as [`RefFace::Verts`].
        face: [u32; 3],
        /// The clipped point of the segment.
        point: IncPoint,
    },
    /// MuJoCo's capsule-box rule ([`box_prim::capsule_box`]): the ball on A's (the capsule's)
    /// segment at the first (closest to the box) or the `second` point the rule places, against
    /// B (the box) as MuJoCo's sphere-box. The replay runs the same rule on dual numbers and
    /// checks it takes the same branches.
    CapsuleBox {
        /// The rule's second point.
        second: bool,
        /// The signature of the branches the rule took.
        branch: u64,
    },
    /// GJK/EPA contact of polyhedral or round cores, given by the supporting core vertices of
    /// each shape (indices, see [`gjk::core_vertex`]: sphere centre, capsule segment ends, box
    /// corners, hull vertices): `(na, nb)` = (1, 1) vertex-vertex, (1, 2)/(2, 1) vertex-edge,
    /// (1, 3)/(3, 1) vertex-face, (2, 2) edge-edge. The core normal is the unit vector between
    /// the closest points for the first three, `nsign` times the face normal
    /// `(v1 - v0) x (v2 - v0)` or the edge normal `ea x eb` for the others; radii are added.
    Poly {
        /// Number of vertices of A's feature (1..=3).
        na: u8,
        /// Number of vertices of B's feature (1..=3).
        nb: u8,
        /// A's vertex indices (first `na`, sorted).
        ia: [u32; 3],
        /// B's vertex indices (first `nb`, sorted).
        ib: [u32; 3],
        /// `+1` or `-1` (face and edge-edge features).
        nsign: i8,
    },
}

pub(crate) use crate::math::MINVAL;

/// Canonical order used by the dispatcher.
fn rank(s: &Shape) -> u8 {
    match s {
        Shape::Plane => 0,
        Shape::Sphere { .. } => 1,
        Shape::Capsule { .. } => 2,
        Shape::Box { .. } => 3,
        Shape::Cylinder { .. } => 4,
        Shape::Ellipsoid { .. } => 5,
        Shape::Convex(_) => 6,
    }
}

/// Narrowphase: append the contacts between `s1` at `p1` and `s2` at `p2` with `dist < margin`
/// to `out`; returns the number added. Normals point from shape 1 to shape 2.
/// Contacts containing non-finite numbers are dropped (never emitted).
pub fn collide(
    s1: &Shape,
    p1: &Pose,
    s2: &Shape,
    p2: &Pose,
    margin: f64,
    out: &mut Vec<ContactPoint>,
) -> usize {
    let start = out.len();
    if rank(s1) <= rank(s2) {
        collide_ordered(s1, p1, s2, p2, margin, out);
    } else {
        collide_ordered(s2, p2, s1, p1, margin, out);
        for c in &mut out[start..] {
            c.normal = -c.normal;
            c.feature.swapped = true;
        }
    }
    let mut i = start;
    while i < out.len() {
        let c = &out[i];
        let ok = c.pos.iter().all(|x| x.is_finite())
            && c.normal.iter().all(|x| x.is_finite())
            && c.dist.is_finite();
        if ok {
            i += 1;
        } else {
            out.swap_remove(i);
        }
    }
    out.len() - start
}

/// Dispatch with `rank(s1) <= rank(s2)`.
fn collide_ordered(
    s1: &Shape,
    p1: &Pose,
    s2: &Shape,
    p2: &Pose,
    m: f64,
    out: &mut Vec<ContactPoint>,
) {
    use Shape::*;
    match (*s1, *s2) {
        (Plane, Plane) => {}
        (Plane, Sphere { radius }) => plane::plane_sphere(p1, p2, radius, m, out),
        (
            Plane,
            Capsule {
                radius,
                half_length,
            },
        ) => plane::plane_capsule(p1, p2, radius, half_length, m, out),
        (Plane, Box { half }) => plane::plane_box(p1, p2, &half, m, out),
        (
            Plane,
            Cylinder {
                radius,
                half_length,
            },
        ) => plane::plane_cylinder(p1, p2, radius, half_length, m, out),
        (Plane, Convex(h)) => plane::plane_convex(p1, p2, h, m, out),
        (Plane, Ellipsoid { semi }) => plane::plane_ellipsoid(p1, p2, &semi, m, out),
        (Sphere { radius: r1 }, Sphere { radius: r2 }) => {
            capsule::sphere_sphere(p1, r1, p2, r2, m, out)
        }
        (
            Sphere { radius: r1 },
            Capsule {
                radius: r2,
                half_length,
            },
        ) => capsule::sphere_capsule(p1, r1, p2, r2, half_length, m, out),
        (Sphere { radius }, Box { half }) => box_prim::sphere_box(p1, radius, p2, &half, m, out),
        (
            Capsule {
                radius: r1,
                half_length: h1,
            },
            Capsule {
                radius: r2,
                half_length: h2,
            },
        ) => capsule::capsule_capsule(p1, r1, h1, p2, r2, h2, m, out),
        (
            Capsule {
                radius,
                half_length,
            },
            Box { half },
        ) => box_prim::capsule_box(p1, radius, half_length, p2, &half, m, out),
        (Box { half: h1 }, Box { half: h2 }) => box_box::box_box(p1, &h1, p2, &h2, m, out),
        _ => convex::collide_general(s1, p1, s2, p2, m, out),
    }
}

/// World-frame axis-aligned bounding box `(min, max)`. Planes have infinite extents except
/// along a world axis their normal is aligned with.
pub fn aabb(s: &Shape, p: &Pose) -> (Vec3, Vec3) {
    let r = &p.rot;
    let ext = match *s {
        Shape::Plane => {
            let n = r.column(2).into_owned();
            let mut lo = Vec3::repeat(f64::NEG_INFINITY);
            let mut hi = Vec3::repeat(f64::INFINITY);
            for k in 0..3 {
                let others = (0..3).filter(|&j| j != k).all(|j| n[j] == 0.0);
                if others && n[k] > 0.0 {
                    hi[k] = p.pos[k];
                } else if others && n[k] < 0.0 {
                    lo[k] = p.pos[k];
                }
            }
            return (lo, hi);
        }
        Shape::Sphere { radius } => Vec3::repeat(radius),
        Shape::Capsule {
            radius,
            half_length,
        } => r.column(2).abs() * half_length + Vec3::repeat(radius),
        Shape::Box { half } => r.abs() * half,
        // the extent along world axis i is |row i of R diag(semi)|
        Shape::Ellipsoid { semi } => Vec3::from_fn(|i, _| {
            (0..3)
                .map(|k| (r[(i, k)] * semi[k]).powi(2))
                .sum::<f64>()
                .sqrt()
        }),
        Shape::Cylinder {
            radius,
            half_length,
        } => {
            let a = r.column(2);
            Vec3::from_fn(|i, _| {
                half_length * a[i].abs() + radius * (1.0 - a[i] * a[i]).max(0.0).sqrt()
            })
        }
        Shape::Convex(h) => {
            if h.vertices.is_empty() {
                return (p.pos, p.pos);
            }
            let mut lo = Vec3::repeat(f64::INFINITY);
            let mut hi = Vec3::repeat(f64::NEG_INFINITY);
            for v in &h.vertices {
                let w = p.apply(v);
                lo = lo.inf(&w);
                hi = hi.sup(&w);
            }
            return (lo, hi);
        }
    };
    (p.pos - ext, p.pos + ext)
}

// ---------------------------------------------------------------------------------------------
// Shared helpers.

/// `+1` for `x >= 0`, `-1` otherwise (deterministic at 0).
#[inline]
pub(crate) fn sgn(x: f64) -> f64 {
    if x >= 0.0 {
        1.0
    } else {
        -1.0
    }
}

/// A fixed unit vector perpendicular to `v` (any non-zero `v`; for zero `v` returns `x`).
pub(crate) fn any_perp(v: &Vec3) -> Vec3 {
    let a = if v.x.abs() <= v.y.abs() && v.x.abs() <= v.z.abs() {
        Vec3::x()
    } else if v.y.abs() <= v.z.abs() {
        Vec3::y()
    } else {
        Vec3::z()
    };
    let p = v.cross(&a);
    let n = p.norm();
    if n > 0.0 {
        p / n
    } else {
        Vec3::x()
    }
}

/// Push a contact given the surface point `q2` on shape 2 (if `dist < margin`).
#[inline]
pub(crate) fn emit2(
    out: &mut Vec<ContactPoint>,
    margin: f64,
    q2: Vec3,
    normal: Vec3,
    dist: f64,
    kind: FeatureKind,
) -> bool {
    if dist < margin {
        out.push(ContactPoint {
            pos: q2 - normal * (0.5 * dist),
            normal,
            dist,
            feature: Feature {
                swapped: false,
                kind,
            },
        });
        true
    } else {
        false
    }
}

/// Push a contact given the surface point `q1` on shape 1 (if `dist < margin`).
#[inline]
pub(crate) fn emit1(
    out: &mut Vec<ContactPoint>,
    margin: f64,
    q1: Vec3,
    normal: Vec3,
    dist: f64,
    kind: FeatureKind,
) -> bool {
    if dist < margin {
        out.push(ContactPoint {
            pos: q1 + normal * (0.5 * dist),
            normal,
            dist,
            feature: Feature {
                swapped: false,
                kind,
            },
        });
        true
    } else {
        false
    }
}

/// Circle point nearest `x` (centre `c`, unit axis `a`, radius `r`) and `|perp|`, the distance
/// of `x` from the axis line.
fn circle_nearest(x: &Vec3, c: &Vec3, a: &Vec3, r: f64) -> (Vec3, f64) {
    let rel = x - c;
    let perp = rel - a * a.dot(&rel);
    let pl = perp.norm();
    (c + perp * (r / pl), pl)
}

/// A stationary point of the distance between the line `p + t d` and the circle (centre `c`,
/// unit axis `a`, radius `r`), found by Newton's method from `t0` on
/// `f(t) = d . (R(L(t)) - L(t))`, `R(x)` the circle point nearest `x`: the line point is the
/// projection of the circle point and the circle point the nearest to the line point.
/// Returns `(t, f'(t))`, or `None` if it does not converge, meets the axis, or `f'` vanishes.
pub(crate) fn line_circle(
    p: &Vec3,
    d: &Vec3,
    c: &Vec3,
    a: &Vec3,
    r: f64,
    t0: f64,
) -> Option<(f64, f64)> {
    let dd = d.dot(d);
    if dd <= 0.0 {
        return None;
    }
    let scale = dd.sqrt() + r + (p - c).norm();
    // (f, f') at t.
    let fdf = |t: f64| -> Option<(f64, f64)> {
        let x = p + d * t;
        let (y, pl) = circle_nearest(&x, c, a, r);
        if pl <= 1e-9 * scale {
            return None;
        }
        let pd = d - a * a.dot(d);
        let ph = (x - c - a * a.dot(&(x - c))) / pl;
        let ft = (r / pl) * (pd.dot(&pd) - ph.dot(&pd).powi(2)) - dd;
        (ft.abs() > 1e-12 * dd).then_some((d.dot(&(y - x)), ft))
    };
    let mut t = t0;
    for _ in 0..60 {
        let (f, ft) = fdf(t)?;
        let step = f / ft;
        t -= step;
        if step.abs() * dd.sqrt() <= 1e-14 * scale {
            return fdf(t).map(|(_, ft)| (t, ft));
        }
    }
    None
}

/// A point of a circle by its angle in a body frame: `c + r (cos t e0 + sin t e1)`, with its
/// first derivative in `t`.
pub(crate) fn circle_at(c: &Vec3, e0: &Vec3, e1: &Vec3, r: f64, t: f64) -> (Vec3, Vec3) {
    let (s, co) = t.sin_cos();
    (c + (e0 * co + e1 * s) * r, (e1 * co - e0 * s) * r)
}

/// A stationary point of the distance between two circles `k` (centre `c[k]`, orthonormal
/// in-plane axes `e[k]`, radius `r[k]`): angles `t` with `g_1 = (y2 - y1) . y1'(t1) = 0` and
/// `g_2 = (y1 - y2) . y2'(t2) = 0`, found by Newton's method from `t0`. Returns the angles and
/// the inverse Jacobian of `g`, or `None` if it does not converge or is singular.
pub(crate) fn circle_circle(
    c: [&Vec3; 2],
    e: [(&Vec3, &Vec3); 2],
    r: [f64; 2],
    t0: [f64; 2],
) -> Option<([f64; 2], [[f64; 2]; 2])> {
    let scale = r[0] + r[1] + (c[1] - c[0]).norm();
    let eval = |t: [f64; 2]| {
        let (y1, d1) = circle_at(c[0], e[0].0, e[0].1, r[0], t[0]);
        let (y2, d2) = circle_at(c[1], e[1].0, e[1].1, r[1], t[1]);
        let w = y2 - y1;
        let g = [w.dot(&d1), -w.dot(&d2)];
        // y'' = -(y - c).
        let j = [
            [-d1.dot(&d1) - w.dot(&(y1 - c[0])), d2.dot(&d1)],
            [d1.dot(&d2), -d2.dot(&d2) + w.dot(&(y2 - c[1]))],
        ];
        let det = j[0][0] * j[1][1] - j[0][1] * j[1][0];
        if det.abs() <= 1e-12 * scale.powi(4) {
            return None;
        }
        let inv = [
            [j[1][1] / det, -j[0][1] / det],
            [-j[1][0] / det, j[0][0] / det],
        ];
        Some((g, inv))
    };
    let mut t = t0;
    for _ in 0..60 {
        let (g, inv) = eval(t)?;
        let step = [
            inv[0][0] * g[0] + inv[0][1] * g[1],
            inv[1][0] * g[0] + inv[1][1] * g[1],
        ];
        t = [t[0] - step[0], t[1] - step[1]];
        if step[0].abs() + step[1].abs() <= 1e-14 {
            return eval(t).map(|(_, inv)| (t, inv));
        }
    }
    None
}

/// Closest points between segments `p1 + s d1` and `p2 + t d2`, `s, t` in `[0, 1]`.
/// Returns `(s, t)`. Degenerate (zero-length) segments and parallel segments are handled
/// (parallel: `s` is taken at 0 and `t` clamped, the choice of Ericson's "Real-Time Collision Detection").
pub(crate) fn closest_seg_seg(p1: &Vec3, d1: &Vec3, p2: &Vec3, d2: &Vec3) -> (f64, f64) {
    const EPS: f64 = 1e-18;
    let r = p1 - p2;
    let a = d1.dot(d1);
    let e = d2.dot(d2);
    let f = d2.dot(&r);
    if a <= EPS && e <= EPS {
        return (0.0, 0.0);
    }
    if a <= EPS {
        return (0.0, (f / e).clamp(0.0, 1.0));
    }
    let c = d1.dot(&r);
    if e <= EPS {
        return ((-c / a).clamp(0.0, 1.0), 0.0);
    }
    let b = d1.dot(d2);
    let denom = a * e - b * b;
    let mut s = if denom > 1e-14 * a * e {
        ((b * f - c * e) / denom).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let mut t = (b * s + f) / e;
    if t < 0.0 {
        t = 0.0;
        s = (-c / a).clamp(0.0, 1.0);
    } else if t > 1.0 {
        t = 1.0;
        s = ((b - c) / a).clamp(0.0, 1.0);
    }
    (s, t)
}

/// Closest point to `q` on the segment `[a, b]`.
pub(crate) fn closest_on_segment(q: &Vec3, a: &Vec3, b: &Vec3) -> Vec3 {
    let d = b - a;
    let dd = d.dot(&d);
    if dd <= 1e-300 {
        return *a;
    }
    let t = ((q - a).dot(&d) / dd).clamp(0.0, 1.0);
    a + d * t
}

/// Endpoints of a capsule/cylinder axis segment in the world.
#[inline]
pub(crate) fn axis_ends(p: &Pose, half_length: f64) -> (Vec3, Vec3) {
    let a = p.rot.column(2) * half_length;
    (p.pos - a, p.pos + a)
}

/// The fixed helper axis [`contact_frame`] projects to get the first tangent when the pair
/// gives none, as MuJoCo's `mju_makeFrame`: y if the unit normal `n` has a y component below
/// 0.5 in magnitude, else z. Piecewise constant in `n`, so the frame's reverse
/// (`adjoint/contact_geom.rs::contact_frame_vjp`) holds it fixed.
#[inline]
pub fn contact_frame_axis(n: &Vec3) -> Vec3 {
    if n.y.abs() < 0.5 {
        Vec3::y()
    } else {
        Vec3::z()
    }
}

/// Orthonormal contact frame (rows: normal, tangent1, tangent2) from a unit normal, as
/// MuJoCo's `mju_makeFrame`: t1 = the normalized projection of the pair's `tangent` (MuJoCo's
/// plane-capsule contacts: the capsule's axis) or else of [`contact_frame_axis`] on the
/// tangent plane (x when the projection vanishes), t2 = n x t1.
pub fn contact_frame(n: &Vec3, tangent: Option<&Vec3>) -> Mat3 {
    let a = tangent.copied().unwrap_or_else(|| contact_frame_axis(n));
    let u = a - n * n.dot(&a);
    let un = u.norm();
    let t1 = if un < 1e-15 { Vec3::x() } else { u / un };
    let t2 = n.cross(&t1);
    Mat3::from_rows(&[n.transpose(), t1.transpose(), t2.transpose()])
}

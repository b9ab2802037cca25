//! MuJoCo's multi-contact of two polyhedra (a box or convex hull against a convex hull), read
//! off the final EPA face: `multicontact` of MuJoCo's native convex collision
//! (`engine_collision_gjk.c`), on by default since MuJoCo made `multiccd` a disable flag.
//!
//! The EPA face's three Minkowski vertices name a feature on each shape: a vertex, an edge or a
//! face (1, 2 or 3 distinct vertices). Each feature offers the faces it lies on: a box corner its
//! three faces, an edge its two, a face itself (hull faces are the hull's flat polygons,
//! [`ConvexHull::polygons`](super::ConvexHull::polygons)). Then, in MuJoCo's order:
//! * a face of A and a face of B facing each other within `acos(0.996)` (5.1 degrees): B's face
//!   polygon is clipped by the side planes of A's face, and each clipped point `v` below A's
//!   face plane (depth `d0 = n1 . (v - p1) <= 0` along A's face normal `n1`) is a contact
//!   between `x1 = v - d0 n1` on A's face plane and `x2`, the projection of `x1` on B's face
//!   plane: normal minus B's face normal `n2`, depth `-d0 |n1 . n2|`, position the midpoint
//!   (MuJoCo 4.0, found by probing it: 3.x put `x1` at `|d0|` from `x2 = v` along `n2`);
//! * else, when A's feature is an edge or a vertex (and not larger than B's): one of its edges
//!   lying in one of B's faces (within `asin(0.0888)`) is clipped by that face's sides (depth,
//!   normal and position along the face normal);
//! * else (also when that finds no edge: MuJoCo 4.0 does, by probing; its 3.x source stops)
//!   the same with B's edge on A's face;
//! * else one contact: the EPA result.
//!
//! A capsule against a hull takes the same path, its segment an edge (from either end) and its
//! radius counted as MuJoCo 4.0 counts it (found by probing it): a clipped point `v` of the
//! segment touches at `x1 = v - r (n - (n . a) a)`, depth `r cos^2` of the tilt below the
//! segment's, [`FeatureKind::SegmentFace`]; the features are GJK's closest points when the
//! segment itself is clear of the hull.
//!
//! More than 4 clipped points are pruned to the quadrilateral of largest area MuJoCo's local
//! search finds; an edge clipped into more than 2 points keeps its two farthest apart.
//!
//! Each contact carries its feature for the reverse pass ([`crate::adjoint::contact_geom`]):
//! the clipping face as a plane through three core vertices, the clipped point as an incident
//! core vertex, an incident edge cut by a side plane, or a clipping corner projected on the
//! incident face (the provenance [`super::convex`]'s manifolds track), and for face pairs the
//! incident face whose normal the contact takes ([`FeatureKind::FaceFace`]).
//!
//! Known differences from MuJoCo: its polygons merge triangles whose normals fall in the same
//! 0.01 rad bin (kinegrad's those whose normals agree to 1e-10, about 1.4e-5 rad; the
//! contacts are measured against the plane through three of the polygon's corners, the plane
//! their reverse re-evaluates), and its polygon numbering (which
//! decides ties between several faces within the tolerance) and each polygon's first vertex
//! (where the quadrilateral search starts) follow its compiler's hash map; a generic contact
//! meets neither.

use super::convex::{cut_label, Lbl};
use super::gjk::{core_vertex, Placed, SVert, NO_VERTEX};
use super::{ContactPoint, Feature, FeatureKind, IncPoint, RefFace, Shape, MINVAL};
use crate::math::Vec3;

/// Two face normals face each other when their dot product is below minus this (MuJoCo's
/// `mjFACE_TOL`).
const FACE_TOL: f64 = 0.996;
/// An edge lies in a face when `|edge . normal|` is below this (MuJoCo's `mjEDGE_TOL`).
const EDGE_TOL: f64 = 0.0888;

/// A face a feature lies on: its world normal and which face (box face 0..6 in MuJoCo's order
/// +x, -x, +y, -y, +z, -z, or hull polygon).
#[derive(Clone, Copy)]
struct Cand {
    normal: Vec3,
    face: u32,
}

/// An edge from a feature's vertex: its unit direction and far end (world, core vertex).
#[derive(Clone, Copy)]
struct Edge {
    dir: Vec3,
    end: Vec3,
    end_idx: u32,
}

/// Reused buffers (each call clears what it fills).
#[derive(Default)]
pub(crate) struct Scratch {
    n1: Vec<Cand>,
    n2: Vec<Cand>,
    edges: Vec<Edge>,
    clip: Vec<(Vec3, u32)>,
    subject: Vec<(Vec3, u32)>,
    planes: Vec<(Vec3, f64)>,
    poly: Vec<(Vec3, Lbl)>,
    tmp: Vec<(Vec3, Lbl)>,
}

/// Whether the pair gets MuJoCo's polytope multi-contact: boxes and hulls, not two boxes (box-box
/// has its own routine), and a capsule (its segment, an edge with a radius) against a hull.
pub(crate) fn applies(a: &Shape, b: &Shape) -> bool {
    let poly = |s: &Shape| matches!(s, Shape::Box { .. } | Shape::Convex(_));
    (poly(a) && poly(b) && !(matches!(a, Shape::Box { .. }) && matches!(b, Shape::Box { .. })))
        || (matches!(a, Shape::Capsule { .. }) && matches!(b, Shape::Convex(_)))
}

/// MuJoCo's `simplexDim`: the number of distinct vertices of a feature (1, 2 or 3), the
/// distinct ones first.
fn simplex_dim(i: &mut [u32; 3], v: &mut [Vec3; 3]) -> usize {
    if i[0] == i[1] {
        if i[0] == i[2] {
            return 1;
        }
        i[1] = i[2];
        v[1] = v[2];
        return 2;
    }
    if i[2] == i[0] || i[2] == i[1] {
        2
    } else {
        3
    }
}

/// MuJoCo's `boxNormals2`: the face of the box whose normal is within the tolerance of `dir`.
fn box_face_along(p: &Placed, dir: &Vec3, out: &mut Vec<Cand>) {
    let l = p.pose.rot.transpose() * dir;
    let l = l / l.norm();
    for f in 0..6u32 {
        let axis = (f / 2) as usize;
        let s = if f % 2 == 0 { 1.0 } else { -1.0 };
        if s * l[axis] > FACE_TOL {
            let mut nl = Vec3::zeros();
            nl[axis] = s;
            out.push(Cand {
                normal: p.pose.rot * nl,
                face: f,
            });
            return;
        }
    }
}

/// MuJoCo's `boxNormals`: the faces of box corners `vi` (a corner's index bits are its signs).
fn box_normals(p: &Placed, vi: &[u32], dir: &Vec3, out: &mut Vec<Cand>) {
    out.clear();
    let dim = vi.len();
    let face = |axis: usize, s: f64| {
        let mut nl = Vec3::zeros();
        nl[axis] = s;
        Cand {
            normal: p.pose.rot * nl,
            face: 2 * axis as u32 + (s < 0.0) as u32,
        }
    };
    if dim == 1 {
        for axis in 0..3 {
            out.push(face(axis, if vi[0] >> axis & 1 == 1 { 1.0 } else { -1.0 }));
        }
        return;
    }
    // the axes on which every vertex has the same sign
    for axis in 0..3 {
        let all = vi.iter().all(|&v| v >> axis & 1 == 1);
        let none = vi.iter().all(|&v| v >> axis & 1 == 0);
        if all || none {
            out.push(face(axis, if all { 1.0 } else { -1.0 }));
        }
    }
    // a face has one such axis, an edge two; anything else: the face along the EPA normal
    if out.len() != 4 - dim {
        out.clear();
        box_face_along(p, dir, out);
    }
}

/// MuJoCo's `meshNormals`: the hull polygons holding every vertex of `vi` (one for a face, up to
/// two for an edge, all of a vertex's).
fn hull_normals(p: &Placed, h: &super::ConvexHull, vi: &[u32], out: &mut Vec<Cand>) {
    out.clear();
    let polys = |v: u32| {
        h.vertex_polygons
            .get(v as usize)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    };
    let cap = match vi.len() {
        1 => usize::MAX,
        2 => 2,
        _ => 1,
    };
    for &f in polys(vi[0]) {
        if vi[1..].iter().all(|&v| polys(v).contains(&f)) {
            out.push(Cand {
                normal: p.pose.rot * h.polygon_normals[f as usize],
                face: f,
            });
            if out.len() == cap {
                return;
            }
        }
    }
}

/// The candidate faces of shape `p`'s feature `vi` (EPA normal `dir` pointing out of `p`).
fn normals(p: &Placed, vi: &[u32], dir: &Vec3, out: &mut Vec<Cand>) {
    match p.shape {
        Shape::Box { .. } => box_normals(p, vi, dir, out),
        Shape::Convex(h) => hull_normals(p, h, vi, out),
        _ => out.clear(),
    }
}

/// MuJoCo's `boxEdgeNormals` / `meshEdgeNormals`: the edges of an edge feature (itself) or of a
/// vertex (box: to the three neighbouring corners; hull: to the previous corner of each polygon
/// it is on).
fn edges(p: &Placed, vi: &[u32], v: &[Vec3; 3], out: &mut Vec<Edge>) {
    out.clear();
    let w = |i: u32| core_vertex(p.shape, i).map(|l| p.pose.apply(&l));
    let mut push = |end: Vec3, end_idx: u32| {
        let d = end - v[0];
        let n = d.norm();
        out.push(Edge {
            dir: if n > 0.0 { d / n } else { d },
            end,
            end_idx,
        });
    };
    if vi.len() == 2 {
        push(v[1], vi[1]);
        return;
    }
    if vi.len() != 1 {
        return;
    }
    match p.shape {
        // a capsule's end: its segment
        Shape::Capsule { .. } => {
            let j = 1 - vi[0].min(1);
            if let Some(x) = w(j) {
                push(x, j);
            }
        }
        Shape::Box { .. } => {
            for axis in 0..3 {
                let j = vi[0] ^ (1 << axis);
                if let Some(x) = w(j) {
                    push(x, j);
                }
            }
        }
        Shape::Convex(h) => {
            for &f in h
                .vertex_polygons
                .get(vi[0] as usize)
                .map(Vec::as_slice)
                .unwrap_or(&[])
            {
                let poly = &h.polygons[f as usize];
                if let Some(k) = poly.iter().position(|&x| x == vi[0]) {
                    let prev = poly[(k + poly.len() - 1) % poly.len()];
                    if let Some(x) = w(prev) {
                        push(x, prev);
                    }
                }
            }
        }
        _ => {}
    }
}

/// MuJoCo's `boxFace` / `meshFace`: face `f` of `p` as world corners with their core vertex
/// indices, clockwise seen from outside (MuJoCo's order; its first corner starts the loop).
fn face_polygon(p: &Placed, f: u32, out: &mut Vec<(Vec3, u32)>) {
    out.clear();
    match p.shape {
        Shape::Box { half } => {
            // corner sign patterns of MuJoCo's boxFace, per face
            const S: [[[i8; 3]; 4]; 6] = [
                [[1, 1, 1], [1, 1, -1], [1, -1, -1], [1, -1, 1]],
                [[-1, 1, -1], [-1, 1, 1], [-1, -1, 1], [-1, -1, -1]],
                [[-1, 1, -1], [1, 1, -1], [1, 1, 1], [-1, 1, 1]],
                [[-1, -1, 1], [1, -1, 1], [1, -1, -1], [-1, -1, -1]],
                [[-1, 1, 1], [1, 1, 1], [1, -1, 1], [-1, -1, 1]],
                [[1, 1, -1], [-1, 1, -1], [-1, -1, -1], [1, -1, -1]],
            ];
            for s in &S[f as usize] {
                let l = Vec3::new(
                    s[0] as f64 * half.x,
                    s[1] as f64 * half.y,
                    s[2] as f64 * half.z,
                );
                let idx = (s[0] > 0) as u32 | ((s[1] > 0) as u32) << 1 | ((s[2] > 0) as u32) << 2;
                out.push((p.pose.apply(&l), idx));
            }
        }
        Shape::Convex(h) => {
            for &v in h.polygons[f as usize].iter().rev() {
                out.push((p.pose.apply(&h.vertices[v as usize]), v));
            }
        }
        _ => {}
    }
}

/// How the clipped points become contacts.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// Face of A against face of B: B's polygon clipped by A's face.
    FaceFace,
    /// A's edge clipped by B's face.
    EdgeOnB,
    /// B's edge clipped by A's face.
    EdgeOnA,
}

/// MuJoCo's multi-contact for the EPA face `face` of the pair (A, B) with normal `n` (A to B);
/// pushes the contacts and returns how many (0: no multi-contact applies, keep the EPA
/// contact).
pub(crate) fn polytope_contacts(
    a: &Placed,
    b: &Placed,
    face: &[SVert; 3],
    n: &Vec3,
    out: &mut Vec<ContactPoint>,
    s: &mut Scratch,
) -> usize {
    if face.iter().any(|v| v.ia == NO_VERTEX || v.ib == NO_VERTEX) {
        return 0;
    }
    let mut ia = [face[0].ia, face[1].ia, face[2].ia];
    let mut ib = [face[0].ib, face[1].ib, face[2].ib];
    let mut va = [face[0].a, face[1].a, face[2].a];
    let mut vb = [face[0].b, face[1].b, face[2].b];
    let da = simplex_dim(&mut ia, &mut va);
    let db = simplex_dim(&mut ib, &mut vb);
    let Scratch {
        n1,
        n2,
        edges: eds,
        clip,
        subject,
        planes,
        poly,
        tmp,
    } = s;
    normals(a, &ia[..da], n, n1);
    normals(b, &ib[..db], &-n, n2);
    // the first pair of faces facing each other, A's candidates outermost
    let aligned = n1.iter().enumerate().find_map(|(i, c1)| {
        n2.iter()
            .position(|c2| c1.normal.dot(&c2.normal) < -FACE_TOL)
            .map(|j| (i, j))
    });
    // (mode, clipping face's shape and face, the subject)
    let (mode, cface, cnormal) = if let Some((i, j)) = aligned {
        face_polygon(a, n1[i].face, clip);
        face_polygon(b, n2[j].face, subject);
        (Mode::FaceFace, n1[i], Some(n2[j]))
    } else {
        // an edge of A in a face of B, else an edge of B in a face of A
        let mut found = None;
        if da < 3 && da <= db {
            edges(a, &ia[..da], &va, eds);
            if let Some((e, f)) = edge_in_face(eds, n2) {
                face_polygon(b, n2[f].face, clip);
                subject.clear();
                subject.push((va[0], ia[0]));
                subject.push((eds[e].end, eds[e].end_idx));
                found = Some((Mode::EdgeOnB, n2[f], None));
            }
        }
        if found.is_none() && db < 3 {
            edges(b, &ib[..db], &vb, eds);
            if let Some((e, f)) = edge_in_face(eds, n1) {
                face_polygon(a, n1[f].face, clip);
                subject.clear();
                subject.push((vb[0], ib[0]));
                subject.push((eds[e].end, eds[e].end_idx));
                found = Some((Mode::EdgeOnA, n1[f], None));
            }
        }
        match found {
            Some(x) => x,
            None => return 0,
        }
    };
    let m = clip.len();
    if m < 3 {
        return 0;
    }
    // features: the clipping face as a plane through three of its corners (outward), the
    // incident face (face pairs) likewise; the planes the contacts are measured against are
    // those same planes, so that the reverse pass re-evaluates exactly these contacts
    let (cshape, sshape) = match mode {
        Mode::EdgeOnB => (b.shape, a.shape),
        _ => (a.shape, b.shape),
    };
    let (cpose, spose) = match mode {
        Mode::EdgeOnB => (b.pose, a.pose),
        _ => (a.pose, b.pose),
    };
    // MuJoCo's loops run clockwise seen from outside: reversed, three corners spanning the face
    // with the outward normal (their world normal and first corner)
    let outward = |sh: &Shape, pose: &crate::math::Pose, f: &[(Vec3, u32)], nrm: &Vec3| {
        let k = f.len();
        (0..k).find_map(|s0| {
            let v = [f[(s0 + 2) % k].1, f[(s0 + 1) % k].1, f[s0].1];
            let (p0, p1, p2) = (
                core_vertex(sh, v[0])?,
                core_vertex(sh, v[1])?,
                core_vertex(sh, v[2])?,
            );
            let nw = pose.rot * (p1 - p0).cross(&(p2 - p0));
            let len = nw.norm();
            (nw.dot(nrm) > 0.999 * len).then(|| (v, nw / len, pose.apply(&p0)))
        })
    };
    let rplane = outward(cshape, cpose, clip, &cface.normal);
    let iplane = match (mode, cnormal) {
        (Mode::FaceFace, Some(c2)) => outward(sshape, spose, subject, &c2.normal),
        _ => None,
    };
    let (nc, c0) = match rplane {
        Some((_, n, p0)) => (n, p0),
        None => (cface.normal, clip[0].0),
    };
    // B's face normal (face pairs)
    let n2 = match (iplane, cnormal) {
        (Some((_, n, _)), _) => Some(n),
        (None, Some(c2)) => Some(c2.normal),
        _ => None,
    };
    let rface = rplane.map(|x| x.0);
    let iface = iplane.map(|x| x.0);

    // MuJoCo's polygonClip: the side planes of the clipping face (normal (v2 - v1) x n, through
    // v1), each clipping the subject polygon in turn
    planes.clear();
    for k in 0..m {
        let (v1, v2) = (clip[k].0, clip[(k + 1) % m].0);
        let pn = (v2 - v1).cross(&nc);
        let len = pn.norm();
        let pn = if len > 0.0 { pn / len } else { pn };
        planes.push((pn, pn.dot(&v1)));
    }
    poly.clear();
    poly.extend(subject.iter().map(|&(x, i)| (x, Lbl::V(i))));
    let nsubject = subject.len();
    for k in 0..m {
        let (pn, pd) = planes[k];
        let inside = |x: &Vec3| pn.dot(&(x - clip[k].0)) > -MINVAL;
        tmp.clear();
        let np = poly.len();
        for i in 0..np {
            let (p, lp) = poly[i];
            let (q, lq) = poly[if i + 1 < np { i + 1 } else { 0 }];
            let (in1, in2) = (inside(&p), inside(&q));
            if !in1 && !in2 {
                continue;
            }
            if in1 && in2 {
                tmp.push((q, lq));
                continue;
            }
            let pq = q - p;
            let den = pn.dot(&pq);
            if den != 0.0 {
                let t = (pd - pn.dot(&p)) / den;
                if (0.0..=1.0).contains(&t) {
                    tmp.push((p + pq * t, cut_label(lp, lq, k, m)));
                }
            }
            if in2 {
                tmp.push((q, lq));
            }
        }
        std::mem::swap(poly, tmp);
    }
    // a capsule's segment (A's edge on B's face) carries its radius: a point v of it touches at
    // x1 = v - r (n - (n . a) a), depth d0 - r (1 - (n . a)^2) (MuJoCo 4.0, found by probing
    // it: the radius counts as r cos^2 of the segment's tilt, not r)
    let (r, axis) = match (mode, a.shape) {
        (Mode::EdgeOnB, Shape::Capsule { radius, .. }) => {
            (*radius, a.pose.rot.column(2).into_owned())
        }
        _ => (0.0, Vec3::zeros()),
    };
    let lift = nc * r - axis * (r * nc.dot(&axis));
    let r_eff = nc.dot(&lift);
    // the points at or below the clipping face
    poly.retain(|(x, _)| (x - c0).dot(&nc) - r_eff <= 0.0);
    if poly.is_empty() {
        return 0;
    }
    // at most 4: the largest quadrilateral; an edge's duplicates: its two farthest points
    let mut keep = [usize::MAX; 4];
    let count = if poly.len() > 4 {
        keep = polygon_quad(poly);
        4
    } else if nsubject == 2 && poly.len() > 2 {
        let mut best = (0, 1, 0.0);
        for i in 0..poly.len() {
            for j in i + 1..poly.len() {
                let d2 = (poly[j].0 - poly[i].0).norm_squared();
                if d2 > best.2 {
                    best = (i, j, d2);
                }
            }
        }
        keep[0] = best.0;
        keep[1] = best.1;
        2
    } else {
        for (k, slot) in keep.iter_mut().enumerate().take(poly.len()) {
            *slot = k;
        }
        poly.len()
    };
    let mut pushed = 0;
    for &k in keep.iter().take(count) {
        let (v, lbl) = poly[k];
        let v = v - lift;
        let d0 = (v - c0).dot(&nc);
        // a face pair's depth is measured between the two face planes along B's normal
        let dist = match (mode, n2) {
            (Mode::FaceFace, Some(n2)) => -d0 * nc.dot(&n2),
            _ => d0,
        };
        // MuJoCo's witnesses: x2 (or x1) the clipped point, the other `|dist|` from it against
        // the witness direction; pos their midpoint, normal along x1 - x2
        let (pos, normal) = match (mode, n2) {
            // MuJoCo 4.0 (found by probing it; its 3.x put x1 |dist| from x2 along n2): x1 the
            // point on A's face plane above it, x2 the projection of x1 on B's face plane
            (Mode::FaceFace, Some(n2)) => {
                let c = nc.dot(&n2);
                (v - nc * d0 + n2 * (0.5 * d0 * c), -n2)
            }
            (Mode::EdgeOnB, _) => (v - nc * (0.5 * d0), -nc),
            _ => (v - nc * (0.5 * d0), nc),
        };
        let point = match lbl {
            Lbl::V(i) => core_vertex(sshape, i).map(IncPoint::Local),
            // an edge clipped as a closed 2-gon meets each side twice (once each way): the
            // point's edges in sorted order name it the same either way
            Lbl::E(p, q, side) => {
                let (s0, s1) = (clip[side].1, clip[(side + 1) % m].1);
                Some(IncPoint::EdgeSide {
                    inc: [p.min(q), p.max(q)],
                    side: [s0.min(s1), s0.max(s1)],
                })
            }
            Lbl::C(c) => iface.map(|f| IncPoint::CornerFace {
                corner: clip[c].1,
                face: f,
            }),
            _ => None,
        };
        let kind = match (rface, point, mode) {
            (Some(rv), Some(point), Mode::FaceFace) => match iface {
                Some(fb) => FeatureKind::FaceFace {
                    face_a: rv,
                    face_b: fb,
                    point,
                },
                None => FeatureKind::Unknown,
            },
            (Some(rv), Some(point), Mode::EdgeOnB) if r > 0.0 => {
                FeatureKind::SegmentFace { face: rv, point }
            }
            (Some(rv), Some(point), _) => FeatureKind::FacePoint {
                ref_is_a: mode != Mode::EdgeOnB,
                face: RefFace::Verts(rv),
                point,
                radius: 0.0,
            },
            _ => FeatureKind::Unknown,
        };
        out.push(ContactPoint {
            pos,
            normal,
            dist,
            feature: Feature {
                swapped: false,
                kind,
            },
        });
        pushed += 1;
    }
    pushed
}

/// MuJoCo's `alignedFaceEdge`: the first (edge, face) with the edge in the face's plane, faces
/// outermost.
fn edge_in_face(edges: &[Edge], faces: &[Cand]) -> Option<(usize, usize)> {
    faces.iter().enumerate().find_map(|(f, c)| {
        edges
            .iter()
            .position(|e| e.dir.dot(&c.normal).abs() < EDGE_TOL)
            .map(|e| (e, f))
    })
}

/// Area of the quadrilateral `a b c d` (MuJoCo's `area4`).
fn area4(a: &Vec3, b: &Vec3, c: &Vec3, d: &Vec3) -> f64 {
    let e = (d - a).cross(&(b - d));
    let f = (c - b).cross(&(a - c));
    0.5 * (e + f).norm()
}

/// The largest-area quadrilateral of the polygon's corners (indices into `poly`) MuJoCo's
/// `polygonQuad` finds: its local search from each corner as the polygon's first, the best
/// result. MuJoCo starts from its polygon's first corner only, which its compiler's hash map
/// decides; from some starts its search stops at a quadrilateral of a fraction of the area (a
/// clipped hexagon: 0.0004 against 0.017), which is where the two would part.
fn polygon_quad(poly: &[(Vec3, Lbl)]) -> [usize; 4] {
    let nv = poly.len();
    let mut best = ([0, 1, 2, 3], f64::NEG_INFINITY);
    for s in 0..nv {
        let (q, area) = polygon_quad_from(poly, s);
        if area > best.1 {
            best = (q, area);
        }
    }
    best.0
}

/// MuJoCo's `polygonQuad` on the polygon starting at corner `s`: (the corners, in `poly`'s
/// indices, the area).
fn polygon_quad_from(poly: &[(Vec3, Lbl)], s: usize) -> ([usize; 4], f64) {
    let nv = poly.len();
    let x = |i: usize| &poly[(i + s) % nv].0;
    let next = |i: usize| if i + 1 == nv { 0 } else { i + 1 };
    let (mut b, mut c, mut d) = (1, 2, 3);
    let mut res = [0, 1, 2, 3];
    let mut m = area4(x(0), x(1), x(2), x(3));
    for a in 0..nv {
        loop {
            let m_next = area4(x(a), x(b), x(c), x(next(d)));
            if m_next <= m {
                break;
            }
            m = m_next;
            d = next(d);
            res = [a, b, c, d];
            loop {
                let m_next = area4(x(a), x(b), x(next(c)), x(d));
                if m_next <= m {
                    break;
                }
                m = m_next;
                c = next(c);
                res = [a, b, c, d];
            }
            loop {
                let m_next = area4(x(a), x(next(b)), x(c), x(d));
                if m_next <= m {
                    break;
                }
                m = m_next;
                b = next(b);
                res = [a, b, c, d];
            }
        }
        if b == a {
            b = next(b);
            if c == b {
                c = next(c);
                if d == c {
                    d = next(d);
                }
            }
        }
    }
    (res.map(|i| (i + s) % nv), m)
}

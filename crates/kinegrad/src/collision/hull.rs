//! Convex hulls: 3-D quickhull, exact mass properties, support mapping (hill climbing).
//!
//! The hull is built by quickhull (Barber, Dobkin & Huhdanpaa 1996) with a conflict list
//! per face: every point still outside the hull belongs to exactly one live face; the farthest
//! point of a face's list (the eye) is added, the faces it sees are found by a depth-first walk
//! over face adjacency from that face, and the horizon is closed by a fan of new faces to the
//! eye. The dead faces' points are handed to the new faces, or dropped when inside.
//!
//! * Which faces the eye sees is decided by Shewchuk's exact orientation predicate (`robust`),
//!   so the triangulated surface is convex in exact arithmetic at every step and the faces seen
//!   from a point always form a disc bounded by one horizon loop.
//! * A point joins a conflict list when it is strictly outside a face in exact arithmetic and
//!   either more than `eps = 1e-9 x extent` (bounding-box diagonal) above its plane, or within
//!   `eps` of the planes it sees but more than `eps` beyond the edges of such a face; points
//!   within `eps` of the surface (duplicates, points on faces, near-coplanar noise) are dropped
//!   and never create faces. Every input point ends inside the hull or within `2 eps` of it.
//! * Every iteration removes at least one point from the conflict lists for good (the eye),
//!   so there are at most as many iterations as points: the loop always terminates.
//! * Points inside flat faces (or on straight edges) can still become hull vertices when they
//!   are added before the face's corners; the surface is then finer than needed, not wrong.

use crate::math::{Mat3, Vec3};
use crate::Error;

/// Convex hull of a point set: vertices and outward-facing triangles.
#[derive(Clone, Debug, Default)]
pub struct ConvexHull {
    /// Hull vertices (mesh frame, m).
    pub vertices: Vec<Vec3>,
    /// Triangles (indices into `vertices`), counter-clockwise seen from outside.
    pub faces: Vec<[u32; 3]>,
    /// Unit outward normal of each face.
    pub normals: Vec<Vec3>,
    /// Vertex adjacency (hull edges), used by [`ConvexHull::support`] for hill climbing.
    pub neighbors: Vec<Vec<u32>>,
    /// Largest vertex distance from the frame origin ([`ConvexHull::bound_radius`]), kept at
    /// construction: GJK's tolerances read it on every call.
    pub bound: f64,
    /// The farthest vertex along each of the 26 directions of a cube's faces, edges and
    /// corners: where a support search without a hint starts (the best of them for the
    /// direction), a few edges from the answer on a hull of thousands of vertices.
    pub extremes: Vec<u32>,
    /// The hull's flat sides: adjacent triangles whose normals agree to 1e-10 merged into
    /// polygons (vertex loops counter-clockwise seen from outside, as MuJoCo's compiler merges
    /// them into `mesh_polyvert`), for the multi-contact of [`super::multiccd`].
    pub polygons: Vec<Vec<u32>>,
    /// Unit outward normal of each polygon.
    pub polygon_normals: Vec<Vec3>,
    /// The polygons each vertex is a corner of, ascending (MuJoCo's `mesh_polymap`).
    pub vertex_polygons: Vec<Vec<u32>>,
}

/// The directions of [`ConvexHull::extremes`].
fn extreme_dirs() -> impl Iterator<Item = Vec3> {
    (0..27).filter(|&k| k != 13).map(|k| {
        Vec3::new(
            (k % 3) as f64 - 1.0,
            ((k / 3) % 3) as f64 - 1.0,
            (k / 9) as f64 - 1.0,
        )
    })
}

/// Points closer than this fraction of the bounding-box diagonal to the hull are on it.
const HULL_TOL: f64 = 1e-9;

/// A face of the hull under construction: `v` counter-clockwise seen from outside, `adj[k]`
/// the face across edge `(v[k], v[k+1])`, `outside` its conflict list (point indices).
struct QFace {
    v: [u32; 3],
    adj: [u32; 3],
    n: Vec3,
    /// Plane offset: `n . x = off` on the face.
    off: f64,
    /// The normal is well conditioned (the sine of the triangle's largest angle is at least
    /// `1e-6`): a floating-point distance above `eps` is then surely outside.
    sharp: bool,
    outside: Vec<u32>,
    alive: bool,
    /// Walk stamps: seen from the current eye / tested and not seen.
    seen: u32,
    unseen: u32,
}

#[inline]
fn c3(p: &Vec3) -> robust::Coord3D<f64> {
    robust::Coord3D {
        x: p.x,
        y: p.y,
        z: p.z,
    }
}

/// Exact test: `q` strictly outside the plane of the counter-clockwise triangle `v`.
#[inline]
fn sees(p: &[Vec3], v: &[u32; 3], q: &Vec3) -> bool {
    // `orient3d` is negative when `a, b, c` appear counter-clockwise seen from `d`
    robust::orient3d(
        c3(&p[v[0] as usize]),
        c3(&p[v[1] as usize]),
        c3(&p[v[2] as usize]),
        c3(q),
    ) < 0.0
}

/// Unit normal of the triangle `v` (counter-clockwise), from the two edges meeting opposite
/// the longest one (the best-conditioned cross product), and whether it is well conditioned.
fn tri_normal(p: &[Vec3], v: &[u32; 3]) -> (Vec3, bool) {
    let [a, b, c] = v.map(|i| p[i as usize]);
    let (ab, bc, ca) = (b - a, c - b, a - c);
    let (lab, lbc, lca) = (ab.norm_squared(), bc.norm_squared(), ca.norm_squared());
    let (n, l1, l2) = if lab >= lbc && lab >= lca {
        (bc.cross(&ca), lbc, lca)
    } else if lbc >= lca {
        (ca.cross(&ab), lca, lab)
    } else {
        (ab.cross(&bc), lab, lbc)
    };
    let nn = n.norm();
    // the rounding error of the cross product is ~1e-16 |e1| |e2|: relative error <= 1e-10
    let sharp = nn * nn >= 1e-12 * l1 * l2;
    (n / nn.max(1e-300), sharp)
}

/// Signed distance of `q` above the plane of face `f` (floating point).
#[inline]
fn dist(f: &QFace, q: &Vec3) -> f64 {
    f.n.dot(q) - f.off
}

/// Hand `q` to a face of `cands` it is outside of, and return whether one took it:
/// * the first face it is more than `eps` above (and above exactly; the exact test is only
///   needed when the face's normal is ill-conditioned) takes it;
/// * a point within `eps` of a face's triangle (its plane and its edges) is on the surface and
///   dropped;
/// * a point within `eps` of the planes of the faces it sees, but beyond their edges (where a
///   thin face's plane says little), goes to the first face that sees it exactly.
///
/// `pending` collects faces whose list just became non-empty.
fn assign(
    p: &[Vec3],
    faces: &mut [QFace],
    cands: &[u32],
    q: u32,
    eps: f64,
    pending: &mut Vec<u32>,
) -> bool {
    let pq = &p[q as usize];
    let mut near: Option<u32> = None;
    for &fi in cands {
        let f = &faces[fi as usize];
        let d = dist(f, pq);
        if d > eps {
            if f.sharp || sees(p, &f.v, pq) {
                near = Some(fi);
                break;
            }
        } else if d > -eps {
            // within `eps` of the triangle itself: on the surface, whichever side
            if beyond_edges(p, f, pq) <= eps {
                return false;
            }
            if near.is_none() && sees(p, &f.v, pq) {
                near = Some(fi);
            }
        }
    }
    let Some(fi) = near else {
        return false;
    };
    let f = &mut faces[fi as usize];
    if f.outside.is_empty() {
        pending.push(fi);
    }
    f.outside.push(q);
    true
}

/// How far the projection of `q` on the plane of face `f` lies outside its triangle, at most
/// (the largest distance beyond one of its edges' lines; 0 or less inside).
fn beyond_edges(p: &[Vec3], f: &QFace, q: &Vec3) -> f64 {
    let mut out = f64::NEG_INFINITY;
    for k in 0..3 {
        let a = p[f.v[k] as usize];
        let e = p[f.v[(k + 1) % 3] as usize] - a;
        let w = e.cross(&f.n);
        let l = w.norm();
        if l > 0.0 {
            out = out.max(w.dot(&(q - a)) / l);
        }
    }
    out
}

/// Horizon edge: vertices `a -> b` (the orientation of the seen face), the unseen face `out`
/// across it and the index of that edge in `out`.
#[derive(Clone, Copy)]
struct Horizon {
    a: u32,
    b: u32,
    out: u32,
    out_edge: usize,
}

impl ConvexHull {
    /// Quickhull of `points` (see the module documentation). Errors (`Error::invalid`) for
    /// fewer than 4 points, non-finite coordinates, or collinear points. Coplanar (flat) point
    /// sets are inflated: every point is duplicated at `+-1e-6 x extent` along the plane normal,
    /// giving a thin slab. Otherwise the hull's vertices are input points, and every input point
    /// is inside the hull or within `2e-9 x extent` (bounding-box diagonal) of it.
    pub fn from_points(points: &[Vec3]) -> Result<ConvexHull, Error> {
        if points.len() < 4 {
            return Err(Error::invalid(
                "convex hull",
                format!("needs at least 4 points, got {}", points.len()),
            ));
        }
        if points.len() >= u32::MAX as usize {
            return Err(Error::invalid(
                "convex hull",
                format!("too many points ({})", points.len()),
            ));
        }
        if points.iter().any(|p| !p.iter().all(|x| x.is_finite())) {
            return Err(Error::invalid(
                "convex hull",
                "non-finite point coordinates",
            ));
        }
        let mut lo = points[0];
        let mut hi = points[0];
        for p in points {
            lo = lo.inf(p);
            hi = hi.sup(p);
        }
        let extent = (hi - lo).norm();
        if !(extent > 0.0) || !extent.is_finite() {
            return Err(Error::invalid(
                "convex hull",
                "all points coincide (or the extent overflows)",
            ));
        }
        let eps = HULL_TOL * extent;
        // Initial simplex: extreme points along the axes, farthest pair.
        let mut ext = [0usize; 6];
        for (i, p) in points.iter().enumerate() {
            for k in 0..3 {
                if p[k] < points[ext[2 * k]][k] {
                    ext[2 * k] = i;
                }
                if p[k] > points[ext[2 * k + 1]][k] {
                    ext[2 * k + 1] = i;
                }
            }
        }
        let (mut i0, mut i1, mut dbest) = (0, 0, -1.0);
        for &x in &ext {
            for &y in &ext {
                let d = (points[x] - points[y]).norm_squared();
                if d > dbest {
                    dbest = d;
                    i0 = x;
                    i1 = y;
                }
            }
        }
        let e = (points[i1] - points[i0]).normalize();
        let (mut i2, mut dl) = (0, -1.0);
        for (i, p) in points.iter().enumerate() {
            let r = p - points[i0];
            let d = (r - e * e.dot(&r)).norm();
            if d > dl {
                dl = d;
                i2 = i;
            }
        }
        if dl <= 1e-9 * extent {
            return Err(Error::invalid(
                "convex hull",
                "points are collinear (need 4 non-coplanar points)",
            ));
        }
        let pn = (points[i1] - points[i0])
            .cross(&(points[i2] - points[i0]))
            .normalize();
        let (mut i3, mut dp) = (0, 0.0f64);
        for (i, p) in points.iter().enumerate() {
            let d = pn.dot(&(p - points[i0]));
            if d.abs() > dp.abs() {
                dp = d;
                i3 = i;
            }
        }
        if dp.abs() <= 1e-9 * extent {
            // Flat: inflate into a thin slab.
            let delta = 1e-6 * extent;
            let mut inflated = Vec::with_capacity(points.len() * 2);
            for p in points {
                inflated.push(p + pn * delta);
                inflated.push(p - pn * delta);
            }
            return Self::from_points(&inflated);
        }
        // Work relative to the box centre: plane offsets then lose no digits to far-off
        // coordinates (the subtraction is exact for points near the centre).
        let centre = (lo + hi) * 0.5;
        let local: Vec<Vec3> = points.iter().map(|p| p - centre).collect();
        let faces = quickhull(&local, [i0, i1, i2, i3].map(|i| i as u32), eps)?;

        // Compact: live faces, their vertices renumbered in order of first use, except that
        // vertex 0 (where hill climbing starts) is the lexicographically smallest: a corner of
        // the hull. Points inside flat faces can be hull vertices, and from one of those the
        // climb in the direction opposite that face's normal would see only ties.
        let mut map = vec![u32::MAX; points.len()];
        let mut hull = ConvexHull::default();
        let lex = |i: u32| {
            let q = &points[i as usize];
            (q.x, q.y, q.z)
        };
        if let Some(first) = faces
            .iter()
            .filter(|f| f.alive)
            .flat_map(|f| f.v)
            .min_by(|&a, &b| {
                lex(a)
                    .partial_cmp(&lex(b))
                    .unwrap_or(std::cmp::Ordering::Equal)
            })
        {
            map[first as usize] = 0;
            hull.vertices.push(points[first as usize]);
        }
        for f in faces.iter().filter(|f| f.alive) {
            let mut t = [0u32; 3];
            for (k, &vi) in f.v.iter().enumerate() {
                if map[vi as usize] == u32::MAX {
                    map[vi as usize] = hull.vertices.len() as u32;
                    hull.vertices.push(points[vi as usize]);
                }
                t[k] = map[vi as usize];
            }
            hull.faces.push(t);
            hull.normals.push(f.n);
        }
        // The surface is closed and manifold: each directed edge a -> b occurs once, so each
        // neighbour is recorded once without searching.
        hull.neighbors = vec![Vec::new(); hull.vertices.len()];
        for t in &hull.faces {
            for (a, b) in [(t[0], t[1]), (t[1], t[2]), (t[2], t[0])] {
                hull.neighbors[a as usize].push(b);
            }
        }
        hull.bound = hull.vertices.iter().map(|v| v.norm()).fold(0.0, f64::max);
        let scan = |d: &Vec3| {
            (0..hull.vertices.len())
                .max_by(|&a, &b| hull.vertices[a].dot(d).total_cmp(&hull.vertices[b].dot(d)))
                .unwrap_or(0) as u32
        };
        hull.extremes = extreme_dirs().map(|d| scan(&d)).collect();
        hull.make_polygons();
        Ok(hull)
    }

    /// Merge coplanar adjacent triangles into polygons ([`ConvexHull::polygons`]): triangles
    /// sharing an edge whose normals agree to 1e-10 form one side; its boundary loop, traced
    /// from the first boundary edge of its first triangle, is the polygon.
    fn make_polygons(&mut self) {
        use std::collections::HashMap;
        let nf = self.faces.len();
        // the triangle on the left of each directed edge
        let mut left: HashMap<(u32, u32), usize> = HashMap::with_capacity(3 * nf);
        for (f, t) in self.faces.iter().enumerate() {
            for (a, b) in [(t[0], t[1]), (t[1], t[2]), (t[2], t[0])] {
                left.insert((a, b), f);
            }
        }
        let flat = |f: usize, g: usize| self.normals[f].dot(&self.normals[g]) > 1.0 - 1e-10;
        // sides: flood fill over edges shared with a coplanar triangle
        let mut side = vec![usize::MAX; nf];
        let mut seed = Vec::new();
        let mut nside = 0;
        let mut stack = Vec::new();
        for f0 in 0..nf {
            if side[f0] != usize::MAX {
                continue;
            }
            side[f0] = nside;
            seed.push(f0);
            stack.push(f0);
            while let Some(f) = stack.pop() {
                let t = self.faces[f];
                for (a, b) in [(t[0], t[1]), (t[1], t[2]), (t[2], t[0])] {
                    if let Some(&g) = left.get(&(b, a)) {
                        if side[g] == usize::MAX && flat(f0, g) {
                            side[g] = nside;
                            stack.push(g);
                        }
                    }
                }
            }
            nside += 1;
        }
        // each side's boundary: its directed edges whose twin lies on another side
        let mut next: Vec<HashMap<u32, u32>> = vec![HashMap::new(); nside];
        let mut first: Vec<Option<(u32, u32)>> = vec![None; nside];
        for (f, t) in self.faces.iter().enumerate() {
            for (a, b) in [(t[0], t[1]), (t[1], t[2]), (t[2], t[0])] {
                let twin = left.get(&(b, a)).map(|&g| side[g]);
                if twin != Some(side[f]) {
                    next[side[f]].insert(a, b);
                    first[side[f]].get_or_insert((a, b));
                }
            }
        }
        self.polygons.clear();
        self.polygon_normals.clear();
        // each side's polygon index (sides without a boundary loop have none)
        let mut index = vec![u32::MAX; nside];
        for s in 0..nside {
            let Some((a0, b0)) = first[s] else { continue };
            let mut poly = vec![a0];
            let mut cur = b0;
            while cur != a0 && poly.len() <= next[s].len() {
                poly.push(cur);
                match next[s].get(&cur) {
                    Some(&n) => cur = n,
                    None => break,
                }
            }
            if poly.len() < 3 {
                continue;
            }
            index[s] = self.polygons.len() as u32;
            self.polygon_normals.push(self.normals[seed[s]]);
            self.polygons.push(poly);
        }
        // every corner of a side's triangles is on its polygon, a point inside the flat side
        // (a hull vertex quickhull kept there) or one a pinched loop skipped included
        self.vertex_polygons = vec![Vec::new(); self.vertices.len()];
        for (f, t) in self.faces.iter().enumerate() {
            let p = index[side[f]];
            if p == u32::MAX {
                continue;
            }
            for &v in t {
                let list = &mut self.vertex_polygons[v as usize];
                if !list.contains(&p) {
                    list.push(p);
                }
            }
        }
        for list in &mut self.vertex_polygons {
            list.sort_unstable();
        }
    }

    /// Largest vertex distance from the frame origin.
    #[inline]
    pub fn bound_radius(&self) -> f64 {
        self.bound
    }

    /// Farthest vertex in direction `dir` (mesh frame). Hill climbing over the vertex graph when
    /// adjacency is available (exact for convex hulls), else a linear scan. Ties go to the first
    /// vertex found.
    pub fn support(&self, dir: &Vec3) -> Vec3 {
        self.support_idx(dir).0
    }

    /// [`ConvexHull::support`] with the vertex index (`u32::MAX` for an empty hull).
    pub fn support_idx(&self, dir: &Vec3) -> (Vec3, u32) {
        let mut start = 0;
        let mut best = f64::NEG_INFINITY;
        for &i in &self.extremes {
            let d = self.vertices[i as usize].dot(dir);
            if d > best {
                best = d;
                start = i;
            }
        }
        self.support_idx_from(dir, start)
    }

    /// [`ConvexHull::support_idx`], the hill climb over the hull's vertex graph starting at
    /// vertex `start` (any index; an invalid one starts at 0): GJK passes the last support
    /// vertex, which is a few edges from the next one (the climb ends at the same maximum from
    /// any start, as the hull is convex; among tied vertices, the first it meets).
    pub fn support_idx_from(&self, dir: &Vec3, start: u32) -> (Vec3, u32) {
        if self.vertices.is_empty() {
            return (Vec3::zeros(), u32::MAX);
        }
        if self.neighbors.len() != self.vertices.len() || self.vertices.len() <= 32 {
            let mut best = 0;
            let mut bd = f64::NEG_INFINITY;
            for (i, v) in self.vertices.iter().enumerate() {
                let d = v.dot(dir);
                if d > bd {
                    bd = d;
                    best = i;
                }
            }
            return (self.vertices[best], best as u32);
        }
        let mut cur = if (start as usize) < self.vertices.len() {
            start as usize
        } else {
            0
        };
        let mut cd = self.vertices[cur].dot(dir);
        loop {
            let mut moved = false;
            for &nb in &self.neighbors[cur] {
                let d = self.vertices[nb as usize].dot(dir);
                if d > cd {
                    cd = d;
                    cur = nb as usize;
                    moved = true;
                }
            }
            if !moved {
                return (self.vertices[cur], cur as u32);
            }
        }
    }

    /// Volume of the closed triangle mesh.
    pub fn volume(&self) -> f64 {
        self.mass_properties(1.0).0
    }

    /// Mass, centre of mass and inertia about the centre of mass (mesh axes) of the solid hull
    /// at uniform `density`: exact integrals over the tetrahedra formed by each face and a
    /// reference point (the vertex mean, for numerical accuracy).
    pub fn mass_properties(&self, density: f64) -> (f64, Vec3, Mat3) {
        if self.vertices.is_empty() {
            return (0.0, Vec3::zeros(), Mat3::zeros());
        }
        let r = self.vertices.iter().fold(Vec3::zeros(), |s, v| s + v) / self.vertices.len() as f64;
        let mut vol = 0.0;
        let mut first = Vec3::zeros();
        let mut second = Mat3::zeros();
        for t in &self.faces {
            let a = self.vertices[t[0] as usize] - r;
            let b = self.vertices[t[1] as usize] - r;
            let c = self.vertices[t[2] as usize] - r;
            let det = a.dot(&b.cross(&c));
            let s = a + b + c;
            vol += det / 6.0;
            first += s * (det / 24.0);
            second +=
                (a * a.transpose() + b * b.transpose() + c * c.transpose() + s * s.transpose())
                    * (det / 120.0);
        }
        if vol.abs() < 1e-300 {
            return (0.0, r, Mat3::zeros());
        }
        let com_rel = first / vol;
        // Second moment about the centre of mass.
        let c = (second - com_rel * com_rel.transpose() * vol) * density;
        let inertia = Mat3::identity() * c.trace() - c;
        (vol * density, com_rel + r, inertia)
    }
}

/// Quickhull from the non-degenerate tetrahedron `init`; returns the face pool (dead faces
/// marked). Points within `eps` of the hull are dropped.
fn quickhull(p: &[Vec3], init: [u32; 4], eps: f64) -> Result<Vec<QFace>, Error> {
    let [i0, i1, i2, i3] = init;
    // Orient the base so that the apex is inside: faces counter-clockwise seen from outside.
    let (i1, i2) = if sees(p, &[i0, i1, i2], &p[i3 as usize]) {
        (i2, i1)
    } else {
        (i1, i2)
    };
    let tets = [[i0, i1, i2], [i0, i3, i1], [i1, i3, i2], [i2, i3, i0]];
    let mut faces: Vec<QFace> = tets
        .iter()
        .map(|v| QFace {
            v: *v,
            adj: [u32::MAX; 3],
            n: tri_normal(p, v).0,
            off: tri_normal(p, v).0.dot(&p[v[0] as usize]),
            sharp: false,
            outside: Vec::new(),
            alive: true,
            seen: 0,
            unseen: 0,
        })
        .collect();
    for f in 0..4 {
        for k in 0..3 {
            let (a, b) = (faces[f].v[k], faces[f].v[(k + 1) % 3]);
            let g = (0..4)
                .find(|&g| {
                    g != f && (0..3).any(|j| faces[g].v[j] == b && faces[g].v[(j + 1) % 3] == a)
                })
                .expect("tetrahedron faces share every edge");
            faces[f].adj[k] = g as u32;
        }
    }
    let mut pending: Vec<u32> = Vec::new();
    let all4 = [0u32, 1, 2, 3];
    for q in 0..p.len() as u32 {
        if !init.contains(&q) {
            assign(p, &mut faces, &all4, q, eps, &mut pending);
        }
    }

    let mut free: Vec<u32> = Vec::new();
    let mut visible: Vec<u32> = Vec::new();
    let mut horizon: Vec<Horizon> = Vec::new();
    let mut stack: Vec<(u32, usize, u8)> = Vec::new();
    let mut orphans: Vec<u32> = Vec::new();
    let mut new_faces: Vec<u32> = Vec::new();
    let mut vstamp = vec![0u32; p.len()];
    let mut stamp = 0u32;
    while let Some(fi) = pending.pop() {
        let fi = fi as usize;
        if !faces[fi].alive || faces[fi].outside.is_empty() {
            continue;
        }
        stamp += 1;
        // Eye: the farthest point of the face's list.
        let (slot, eye) = {
            let f = &faces[fi];
            let mut best = (0usize, f64::NEG_INFINITY);
            for (s, &q) in f.outside.iter().enumerate() {
                let d = dist(f, &p[q as usize]);
                if d > best.1 {
                    best = (s, d);
                }
            }
            (best.0, f.outside[best.0])
        };
        let pe = p[eye as usize];

        // Depth-first walk over the faces the eye sees, starting at `fi` (seen exactly, as
        // every list entry is); the unseen neighbours give the horizon, in loop order.
        visible.clear();
        horizon.clear();
        faces[fi].seen = stamp;
        visible.push(fi as u32);
        stack.clear();
        stack.push((fi as u32, 0, 3));
        while let Some(top) = stack.last_mut() {
            if top.2 == 0 {
                stack.pop();
                continue;
            }
            let (f, k) = (top.0 as usize, top.1);
            top.1 = (k + 1) % 3;
            top.2 -= 1;
            let g = faces[f].adj[k] as usize;
            if faces[g].seen == stamp {
                continue;
            }
            let (a, b) = (faces[f].v[k], faces[f].v[(k + 1) % 3]);
            if faces[g].unseen != stamp && sees(p, &faces[g].v, &pe) {
                faces[g].seen = stamp;
                visible.push(g as u32);
                // continue in `g` after the edge leading back to `f`
                let j = (0..3).find(|&j| faces[g].adj[j] as usize == f).unwrap_or(0);
                stack.push((g as u32, (j + 1) % 3, 2));
            } else {
                faces[g].unseen = stamp;
                let out_edge = (0..3)
                    .find(|&j| faces[g].v[j] == b && faces[g].v[(j + 1) % 3] == a)
                    .unwrap_or(3);
                horizon.push(Horizon {
                    a,
                    b,
                    out: g as u32,
                    out_edge,
                });
            }
        }
        // The seen faces of a convex surface form a disc: one simple horizon loop. Anything
        // else can only come from a broken invariant; the eye is then dropped (not added).
        let mut ok = horizon.len() >= 3;
        for (k, h) in horizon.iter().enumerate() {
            let next = &horizon[(k + 1) % horizon.len()];
            if h.b != next.a || h.out_edge > 2 || vstamp[h.a as usize] == stamp {
                ok = false;
                break;
            }
            vstamp[h.a as usize] = stamp;
        }
        if !ok {
            faces[fi].outside.swap_remove(slot);
            if !faces[fi].outside.is_empty() {
                pending.push(fi as u32);
            }
            continue;
        }

        // Remove the seen faces, keep their points.
        orphans.clear();
        for &g in &visible {
            let f = &mut faces[g as usize];
            f.alive = false;
            orphans.append(&mut f.outside);
            f.outside = Vec::new();
            free.push(g);
        }
        // Fan of new faces from the horizon to the eye.
        new_faces.clear();
        for h in &horizon {
            let v = [h.a, h.b, eye];
            let (n, sharp) = tri_normal(p, &v);
            let nf = QFace {
                v,
                adj: [h.out, u32::MAX, u32::MAX],
                n,
                off: n.dot(&p[h.a as usize]),
                sharp,
                outside: Vec::new(),
                alive: true,
                seen: 0,
                unseen: 0,
            };
            let id = match free.pop() {
                Some(id) => {
                    faces[id as usize] = nf;
                    id
                }
                None => {
                    faces.push(nf);
                    (faces.len() - 1) as u32
                }
            };
            faces[h.out as usize].adj[h.out_edge] = id;
            new_faces.push(id);
        }
        let m = new_faces.len();
        for k in 0..m {
            let f = new_faces[k] as usize;
            faces[f].adj[1] = new_faces[(k + 1) % m];
            faces[f].adj[2] = new_faces[(k + m - 1) % m];
        }
        for &q in &orphans {
            if q != eye {
                assign(p, &mut faces, &new_faces, q, eps, &mut pending);
            }
        }
    }
    Ok(faces)
}

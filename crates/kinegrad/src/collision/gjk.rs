//! GJK distance between two convex "cores" (Gilbert-Johnson-Keerthi, with the closest-point
//! sub-algorithm on segments/triangles/tetrahedra done by Voronoi-region tests).
//!
//! Round shapes are handled as core + radius: a sphere is a point, a capsule a segment; the
//! radius is added back by the caller, which keeps GJK exact for them.

use super::{sgn, Shape};
use crate::math::{Pose, Vec3};

/// A shape placed in the world, seen through its core support function.
#[derive(Clone, Copy)]
pub struct Placed<'a> {
    /// The shape.
    pub shape: &'a Shape<'a>,
    /// Its pose.
    pub pose: &'a Pose,
}

impl Placed<'_> {
    /// Radius swept around the core (sphere, capsule), else 0.
    pub fn radius(&self) -> f64 {
        match *self.shape {
            Shape::Sphere { radius } | Shape::Capsule { radius, .. } => radius,
            _ => 0.0,
        }
    }

    /// Bounding radius of the whole shape about its origin (used for tolerances).
    pub fn size(&self) -> f64 {
        match *self.shape {
            Shape::Plane => 1.0,
            Shape::Sphere { radius } => radius,
            Shape::Capsule {
                radius,
                half_length,
            } => radius + half_length,
            Shape::Box { half } => half.norm(),
            Shape::Cylinder {
                radius,
                half_length,
            } => radius.hypot(half_length),
            Shape::Convex(h) => h.bound_radius(),
            Shape::Ellipsoid { semi } => semi.max(),
        }
    }

    /// Core support point in the world for world direction `d` (any length).
    pub fn support(&self, d: &Vec3) -> Vec3 {
        self.support_idx(d).0
    }

    /// Core support point and its vertex index (see [`core_vertex`]; [`NO_VERTEX`] for a
    /// cylinder or a plane).
    pub fn support_idx(&self, d: &Vec3) -> (Vec3, u32) {
        self.support_idx_from(d, NO_VERTEX)
    }

    /// [`Placed::support_idx`], a hull's search starting at vertex `hint` (see
    /// [`crate::collision::ConvexHull::support_idx_from`]; [`NO_VERTEX`]: from the hull's
    /// extreme vertex nearest the direction; other shapes ignore it).
    pub fn support_idx_from(&self, d: &Vec3, hint: u32) -> (Vec3, u32) {
        let l = self.pose.rot.transpose() * d;
        let mut idx = NO_VERTEX;
        let s = match *self.shape {
            Shape::Plane => Vec3::zeros(),
            Shape::Sphere { .. } => {
                idx = 0;
                Vec3::zeros()
            }
            Shape::Capsule { half_length, .. } => {
                idx = (l.z >= 0.0) as u32;
                Vec3::new(0.0, 0.0, sgn(l.z) * half_length)
            }
            Shape::Box { half } => {
                idx = (l.x >= 0.0) as u32 | ((l.y >= 0.0) as u32) << 1 | ((l.z >= 0.0) as u32) << 2;
                Vec3::new(sgn(l.x) * half.x, sgn(l.y) * half.y, sgn(l.z) * half.z)
            }
            Shape::Cylinder {
                radius,
                half_length,
            } => {
                let rxy = l.x.hypot(l.y);
                let z = sgn(l.z) * half_length;
                if rxy > 1e-12 * (l.z.abs() + rxy) && rxy > 0.0 {
                    Vec3::new(radius * l.x / rxy, radius * l.y / rxy, z)
                } else {
                    Vec3::new(0.0, 0.0, z)
                }
            }
            Shape::Ellipsoid { semi } => ellipsoid_support(&semi, &l),
            Shape::Convex(h) => {
                let (v, i) = if hint == NO_VERTEX {
                    h.support_idx(&l)
                } else {
                    h.support_idx_from(&l, hint)
                };
                idx = i;
                v
            }
        };
        (self.pose.apply(&s), idx)
    }
}

/// Support point (local) of the ellipsoid with semi-axes `semi` along local direction `l`:
/// `S^2 l / |S l|` (`S = diag(semi)`), the centre for `l = 0`.
pub fn ellipsoid_support(semi: &Vec3, l: &Vec3) -> Vec3 {
    let t = semi.component_mul(l);
    let n = t.norm();
    if n > 0.0 {
        semi.component_mul(&t) / n
    } else {
        Vec3::zeros()
    }
}

/// Vertex index of a support point that is not a core vertex (cylinder, ellipsoid, plane).
pub const NO_VERTEX: u32 = u32::MAX;

/// Local coordinates of core vertex `idx` of `shape`: the sphere centre (0), a capsule segment
/// end (0: `-h z`, 1: `+h z`), a box corner (bit `k` set: `+half_k`, else `-half_k`), a hull
/// vertex, or a cylinder cap octagon vertex (`idx = k + 8 top`, `k < 8`: the rim point at
/// angle `s k pi/4` on the cap `z = s h`, `s = +1` for the upper cap, `-1` for the lower one;
/// these are the corners of the octagon a cap is clipped as, never GJK support points). `None`
/// for planes and invalid indices.
pub fn core_vertex(shape: &Shape, idx: u32) -> Option<Vec3> {
    match *shape {
        Shape::Cylinder {
            radius,
            half_length,
        } if idx < 16 => {
            let s = if idx >= 8 { 1.0 } else { -1.0 };
            let ang = s * (idx % 8) as f64 * std::f64::consts::FRAC_PI_4;
            Some(Vec3::new(
                radius * ang.cos(),
                radius * ang.sin(),
                s * half_length,
            ))
        }
        Shape::Sphere { .. } if idx == 0 => Some(Vec3::zeros()),
        Shape::Capsule { half_length, .. } if idx < 2 => Some(Vec3::new(
            0.0,
            0.0,
            if idx == 1 { half_length } else { -half_length },
        )),
        Shape::Box { half } if idx < 8 => Some(Vec3::from_fn(|k, _| {
            if idx >> k & 1 == 1 {
                half[k]
            } else {
                -half[k]
            }
        })),
        Shape::Convex(h) => h.vertices.get(idx as usize).copied(),
        _ => None,
    }
}

/// A vertex of the Minkowski difference `A - B` with its two source points.
#[derive(Clone, Copy, Debug, Default)]
pub struct SVert {
    /// `a - b`.
    pub w: Vec3,
    /// Support point of A.
    pub a: Vec3,
    /// Support point of B.
    pub b: Vec3,
    /// Core vertex index of `a` (see [`core_vertex`]).
    pub ia: u32,
    /// Core vertex index of `b`.
    pub ib: u32,
}

/// Support of `A - B` in direction `d`.
#[inline]
pub fn support_diff(a: &Placed, b: &Placed, d: &Vec3) -> SVert {
    support_diff_from(a, b, d, NO_VERTEX, NO_VERTEX)
}

/// [`support_diff`], the hull searches starting at vertices `ha` of A and `hb` of B.
#[inline]
pub fn support_diff_from(a: &Placed, b: &Placed, d: &Vec3, ha: u32, hb: u32) -> SVert {
    let (pa, ia) = a.support_idx_from(d, ha);
    let (pb, ib) = b.support_idx_from(&-d, hb);
    SVert {
        w: pa - pb,
        a: pa,
        b: pb,
        ia,
        ib,
    }
}

/// Result of [`gjk`].
#[derive(Clone, Copy, Debug)]
pub struct GjkResult {
    /// True when the cores intersect (distance 0 up to tolerance); then `simplex` holds the
    /// final simplex for EPA.
    pub overlap: bool,
    /// Distance between the cores.
    pub dist: f64,
    /// Closest point on core A.
    pub pa: Vec3,
    /// Closest point on core B.
    pub pb: Vec3,
    /// Final simplex (first `n` used).
    pub simplex: [SVert; 4],
    /// Simplex size.
    pub n: usize,
}

/// GJK distance between the cores of `a` and `b`.
pub fn gjk(a: &Placed, b: &Placed) -> GjkResult {
    gjk_within(a, b, f64::INFINITY).expect("no cutoff")
}

/// [`gjk`], or `None` as soon as the cores are shown to lie more than `cutoff` apart: each
/// support point `w` in direction `-v` bounds the distance below by `v.w / |v|` (a separating
/// plane), so pairs far apart (a robot's links that cannot touch) end after a few supports.
pub fn gjk_within(a: &Placed, b: &Placed, cutoff: f64) -> Option<GjkResult> {
    let scale = a.size() + b.size() + (a.pose.pos - b.pose.pos).norm() + 1e-300;
    let mut d = b.pose.pos - a.pose.pos;
    if d.norm_squared() < 1e-24 * scale * scale {
        d = Vec3::x();
    }
    let mut s = [SVert::default(); 4];
    let mut lam = [0.0; 4];
    s[0] = support_diff(a, b, &-d);
    lam[0] = 1.0;
    let mut n = 1;
    let mut v = s[0].w;
    let tol = 1e-12;
    let mut overlap = false;
    for _ in 0..100 {
        let vv = v.norm_squared();
        if vv <= (1e-10 * scale) * (1e-10 * scale) {
            overlap = true;
            break;
        }
        // each hull's search starts at its last support vertex
        let last = &s[n - 1];
        let w = support_diff_from(a, b, &-v, last.ia, last.ib);
        let vw = v.dot(&w.w);
        if vw > 0.0 && vw * vw > cutoff * cutoff * vv {
            return None;
        }
        // Converged: no progress possible along -v.
        let crit = vv - v.dot(&w.w);
        if crit <= tol * vv || crit <= 1e-15 * scale * scale {
            break;
        }
        // Duplicate vertex guard.
        if s[..n]
            .iter()
            .any(|x| (x.w - w.w).norm_squared() <= 1e-28 * scale * scale)
        {
            break;
        }
        let (s_prev, lam_prev, n_prev) = (s, lam, n);
        s[n] = w;
        n += 1;
        match closest_on_simplex(&mut s, &mut lam, &mut n) {
            None => {
                overlap = true;
                break;
            }
            Some(nv) => {
                if nv.norm_squared() >= vv {
                    // No decrease (numerical stall): keep the previous, better simplex.
                    s = s_prev;
                    lam = lam_prev;
                    n = n_prev;
                    break;
                }
                v = nv;
            }
        }
    }
    let mut pa = Vec3::zeros();
    let mut pb = Vec3::zeros();
    for i in 0..n {
        pa += s[i].a * lam[i];
        pb += s[i].b * lam[i];
    }
    Some(GjkResult {
        overlap,
        dist: if overlap { 0.0 } else { v.norm() },
        pa,
        pb,
        simplex: s,
        n,
    })
}

/// Closest point of the simplex `s[..n]` to the origin; reduces the simplex to the supporting
/// sub-simplex and writes barycentric weights to `lam`. Returns `None` if the origin is inside
/// a (non-degenerate) tetrahedron.
fn closest_on_simplex(s: &mut [SVert; 4], lam: &mut [f64; 4], n: &mut usize) -> Option<Vec3> {
    match *n {
        1 => {
            lam[0] = 1.0;
            Some(s[0].w)
        }
        2 => Some(segment(s, lam, n)),
        3 => Some(triangle(s, lam, n)),
        _ => tetra(s, lam, n),
    }
}

fn segment(s: &mut [SVert; 4], lam: &mut [f64; 4], n: &mut usize) -> Vec3 {
    let a = s[0].w;
    let ab = s[1].w - a;
    let dd = ab.norm_squared();
    let t = if dd > 0.0 { -a.dot(&ab) / dd } else { 0.0 };
    if t <= 0.0 {
        *n = 1;
        lam[0] = 1.0;
        a
    } else if t >= 1.0 {
        s[0] = s[1];
        *n = 1;
        lam[0] = 1.0;
        s[0].w
    } else {
        lam[0] = 1.0 - t;
        lam[1] = t;
        a + ab * t
    }
}

/// Closest point on triangle `s[0..3]` to the origin (Ericson, Real-Time Collision Detection 5.1.5).
fn triangle(s: &mut [SVert; 4], lam: &mut [f64; 4], n: &mut usize) -> Vec3 {
    let (a, b, c) = (s[0].w, s[1].w, s[2].w);
    let ab = b - a;
    let ac = c - a;
    let ap = -a;
    let d1 = ab.dot(&ap);
    let d2 = ac.dot(&ap);
    if d1 <= 0.0 && d2 <= 0.0 {
        *n = 1;
        lam[0] = 1.0;
        return a;
    }
    let bp = -b;
    let d3 = ab.dot(&bp);
    let d4 = ac.dot(&bp);
    if d3 >= 0.0 && d4 <= d3 {
        s[0] = s[1];
        *n = 1;
        lam[0] = 1.0;
        return b;
    }
    let vc = d1 * d4 - d3 * d2;
    if vc <= 0.0 && d1 >= 0.0 && d3 <= 0.0 {
        let v = d1 / (d1 - d3);
        *n = 2;
        lam[0] = 1.0 - v;
        lam[1] = v;
        return a + ab * v;
    }
    let cp = -c;
    let d5 = ab.dot(&cp);
    let d6 = ac.dot(&cp);
    if d6 >= 0.0 && d5 <= d6 {
        s[0] = s[2];
        *n = 1;
        lam[0] = 1.0;
        return c;
    }
    let vb = d5 * d2 - d1 * d6;
    if vb <= 0.0 && d2 >= 0.0 && d6 <= 0.0 {
        let w = d2 / (d2 - d6);
        s[1] = s[2];
        *n = 2;
        lam[0] = 1.0 - w;
        lam[1] = w;
        return a + ac * w;
    }
    let va = d3 * d6 - d5 * d4;
    if va <= 0.0 && (d4 - d3) >= 0.0 && (d5 - d6) >= 0.0 {
        let w = (d4 - d3) / ((d4 - d3) + (d5 - d6));
        s[0] = s[1];
        s[1] = s[2];
        *n = 2;
        lam[0] = 1.0 - w;
        lam[1] = w;
        return b + (c - b) * w;
    }
    let denom = va + vb + vc;
    if denom.abs() < 1e-300 {
        // Degenerate triangle: fall back to its best edge.
        *n = 2;
        return segment(s, lam, n);
    }
    let v = vb / denom;
    let w = vc / denom;
    lam[0] = 1.0 - v - w;
    lam[1] = v;
    lam[2] = w;
    a + ab * v + ac * w
}

fn tetra(s: &mut [SVert; 4], lam: &mut [f64; 4], n: &mut usize) -> Option<Vec3> {
    let w = [s[0].w, s[1].w, s[2].w, s[3].w];
    let det = |a: &Vec3, b: &Vec3, c: &Vec3, d: &Vec3| (b - a).cross(&(c - a)).dot(&(d - a));
    let vol = det(&w[0], &w[1], &w[2], &w[3]);
    let mut emax: f64 = 0.0;
    for i in 0..4 {
        for j in i + 1..4 {
            emax = emax.max((w[i] - w[j]).norm());
        }
    }
    // Origin inside a non-degenerate tetrahedron: all barycentric coordinates non-negative.
    if vol.abs() > 1e-10 * emax * emax * emax {
        let o = Vec3::zeros();
        let l = [
            det(&o, &w[1], &w[2], &w[3]) / vol,
            det(&w[0], &o, &w[2], &w[3]) / vol,
            det(&w[0], &w[1], &o, &w[3]) / vol,
            det(&w[0], &w[1], &w[2], &o) / vol,
        ];
        if l.iter().all(|&x| x >= 0.0) {
            return None;
        }
    }
    // Otherwise the closest point lies on a face: take the best of the four.
    const FACES: [[usize; 3]; 4] = [[0, 1, 2], [0, 1, 3], [0, 2, 3], [1, 2, 3]];
    type Candidate = (f64, [SVert; 4], [f64; 4], usize, Vec3);
    let mut best: Option<Candidate> = None;
    for f in FACES {
        let mut ss = [s[f[0]], s[f[1]], s[f[2]], s[f[2]]];
        let mut ll = [0.0; 4];
        let mut nn = 3;
        let v = triangle(&mut ss, &mut ll, &mut nn);
        let d = v.norm_squared();
        if best.as_ref().is_none_or(|b| d < b.0) {
            best = Some((d, ss, ll, nn, v));
        }
    }
    let (_, ss, ll, nn, v) = best?;
    *s = ss;
    *lam = ll;
    *n = nn;
    Some(v)
}

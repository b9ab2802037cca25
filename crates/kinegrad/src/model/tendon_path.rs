//! A spatial tendon's geometry, from given site and geom poses and dof subspaces (no `Data`:
//! the compile stage reads it at qpos0 and [`crate::tendon::tendons`] at every step).
//!
//! A segment between two sites either runs straight or, when it names a sphere or cylinder to
//! wrap around, as MuJoCo's `mju_wrap` defines it: in the geom's frame, the two sites are
//! projected on a plane (a sphere: the plane through its centre and the two sites; a
//! cylinder: its cross-section), the path leaves the first site along a tangent of the circle,
//! follows the arc and reaches the second along the other tangent. With a side site, a segment
//! clear of the circle wraps only when the side site lies in its shadow (the cone of
//! directions opposite both sites, seen from the centre), and of the two ways round the one on
//! the side site's side of that cone; without one, a segment wraps only when it crosses the
//! circle, the shorter way; never a way whose straight pieces cross; no wrap when a site is
//! inside the circle. (MuJoCo 4.0's rules, which differ from 3.x's `mju_wrap` and were found
//! by probing `mj_tendon`; `python/tests/test_spatial_tendon_vs_mujoco.py` checks them.) A side site
//! inside the circle selects MuJoCo's inside wrap (a single contact point found by Newton's
//! method). On a cylinder the height is spread along the unrolled path. The routine is
//! generic over [`Real`] so the reverse pass gets its exact derivatives from dual numbers.

use super::{GeomType, Model, Tendon};
use crate::math::dual::{cross, dot, norm, scale, sub, Real};
use crate::math::{Mat3, Motion, Vec3};

use crate::math::MINVAL;

/// A 3-vector of [`Real`]s.
pub type V3<T> = [T; 3];

/// The polyline of one segment of a spatial tendon: its points with the bodies they move with
/// (the two sites, and between them the two wrap points on the geom's body when it wraps),
/// and the wrap's arc length (0 without a wrap).
#[derive(Clone, Copy, Debug)]
pub struct SegmentPath {
    /// (body, world point), `n` of them used.
    pub pts: [(usize, Vec3); 4],
    /// 2 (straight) or 4 (wrapped).
    pub n: usize,
    /// The arc length on the geom.
    pub arc: f64,
}

impl SegmentPath {
    /// The straight pieces, by their first point: `pts[i]` to `pts[i + 1]` (a wrapped segment's
    /// two tangents, not the chord between its wrap points: the arc replaces it).
    pub fn pieces(&self) -> impl Iterator<Item = usize> {
        let wrapped = self.n == 4;
        (0..self.n - 1).filter(move |&i| !(wrapped && i == 1))
    }
}

/// Segment `k` of `branch` (from its site `k` to site `k + 1`), with the sites' world positions
/// `site_pos` and the geoms' world poses `geom_pose`.
pub fn segment(
    model: &Model,
    branch: &super::SpatialBranch,
    k: usize,
    site_pos: &impl Fn(usize) -> Vec3,
    geom_pose: &impl Fn(usize) -> (Vec3, Mat3),
) -> SegmentPath {
    let (s0, s1) = (branch.sites[k], branch.sites[k + 1]);
    let (x0, x1) = (site_pos(s0), site_pos(s1));
    let (b0, b1) = (model.site_body[s0], model.site_body[s1]);
    let straight = SegmentPath {
        pts: [(b0, x0), (b1, x1), (b1, x1), (b1, x1)],
        n: 2,
        arc: 0.0,
    };
    let Some(w) = branch.wraps[k] else {
        return straight;
    };
    let (gp, gr) = geom_pose(w.geom);
    let side = w.side.map(|s| to_arr(&site_pos(s)));
    let g = Wrap {
        pos: to_arr(&gp),
        rot: mat_arr(&gr),
        radius: model.geom_size[w.geom].x,
        cylinder: model.geom_type[w.geom] == GeomType::Cylinder,
    };
    match wrap(&to_arr(&x0), &to_arr(&x1), &g, side.as_ref()) {
        None => straight,
        Some((w0, w1, arc)) => {
            let gb = model.geom_body[w.geom];
            SegmentPath {
                pts: [(b0, x0), (gb, from_arr(&w0)), (gb, from_arr(&w1)), (b1, x1)],
                n: 4,
                arc,
            }
        }
    }
}

/// The length of spatial tendon `ten` and its Jacobian's values into `jac` (its entries'
/// dofs, `Tendon::jac`'s, are kept), with the sites' world positions `site_pos`, the geoms'
/// world poses `geom_pose` and the dof subspaces `cdof`. A wrap's points move with its geom's
/// body (MuJoCo's `mj_tendon`).
pub fn spatial(
    model: &Model,
    ten: &Tendon,
    (site_pos, geom_pose): (impl Fn(usize) -> Vec3, impl Fn(usize) -> (Vec3, Mat3)),
    cdof: &[Motion],
    body_dof_last: &[usize],
    jac: &mut [(usize, f64)],
) -> f64 {
    jac.iter_mut().for_each(|x| x.1 = 0.0);
    let mut length = 0.0;
    for branch in &ten.spatial {
        let w = 1.0 / branch.divisor;
        for k in 0..branch.sites.len() - 1 {
            let seg = segment(model, branch, k, &site_pos, &geom_pose);
            length += w * seg.arc;
            for i in seg.pieces() {
                let ((b0, p0), (b1, p1)) = (seg.pts[i], seg.pts[i + 1]);
                let d = p1 - p0;
                let len = d.norm();
                length += w * len;
                if b0 == b1 || !(len > 0.0) {
                    continue; // one body: the piece's length is constant
                }
                let u = d / len;
                for (b, p, sign) in [(b1, p1, w), (b0, p0, -w)] {
                    let mut dof = body_dof_last[b];
                    while dof != usize::MAX {
                        let k = jac
                            .binary_search_by_key(&dof, |x| x.0)
                            .expect("a path body's dofs are in the tendon's Jacobian");
                        jac[k].1 += sign * u.dot(&cdof[dof].point_velocity(&p));
                        dof = model.dof_parent[dof];
                    }
                }
            }
        }
    }
    length
}

/// The length of spatial tendon `ten` with the sites' world positions `site_pos` and the
/// geoms' world poses `geom_pose`.
pub fn spatial_length(
    model: &Model,
    ten: &Tendon,
    site_pos: impl Fn(usize) -> Vec3,
    geom_pose: impl Fn(usize) -> (Vec3, Mat3),
) -> f64 {
    let mut length = 0.0;
    for branch in &ten.spatial {
        for k in 0..branch.sites.len() - 1 {
            let seg = segment(model, branch, k, &site_pos, &geom_pose);
            let pieces: f64 = seg
                .pieces()
                .map(|i| (seg.pts[i + 1].1 - seg.pts[i].1).norm())
                .sum();
            length += (pieces + seg.arc) / branch.divisor;
        }
    }
    length
}

/// The dofs a spatial tendon's Jacobian can touch: those of its sites' and wrap geoms'
/// bodies' paths to the root, ascending, each with coefficient 0 (the sparsity of
/// `Tendon::jac`).
pub fn spatial_dofs(model: &Model, ten: &Tendon, body_dof_last: &[usize]) -> Vec<(usize, f64)> {
    let mut bodies = Vec::new();
    for branch in &ten.spatial {
        bodies.extend(branch.sites.iter().map(|&s| model.site_body[s]));
        bodies.extend(
            branch
                .wraps
                .iter()
                .flatten()
                .map(|w| model.geom_body[w.geom]),
        );
    }
    let mut dofs = Vec::new();
    for b in bodies {
        let mut d = body_dof_last[b];
        while d != usize::MAX {
            dofs.push(d);
            d = model.dof_parent[d];
        }
    }
    dofs.sort_unstable();
    dofs.dedup();
    dofs.into_iter().map(|d| (d, 0.0)).collect()
}

/// A wrapping geom: world position, rotation (`rot[r][c]`, world = rot * local), radius and
/// whether it is a cylinder (else a sphere).
#[derive(Clone, Copy, Debug)]
pub struct Wrap<T> {
    /// Centre.
    pub pos: V3<T>,
    /// Rotation, row-major.
    pub rot: [V3<T>; 3],
    /// Radius.
    pub radius: f64,
    /// A cylinder (the wrap in its cross-section, the height spread along the path).
    pub cylinder: bool,
}

/// The wrap of the segment from `x0` to `x1` around `g` (`side`: the side site's position):
/// the two wrap points (world) and the arc length, or `None` without a wrap (MuJoCo's
/// `mju_wrap`).
pub fn wrap<T: Real>(
    x0: &V3<T>,
    x1: &V3<T>,
    g: &Wrap<T>,
    side: Option<&V3<T>>,
) -> Option<(V3<T>, V3<T>, T)> {
    let local = |x: &V3<T>| {
        let d = sub(x, &g.pos);
        [0, 1, 2].map(|c| g.rot[0][c] * d[0] + g.rot[1][c] * d[1] + g.rot[2][c] * d[2])
    };
    let (p0, p1) = (local(x0), local(x1));
    if norm(&p0).v() < MINVAL || norm(&p1).v() < MINVAL {
        return None;
    }
    // the plane of the wrap: two axes
    let axes: [V3<T>; 2] = if g.cylinder {
        [
            [T::c(1.0), T::c(0.0), T::c(0.0)],
            [T::c(0.0), T::c(1.0), T::c(0.0)],
        ]
    } else {
        let a0 = scale(&p0, T::c(1.0) / norm(&p0));
        let mut normal = cross(&p0, &p1);
        if norm(&normal).v() < MINVAL {
            // the sites in line with the centre: any plane through them
            let av = a0.map(|x| x.v().abs());
            let i = if av[1] > av[0] && av[1] > av[2] {
                1
            } else if av[2] > av[0] && av[2] > av[1] {
                2
            } else {
                0
            };
            let mut a1 = [T::c(1.0); 3];
            a1[i] = T::c(0.0);
            normal = cross(&a0, &a1);
        }
        let normal = scale(&normal, T::c(1.0) / norm(&normal));
        let a1 = cross(&normal, &a0);
        let a1 = scale(&a1, T::c(1.0) / norm(&a1));
        [a0, a1]
    };
    let d = [
        dot(&p0, &axes[0]),
        dot(&p0, &axes[1]),
        dot(&p1, &axes[0]),
        dot(&p1, &axes[1]),
    ];
    let radius = g.radius;
    let mut inside = false;
    let mut sd = None;
    if let Some(side) = side {
        let s = local(side);
        inside = norm(&s).v() < radius;
        let v = [dot(&s, &axes[0]).v(), dot(&s, &axes[1]).v()];
        let n = (v[0] * v[0] + v[1] * v[1]).sqrt();
        sd = Some(if n > MINVAL {
            [v[0] / n * radius, v[1] / n * radius]
        } else {
            [0.0, 0.0]
        });
    }
    let (pnt, mut wlen) = if inside {
        wrap_inside(&d, radius)?
    } else {
        wrap_circle(&d, sd.as_ref(), radius)?
    };
    let mut res = [0, 1].map(|i| {
        let (u, v) = (pnt[2 * i], pnt[2 * i + 1]);
        [0, 1, 2].map(|c| axes[0][c] * u + axes[1][c] * v)
    });
    if g.cylinder {
        let planar = |p: &V3<T>, r: &V3<T>| {
            let (dx, dy) = (p[0] - r[0], p[1] - r[1]);
            (dx * dx + dy * dy).sqrt()
        };
        let (l0, l1) = (planar(&p0, &res[0]), planar(&p1, &res[1]));
        let total = l0 + wlen + l1;
        let dz = p1[2] - p0[2];
        res[0][2] = p0[2] + dz * l0 / total;
        res[1][2] = p0[2] + dz * (l0 + wlen) / total;
        let h = res[1][2] - res[0][2];
        let w2 = wlen * wlen + h * h;
        // (an inside wrap has no arc and, spread over nothing, no height: keep its zero, whose
        // square root's derivative is not finite)
        if w2.v() > 0.0 {
            wlen = w2.sqrt();
        }
    }
    let world = |r: &V3<T>| {
        [0, 1, 2].map(|c| g.rot[c][0] * r[0] + g.rot[c][1] * r[1] + g.rot[c][2] * r[2] + g.pos[c])
    };
    Some((world(&res[0]), world(&res[1]), wlen))
}

/// Whether the 2D segments `p1 p2` and `p3 p4` cross (MuJoCo's `is_intersect`).
fn crosses(p1: [f64; 2], p2: [f64; 2], p3: [f64; 2], p4: [f64; 2]) -> bool {
    let det = (p4[1] - p3[1]) * (p2[0] - p1[0]) - (p4[0] - p3[0]) * (p2[1] - p1[1]);
    if det.abs() < MINVAL {
        return false;
    }
    let a = ((p4[0] - p3[0]) * (p1[1] - p3[1]) - (p4[1] - p3[1]) * (p1[0] - p3[0])) / det;
    let b = ((p2[0] - p1[0]) * (p1[1] - p3[1]) - (p2[1] - p1[1]) * (p1[0] - p3[0])) / det;
    (0.0..=1.0).contains(&a) && (0.0..=1.0).contains(&b)
}

/// Whether the direction `s` lies strictly inside the cone spanned by `-e0` and `-e1`
/// (`e = (e0, e1)`, the endpoints seen from the centre).
fn in_shadow(s: &[f64; 2], e: &[f64; 4]) -> bool {
    let (a, b) = ([-e[0], -e[1]], [-e[2], -e[3]]);
    let cross = |u: &[f64; 2], v: &[f64; 2]| u[0] * v[1] - u[1] * v[0];
    let ab = cross(&a, &b);
    ab != 0.0 && cross(&a, s) * ab > 0.0 && cross(s, &b) * ab > 0.0
}

/// The circle wrap in the plane: endpoints `e = (x0, y0, x1, y1)`, optional side point `sd`
/// (on the circle): the tangent points `(u0, v0, u1, v1)` and the arc length.
fn wrap_circle<T: Real>(e: &[T; 4], sd: Option<&[f64; 2]>, radius: f64) -> Option<([T; 4], T)> {
    let r2 = radius * radius;
    let sq0 = e[0] * e[0] + e[1] * e[1];
    let sq1 = e[2] * e[2] + e[3] * e[3];
    if sq0.v() < r2 || sq1.v() < r2 || radius < MINVAL {
        return None;
    }
    let ev = e.map(|x| x.v());
    let dif = [ev[2] - ev[0], ev[3] - ev[1]];
    let dd = dif[0] * dif[0] + dif[1] * dif[1];
    if dd < MINVAL {
        return None;
    }
    // a segment clear of the circle wraps only when the side site lies in its shadow: strictly
    // inside the cone of directions opposite both endpoints (MuJoCo 4.0's rule, found by
    // probing `mj_tendon`: the transitions sit on the directions of -x0 and -x1; 3.x took the
    // side of the segment's point nearest the centre, a wider region)
    let a = (-(dif[0] * ev[0] + dif[1] * ev[1]) / dd).clamp(0.0, 1.0);
    let near = [a * dif[0] + ev[0], a * dif[1] + ev[1]];
    if near[0] * near[0] + near[1] * near[1] > r2 && sd.is_none_or(|s| !in_shadow(s, &ev)) {
        return None;
    }
    let (rt0, rt1) = ((sq0 - T::c(r2)).sqrt(), (sq1 - T::c(r2)).sqrt());
    let (r, r2t) = (T::c(radius), T::c(r2));
    let sol = [1.0, -1.0].map(|sgn| {
        let s = T::c(sgn);
        [
            (e[0] * r2t + s * r * e[1] * rt0) / sq0,
            (e[1] * r2t - s * r * e[0] * rt0) / sq0,
            (e[2] * r2t - s * r * e[3] * rt1) / sq1,
            (e[3] * r2t + s * r * e[2] * rt1) / sq1,
        ]
    });
    // of the two ways round, with a side site the one whose tangent points' mean direction is
    // where the side site is, both in the shadow cone or both out of it; without one the
    // shorter chord; never one whose two straight pieces cross, and no wrap if the choice does
    // (MuJoCo 4.0's choice, found by probing `mj_tendon`: 1,392 random cases agree to 1e-9)
    let side_in = sd.map(|s| in_shadow(s, &ev));
    let good = [0, 1].map(|i| {
        let p = sol[i].map(|x| x.v());
        if crosses([ev[0], ev[1]], [p[0], p[1]], [ev[2], ev[3]], [p[2], p[3]]) {
            return -10000.0;
        }
        match side_in {
            Some(side_in) => {
                if in_shadow(&[p[0] + p[2], p[1] + p[3]], &ev) == side_in {
                    1.0
                } else {
                    0.0
                }
            }
            None => -((p[0] - p[2]).powi(2) + (p[1] - p[3]).powi(2)),
        }
    });
    let i = if good[0] > good[1] { 0 } else { 1 };
    let pnt = sol[i];
    let p = pnt.map(|x| x.v());
    if crosses([ev[0], ev[1]], [p[0], p[1]], [ev[2], ev[3]], [p[2], p[3]]) {
        return None;
    }
    // the arc from the first tangent point to the second, the long way when the chosen
    // solution goes round that way
    let n0 = (pnt[0] * pnt[0] + pnt[1] * pnt[1]).sqrt();
    let n1 = (pnt[2] * pnt[2] + pnt[3] * pnt[3]).sqrt();
    let c = (pnt[0] * pnt[2] + pnt[1] * pnt[3]) / (n0 * n1);
    let mut angle = if c.v() >= 1.0 {
        T::c(0.0)
    } else if c.v() <= -1.0 {
        T::c(std::f64::consts::PI)
    } else {
        c.acos()
    };
    let cr = p[1] * p[2] - p[0] * p[3];
    if (cr > 0.0 && i == 1) || (cr < 0.0 && i == 0) {
        angle = T::c(2.0 * std::f64::consts::PI) - angle;
    }
    Some((pnt, angle * r))
}

/// The inside wrap in the plane (the side site inside the circle): one point on the circle
/// where the path touches it, found by Newton's method as MuJoCo does; arc length 0.
fn wrap_inside<T: Real>(e: &[T; 4], radius: f64) -> Option<([T; 4], T)> {
    let len0 = (e[0] * e[0] + e[1] * e[1]).sqrt();
    let len1 = (e[2] * e[2] + e[3] * e[3]).sqrt();
    let dif = [e[2] - e[0], e[3] - e[1]];
    let dd = dif[0] * dif[0] + dif[1] * dif[1];
    if len0.v() <= radius
        || len1.v() <= radius
        || radius < MINVAL
        || len0.v() < MINVAL
        || len1.v() < MINVAL
    {
        return None;
    }
    if dd.v() > MINVAL {
        let a = -(dif[0] * e[0] + dif[1] * e[1]) / dd;
        if a.v() > 0.0 && a.v() < 1.0 {
            let t = [e[0] + a * dif[0], e[1] + a * dif[1]];
            if (t[0] * t[0] + t[1] * t[1]).sqrt().v() <= radius {
                return None;
            }
        }
    }
    let r = T::c(radius);
    // the fallback: the endpoints' mean direction on the circle
    let m = [(e[0] + e[2]) * T::c(0.5), (e[1] + e[3]) * T::c(0.5)];
    let mn = (m[0] * m[0] + m[1] * m[1]).sqrt();
    let fallback = [m[0] * r / mn, m[1] * r / mn];
    let zero = T::c(0.0);
    let fallback = Some(([fallback[0], fallback[1], fallback[0], fallback[1]], zero));
    // asin(A z) + asin(B z) - 2 asin(z) + G = 0
    let (ca, cb) = (r / len0, r / len1);
    let cos_g = (len0 * len0 + len1 * len1 - dd) / (T::c(2.0) * len0 * len1);
    if cos_g.v() < -1.0 + MINVAL {
        return None;
    } else if cos_g.v() > 1.0 - MINVAL {
        return fallback;
    }
    let gg = cos_g.acos();
    let floor = |q: T| if q.v() < MINVAL { T::c(MINVAL) } else { q };
    let df = |z: T| {
        let s = |k: T| k / floor((T::c(1.0) - z * z * k * k).sqrt());
        s(ca) + s(cb) - T::c(2.0) / floor((T::c(1.0) - z * z).sqrt())
    };
    let mut z = T::c(1.0 - 1e-7);
    let fz = |z: T| (ca * z).asin() + (cb * z).asin() - T::c(2.0) * z.asin() + gg;
    let mut fv = fz(z);
    if fv.v() > 0.0 {
        return fallback;
    }
    let mut iter = 0;
    while iter < 20 && fv.v().abs() > 1e-6 {
        let d = df(z);
        if d.v() > -MINVAL {
            return fallback;
        }
        let z1 = z - fv / d;
        if z1.v() > z.v() {
            return fallback;
        }
        z = z1;
        fv = fz(z);
        if fv.v() > 1e-6 {
            return fallback;
        }
        iter += 1;
    }
    if iter >= 20 {
        return fallback;
    }
    // the derivative of the converged root by one more Newton step in the tangents only (the
    // value stays MuJoCo's)
    let zv = z.v();
    z = (z - fz(z) / df(z)).with_v(zv);
    let (vec, ang) = if (e[0] * e[3] - e[1] * e[2]).v() > 0.0 {
        ([e[0] / len0, e[1] / len0], z.asin() - (ca * z).asin())
    } else {
        ([e[2] / len1, e[3] / len1], z.asin() - (cb * z).asin())
    };
    let (c, s) = (ang.cos(), ang.sin());
    let p = [r * (c * vec[0] - s * vec[1]), r * (s * vec[0] + c * vec[1])];
    Some(([p[0], p[1], p[0], p[1]], zero))
}

fn to_arr(v: &Vec3) -> V3<f64> {
    [v.x, v.y, v.z]
}

fn from_arr(v: &V3<f64>) -> Vec3 {
    Vec3::new(v[0], v[1], v[2])
}

fn mat_arr(m: &Mat3) -> [V3<f64>; 3] {
    [0, 1, 2].map(|r| [m[(r, 0)], m[(r, 1)], m[(r, 2)]])
}

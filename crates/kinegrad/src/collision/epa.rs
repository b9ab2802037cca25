//! EPA (expanding polytope algorithm): penetration depth and direction of two overlapping
//! cores, starting from the final GJK simplex (blown up to a tetrahedron if needed).

use super::any_perp;
use super::gjk::{support_diff, GjkResult, Placed, SVert};
use crate::math::Vec3;
use std::cell::RefCell;

/// Penetration result: `normal` (unit, from A to B), `depth >= 0` (translating B by
/// `depth * normal` separates the cores), and the witness points on A and B.
#[derive(Clone, Copy, Debug)]
pub struct EpaResult {
    /// Unit normal from A to B.
    pub normal: Vec3,
    /// Penetration depth of the cores.
    pub depth: f64,
    /// Deepest point of core A (on its surface).
    pub pa: Vec3,
    /// Deepest point of core B (on its surface).
    pub pb: Vec3,
    /// The final polytope face (its three Minkowski vertices), `None` when the support-function
    /// upper bound was returned instead.
    pub face: Option<[SVert; 3]>,
}

#[derive(Clone, Copy)]
struct Face {
    v: [usize; 3],
    n: Vec3,
    d: f64,
}

fn make_face(verts: &[SVert], i: usize, j: usize, k: usize) -> Face {
    let (a, b, c) = (verts[i].w, verts[j].w, verts[k].w);
    let n = (b - a).cross(&(c - a));
    let len = n.norm();
    if len > 1e-300 {
        let n = n / len;
        Face {
            v: [i, j, k],
            n,
            d: n.dot(&a),
        }
    } else {
        Face {
            v: [i, j, k],
            n: Vec3::zeros(),
            d: f64::INFINITY,
        }
    }
}

/// The polytope and flood-fill buffers of one EPA run (cleared at its start).
struct Scratch {
    verts: Vec<SVert>,
    faces: Vec<Face>,
    edges: Vec<(usize, usize)>,
    visible: Vec<bool>,
    stack: Vec<usize>,
}

impl Scratch {
    /// Buffers sized for the polytopes curved pairs meet, so that a thread's first deep run
    /// does not grow them inside a step.
    fn new() -> Self {
        Self {
            verts: Vec::with_capacity(128),
            faces: Vec::with_capacity(256),
            edges: Vec::with_capacity(128),
            visible: Vec::with_capacity(256),
            stack: Vec::with_capacity(128),
        }
    }
}

thread_local! {
    // Per-thread EPA buffers, reused (keeping their capacity) so steady-state steps do not allocate.
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::new());
}

/// EPA from a GJK result with `overlap == true`. Returns `None` if the Minkowski difference is
/// degenerate (flat), in which case the caller treats the contact as touching.
pub fn epa(a: &Placed, b: &Placed, g: &GjkResult) -> Option<EpaResult> {
    SCRATCH.with(|s| epa_in(a, b, g, &mut s.borrow_mut()))
}

// Inlined into its one caller: compiled on its own, LLVM lays out the face-adjacency search
// with ~16% more instructions.
#[inline(always)]
fn epa_in(a: &Placed, b: &Placed, g: &GjkResult, s: &mut Scratch) -> Option<EpaResult> {
    let Scratch {
        verts,
        faces,
        edges,
        visible,
        stack,
    } = s;
    let scale = a.size() + b.size() + 1e-300;
    let eps = 1e-12 * scale;
    verts.clear();
    verts.extend_from_slice(&g.simplex[..g.n]);
    // Blow up to a tetrahedron.
    if verts.len() == 1 {
        for d in [
            Vec3::x(),
            -Vec3::x(),
            Vec3::y(),
            -Vec3::y(),
            Vec3::z(),
            -Vec3::z(),
        ] {
            let w = support_diff(a, b, &d);
            if (w.w - verts[0].w).norm() > eps {
                verts.push(w);
                break;
            }
        }
    }
    if verts.len() == 2 {
        let e = verts[1].w - verts[0].w;
        let p = any_perp(&e);
        let q = e.normalize().cross(&p);
        for k in 0..6 {
            let ang = k as f64 * std::f64::consts::PI / 3.0;
            let d = p * ang.cos() + q * ang.sin();
            let w = support_diff(a, b, &d);
            if (w.w - verts[0].w).cross(&e).norm() > eps * e.norm() {
                verts.push(w);
                break;
            }
        }
    }
    if verts.len() == 3 {
        let nrm = (verts[1].w - verts[0].w).cross(&(verts[2].w - verts[0].w));
        for d in [nrm, -nrm] {
            let w = support_diff(a, b, &d);
            if nrm.dot(&(w.w - verts[0].w)).abs() > eps * nrm.norm() {
                verts.push(w);
                break;
            }
        }
    }
    if verts.len() < 4 {
        return None;
    }
    faces.clear();
    for (i, j, k, o) in [(0, 1, 2, 3), (0, 1, 3, 2), (0, 2, 3, 1), (1, 2, 3, 0)] {
        let nrm = (verts[j].w - verts[i].w).cross(&(verts[k].w - verts[i].w));
        if nrm.dot(&(verts[o].w - verts[i].w)) > 0.0 {
            faces.push(make_face(verts, i, k, j));
        } else {
            faces.push(make_face(verts, i, j, k));
        }
    }
    let mut best = 0;
    // Best upper bound seen: (support value, direction, support vertex). Translating B by
    // `value * direction` separates the cores, so it is a valid (if not minimal) answer when the
    // polytope stops being refinable (numerical degeneracy on curved shapes).
    let mut upper = (f64::INFINITY, Vec3::z(), verts[0]);
    let mut converged = false;
    for _ in 0..256 {
        best = 0;
        for (i, f) in faces.iter().enumerate() {
            if f.d < faces[best].d {
                best = i;
            }
        }
        let f = faces[best];
        if !f.d.is_finite() {
            return None;
        }
        let w = support_diff(a, b, &f.n);
        let dw = f.n.dot(&w.w);
        if dw < upper.0 {
            upper = (dw, f.n, w);
        }
        if dw - f.d <= 1e-12 * scale {
            converged = true;
            break;
        }
        if verts.iter().any(|x| (x.w - w.w).norm() <= eps) {
            break;
        }
        let wi = verts.len();
        verts.push(w);
        // Flood-fill the faces visible from w, starting at the closest face (the visible region
        // of a convex polytope is connected); its boundary is the horizon.
        edges.clear();
        visible.clear();
        visible.resize(faces.len(), false);
        stack.clear();
        visible[best] = true;
        stack.push(best);
        while let Some(fi) = stack.pop() {
            let v = faces[fi].v;
            for (p, q) in [(v[0], v[1]), (v[1], v[2]), (v[2], v[0])] {
                let nb = faces.iter().position(|g| {
                    (g.v[0] == q && g.v[1] == p)
                        || (g.v[1] == q && g.v[2] == p)
                        || (g.v[2] == q && g.v[0] == p)
                });
                match nb {
                    Some(g) if visible[g] => {}
                    Some(g)
                        if faces[g].d.is_finite()
                            && faces[g].n.dot(&(w.w - verts[faces[g].v[0]].w)) > 1e-14 * scale =>
                    {
                        visible[g] = true;
                        stack.push(g);
                    }
                    _ => edges.push((p, q)),
                }
            }
        }
        // Edges recorded before their neighbour turned visible are not on the horizon.
        edges.retain(|&(p, q)| {
            !faces.iter().enumerate().any(|(g, f)| {
                visible[g]
                    && ((f.v[0] == q && f.v[1] == p)
                        || (f.v[1] == q && f.v[2] == p)
                        || (f.v[2] == q && f.v[0] == p))
            })
        });
        let mut k = 0;
        faces.retain(|_| {
            let keep = !visible[k];
            k += 1;
            keep
        });
        if edges.is_empty() {
            verts.pop();
            break;
        }
        for &(p, q) in edges.iter() {
            faces.push(make_face(verts, p, q, wi));
        }
        best = 0;
    }
    // Recompute the closest face after the last modification.
    for (i, f) in faces.iter().enumerate() {
        if f.d < faces[best].d {
            best = i;
        }
    }
    let f = faces[best];
    if !f.d.is_finite() {
        return None;
    }
    if !converged && upper.0 - f.d > 1e-9 * scale && upper.0.is_finite() {
        let (d, n, w) = upper;
        return Some(EpaResult {
            normal: n,
            depth: d.max(0.0),
            pa: w.a,
            pb: w.a - n * d,
            face: None,
        });
    }
    // Barycentric coordinates of the projection of the origin on the face.
    let (p0, p1, p2) = (verts[f.v[0]], verts[f.v[1]], verts[f.v[2]]);
    let p = f.n * f.d;
    let v0 = p1.w - p0.w;
    let v1 = p2.w - p0.w;
    let v2 = p - p0.w;
    let d00 = v0.dot(&v0);
    let d01 = v0.dot(&v1);
    let d11 = v1.dot(&v1);
    let d20 = v2.dot(&v0);
    let d21 = v2.dot(&v1);
    let den = d00 * d11 - d01 * d01;
    let (l1, l2) = if den.abs() > 1e-300 {
        ((d11 * d20 - d01 * d21) / den, (d00 * d21 - d01 * d20) / den)
    } else {
        (0.0, 0.0)
    };
    let l0 = 1.0 - l1 - l2;
    let pa = p0.a * l0 + p1.a * l1 + p2.a * l2;
    let pb = p0.b * l0 + p1.b * l1 + p2.b * l2;
    Some(EpaResult {
        normal: f.n,
        depth: f.d.max(0.0),
        pa,
        pb,
        face: Some([p0, p1, p2]),
    })
}

//! Round shapes: sphere-sphere, sphere-capsule, capsule-capsule.
//!
//! All reduce to "two points with radii": the closest points of the core point/segments,
//! then `dist = |c2 - c1| - r1 - r2` along `n = (c2 - c1)/|c2 - c1|`.

use super::{
    any_perp, axis_ends, closest_on_segment, closest_seg_seg, emit1, ContactPoint, Core,
    FeatureKind,
};
use crate::math::{Pose, Vec3};

/// Contact between ball `(c1, r1)` and ball `(c2, r2)`; `fallback` is the normal used when the
/// centres coincide. `cores` describes the centres (feature `Balls`). Returns whether a contact
/// was added.
#[allow(clippy::too_many_arguments)]
pub(crate) fn balls(
    c1: &Vec3,
    r1: f64,
    c2: &Vec3,
    r2: f64,
    fallback: &Vec3,
    cores: (Core, Core),
    margin: f64,
    out: &mut Vec<ContactPoint>,
) -> bool {
    let d = c2 - c1;
    let len = d.norm();
    let (n, kind) = if len > 1e-12 {
        (
            d / len,
            FeatureKind::Balls {
                c1: cores.0,
                c2: cores.1,
            },
        )
    } else {
        (*fallback, FeatureKind::Unknown)
    };
    let dist = len - r1 - r2;
    emit1(out, margin, c1 + n * r1, n, dist, kind)
}

/// Sphere-sphere: 1 contact. Coincident centres use the normal `+z`.
pub fn sphere_sphere(
    p1: &Pose,
    r1: f64,
    p2: &Pose,
    r2: f64,
    margin: f64,
    out: &mut Vec<ContactPoint>,
) {
    let c = Core::Fixed(Vec3::zeros());
    balls(&p1.pos, r1, &p2.pos, r2, &Vec3::z(), (c, c), margin, out);
}

/// Sphere-capsule: 1 contact (sphere centre against the closest point of the capsule axis).
/// A centre on the axis uses a fixed normal perpendicular to the axis.
pub fn sphere_capsule(
    p1: &Pose,
    r1: f64,
    p2: &Pose,
    r2: f64,
    h2: f64,
    margin: f64,
    out: &mut Vec<ContactPoint>,
) {
    let (a, b) = axis_ends(p2, h2);
    let q = closest_on_segment(&p1.pos, &a, &b);
    let fb = any_perp(&p2.rot.column(2).into_owned());
    let core = seg_core(&p1.pos, &a, &b, h2, Core::OnAxis);
    balls(
        &p1.pos,
        r1,
        &q,
        r2,
        &fb,
        (Core::Fixed(Vec3::zeros()), core),
        margin,
        out,
    );
}

/// Capsule-capsule: 1 contact at the closest points of the axis segments, or 2 contacts
/// (ends of the overlap interval) when the axes are parallel and their projections overlap.
#[allow(clippy::too_many_arguments)]
pub fn capsule_capsule(
    p1: &Pose,
    r1: f64,
    h1: f64,
    p2: &Pose,
    r2: f64,
    h2: f64,
    margin: f64,
    out: &mut Vec<ContactPoint>,
) {
    let a1 = p1.rot.column(2).into_owned();
    let a2 = p2.rot.column(2).into_owned();
    let (s1, e1) = axis_ends(p1, h1);
    let (s2, e2) = axis_ends(p2, h2);
    let fb = {
        let d = p2.pos - p1.pos;
        let perp = d - a1 * a1.dot(&d);
        if perp.norm() > 1e-12 {
            perp.normalize()
        } else {
            any_perp(&a1)
        }
    };
    let c = a1.dot(&a2);
    if h1 > 0.0 && h2 > 0.0 && c.abs() > 1.0 - 1e-9 {
        // Parallel: overlap interval of segment 2 projected on axis 1 (parameter along a1 from p1).
        let t_a = a1.dot(&(s2 - p1.pos));
        let t_b = a1.dot(&(e2 - p1.pos));
        let lo = t_a.min(t_b).max(-h1);
        let hi = t_a.max(t_b).min(h1);
        if hi - lo > 1e-9 * (h1 + h2) {
            for (t, end) in [(lo, -1.0), (hi, 1.0)] {
                let q1 = p1.pos + a1 * t;
                let q2 = closest_on_segment(&q1, &s2, &e2);
                // q1: an end of segment 1, or the projection of an end of segment 2.
                let c1 = if t == end * h1 {
                    Core::Fixed(Vec3::new(0.0, 0.0, end * h1))
                } else if t == t_a {
                    Core::ProjOther(Vec3::new(0.0, 0.0, -h2))
                } else {
                    Core::ProjOther(Vec3::new(0.0, 0.0, h2))
                };
                let c2 = seg_core(&q1, &s2, &e2, h2, Core::OnAxis);
                balls(&q1, r1, &q2, r2, &fb, (c1, c2), margin, out);
            }
            return;
        }
    }
    let (s, t) = closest_seg_seg(&s1, &(e1 - s1), &s2, &(e2 - s2));
    let q1 = s1 + (e1 - s1) * s;
    let q2 = s2 + (e2 - s2) * t;
    let end = |u: f64, h: f64| {
        (u == 0.0 || u == 1.0).then(|| Core::Fixed(Vec3::new(0.0, 0.0, (2.0 * u - 1.0) * h)))
    };
    let cores = match (end(s, h1), end(t, h2)) {
        (Some(a), Some(b)) => (a, b),
        (Some(a), None) => (a, Core::OnAxis),
        (None, Some(b)) => (Core::OnAxis, b),
        (None, None) => (Core::LineLine, Core::LineLine),
    };
    balls(&q1, r1, &q2, r2, &fb, cores, margin, out);
}

/// Core of the point of the axis segment `[a, b]` (half length `h`) closest to `p` (as
/// [`closest_on_segment`] clamps it): an end, or `inner`.
fn seg_core(p: &Vec3, a: &Vec3, b: &Vec3, h: f64, inner: Core) -> Core {
    let d = b - a;
    let dd = d.dot(&d);
    let t = if dd <= 1e-300 {
        0.0
    } else {
        (p - a).dot(&d) / dd
    };
    if t <= 0.0 {
        Core::Fixed(Vec3::new(0.0, 0.0, -h))
    } else if t >= 1.0 {
        Core::Fixed(Vec3::new(0.0, 0.0, h))
    } else {
        inner
    }
}

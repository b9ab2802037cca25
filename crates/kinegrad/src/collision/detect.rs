//! Collision driver: candidate pairs, narrowphase, contact parameters.
//!
//! A geom pair is a candidate when its contype/conaffinity masks match, the geoms are
//! on different weld groups (bodies rigidly attached to each other never collide), the
//! bodies are not parent and child (unless the parent is the world, as in MuJoCo), the
//! pair is not excluded, self-collision is enabled or the bodies belong to different
//! kinematic trees, and their bounding spheres (inflated by the margin) overlap.
//! Contact parameters combine as MuJoCo's defaults do: the larger friction and condim,
//! the mean solref/solimp, the larger margin.

use super::{collide, ContactPoint, ConvexHull, Shape};
use crate::constraint::contact_frame;
use crate::data::{Contact, Data};
use crate::math::{Pose, Vec3};
use crate::model::{GeomType, Model, Params};

static EMPTY_HULL: ConvexHull = ConvexHull {
    vertices: Vec::new(),
    faces: Vec::new(),
    normals: Vec::new(),
    neighbors: Vec::new(),
};

/// The collision shape of geom `g`.
pub fn geom_shape(model: &Model, g: usize) -> Shape<'_> {
    let s = model.geom_size[g];
    match model.geom_type[g] {
        GeomType::Plane => Shape::Plane,
        GeomType::Sphere => Shape::Sphere { radius: s.x },
        GeomType::Capsule => Shape::Capsule {
            radius: s.x,
            half_length: s.y,
        },
        GeomType::Box => Shape::Box { half: s },
        GeomType::Cylinder => Shape::Cylinder {
            radius: s.x,
            half_length: s.y,
        },
        // the builder computed the hull of every mesh geom that can collide; a mesh without a
        // hull (collinear vertices) is an empty shape
        GeomType::Mesh => Shape::Convex(
            model.meshes[model.geom_mesh[g].expect("mesh geom has a mesh")]
                .hull()
                .unwrap_or(&EMPTY_HULL),
        ),
    }
}

/// Whether geoms `g1 < g2` may collide (everything but the bounding-volume test).
pub fn can_collide(model: &Model, g1: usize, g2: usize) -> bool {
    if model.geom_visual[g1] || model.geom_visual[g2] {
        return false;
    }
    let masks = (model.geom_contype[g1] & model.geom_conaffinity[g2]) != 0
        || (model.geom_contype[g2] & model.geom_conaffinity[g1]) != 0;
    if !masks {
        return false;
    }
    let (b1, b2) = (model.geom_body[g1], model.geom_body[g2]);
    let (w1, w2) = (model.body_weld[b1], model.body_weld[b2]);
    if w1 == w2 {
        return false;
    }
    // adjacent bodies never collide: parent and child bodies (a fixed base included, as
    // Genesis filters adjacent links), and parent and child weld groups (MuJoCo's rule,
    // which exempts the world)
    if model.body_parent[b1] == b2 || model.body_parent[b2] == b1 {
        return false;
    }
    let pw1 = model.body_weld[model.body_parent[w1]];
    let pw2 = model.body_weld[model.body_parent[w2]];
    if (w2 != 0 && pw1 == w2) || (w1 != 0 && pw2 == w1) {
        return false;
    }
    // self-collision: two bodies of one kinematic tree (same root body below the world),
    // whether or not that root is welded to the world
    if !model.opt.enable_self_collision
        && b1 != 0
        && b2 != 0
        && model.body_root[b1] == model.body_root[b2]
    {
        return false;
    }
    if !model.exclude_pairs.is_empty()
        && model
            .exclude_pairs
            .binary_search(&(b1.min(b2), b1.max(b2)))
            .is_ok()
    {
        return false;
    }
    true
}

/// Fill `model.geom_aabb` and `model.collision_pairs` (called once by the builder).
pub fn set_collision_pairs(model: &mut Model) {
    model.geom_aabb = (0..model.ngeom).map(|g| local_aabb(model, g)).collect();
    model.collision_pairs.clear();
    // only geoms that can collide with something enter the quadratic pair loop (a long chain of
    // visual-only geoms costs nothing)
    let cand: Vec<usize> = (0..model.ngeom)
        .filter(|&g| {
            !model.geom_visual[g] && (model.geom_contype[g] | model.geom_conaffinity[g]) != 0
        })
        .collect();
    for (k, &g1) in cand.iter().enumerate() {
        for &g2 in &cand[k + 1..] {
            if can_collide(model, g1, g2) {
                model.collision_pairs.push((g1, g2));
            }
        }
    }
}

/// Bounding box of geom `g` in its own frame: (centre, half extents).
fn local_aabb(model: &Model, g: usize) -> [Vec3; 2] {
    let s = model.geom_size[g];
    let half = match model.geom_type[g] {
        GeomType::Plane => Vec3::repeat(f64::INFINITY),
        GeomType::Sphere => Vec3::repeat(s.x),
        GeomType::Capsule => Vec3::new(s.x, s.x, s.x + s.y),
        GeomType::Box => s,
        GeomType::Cylinder => Vec3::new(s.x, s.x, s.y),
        GeomType::Mesh => {
            // the hull's vertices if computed (fewer), else the mesh's (same box)
            let mesh = &model.meshes[model.geom_mesh[g].expect("mesh geom has a mesh")];
            let vertices = mesh
                .hull_if_computed()
                .map_or(&mesh.vertices, |h| &h.vertices);
            let lo = vertices
                .iter()
                .fold(Vec3::repeat(f64::INFINITY), |a, v| a.inf(v));
            let hi = vertices
                .iter()
                .fold(Vec3::repeat(f64::NEG_INFINITY), |a, v| a.sup(v));
            return [(lo + hi) * 0.5, (hi - lo) * 0.5];
        }
    };
    [Vec3::zeros(), half]
}

/// World-aligned bounding boxes of two geoms overlap (within `margin`).
#[inline]
fn aabb_overlap(model: &Model, data: &Data, g1: usize, g2: usize, margin: f64) -> bool {
    let world = |g: usize| {
        let [c, h] = model.geom_aabb[g];
        let r = &data.geom_xmat[g];
        (data.geom_xpos[g] + r * c, r.abs() * h)
    };
    let (c1, h1) = world(g1);
    let (c2, h2) = world(g2);
    (0..3).all(|k| (c1[k] - c2[k]).abs() <= h1[k] + h2[k] + margin)
}

/// (plane, other geom) when exactly one of the two is a plane and the other is bounded.
fn plane_and_other(model: &Model, g1: usize, g2: usize) -> Option<(usize, usize)> {
    let plane = |g: usize| model.geom_type[g] == GeomType::Plane;
    match (plane(g1), plane(g2)) {
        (true, false) if model.geom_rbound[g2].is_finite() => Some((g1, g2)),
        (false, true) if model.geom_rbound[g1].is_finite() => Some((g2, g1)),
        _ => None,
    }
}

/// Fill `data.contacts` from the current geom poses.
pub fn detect(model: &Model, params: &Params, data: &mut Data) {
    data.contacts.clear();
    if !model.opt.enable_collision {
        return;
    }
    let mut points = std::mem::take(&mut data.scratch_points);
    for &(g1, g2) in &model.collision_pairs {
        let margin = model.geom_margin[g1].max(model.geom_margin[g2]);
        // midphase: bounding spheres, then world-aligned boxes (planes are unbounded)
        let (r1, r2) = (model.geom_rbound[g1], model.geom_rbound[g2]);
        if r1.is_finite() && r2.is_finite() {
            if (data.geom_xpos[g1] - data.geom_xpos[g2]).norm() > r1 + r2 + margin {
                continue;
            }
            if !aabb_overlap(model, data, g1, g2, margin) {
                continue;
            }
        } else if let Some((pl, g)) = plane_and_other(model, g1, g2) {
            // a plane is a half-space: skip a geom whose bounding sphere lies above it
            let n = data.geom_xmat[pl].column(2).into_owned();
            if n.dot(&(data.geom_xpos[g] - data.geom_xpos[pl])) > model.geom_rbound[g] + margin {
                continue;
            }
        }
        let p1 = Pose {
            pos: data.geom_xpos[g1],
            rot: data.geom_xmat[g1],
        };
        let p2 = Pose {
            pos: data.geom_xpos[g2],
            rot: data.geom_xmat[g2],
        };
        points.clear();
        collide(
            &geom_shape(model, g1),
            &p1,
            &geom_shape(model, g2),
            &p2,
            margin,
            &mut points,
        );
        for cp in points.iter() {
            data.contacts
                .push(make_contact(model, params, g1, g2, cp, margin));
        }
    }
    data.scratch_points = points;
}

/// The contact of geoms `g1 < g2` from their narrowphase result `cp`, as [`detect`] makes it
/// (parameters from the two geoms, the margin the larger of theirs).
pub fn contact(model: &Model, params: &Params, g1: usize, g2: usize, cp: &ContactPoint) -> Contact {
    let margin = model.geom_margin[g1].max(model.geom_margin[g2]);
    make_contact(model, params, g1, g2, cp, margin)
}

fn make_contact(
    model: &Model,
    params: &Params,
    g1: usize,
    g2: usize,
    cp: &ContactPoint,
    margin: f64,
) -> Contact {
    let f1 = params.geom_friction[g1][0];
    let f2 = params.geom_friction[g2][0];
    let mut solref = [0.0; 2];
    let mut solimp = [0.0; 5];
    for k in 0..2 {
        solref[k] = 0.5 * (model.geom_solref[g1][k] + model.geom_solref[g2][k]);
    }
    for k in 0..5 {
        solimp[k] = 0.5 * (model.geom_solimp[g1][k] + model.geom_solimp[g2][k]);
    }
    if let Some(tc) = model.opt.constraint_timeconst {
        solref[0] = tc;
    }
    Contact {
        geom1: g1,
        geom2: g2,
        pos: cp.pos,
        frame: contact_frame(&cp.normal),
        dist: cp.dist,
        friction: crate::constraint::mix_friction(f1, f2).0,
        solref,
        solimp,
        condim: model.geom_condim[g1].max(model.geom_condim[g2]),
        margin,
        efc_adr: 0,
        point: *cp,
    }
}

//! Collision detection over the world: for the model's candidate geom pairs (made at build by
//! [`crate::model::compile::set_collision_pairs`]), a bounding-sphere/box/half-space midphase,
//! the narrowphase of [`crate::collision`], and contact parameters; fills `Data::contacts`.
//! The geometry below it knows nothing of models or `Data`.
//!
//! Above [`SWEEP_MIN_PAIRS`] candidate pairs, a broadphase (sort and sweep of the geoms' world
//! boxes) picks the pairs worth testing, so a scene of many bodies does not test all n²/2.
//! A candidate pair is tested when the geoms' bounding spheres and world-aligned boxes
//! (inflated by the margins and gaps) overlap, or, for a plane, when the other geom's bounding
//! sphere reaches below it. Contact parameters combine as MuJoCo's do
//! ([`crate::constraint::contact_params`]); a pair acts within the sum of its geoms' margins
//! and is detected within the sums of margins and gaps (the contacts in the gap, which MuJoCo
//! lists but keeps out of its rows, are not kept).

use crate::collision::{collide, contact_frame, ContactPoint, ConvexHull, Shape};
use crate::data::{Contact, Data};
use crate::math::{Pose, Vec3};
use crate::model::{GeomType, Model, Params};

static EMPTY_HULL: ConvexHull = ConvexHull {
    vertices: Vec::new(),
    faces: Vec::new(),
    normals: Vec::new(),
    neighbors: Vec::new(),
    bound: 0.0,
    extremes: Vec::new(),
    polygons: Vec::new(),
    polygon_normals: Vec::new(),
    vertex_polygons: Vec::new(),
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
        GeomType::Ellipsoid => Shape::Ellipsoid { semi: s },
        // the builder computed the hull of every mesh geom that can collide; a mesh without a
        // hull (collinear vertices) is an empty shape
        GeomType::Mesh => Shape::Convex(
            model.meshes[model.geom_mesh[g].expect("mesh geom has a mesh")]
                .hull()
                .unwrap_or(&EMPTY_HULL),
        ),
    }
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

/// Above this many candidate pairs, [`detect`] finds the pairs whose world boxes overlap by
/// sort and sweep instead of testing every pair (a robot's few hundred pairs cost less one by
/// one than sorting; a pile of 216 boxes has 23,436).
pub const SWEEP_MIN_PAIRS: usize = 512;

/// Fill `data.contacts` from the current geom poses.
///
/// The candidate pairs are tested in the order of `model.collision_pairs`, whichever way they
/// are found, so the contacts do not depend on the broadphase.
pub fn detect(model: &Model, params: &Params, data: &mut Data) {
    detect_with(
        model,
        params,
        data,
        model.collision_pairs.len() > SWEEP_MIN_PAIRS,
    );
}

/// [`detect`], the broadphase by sort and sweep or not (every pair one by one): the contacts
/// are the same either way.
pub fn detect_with(model: &Model, params: &Params, data: &mut Data, sweep_pairs: bool) {
    data.contacts.clear();
    if !model.opt.enable_collision {
        return;
    }
    let mut points = std::mem::take(&mut data.scratch_points);
    if !sweep_pairs {
        for k in 0..model.collision_pairs.len() {
            test_pair(model, params, data, k, &mut points);
        }
    } else {
        let mut cand = std::mem::take(&mut data.scratch_pairs);
        sweep(model, data, &mut cand);
        for &k in &cand {
            test_pair(model, params, data, k, &mut points);
        }
        data.scratch_pairs = cand;
    }
    data.scratch_points = points;
}

/// Broadphase: the indices (ascending) of the candidate pairs whose geoms' world-aligned boxes,
/// each inflated by its geom's margin and gap, overlap, plus every pair with an unbounded geom. Sort
/// and sweep along x: O(n log n + pairs found) for n geoms. A pair found whose boxes overlap
/// is a candidate if it is in `collision_pairs` (binary search: the list is sorted).
fn sweep(model: &Model, data: &mut Data, cand: &mut Vec<usize>) {
    let boxes = &mut data.scratch_boxes;
    boxes.clear();
    for g in 0..model.ngeom {
        if !model.geom_rbound[g].is_finite() || model.geom_visual[g] {
            continue;
        }
        let [c, h] = model.geom_aabb[g];
        let r = &data.geom_xmat[g];
        let (c, h) = (data.geom_xpos[g] + r * c, r.abs() * h);
        let m = model.geom_margin[g] + model.geom_gap[g];
        boxes.push((
            [c.x - h.x - m, c.y - h.y - m, c.z - h.z - m],
            [c.x + h.x + m, c.y + h.y + m, c.z + h.z + m],
            g,
        ));
    }
    boxes.sort_unstable_by(|a, b| a.0[0].total_cmp(&b.0[0]));
    cand.clear();
    cand.extend_from_slice(&model.collision_pairs_unbounded);
    for (i, (lo1, hi1, g1)) in boxes.iter().enumerate() {
        for (lo2, hi2, g2) in &boxes[i + 1..] {
            if lo2[0] > hi1[0] {
                break;
            }
            if lo2[1] > hi1[1] || lo1[1] > hi2[1] || lo2[2] > hi1[2] || lo1[2] > hi2[2] {
                continue;
            }
            let key = ((*g1).min(*g2), (*g1).max(*g2));
            if let Ok(k) = model.collision_pairs.binary_search(&key) {
                cand.push(k);
            }
        }
    }
    cand.sort_unstable();
}

/// A candidate pair in the order MuJoCo collides it: the geom of lower `mjtGeom` index first
/// (by geom index when the kinds are equal).
pub fn ordered_pair(model: &Model, (g1, g2): (usize, usize)) -> (usize, usize) {
    if model.geom_type[g1].mujoco_index() > model.geom_type[g2].mujoco_index() {
        (g2, g1)
    } else {
        (g1, g2)
    }
}

/// The margin within which a pair's contacts act: the sum of the geoms' (MuJoCo's
/// `getMargin`).
#[inline]
fn pair_margin(model: &Model, g1: usize, g2: usize) -> f64 {
    model.geom_margin[g1] + model.geom_margin[g2]
}

/// Midphase and narrowphase of candidate pair `k`: its contacts appended to `data.contacts`.
#[inline(always)]
fn test_pair(
    model: &Model,
    params: &Params,
    data: &mut Data,
    k: usize,
    points: &mut Vec<ContactPoint>,
) {
    let (g1, g2) = ordered_pair(model, model.collision_pairs[k]);
    // MuJoCo: detected within the sums of the margins and gaps, acting within the margins
    let margin = pair_margin(model, g1, g2);
    let reach = margin + model.geom_gap[g1] + model.geom_gap[g2];
    // midphase: bounding spheres, then world-aligned boxes (planes are unbounded)
    let (r1, r2) = (model.geom_rbound[g1], model.geom_rbound[g2]);
    if r1.is_finite() && r2.is_finite() {
        if (data.geom_xpos[g1] - data.geom_xpos[g2]).norm() > r1 + r2 + reach {
            return;
        }
        if !aabb_overlap(model, data, g1, g2, reach) {
            return;
        }
    } else if let Some((pl, g)) = plane_and_other(model, g1, g2) {
        // a plane is a half-space: skip a geom whose bounding sphere lies above it
        let n = data.geom_xmat[pl].column(2).into_owned();
        if n.dot(&(data.geom_xpos[g] - data.geom_xpos[pl])) > model.geom_rbound[g] + reach {
            return;
        }
    }
    let p1 = data.geom_frame(g1);
    let p2 = data.geom_frame(g2);
    points.clear();
    collide(
        &geom_shape(model, g1),
        &p1,
        &geom_shape(model, g2),
        &p2,
        reach,
        points,
    );
    let tangent = pair_tangent(model.geom_type[g1], model.geom_type[g2], &p1, &p2);
    // contacts in the gap (dist >= margin) make no rows (MuJoCo's excluded contacts)
    for cp in points.iter().filter(|cp| cp.dist < margin) {
        data.contacts.push(make_contact(
            model,
            params,
            g1,
            g2,
            cp,
            margin,
            tangent.as_ref(),
        ));
    }
}

/// The contact of geoms `g1`, `g2` (in [`ordered_pair`] order) at world poses `p1`, `p2`
/// from their narrowphase result `cp`, as [`detect`] makes it (parameters from the two geoms,
/// the margin the sum of theirs, the frame's tangent from the pair: [`pair_tangent`]).
pub fn contact(
    model: &Model,
    params: &Params,
    g1: usize,
    g2: usize,
    p1: &Pose,
    p2: &Pose,
    cp: &ContactPoint,
) -> Contact {
    let margin = pair_margin(model, g1, g2);
    let tangent = pair_tangent(model.geom_type[g1], model.geom_type[g2], p1, p2);
    make_contact(model, params, g1, g2, cp, margin, tangent.as_ref())
}

fn make_contact(
    model: &Model,
    params: &Params,
    g1: usize,
    g2: usize,
    cp: &ContactPoint,
    margin: f64,
    tangent: Option<&Vec3>,
) -> Contact {
    let cp_ = crate::constraint::contact_params(model, params, g1, g2);
    let mut solref = cp_.solref;
    if let Some(tc) = model.opt.constraint_timeconst {
        solref[0] = tc;
    }
    Contact {
        geom1: g1,
        geom2: g2,
        pos: cp.pos,
        frame: contact_frame(&cp.normal, tangent),
        dist: cp.dist,
        friction: cp_.friction[0],
        spin: cp_.friction[1],
        roll: cp_.friction[2],
        solref,
        solimp: cp_.solimp,
        condim: cp_.condim,
        margin,
        efc_adr: 0,
        point: *cp,
    }
}

/// The tangent a pair of geoms gives its contacts' frames ([`contact_frame`]): a capsule's
/// axis against a plane (MuJoCo's `mjc_PlaneCapsule`), none otherwise. `p1`, `p2` are the
/// geoms' world poses.
pub fn pair_tangent(kind1: GeomType, kind2: GeomType, p1: &Pose, p2: &Pose) -> Option<Vec3> {
    match (kind1, kind2) {
        (GeomType::Plane, GeomType::Capsule) => Some(p2.rot.column(2).into_owned()),
        (GeomType::Capsule, GeomType::Plane) => Some(p1.rot.column(2).into_owned()),
        _ => None,
    }
}

//! The compile stage: what the builder derives from the assembled model once its bodies,
//! joints and geoms are in place, as MuJoCo's compiler and `mj_setConst` do. The candidate
//! collision pairs and the geoms' local bounding boxes ([`set_collision_pairs`]), and the
//! inverse weights at the reference configuration ([`set_invweight0`]) that scale the
//! constraint rows' regularization. It reads the model alone (no `Data`, no stage), so the
//! model sits below every stage of a step.

use super::{GeomType, Model};
use crate::error::{Error, Result};
use crate::joint::JointType;
use crate::math::Vec3;

/// Whether geoms `g1 < g2` may collide (everything but the bounding-volume test of
/// [`crate::detect`]): their contype/conaffinity masks match, the geoms are on different weld
/// groups (bodies rigidly attached to each other never collide), the bodies are not parent and
/// child (unless the parent is the world, as in MuJoCo), the pair is not excluded, and
/// self-collision is enabled or the bodies belong to different kinematic trees.
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
    if w1 == w2 || (model.body_static(b1) && model.body_static(b2)) {
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
    let bounded = |g: usize| model.geom_rbound[g].is_finite();
    model.collision_pairs_unbounded = (0..model.collision_pairs.len())
        .filter(|&k| {
            let (g1, g2) = model.collision_pairs[k];
            !(bounded(g1) && bounded(g2))
        })
        .collect();
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
        GeomType::Ellipsoid => s,
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

/// The mass matrix's sparsity pattern (`dof_m_adr`, `dof_m_col`): M_ij can be non-zero only
/// when dof j is on dof i's path to the root or i on j's (Featherstone's branch-induced
/// sparsity). Row i of the lower triangle holds i's ancestors ascending, then i (parents are
/// numbered before their children). O(nv depth).
pub fn set_mass_pattern(model: &mut Model) {
    let nv = model.nv;
    model.dof_m_adr = Vec::with_capacity(nv + 1);
    model.dof_m_adr.push(0);
    model.dof_m_col.clear();
    for i in 0..nv {
        let row = model.dof_m_col.len();
        let mut j = i;
        while j != usize::MAX {
            debug_assert!(j <= i, "a dof's parent is numbered before it");
            model.dof_m_col.push(j);
            j = model.dof_parent[j];
        }
        model.dof_m_col[row..].reverse();
        model.dof_m_adr.push(model.dof_m_col.len());
    }
}

/// Every body's world pose (position, orientation) at the reference configuration `qpos0`.
pub fn body_poses0(model: &Model) -> Vec<(Vec3, crate::math::Quat)> {
    let mut poses = vec![(Vec3::zeros(), crate::math::Quat::identity()); model.nbody];
    for b in 1..model.nbody {
        let (xp, qp) = poses[model.body_parent[b]];
        let mut pose = (xp + qp * model.body_pos[b], qp * model.body_quat[b]);
        let jadr = model.body_jnt_adr[b];
        for j in jadr..jadr + model.body_jnt_num[b] {
            let a = model.jnt_qpos_adr[j];
            if let Some(placed) = model.jnt_type[j].placement(&model.qpos0[a..]) {
                pose = placed;
            }
        }
        poses[b] = pose;
    }
    poses
}

/// Compute `body_invweight0`, `dof_invweight0` and `stat_meaninertia` at qpos0 (MuJoCo's
/// mj_setConst). Fails if the mass matrix is singular (a moving body without mass).
///
/// O(nbody + nv) time and memory: the articulated-body recursion over the dof tree (each dof a
/// node whose parent is `dof_parent`) gives the pivots `D_i` and `U_i = I^A_i s_i`; then, root
/// to leaf, the inverse operational-space inertia of each node
/// `Omega_i = P_i^T Omega_p P_i + s_i s_i^T / D_i` with `P_i = 1 - U_i s_i^T / D_i`
/// (= J M^-1 J^T of the node's spatial Jacobian), and `(M^-1)_ii = 1/D_i + U_i^T Omega_p U_i / D_i^2`.
/// No nv x nv matrix is formed (a dense factorization made building a 1,000-link chain take
/// seconds). Spatial vectors are [angular; linear] at the world origin, as `cdof`.
pub fn set_invweight0(model: &mut Model) -> Result<()> {
    compute_invweight0(model).map_err(|b| {
        Error::invalid(
            format!("body '{}'", model.body_name[b]),
            "mass matrix is singular: a moving body (or its subtree) has no mass or inertia",
        )
    })
}

/// The `kv` of position servos given a `dampratio` ([`crate::model::ActuatorSpec::dampratio`]),
/// as MuJoCo 4.0 sets it at compile time (found by probing it; its 3.x source used the diagonal
/// of M instead): `dampratio 2 sqrt(kp m)` with `m = 1 / (g^2 J M^-1 J^T)` the inertia the
/// servo moves at qpos0 (`J` its dof's or tendon's Jacobian: `dof_invweight0` or the tendon's
/// `invweight0`), written into the channel's `kv` in joint units (times `g^2`, as a servo's
/// gains are). Needs [`compute_invweight0`] first.
pub(crate) fn set_dampratio_gains(model: &mut Model) {
    for k in 0..model.actuators.len() {
        let a = &model.actuators[k];
        if !(a.dampratio > 0.0) {
            continue;
        }
        let (dof, g2) = (a.dof, a.gear * a.gear);
        let invweight = if dof < model.nv {
            model.dof_invweight0[dof]
        } else {
            model.tendons[dof - model.nv].invweight0
        };
        let w = g2 * invweight;
        let mass = if w > super::inertia::MINVAL {
            1.0 / w
        } else {
            0.0
        };
        let kv = a.dampratio * 2.0 * (a.kp * mass).sqrt() * g2;
        if dof < model.nv {
            model.params0.dof_kv[dof] = kv;
        } else {
            model.params0.tendon_kv[dof - model.nv] = kv;
        }
    }
}

/// [`set_invweight0`], failing with the body whose pivot vanishes.
pub(crate) fn compute_invweight0(model: &mut Model) -> std::result::Result<(), usize> {
    use nalgebra::{Matrix3, Matrix6, Vector6};
    let nv = model.nv;
    model.body_invweight0 = vec![[0.0, 0.0]; model.nbody];
    model.dof_invweight0 = vec![0.0; nv];
    model.stat_meaninertia = 1.0;
    if nv == 0 {
        return Ok(());
    }
    let params = &model.params0;
    // kinematics at qpos0: the joints are at rest, so body poses compose the model offsets
    // (a free joint's qpos0 is its body's placed pose)
    let nb = model.nbody;
    let mut xpos = vec![Vec3::zeros(); nb];
    let mut xquat = vec![crate::math::Quat::identity(); nb];
    let mut xipos = vec![Vec3::zeros(); nb];
    let mut s = vec![Vector6::<f64>::zeros(); nv];
    let motion = |ang: Vec3, lin: Vec3| Vector6::new(ang.x, ang.y, ang.z, lin.x, lin.y, lin.z);
    let mut inert = vec![Matrix6::<f64>::zeros(); nv];
    let dof_last = body_dof_last(model);
    for b in 1..nb {
        let p = model.body_parent[b];
        let mut pos = xpos[p] + xquat[p] * model.body_pos[b];
        let mut quat = xquat[p] * model.body_quat[b];
        let jadr = model.body_jnt_adr[b];
        for j in jadr..jadr + model.body_jnt_num[b] {
            let a = model.jnt_qpos_adr[j];
            if let Some(placed) = model.jnt_type[j].placement(&model.qpos0[a..]) {
                (pos, quat) = placed;
            }
        }
        let quat = crate::math::Quat::new_normalize(quat.into_inner());
        let r = *quat.to_rotation_matrix().matrix();
        for j in jadr..jadr + model.body_jnt_num[b] {
            // the joints' anchors and axes at qpos0, each from the body's pose (the joints are
            // at rest there)
            let kind = model.jnt_type[j];
            let qa = model.jnt_qpos_adr[j]..model.jnt_qpos_adr[j] + kind.nq();
            let (anchor, axis) = kind.transform(
                &model.qpos0[qa.clone()],
                &model.qpos0[qa],
                &model.jnt_pos[j],
                &model.jnt_axis[j],
                &mut pos.clone(),
                &mut quat.clone(),
            );
            let d = model.jnt_dof_adr[j];
            let mut cdof = [crate::math::Motion::zero(); crate::joint::MAX_NV];
            kind.motion_subspace(&anchor, &axis, &r, &mut cdof[..kind.nv()]);
            for (k, m) in cdof[..kind.nv()].iter().enumerate() {
                s[d + k] = motion(m.ang, m.lin);
            }
        }
        xpos[b] = pos;
        xquat[b] = quat;
        xipos[b] = pos + r * params.body_ipos[b];
        // the body's spatial inertia rides on the last dof that moves it
        if dof_last[b] != usize::MAX {
            let m = params.body_mass[b];
            let c = crate::math::skew(&xipos[b]);
            let i_o: Matrix3<f64> = r * params.body_inertia[b] * r.transpose() - c * c * m;
            let hx = c * m;
            let mut i6 = Matrix6::zeros();
            i6.fixed_view_mut::<3, 3>(0, 0).copy_from(&i_o);
            i6.fixed_view_mut::<3, 3>(0, 3).copy_from(&hx);
            i6.fixed_view_mut::<3, 3>(3, 0).copy_from(&(-hx));
            i6.fixed_view_mut::<3, 3>(3, 3)
                .copy_from(&(Matrix3::identity() * m));
            inert[dof_last[b]] += i6;
        }
    }
    // leaf to root: composite (for diag M) and articulated inertias (dof_parent[i] < i)
    let mut comp = inert.clone();
    let mut art = inert;
    let mut u = vec![Vector6::<f64>::zeros(); nv];
    let mut dpiv = vec![0.0; nv];
    let mut diag_sum = 0.0;
    for i in (0..nv).rev() {
        let ui = art[i] * s[i];
        let di = s[i].dot(&ui) + params.dof_armature[i];
        if !(di > 0.0) || !di.is_finite() {
            return Err(model.dof_body[i]);
        }
        diag_sum += s[i].dot(&(comp[i] * s[i])) + params.dof_armature[i];
        let p = model.dof_parent[i];
        if p != usize::MAX {
            let a = art[i] - ui * ui.transpose() / di;
            art[p] += a;
            let c = comp[i];
            comp[p] += c;
        }
        u[i] = ui;
        dpiv[i] = di;
    }
    model.stat_meaninertia = diag_sum / nv as f64;
    if !model.tendons.is_empty() {
        // tendons: J M^-1 J^T, M at qpos0 in its tree pattern (M_ij = s_j . comp_i s_i for j an
        // ancestor of i) and factored without fill (`model::mass`): O(sum depth^2), as the step
        let mut m = vec![0.0; model.dof_m_col.len()];
        for i in 0..nv {
            let f = comp[i] * s[i];
            for p in model.dof_m_adr[i]..model.dof_m_adr[i + 1] {
                let j = model.dof_m_col[p];
                m[p] = s[j].dot(&f) + if j == i { params.dof_armature[i] } else { 0.0 };
            }
        }
        if let Some(d) = super::mass::factor(model, &mut m) {
            return Err(model.dof_body[d]);
        }
        let mut x = vec![0.0; nv];
        let mut tendons = std::mem::take(&mut model.tendons);
        // a spatial tendon's Jacobian at qpos0, from the sites' positions and the dof subspaces
        let cdof: Vec<crate::math::Motion> = s
            .iter()
            .map(|m| {
                crate::math::Motion::new(Vec3::new(m[0], m[1], m[2]), Vec3::new(m[3], m[4], m[5]))
            })
            .collect();
        for t in &mut tendons {
            let mut jac = t.jac.clone();
            if t.is_spatial() {
                super::tendon_path::spatial(
                    model,
                    t,
                    (
                        |site| {
                            let b = model.site_body[site];
                            xpos[b] + xquat[b] * model.site_pos[site]
                        },
                        |g| {
                            let b = model.geom_body[g];
                            (
                                xpos[b] + xquat[b] * model.geom_pos[g],
                                *(xquat[b] * model.geom_quat[g])
                                    .to_rotation_matrix()
                                    .matrix(),
                            )
                        },
                    ),
                    &cdof,
                    &dof_last,
                    &mut jac,
                );
            }
            x.iter_mut().for_each(|v| *v = 0.0);
            for &(d, c) in &jac {
                x[d] = c;
            }
            super::mass::solve(model, &m, &mut x);
            t.invweight0 = jac.iter().map(|&(d, c)| c * x[d]).sum();
            // J^T J where M has entries: row i (the descendant), column j (i or an ancestor)
            t.tree_pairs.clear();
            for &(i, ci) in &t.jac {
                let row = model.dof_m_adr[i]..model.dof_m_adr[i + 1];
                for &(j, cj) in &t.jac {
                    if j > i {
                        continue;
                    }
                    if let Some(p) = row.clone().find(|&p| model.dof_m_col[p] == j) {
                        t.tree_pairs.push((i, j, p, ci * cj));
                    }
                }
            }
        }
        model.tendons = tendons;
    }
    // root to leaf: inverse operational-space inertias
    let mut omega = vec![Matrix6::<f64>::zeros(); nv];
    for i in 0..nv {
        let p = model.dof_parent[i];
        let (di, ui, si) = (dpiv[i], u[i], s[i]);
        let mut om = si * si.transpose() / di;
        let mut minv = 1.0 / di;
        if p != usize::MAX {
            let op = omega[p];
            let pm = Matrix6::identity() - ui * si.transpose() / di;
            om += pm.transpose() * op * pm;
            minv += ui.dot(&(op * ui)) / (di * di);
        }
        omega[i] = om;
        model.dof_invweight0[i] = minv;
    }
    // the centre of mass each body's weight is taken at: its own, or for a body MuJoCo fuses
    // into its parent (and for that parent) the one of the fused body, the mass-weighted centre
    // of the group (a parent precedes its children, so one pass sums each group into its root)
    // A body without mass (its group without mass) is weighed where MuJoCo's compiler puts a
    // massless body's inertial frame: its own offset from its parent again, `xpos + R pos`
    // (found by probing MuJoCo 4.0: `body_ipos` of a massless body is its `pos`).
    let mut com = xipos.clone();
    let mut root: Vec<usize> = (0..nb).collect();
    let mut mass = vec![0.0; nb];
    let mut moment = vec![Vec3::zeros(); nb];
    for b in 1..nb {
        if model.body_fused.get(b).copied().unwrap_or(false) {
            root[b] = root[model.body_parent[b]];
        }
        let m = params.body_mass[b];
        mass[root[b]] += m;
        moment[root[b]] += xipos[b] * m;
    }
    for b in 1..nb {
        let r = root[b];
        if mass[r] > 0.0 {
            com[b] = moment[r] / mass[r];
        } else if params.body_inertia[b] == Matrix3::zeros() {
            com[b] = xpos[b] + xquat[b] * model.body_pos[b];
        }
    }
    // body weights: J M^-1 J^T at the centre of mass, averaged over the 3 translations / rotations
    for b in 1..nb {
        let d = dof_last[b];
        if d == usize::MAX {
            continue;
        }
        let om = &omega[d];
        // point Jacobian at c: v = lin - [c]x ang, i.e. T = [-[c]x, 1]
        let mut t = nalgebra::Matrix3x6::<f64>::zeros();
        t.fixed_view_mut::<3, 3>(0, 0)
            .copy_from(&(-crate::math::skew(&com[b])));
        t.fixed_view_mut::<3, 3>(0, 3)
            .copy_from(&Matrix3::identity());
        let wt = (t * om * t.transpose()).trace() / 3.0;
        let wr = om.fixed_view::<3, 3>(0, 0).trace() / 3.0;
        model.body_invweight0[b] = [wt, wr];
    }
    // as MuJoCo: a ball joint's dofs share the mean of their (M^-1)_ii, a free joint's
    // translations and rotations theirs
    for j in 0..model.njnt {
        let d = model.jnt_dof_adr[j];
        let starts: &[usize] = match model.jnt_type[j] {
            JointType::Ball => &[0],
            JointType::Free => &[0, 3],
            _ => &[],
        };
        for &g in starts {
            let w = &mut model.dof_invweight0[d + g..d + g + 3];
            let mean = w.iter().sum::<f64>() / 3.0;
            w.iter_mut().for_each(|x| *x = mean);
        }
    }
    // MuJoCo's "simple" bodies of sliders only weigh their mass alone
    let mut has_child = vec![false; nb];
    for b in 1..nb {
        has_child[model.body_parent[b]] = true;
    }
    for b in 1..nb {
        if !has_child[b] && slider_only_simple_body(model, b) {
            let w = 1.0 / params.body_mass[b].max(1e-15);
            model.body_invweight0[b] = [w, 0.0];
            let d = model.body_dof_adr[b];
            for i in d..d + model.body_dof_num[b] {
                model.dof_invweight0[i] = w;
            }
        }
    }
    Ok(())
}

/// Whether MuJoCo's compiler makes body `b` "simple" with sliders only (`body_simple == 2`),
/// which gives it `1 / mass` as translational weight and as each dof's weight instead of the
/// averaged diagonal of `J M^-1 J^T`: its inertial frame is its own frame (centre of mass at
/// the origin, `Model::body_iframe_identity`), it is a root body (or the child of a body
/// welded to the world), it has no children (the caller's test), and its joints are at least
/// one slider, each along a body axis and anchored at the origin.
fn slider_only_simple_body(model: &Model, b: usize) -> bool {
    const EPS: f64 = 1e-14;
    let p = model.body_parent[b];
    let rooted = p == 0
        || (model.body_parent[p] == 0 && model.body_dof_num[p] == 0 && model.body_jnt_num[p] == 0);
    let same_frame = model.params0.body_ipos[b].norm() <= EPS && model.body_iframe_identity[b];
    let joints = model.body_jnt_adr[b]..model.body_jnt_adr[b] + model.body_jnt_num[b];
    let sliders = !joints.is_empty()
        && joints.clone().all(|j| {
            let a = model.jnt_axis[j];
            model.jnt_type[j] == JointType::Slide
                && a.iter().filter(|x| x.abs() > EPS).count() == 1
                && model.jnt_pos[j].norm() <= EPS
        });
    rooted && same_frame && sliders
}

/// Last dof on the path from each body to the root (usize::MAX when the body is welded to the world).
pub fn body_dof_last(model: &Model) -> Vec<usize> {
    let mut out = vec![usize::MAX; model.nbody];
    for b in 1..model.nbody {
        out[b] = if model.body_dof_num[b] > 0 {
            model.body_dof_adr[b] + model.body_dof_num[b] - 1
        } else {
            out[model.body_parent[b]]
        };
    }
    out
}

/// The standalone free bodies of `model` MuJoCo's `mj_isFreeBody` names: (body, joint), a
/// body whose one joint is free, with no dofs and no mass below it
/// ([`crate::dynamics::free_gyro`] integrates them).
pub(crate) fn standalone_free_bodies(model: &Model) -> Vec<(usize, usize)> {
    let nb = model.nbody;
    // mass and dofs in each body's subtree (children follow parents)
    let mut below_weight = vec![0.0; nb];
    let mut below_dofs = vec![0usize; nb];
    for b in (1..nb).rev() {
        let p = model.body_parent[b];
        if p != b {
            below_weight[p] += below_weight[b] + model.params0.body_mass[b];
            below_dofs[p] += below_dofs[b] + model.body_dof_num[b];
        }
    }
    (1..nb)
        .filter_map(|b| {
            let j = model.body_jnt_adr[b];
            let free = model.body_jnt_num[b] == 1
                && model.jnt_type[j] == JointType::Free
                && below_dofs[b] == 0
                && below_weight[b] == 0.0;
            free.then_some((b, j))
        })
        .collect()
}

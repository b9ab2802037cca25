//! Inverse kinematics: joint positions that put points of links at target positions and the
//! links at target orientations, by damped least squares (Genesis's `inverse_kinematics`).
//!
//! Each target `i` contributes six error rows: the position error `p_target - p` (world frame)
//! of a point fixed in its link, and the orientation error `log(R^-1 R_target)` (a rotation
//! vector in the link's frame), each component kept or zeroed by the masks. An iteration takes
//! `dq = J^T (J J^T + damping^2 I)^-1 e` over the chosen dofs (`J`: the rows' Jacobian, the
//! point's translational one and the link's angular one turned into its frame), clamps each
//! entry to `max_step`, moves `q` along it on the joints' manifolds and clamps limited joints
//! to their range when asked. A run stops when every target is within `pos_tol` and `rot_tol`;
//! a run that does not get there restarts from joint positions drawn uniformly in the limited
//! joints' ranges (`max_samples` runs at most), and the best run is returned.
//!
//! The solution's sensitivity, the map the reverse pass uses, is the damped pseudo-inverse of
//! the same Jacobian at the solution ([`IkSolution::jac`]): the step the solver would take for
//! a small change of the error.

use crate::data::Data;
use crate::error::{Error, Result};
use crate::math::SplitMix;
use crate::math::{Quat, Vec3};
use crate::model::{Model, Params};
use crate::pipeline;
use nalgebra::{DMatrix, DVector};

/// One target: a point of a body to bring to a position and/or the body to an orientation.
#[derive(Clone, Debug)]
pub struct IkTarget {
    /// The body (link).
    pub body: usize,
    /// The point, in the body's frame (its origin: zeros).
    pub point: Vec3,
    /// Target position of the point (world), if any.
    pub pos: Option<Vec3>,
    /// Target orientation of the body (world), if any.
    pub quat: Option<Quat>,
}

/// How the solver runs (Genesis's arguments of the same names).
#[derive(Clone, Debug)]
pub struct IkOptions {
    /// The dofs it moves (ascending; the others keep their values).
    pub dofs: Vec<usize>,
    /// Clamp limited joints to their range after each iteration, and draw restarts in it.
    pub respect_limits: bool,
    /// Runs at most (the first from the given positions).
    pub max_samples: usize,
    /// Iterations per run.
    pub max_iters: usize,
    /// Damping of the least squares.
    pub damping: f64,
    /// Position tolerance (m) of every target.
    pub pos_tol: f64,
    /// Orientation tolerance (rad) of every target.
    pub rot_tol: f64,
    /// The position error's world components that count.
    pub pos_mask: [bool; 3],
    /// The orientation error's components (in the link's frame) that count.
    pub rot_mask: [bool; 3],
    /// Largest change of one dof per iteration.
    pub max_step: f64,
    /// Seed of the restarts' draws.
    pub seed: u64,
}

/// What a solve found.
#[derive(Clone, Debug)]
pub struct IkSolution {
    /// Joint positions (nq) of the best run.
    pub q: Vec<f64>,
    /// Its error per target: position (3, world) then orientation (3, link frame), masked.
    pub error: Vec<[f64; 6]>,
    /// Whether every target is within the tolerances.
    pub solved: bool,
    /// The error rows' Jacobian at `q` (6 per target x the chosen dofs, row-major), masked.
    pub jac: Vec<f64>,
}

/// Check `targets` and `opt` against `model`, naming what is wrong.
pub fn check(model: &Model, targets: &[IkTarget], opt: &IkOptions) -> Result<()> {
    if targets.is_empty() {
        return Err(Error::invalid("links", "no target link given"));
    }
    for (i, t) in targets.iter().enumerate() {
        if t.body == 0 || t.body >= model.nbody {
            return Err(Error::invalid(
                format!("links[{i}]"),
                "not a moving link of this scene",
            ));
        }
        if t.pos.is_none() && t.quat.is_none() {
            return Err(Error::invalid(
                format!("links[{i}]"),
                "neither a target position nor a target orientation",
            ));
        }
        let finite = t.point.iter().all(|x| x.is_finite())
            && t.pos.is_none_or(|p| p.iter().all(|x| x.is_finite()))
            && t.quat
                .is_none_or(|q| q.coords.iter().all(|x| x.is_finite()));
        if !finite {
            return Err(Error::invalid(
                format!("links[{i}]"),
                "target is not finite",
            ));
        }
    }
    if opt.dofs.is_empty() || opt.dofs.iter().any(|&d| d >= model.nv) {
        return Err(Error::invalid(
            "dofs_idx_local",
            "no dof, or a dof out of range",
        ));
    }
    let positive = [
        ("damping", opt.damping),
        ("pos_tol", opt.pos_tol),
        ("rot_tol", opt.rot_tol),
        ("max_step_size", opt.max_step),
    ];
    for (name, x) in positive {
        if !(x >= 0.0 && x.is_finite()) {
            return Err(Error::invalid(
                name,
                format!("expected a finite number >= 0, got {x}"),
            ));
        }
    }
    if opt.max_samples == 0 {
        return Err(Error::invalid("max_samples", "expected at least 1"));
    }
    Ok(())
}

/// Solve from `q0` (nq, quaternion blocks normalized) with `params`, computing in `data`.
pub fn solve(
    model: &Model,
    params: &Params,
    data: &mut Data,
    q0: &[f64],
    targets: &[IkTarget],
    opt: &IkOptions,
) -> IkSolution {
    let nd = opt.dofs.len();
    let rows = 6 * targets.len();
    let mut q = q0.to_vec();
    let mut e = DVector::zeros(rows);
    let mut jac = DMatrix::zeros(rows, nd);
    let mut best: Option<(f64, f64, Vec<f64>)> = None;
    let mut rng = SplitMix(opt.seed);
    let mut dv = vec![0.0; model.nv];
    for sample in 0..opt.max_samples {
        if sample > 0 {
            q.copy_from_slice(q0);
            if !(opt.respect_limits && restart(model, opt, &mut rng, &mut q)) {
                break; // nothing to draw: every run would be the first again
            }
        }
        let mut solved = false;
        for _ in 0..=opt.max_iters {
            errors(model, params, data, &q, targets, opt, &mut e);
            solved = within(targets, opt, &e);
            if solved {
                break;
            }
            jacobian(model, data, targets, opt, &mut jac);
            let mut a = &jac * jac.transpose();
            for i in 0..rows {
                a[(i, i)] += opt.damping * opt.damping;
            }
            let Some(ch) = a.cholesky() else { break };
            let dq = jac.transpose() * ch.solve(&e);
            dv.fill(0.0);
            for (k, &d) in opt.dofs.iter().enumerate() {
                dv[d] = dq[k].clamp(-opt.max_step, opt.max_step);
            }
            advance(model, opt.respect_limits, &mut q, &dv);
        }
        errors(model, params, data, &q, targets, opt, &mut e);
        let (ep, er) = worst(targets, &e);
        // the better run: smaller position and orientation errors both (Genesis's rule), the
        // first run kept otherwise
        if best
            .as_ref()
            .is_none_or(|(bp, br, _)| ep <= *bp && er <= *br)
        {
            best = Some((ep, er, q.clone()));
        }
        if solved {
            break;
        }
    }
    let q = best.map(|b| b.2).unwrap_or_else(|| q0.to_vec());
    errors(model, params, data, &q, targets, opt, &mut e);
    jacobian(model, data, targets, opt, &mut jac);
    let error = (0..targets.len())
        .map(|i| std::array::from_fn(|k| e[6 * i + k]))
        .collect();
    IkSolution {
        solved: within(targets, opt, &e),
        error,
        jac: (0..rows)
            .flat_map(|r| (0..nd).map(move |c| (r, c)))
            .map(|(r, c)| jac[(r, c)])
            .collect(),
        q,
    }
}

/// The masked error rows at `q` into `e` (kinematics into `data`).
fn errors(
    model: &Model,
    params: &Params,
    data: &mut Data,
    q: &[f64],
    targets: &[IkTarget],
    opt: &IkOptions,
    e: &mut DVector<f64>,
) {
    pipeline::kinematics(model, params, q, data);
    for (i, t) in targets.iter().enumerate() {
        let (r, p) = (data.xmat[t.body], data.xpos[t.body]);
        let x = p + r * t.point;
        for k in 0..3 {
            e[6 * i + k] = match t.pos {
                Some(tp) if opt.pos_mask[k] => tp[k] - x[k],
                _ => 0.0,
            };
        }
        let rot = t.quat.map(|tq| {
            let rel = data.xquat[t.body].inverse() * tq;
            rel.scaled_axis()
        });
        for k in 0..3 {
            e[6 * i + 3 + k] = match rot {
                Some(w) if opt.rot_mask[k] => w[k],
                _ => 0.0,
            };
        }
    }
}

/// The error rows' Jacobian with respect to the chosen dofs at the kinematics in `data`.
fn jacobian(
    model: &Model,
    data: &Data,
    targets: &[IkTarget],
    opt: &IkOptions,
    jac: &mut DMatrix<f64>,
) {
    jac.fill(0.0);
    for (i, t) in targets.iter().enumerate() {
        let r = data.xmat[t.body];
        let x = data.xpos[t.body] + r * t.point;
        let mut d = data.body_dof_last[t.body];
        while d != usize::MAX {
            if let Ok(c) = opt.dofs.binary_search(&d) {
                let s = &data.cdof[d];
                let lin = s.lin + s.ang.cross(&x);
                let ang = r.transpose() * s.ang;
                for k in 0..3 {
                    if t.pos.is_some() && opt.pos_mask[k] {
                        jac[(6 * i + k, c)] = lin[k];
                    }
                    if t.quat.is_some() && opt.rot_mask[k] {
                        jac[(6 * i + 3 + k, c)] = ang[k];
                    }
                }
            }
            d = model.dof_parent[d];
        }
    }
}

/// The largest position and orientation error norms over the targets.
fn worst(targets: &[IkTarget], e: &DVector<f64>) -> (f64, f64) {
    let norm = |a: usize| (e[a] * e[a] + e[a + 1] * e[a + 1] + e[a + 2] * e[a + 2]).sqrt();
    (0..targets.len()).fold((0.0_f64, 0.0_f64), |(p, r), i| {
        (p.max(norm(6 * i)), r.max(norm(6 * i + 3)))
    })
}

fn within(targets: &[IkTarget], opt: &IkOptions, e: &DVector<f64>) -> bool {
    let (p, r) = worst(targets, e);
    p <= opt.pos_tol && r <= opt.rot_tol
}

/// `q <- q (+) dv` on every joint's manifold, limited joints clamped to their range when asked.
fn advance(model: &Model, respect_limits: bool, q: &mut [f64], dv: &[f64]) {
    for j in 0..model.njnt {
        let kind = model.jnt_type[j];
        let (a, d) = (model.jnt_qpos_adr[j], model.jnt_dof_adr[j]);
        let v = &dv[d..d + kind.nv()];
        if v.iter().all(|&x| x == 0.0) {
            continue;
        }
        kind.integrate(&mut q[a..a + kind.nq()], v, 1.0);
        if respect_limits && kind.is_scalar() && model.jnt_limited[j] {
            let [lo, hi] = model.jnt_range[j];
            q[a] = q[a].clamp(lo, hi);
        }
    }
}

/// Draw the chosen dofs of limited hinge and slide joints uniformly in their ranges; false when
/// there is none to draw.
fn restart(model: &Model, opt: &IkOptions, rng: &mut SplitMix, q: &mut [f64]) -> bool {
    let mut any = false;
    for &d in &opt.dofs {
        let j = model.dof_jnt[d];
        if model.jnt_type[j].is_scalar() && model.jnt_limited[j] {
            let [lo, hi] = model.jnt_range[j];
            q[model.jnt_qpos_adr[j]] = lo + (hi - lo) * rng.uniform();
            any = true;
        }
    }
    any
}

//! What the engine tells about a run besides its results: why a simulation diverged
//! ([`diagnose`]), and warnings (a step too long for the constraints' time constants, a contact
//! deeper than a geom) as data for a front end to show once ([`Warning`]).

use crate::data::Data;
use crate::model::{Model, Params};
use crate::state::Control;

/// Why a state may have diverged, when the gains say so (else empty): the dof whose gain is
/// the stiffest for the step size `h`. Semi-implicit Euler integrates a position gain kp
/// explicitly, and is stable on a dof of inverse inertia w (`dof_invweight0`) only while
/// h sqrt(kp w) < 2; under `Euler` the velocity gain kv is explicit too, stable while
/// h kv w < 2 (`implicitfast` integrates it implicitly, as joint damping always is).
fn stiffness_hint(model: &Model, params: &Params, control: &Control, h: f64) -> String {
    let explicit_kv = model.opt.integrator != crate::model::Integrator::ImplicitFast;
    let mut worst: Option<(f64, usize, &str, f64, &str)> = None;
    for d in 0..model.nv {
        let w = model.dof_invweight0[d];
        let (kp, kv) = (params.dof_kp[d], params.dof_kv[d]);
        let mut gains = [None, None];
        if control.mode[d] == crate::model::CtrlMode::Position {
            gains[0] = Some((
                h * (kp * w).sqrt(),
                "position gain kp",
                kp,
                "h sqrt(kp / m)",
            ));
        }
        if explicit_kv && control.mode[d] != crate::model::CtrlMode::Force {
            gains[1] = Some((h * kv * w, "velocity gain kv", kv, "h kv / m"));
        }
        for (x, name, g, formula) in gains.into_iter().flatten() {
            if x >= 2.0 && worst.is_none_or(|(b, ..)| x > b) {
                worst = Some((x, d, name, g, formula));
            }
        }
    }
    let Some((x, d, name, g, formula)) = worst else {
        return String::new();
    };
    let joint = &model.jnt_name[model.dof_jnt[d]];
    let m = 1.0 / model.dof_invweight0[d];
    format!(
        " (the {name} {g} of dof {d}, joint '{joint}', is too stiff for the step: {formula} = \
         {x:.1} with h = {h} and the dof's inertia m = {m:.3e}, where the integration is stable \
         below 2; lower the gain, or use a smaller dt or more substeps)"
    )
}

/// Ratio of the largest to the smallest positive mass (or rotational inertia) of the moving
/// bodies above which the mass matrix is too ill-conditioned for double precision (its
/// Cholesky pivots lose every digit past ~1e16; well before that the dynamics of the light
/// bodies are round-off).
const MAX_MASS_RATIO: f64 = 1e10;

/// Bounding radius (m) above which a geom is named as a likely cause of divergence: no robot
/// or object part is 10 km across; a mesh in the wrong units (mm read as m, twice) is.
const MAX_GEOM_RADIUS: f64 = 1e4;

/// Why a simulation diverged, as a parenthesised clause to append to the message (empty when no
/// cause is found). Tried in order, the first that applies is named:
/// 1. a body whose mass or rotational inertia is more than [`MAX_MASS_RATIO`] times that of
///    the lightest moving body (the mass matrix is then numerically singular);
/// 2. a position (or explicit velocity) gain too stiff for the substep `h` (see
///    [`stiffness_hint`]);
/// 3. a geom larger than [`MAX_GEOM_RADIUS`];
/// 4. the dof with the largest (or first non-finite) acceleration of the last substep and the
///    forces that produced it.
pub fn diagnose(model: &Model, params: &Params, control: &Control, data: &Data, h: f64) -> String {
    if let Some(s) = mass_spread(model, params) {
        return s;
    }
    let s = stiffness_hint(model, params, control, h);
    if !s.is_empty() {
        return s;
    }
    if let Some(s) = huge_geom(model) {
        return s;
    }
    blowup_dof(model, data)
}

fn mass_spread(model: &Model, params: &Params) -> Option<String> {
    // moving bodies: a dof on the path to the world (bodies are ordered parents first)
    let mut moving = vec![false; model.nbody];
    for &b in &model.dof_body {
        moving[b] = true;
    }
    for b in 1..model.nbody {
        let p = model.body_parent[b];
        if p != b && moving[p] {
            moving[b] = true;
        }
    }
    let bodies = || (1..model.nbody).filter(|&b| moving[b]);
    let check = |value: &dyn Fn(usize) -> f64, what: &str, unit: &str| -> Option<String> {
        let pos = || bodies().filter(|&b| value(b) > 0.0);
        let hi = pos().max_by(|&a, &b| value(a).total_cmp(&value(b)))?;
        let lo = pos().min_by(|&a, &b| value(a).total_cmp(&value(b)))?;
        let ratio = value(hi) / value(lo);
        (ratio > MAX_MASS_RATIO || !ratio.is_finite()).then(|| {
            format!(
                " (body '{}' has {what} {:.3e} {unit}, {ratio:.1e} times that of body '{}' \
                 ({:.3e} {unit}): the mass matrix is too ill-conditioned for double precision; \
                 check the mass and inertia of body '{}')",
                model.body_name[hi],
                value(hi),
                model.body_name[lo],
                value(lo),
                model.body_name[hi]
            )
        })
    };
    check(&|b| params.body_mass[b], "mass", "kg").or_else(|| {
        check(
            &|b| params.body_inertia[b].diagonal().max(),
            "rotational inertia",
            "kg m^2",
        )
    })
}

fn huge_geom(model: &Model) -> Option<String> {
    let g = (0..model.ngeom)
        .filter(|&g| !model.geom_visual[g] && model.geom_rbound[g].is_finite())
        .max_by(|&a, &b| model.geom_rbound[a].total_cmp(&model.geom_rbound[b]))?;
    let r = model.geom_rbound[g];
    (r > MAX_GEOM_RADIUS).then(|| {
        let name = if model.geom_name[g].is_empty() {
            format!("{g}")
        } else {
            format!("'{}'", model.geom_name[g])
        };
        format!(
            " (geom {name} of body '{}' is {r:.3e} m in bounding radius: a size or mesh in the \
             wrong units? Contacts with it have lever arms and depths of that order)",
            model.body_name[model.geom_body[g]]
        )
    })
}

fn blowup_dof(model: &Model, data: &Data) -> String {
    let mag = |x: f64| {
        if x.is_finite() {
            x.abs()
        } else {
            f64::INFINITY
        }
    };
    let Some(d) = (0..model.nv).max_by(|&a, &b| mag(data.qacc[a]).total_cmp(&mag(data.qacc[b])))
    else {
        return String::new();
    };
    format!(
        " (the largest acceleration is that of dof {d}, joint '{}' of body '{}': qacc = {:.3e}, \
         from actuator force {:.3e}, constraint force {:.3e}, bias force {:.3e}, passive force \
         {:.3e})",
        model.jnt_name[model.dof_jnt[d]],
        model.body_name[model.dof_body[d]],
        data.qacc[d],
        data.qfrc_actuator[d],
        data.qfrc_constraint[d],
        data.qfrc_bias[d],
        data.qfrc_passive[d]
    )
}

/// Something a scene or a step does that is no error but that the user should know about.
/// The core only collects warnings as data (see [`timestep_warnings`], [`contact_warnings`]);
/// a front end shows each once per scene, deduplicated by [`Warning::key`], and words it with
/// [`Warning::describe`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Warning {
    /// The substep `h` is longer than half a constraint's solref time constant `timeconst`.
    /// kinegrad, as MuJoCo, then uses `2 h` as the time constant (see
    /// [`crate::constraint::ref_gains`]): the constraint is softer than written and penetrates
    /// about `g (2h)^2` under gravity `g`. `element` is the one with the smallest time constant,
    /// `others` how many more are affected.
    TimeconstBelowTwoSteps {
        /// Substep length (s).
        h: f64,
        /// The element's time constant (s).
        timeconst: f64,
        /// The geom or joint with the smallest time constant.
        element: Element,
        /// How many other geoms (or joints) have a time constant below `2 h`.
        others: usize,
    },
    /// A contact of the last substep was deeper than the smaller geom's bounding radius: the
    /// geom has passed (at least halfway) through the other within a step, more than the
    /// constraint recovers in one (at the step `h`, the time constant is at least `2 h`).
    DeepPenetration {
        /// Substep length (s).
        h: f64,
        /// The geom that went through (the smaller one).
        geom: usize,
        /// The geom it went into.
        other: usize,
        /// Penetration depth (m).
        depth: f64,
        /// Bounding radius of `geom` (m).
        size: f64,
    },
}

/// A model element a [`Warning`] names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Element {
    /// A geom's contacts (its solref).
    Geom(usize),
    /// A joint's limits (its solref).
    Joint(usize),
}

impl Warning {
    /// What identifies the warning for "show once": its kind and element(s), not its numbers.
    /// Deep penetrations share one key: a robot dropped into the floor would otherwise warn
    /// once per link, and the first (deepest) names the problem.
    pub fn key(&self) -> (u8, usize, usize) {
        match *self {
            Warning::TimeconstBelowTwoSteps { element, .. } => match element {
                Element::Geom(g) => (0, g, 0),
                Element::Joint(j) => (1, j, 0),
            },
            Warning::DeepPenetration { .. } => (2, 0, 0),
        }
    }

    /// The warning as a sentence naming the elements of `model`.
    pub fn describe(&self, model: &Model) -> String {
        let geom = |g: usize| {
            if model.geom_name[g].is_empty() {
                format!(
                    "geom {g} (of body '{}')",
                    model.body_name[model.geom_body[g]]
                )
            } else {
                format!("geom '{}'", model.geom_name[g])
            }
        };
        match *self {
            Warning::TimeconstBelowTwoSteps {
                h,
                timeconst,
                element,
                others,
            } => {
                let (what, name) = match element {
                    Element::Geom(g) => ("contacts", geom(g)),
                    Element::Joint(j) => ("limits", format!("joint '{}'", model.jnt_name[j])),
                };
                let more = if others > 0 {
                    format!(" (and {others} more)")
                } else {
                    String::new()
                };
                format!(
                    "dt = {h} s is more than half the time constant {timeconst} s of the {what} \
                     of {name}{more}: as MuJoCo does, the time constant is raised to 2 dt = {} s, \
                     so these constraints are softer than written (under gravity they sink about \
                     g (2 dt)^2 = {:.3} m); use a step of at most {} s (or more substeps) for the \
                     written stiffness",
                    2.0 * h,
                    9.81 * 4.0 * h * h,
                    0.5 * timeconst
                )
            }
            Warning::DeepPenetration {
                h,
                geom: g,
                other,
                depth,
                size,
            } => format!(
                "{} penetrates {} by {depth:.3} m, more than its size ({size:.3} m bounding \
                 radius): it went through within one step of dt = {h} s, or started inside, \
                 further than the contact can push it back; use a smaller dt (or more \
                 substeps), or start it clear",
                geom(g),
                geom(other)
            ),
        }
    }
}

/// Warnings that follow from the model, its parameters and its substep alone: the contacts and
/// the joint limits whose solref time constant is below two substeps (one warning for geoms and
/// one for joints, each naming the smallest). Check once per scene, and again when the step or
/// the parameters change.
pub fn timestep_warnings(model: &Model, _params: &Params) -> Vec<Warning> {
    let h = model.opt.timestep / model.opt.substeps as f64;
    let mut out = Vec::new();
    // contacts: the geoms of some collision pair (a global override replaces theirs)
    let mut in_pair = vec![false; model.ngeom];
    if model.opt.enable_collision {
        for &(g1, g2) in &model.collision_pairs {
            in_pair[g1] = true;
            in_pair[g2] = true;
        }
    }
    let geom_tc = |g: usize| {
        model
            .opt
            .constraint_timeconst
            .unwrap_or(model.geom_solref[g][0])
    };
    let short = |tc: f64| tc > 0.0 && tc < 2.0 * h;
    let geoms: Vec<usize> = (0..model.ngeom)
        .filter(|&g| in_pair[g] && short(geom_tc(g)))
        .collect();
    // the smallest time constant; on a tie, a bounded geom rather than a plane
    let unbounded = |g: usize| !model.geom_rbound[g].is_finite();
    if let Some(&g) = geoms.iter().min_by(|&&a, &&b| {
        geom_tc(a)
            .total_cmp(&geom_tc(b))
            .then(unbounded(a).cmp(&unbounded(b)))
    }) {
        out.push(Warning::TimeconstBelowTwoSteps {
            h,
            timeconst: geom_tc(g),
            element: Element::Geom(g),
            others: geoms.len() - 1,
        });
    }
    if model.opt.enable_joint_limit {
        let joints: Vec<usize> = (0..model.njnt)
            .filter(|&j| model.jnt_limited[j] && short(model.jnt_solref[j][0]))
            .collect();
        if let Some(&j) = joints
            .iter()
            .min_by(|&&a, &&b| model.jnt_solref[a][0].total_cmp(&model.jnt_solref[b][0]))
        {
            out.push(Warning::TimeconstBelowTwoSteps {
                h,
                timeconst: model.jnt_solref[j][0],
                element: Element::Joint(j),
                others: joints.len() - 1,
            });
        }
    }
    out
}

/// Merge into `out` the warnings of the last substep `data` ran: contacts deeper than the
/// smaller geom's bounding radius ([`Warning::DeepPenetration`]: one in `out`, the deepest
/// seen, so a vector kept over many steps holds one entry, not one per step). Allocation-free
/// unless there is something to report; call after each step.
pub fn contact_warnings(model: &Model, data: &Data, out: &mut Vec<Warning>) {
    let h = model.opt.timestep / model.opt.substeps as f64;
    for c in &data.contacts {
        let depth = -c.dist;
        let (r1, r2) = (model.geom_rbound[c.geom1], model.geom_rbound[c.geom2]);
        let (geom, other, size) = if r1 <= r2 {
            (c.geom1, c.geom2, r1)
        } else {
            (c.geom2, c.geom1, r2)
        };
        if !(depth > size) {
            continue;
        }
        let w = Warning::DeepPenetration {
            h,
            geom,
            other,
            depth,
            size,
        };
        match out.iter_mut().find(|x| x.key() == w.key()) {
            Some(x @ Warning::DeepPenetration { .. }) => {
                if matches!(*x, Warning::DeepPenetration { depth: d, .. } if depth > d) {
                    *x = w;
                }
            }
            _ => out.push(w),
        }
    }
}

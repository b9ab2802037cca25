//! Motion planning in joint space (Genesis's `plan_path`): RRT-Connect (or RRT) over chosen
//! position coordinates, every configuration checked by the engine's own collision detection,
//! the path shortcut and resampled to a number of waypoints.
//!
//! A configuration is in collision when a contact penetrating deeper than `penetration_eps`
//! involves one of the planned entity's geoms, unless its geom pair is ignored: the pairs in
//! contact at the start and at the goal are (a robot resting on its floor, a gripper at its
//! object), as Genesis ignores them. A segment is free when its points at most `resolution`
//! apart (Euclidean, in the planned coordinates) are.

use crate::data::Data;
use crate::math::SplitMix;
use crate::model::{Model, Params};
use crate::pipeline;
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// The planner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Planner {
    /// One tree from the start, biased toward the goal.
    Rrt,
    /// Two trees, from the start and from the goal, connected greedily.
    RrtConnect,
}

/// What to plan and how (Genesis's arguments of the same names, and the bounds it samples in).
#[derive(Clone, Debug)]
pub struct PlanOptions {
    /// The planned position coordinates (indices into qpos); the others keep their values.
    pub coords: Vec<usize>,
    /// Sampling bounds of each planned coordinate.
    pub lower: Vec<f64>,
    /// See `lower`.
    pub upper: Vec<f64>,
    /// The bodies whose geoms' contacts count (the planned entity's).
    pub bodies: std::ops::Range<usize>,
    /// Largest distance between two checked configurations of a segment.
    pub resolution: f64,
    /// Largest extension of a tree per iteration.
    pub max_step: f64,
    /// Probability of sampling the goal (RRT) or the other tree's root (RRT-Connect).
    pub goal_bias: f64,
    /// Nodes at most, both trees together.
    pub max_nodes: usize,
    /// Wall-clock limit.
    pub timeout: Option<Duration>,
    /// Skip collision checks altogether.
    pub ignore_collision: bool,
    /// Shortcut the path before resampling it.
    pub smooth: bool,
    /// Waypoints of the returned path (start and goal included).
    pub num_waypoints: usize,
    /// A contact counts when it penetrates deeper than this (m).
    pub penetration_eps: f64,
    /// The planner.
    pub planner: Planner,
    /// Seed of the samples.
    pub seed: u64,
}

/// A planned path: `num_waypoints` rows of the planned coordinates, and whether it is free
/// (false: the planner ran out of nodes or time, and the path is the straight line).
#[derive(Clone, Debug)]
pub struct PlannedPath {
    /// Waypoints (num_waypoints x coords), row-major.
    pub waypoints: Vec<f64>,
    /// Whether a collision-free path was found.
    pub found: bool,
}

/// The collision checker of one planning problem.
struct Checker<'a> {
    model: &'a Model,
    params: &'a Params,
    q: Vec<f64>,
    coords: &'a [usize],
    bodies: std::ops::Range<usize>,
    ignore: HashSet<(usize, usize)>,
    eps: f64,
    off: bool,
}

impl Checker<'_> {
    /// The geom pairs penetrating at `x` that involve the entity.
    fn pairs(&mut self, data: &mut Data, x: &[f64]) -> Vec<(usize, usize)> {
        for (&c, &v) in self.coords.iter().zip(x) {
            self.q[c] = v;
        }
        pipeline::kinematics(self.model, self.params, &self.q, data);
        crate::detect::detect(self.model, self.params, data);
        let mine = |g: usize| self.bodies.contains(&self.model.geom_body[g]);
        data.contacts
            .iter()
            .filter(|c| c.dist < -self.eps && (mine(c.geom1) || mine(c.geom2)))
            .map(|c| (c.geom1.min(c.geom2), c.geom1.max(c.geom2)))
            .collect()
    }

    fn free(&mut self, data: &mut Data, x: &[f64]) -> bool {
        if self.off {
            return true;
        }
        let ignore = std::mem::take(&mut self.ignore);
        let ok = self.pairs(data, x).iter().all(|p| ignore.contains(p));
        self.ignore = ignore;
        ok
    }

    /// Whether the segment from `a` to `b` is free (`a` itself assumed checked).
    fn segment_free(&mut self, data: &mut Data, a: &[f64], b: &[f64], resolution: f64) -> bool {
        let n = ((dist(a, b) / resolution).ceil() as usize).max(1);
        let mut x = vec![0.0; a.len()];
        (1..=n).all(|k| {
            let s = k as f64 / n as f64;
            for i in 0..a.len() {
                x[i] = a[i] + s * (b[i] - a[i]);
            }
            self.free(data, &x)
        })
    }
}

fn dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f64>()
        .sqrt()
}

/// `from` moved toward `to` by at most `step`.
fn steer(from: &[f64], to: &[f64], step: f64) -> Vec<f64> {
    let d = dist(from, to);
    if d <= step {
        return to.to_vec();
    }
    let s = step / d;
    from.iter().zip(to).map(|(a, b)| a + s * (b - a)).collect()
}

/// A tree of configurations: each node's coordinates and parent.
struct Tree {
    nodes: Vec<(Vec<f64>, usize)>,
}

impl Tree {
    fn nearest(&self, x: &[f64]) -> usize {
        let mut best = (f64::INFINITY, 0);
        for (i, (n, _)) in self.nodes.iter().enumerate() {
            let d = dist(n, x);
            if d < best.0 {
                best = (d, i);
            }
        }
        best.1
    }

    /// The path from the root to node `i`.
    fn branch(&self, mut i: usize) -> Vec<Vec<f64>> {
        let mut out = vec![self.nodes[i].0.clone()];
        while i != 0 {
            i = self.nodes[i].1;
            out.push(self.nodes[i].0.clone());
        }
        out.reverse();
        out
    }
}

/// Plan from `start` to `goal` (the planned coordinates) with the rest of the configuration
/// `q` (nq, quaternion blocks normalized), computing in `data`.
pub fn plan(
    model: &Model,
    params: &Params,
    data: &mut Data,
    q: &[f64],
    start: &[f64],
    goal: &[f64],
    opt: &PlanOptions,
) -> PlannedPath {
    let mut ck = Checker {
        model,
        params,
        q: q.to_vec(),
        coords: &opt.coords,
        bodies: opt.bodies.clone(),
        ignore: HashSet::new(),
        eps: opt.penetration_eps,
        off: opt.ignore_collision,
    };
    if !ck.off {
        let mut ignore: HashSet<(usize, usize)> = ck.pairs(data, start).into_iter().collect();
        ignore.extend(ck.pairs(data, goal));
        ck.ignore = ignore;
    }
    let began = Instant::now();
    let mut rng = SplitMix(opt.seed);
    let raw = if ck.segment_free(data, start, goal, opt.resolution) {
        Some(vec![start.to_vec(), goal.to_vec()])
    } else {
        search(&mut ck, data, start, goal, opt, &mut rng, began)
    };
    let found = raw.is_some();
    let mut path = raw.unwrap_or_else(|| vec![start.to_vec(), goal.to_vec()]);
    if found && opt.smooth {
        shortcut(&mut ck, data, &mut path, opt.resolution, &mut rng);
    }
    let waypoints = resample(&path, opt.num_waypoints);
    // the waypoints themselves are checked too (they lie on checked segments, between checks)
    let k = start.len();
    let found = found && waypoints.chunks(k).all(|w| ck.free(data, w));
    PlannedPath { waypoints, found }
}

/// The tree search: a path of tree nodes from start to goal, or None.
fn search(
    ck: &mut Checker<'_>,
    data: &mut Data,
    start: &[f64],
    goal: &[f64],
    opt: &PlanOptions,
    rng: &mut SplitMix,
    began: Instant,
) -> Option<Vec<Vec<f64>>> {
    let mut a = Tree {
        nodes: vec![(start.to_vec(), 0)],
    };
    let mut b = Tree {
        nodes: vec![(goal.to_vec(), 0)],
    };
    // whether `a` is the start's tree (they swap under RRT-Connect)
    let mut a_is_start = true;
    let n = start.len();
    let mut sample = vec![0.0; n];
    while a.nodes.len() + b.nodes.len() < opt.max_nodes.max(2) {
        if opt.timeout.is_some_and(|t| began.elapsed() > t) {
            return None;
        }
        let target: &[f64] = if rng.uniform() < opt.goal_bias {
            &b.nodes[0].0
        } else {
            for i in 0..n {
                sample[i] = opt.lower[i] + (opt.upper[i] - opt.lower[i]) * rng.uniform();
            }
            &sample
        };
        let near = a.nearest(target);
        let new = steer(&a.nodes[near].0, target, opt.max_step);
        if !ck.segment_free(data, &a.nodes[near].0, &new, opt.resolution) {
            if opt.planner == Planner::RrtConnect {
                std::mem::swap(&mut a, &mut b);
                a_is_start = !a_is_start;
            }
            continue;
        }
        a.nodes.push((new.clone(), near));
        let ia = a.nodes.len() - 1;
        let joined = match opt.planner {
            Planner::Rrt => {
                // reached the goal, or a free straight line to it
                (dist(&new, &b.nodes[0].0) <= opt.max_step
                    && ck.segment_free(data, &new, &b.nodes[0].0, opt.resolution))
                .then_some(0)
            }
            Planner::RrtConnect => connect(ck, data, &mut b, &new, opt),
        };
        if let Some(ib) = joined {
            let mut first = a.branch(ia);
            let mut second = b.branch(ib);
            second.reverse();
            if second.first().is_some_and(|x| dist(x, &new) == 0.0) {
                second.remove(0);
            }
            first.extend(second);
            if !a_is_start {
                first.reverse();
            }
            return Some(first);
        }
        if opt.planner == Planner::RrtConnect {
            std::mem::swap(&mut a, &mut b);
            a_is_start = !a_is_start;
        }
    }
    None
}

/// Grow `tree` toward `x` step by step while the steps are free; the node that reached `x`.
fn connect(
    ck: &mut Checker<'_>,
    data: &mut Data,
    tree: &mut Tree,
    x: &[f64],
    opt: &PlanOptions,
) -> Option<usize> {
    let mut at = tree.nearest(x);
    loop {
        let from = tree.nodes[at].0.clone();
        let next = steer(&from, x, opt.max_step);
        if !ck.segment_free(data, &from, &next, opt.resolution) {
            return None;
        }
        tree.nodes.push((next.clone(), at));
        at = tree.nodes.len() - 1;
        if dist(&next, x) == 0.0 {
            return Some(at);
        }
        if tree.nodes.len() >= opt.max_nodes {
            return None;
        }
    }
}

/// Random shortcuts: a waypoint pair joined by a free straight segment drops the ones between.
fn shortcut(
    ck: &mut Checker<'_>,
    data: &mut Data,
    path: &mut Vec<Vec<f64>>,
    resolution: f64,
    rng: &mut SplitMix,
) {
    for _ in 0..50 {
        if path.len() < 3 {
            return;
        }
        let n = path.len();
        let i = (rng.uniform() * n as f64) as usize % n;
        let j = (rng.uniform() * n as f64) as usize % n;
        let (i, j) = (i.min(j), i.max(j));
        if j <= i + 1 {
            continue;
        }
        if ck.segment_free(data, &path[i], &path[j], resolution) {
            path.drain(i + 1..j);
        }
    }
}

/// `path` resampled to `k` points evenly spaced along its length (row-major).
fn resample(path: &[Vec<f64>], k: usize) -> Vec<f64> {
    let n = path[0].len();
    let mut cum = vec![0.0];
    for w in path.windows(2) {
        cum.push(cum.last().unwrap() + dist(&w[0], &w[1]));
    }
    let total = *cum.last().unwrap();
    let mut out = Vec::with_capacity(k * n);
    for m in 0..k {
        let s = if k > 1 {
            total * m as f64 / (k - 1) as f64
        } else {
            total
        };
        // the segment holding arc length s
        let i = cum
            .partition_point(|&c| c <= s)
            .clamp(1, path.len().max(2) - 1);
        if path.len() == 1 {
            out.extend_from_slice(&path[0]);
            continue;
        }
        let (c0, c1) = (cum[i - 1], cum[i]);
        let t = if c1 > c0 {
            ((s - c0) / (c1 - c0)).clamp(0.0, 1.0)
        } else {
            1.0
        };
        out.extend((0..n).map(|d| path[i - 1][d] + t * (path[i][d] - path[i - 1][d])));
    }
    out
}

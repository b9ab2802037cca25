//! What evolves (State), what the user drives each step (Control), and what one step hands
//! the next besides the state (StepCarry).

use crate::model::{CtrlMode, Model};

/// Generalized state of the whole model.
#[derive(Debug, PartialEq)]
pub struct State {
    /// Positions (nq); quaternions stored [w, x, y, z].
    pub q: Vec<f64>,
    /// Velocities (nv).
    pub v: Vec<f64>,
    /// Activations of the channels with activation dynamics (na, [`Model::activations`]), in
    /// their targets' units.
    pub act: Vec<f64>,
    /// Simulated time (s).
    pub time: f64,
}

impl Clone for State {
    fn clone(&self) -> Self {
        Self {
            q: self.q.clone(),
            v: self.v.clone(),
            act: self.act.clone(),
            time: self.time,
        }
    }

    /// Reuses the buffers of `self` (the derived version would allocate new ones).
    fn clone_from(&mut self, source: &Self) {
        self.q.clone_from(&source.q);
        self.v.clone_from(&source.v);
        self.act.clone_from(&source.act);
        self.time = source.time;
    }
}

impl Default for State {
    /// An empty state (no coordinates), to be overwritten by `clone_from`.
    fn default() -> Self {
        Self {
            q: Vec::new(),
            v: Vec::new(),
            act: Vec::new(),
            time: 0.0,
        }
    }
}

impl State {
    /// The model's reference configuration at rest.
    pub fn new(model: &Model) -> Self {
        Self {
            q: model.qpos0.clone(),
            v: vec![0.0; model.nv],
            act: vec![0.0; model.na()],
            time: 0.0,
        }
    }

    /// Normalize the quaternions of free and ball joints in `q`.
    pub fn normalize_quaternions(&mut self, model: &Model) {
        normalize_quaternions(model, &mut self.q);
    }
}

/// What a step hands to the next besides the state: the constraint solver's warm start and the
/// count of substeps taken. [`crate::pipeline::step`] reads and updates it; it is kept by
/// whoever owns the trajectory (an env's `batch::Carry`, a tape's checkpoints, a local of a
/// loop of steps), never by the scratch a step computes in. A new one is a cold start.
#[derive(Debug, Default, PartialEq)]
pub struct StepCarry {
    /// Warm start of the constraint solver: the constrained acceleration of the last solve
    /// (nv); zeros for a cold start.
    pub qacc_warmstart: Vec<f64>,
    /// Substeps taken so far (a failing step's error names its substep by this count).
    pub nstep: u64,
}

impl Clone for StepCarry {
    fn clone(&self) -> Self {
        Self {
            qacc_warmstart: self.qacc_warmstart.clone(),
            nstep: self.nstep,
        }
    }

    /// Reuses the buffer of `self`.
    fn clone_from(&mut self, source: &Self) {
        self.qacc_warmstart.clone_from(&source.qacc_warmstart);
        self.nstep = source.nstep;
    }
}

impl StepCarry {
    /// A cold start for `model`: a zero warm start, no substep taken.
    pub fn new(model: &Model) -> Self {
        Self {
            qacc_warmstart: vec![0.0; model.nv],
            nstep: 0,
        }
    }
}

/// Normalize the quaternion blocks of `q` (ball and free joints).
pub fn normalize_quaternions(model: &Model, q: &mut [f64]) {
    for j in 0..model.njnt {
        let Some(o) = model.jnt_type[j].quat_offset() else {
            continue;
        };
        let a = model.jnt_qpos_adr[j] + o;
        let n =
            (q[a] * q[a] + q[a + 1] * q[a + 1] + q[a + 2] * q[a + 2] + q[a + 3] * q[a + 3]).sqrt();
        if n > 0.0 {
            for k in 0..4 {
                q[a + k] /= n;
            }
        } else {
            q[a..a + 4].copy_from_slice(&[1.0, 0.0, 0.0, 0.0]);
        }
    }
}

/// Per-dof control: each dof has a mode and a target (Genesis's `control_dofs_*`).
#[derive(Clone, Debug, PartialEq)]
pub struct Control {
    /// Mode of each control channel: the dofs, then the tendons ([`Model::nu`]).
    pub mode: Vec<CtrlMode>,
    /// Force (N or N m), position (rad or m) or velocity target of each channel (nu): a
    /// tendon's along its length.
    pub target: Vec<f64>,
}

impl Control {
    /// Zero force on every channel.
    pub fn new(model: &Model) -> Self {
        Self {
            mode: vec![CtrlMode::Force; model.nu()],
            target: vec![0.0; model.nu()],
        }
    }
}

/// Check that every quaternion block of `q` (ball and free joints) can be normalized,
/// naming the joint that cannot.
pub fn check_quaternions(model: &Model, q: &[f64]) -> crate::Result<()> {
    for j in 0..model.njnt {
        let Some(o) = model.jnt_type[j].quat_offset() else {
            continue;
        };
        let a = model.jnt_qpos_adr[j] + o;
        let n2: f64 = q[a..a + 4].iter().map(|x| x * x).sum();
        if !(n2 > 1e-20) || !n2.is_finite() {
            return Err(crate::Error::invalid(
                format!("qpos[{}..{}] (joint '{}')", a, a + 4, model.jnt_name[j]),
                "quaternion is zero or not finite",
            ));
        }
    }
    Ok(())
}

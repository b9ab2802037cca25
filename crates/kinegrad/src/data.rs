//! Per-step scratch: every quantity a stage computes, grouped by the stage that fills it.
//! Allocated once per model by [`Data::new`]; stepping reuses the buffers. Scratch only: what
//! a step hands the next (the solver's warm start, the substep count) is the caller's
//! [`crate::state::StepCarry`], the per-substep log a reverse pass replays is the caller's
//! `pipeline::StepLog`, and the reverse pass's buffers are its own. A computation sets
//! everything it reads here.

use crate::math::{Force, Inertia, Mat3, Motion, Pose, Quat, Vec3};
use crate::model::Model;

/// A contact between two geoms (world frame).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Contact {
    /// First geom (the normal points from it to `geom2`).
    pub geom1: usize,
    /// Second geom.
    pub geom2: usize,
    /// Contact point, midway between the surfaces (m).
    pub pos: Vec3,
    /// Contact frame: rows are the normal and two tangents.
    pub frame: Mat3,
    /// Signed distance (negative = penetration) (m).
    pub dist: f64,
    /// Combined sliding friction coefficient.
    pub friction: f64,
    /// Combined softness (time constant, damping ratio).
    pub solref: [f64; 2],
    /// Combined impedance.
    pub solimp: [f64; 5],
    /// Contact dimensionality (1 or 3).
    pub condim: usize,
    /// Combined margin.
    pub margin: f64,
    /// First constraint row of this contact.
    pub efc_adr: usize,
    /// The narrowphase result this contact was made from (carries the contact feature the
    /// reverse pass differentiates).
    pub point: crate::collision::ContactPoint,
}

/// Kind of a constraint row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowKind {
    /// Lower or upper joint limit (the joint index).
    Limit(usize),
    /// Frictionless contact normal (contact index).
    ContactNormal(usize),
    /// Edge of a pyramidal friction cone (contact index, edge 0..4).
    ContactPyramid(usize, usize),
}

/// Scratch data of one model instance.
#[derive(Clone, Debug)]
pub struct Data {
    // ---- position dependent: kinematics ----
    /// Body frame positions (world). (nbody)
    pub xpos: Vec<Vec3>,
    /// Body frame orientations. (nbody)
    pub xquat: Vec<Quat>,
    /// Body frame rotation matrices. (nbody)
    pub xmat: Vec<Mat3>,
    /// Body centres of mass (world). (nbody)
    pub xipos: Vec<Vec3>,
    /// Joint anchors (world). (njnt)
    pub xanchor: Vec<Vec3>,
    /// Joint axes (world; hinge and slide). (njnt)
    pub xaxis: Vec<Vec3>,
    /// Geom positions (world). (ngeom)
    pub geom_xpos: Vec<Vec3>,
    /// Geom rotations (world). (ngeom)
    pub geom_xmat: Vec<Mat3>,
    /// Motion subspace of each dof, world frame at the origin. (nv)
    pub cdof: Vec<Motion>,
    /// Body spatial inertias, world frame at the origin. (nbody)
    pub cinert: Vec<Inertia>,
    /// Last dof acting on each body (usize::MAX if none). (nbody)
    pub body_dof_last: Vec<usize>,

    // ---- position dependent: crba ----
    /// Composite inertias of subtrees. (nbody)
    pub crb: Vec<Inertia>,
    /// Joint-space mass matrix with armature, dense row-major. (nv x nv)
    pub qm: Vec<f64>,

    // ---- velocity dependent ----
    /// Body spatial velocities. (nbody)
    pub cvel: Vec<Motion>,
    /// Time derivative of each dof's motion subspace. (nv)
    pub cdof_dot: Vec<Motion>,
    /// Bias accelerations of bodies used by RNEA. (nbody)
    pub cacc: Vec<Motion>,
    /// Body forces accumulated by RNEA. (nbody)
    pub cfrc: Vec<Force>,
    /// Bias forces c(q, v): gravity, Coriolis, centrifugal. (nv)
    pub qfrc_bias: Vec<f64>,
    /// Passive forces: springs and damping. (nv)
    pub qfrc_passive: Vec<f64>,
    /// Actuator forces from the controls. (nv)
    pub qfrc_actuator: Vec<f64>,
    /// Which dofs' actuator force was clamped by its force range. (nv)
    pub actuator_clamped: Vec<bool>,
    /// Extra user-applied generalized forces (cleared by nobody; the user owns it). (nv)
    pub qfrc_applied: Vec<f64>,
    /// Total smooth force: applied + actuator + passive - bias. (nv)
    pub qfrc_smooth: Vec<f64>,
    /// Matrix of the unconstrained solve, M + h (D + Kv) under implicit integration. (nv x nv)
    pub qm_h: Vec<f64>,
    /// Cholesky factor of `qm_h` (lower, row-major). (nv x nv)
    pub qm_h_chol: Vec<f64>,
    /// Unconstrained acceleration. (nv)
    pub qacc_smooth: Vec<f64>,

    // ---- collision ----
    /// Active contacts.
    pub contacts: Vec<Contact>,

    // ---- constraints ----
    /// Number of constraint rows.
    pub nefc: usize,
    /// Row kinds. (nefc)
    pub efc_kind: Vec<RowKind>,
    /// Row Jacobians, row-major. (nefc x nv)
    pub efc_j: Vec<f64>,
    /// Where each row's non-zero dofs start in `efc_nz`. (nefc + 1)
    pub efc_nz_adr: Vec<usize>,
    /// The non-zero dofs of every row, ascending per row (a limit: its dof; a contact: the
    /// dofs of its two bodies' paths to the root). The dense rows hold exact zeros elsewhere.
    pub efc_nz: Vec<usize>,
    /// Violation of each row (distance or limit overshoot; negative = violated). (nefc)
    pub efc_pos: Vec<f64>,
    /// Reference acceleration of each row. (nefc)
    pub efc_aref: Vec<f64>,
    /// Row stiffness D = 1 / R. (nefc)
    pub efc_d: Vec<f64>,
    /// Row regularizer R. (nefc)
    pub efc_r: Vec<f64>,
    /// Whether each row is active at the solution. (nefc)
    pub efc_active: Vec<bool>,
    /// Row force at the solution. (nefc)
    pub efc_force: Vec<f64>,

    // ---- solver ----
    /// Constrained acceleration. (nv)
    pub qacc: Vec<f64>,
    /// Constraint forces in joint space, J^T f. (nv)
    pub qfrc_constraint: Vec<f64>,
    /// Newton Hessian M_h + J_A^T D_A J_A at the solution, Cholesky factor (lower). (nv x nv)
    pub hess_chol: Vec<f64>,
    /// Where each row of `hess_chol`'s envelope starts (see `dynamics::chol`). (nv)
    pub hess_chol_start: Vec<usize>,
    /// Where each row of `qm_h_chol`'s envelope starts. (nv)
    pub qm_h_chol_start: Vec<usize>,
    /// Newton iterations used by the last solve.
    pub solver_niter: usize,
    /// Scaled norm of the optimality residual at the last solve's result (0 without constraints).
    pub solver_residual: f64,

    // scratch (nv and nefc sized)
    pub(crate) scratch_nv: [Vec<f64>; 4],
    pub(crate) scratch_efc: [Vec<f64>; 2],
    pub(crate) scratch_jac: Vec<Vec3>,
    /// Scratch of make_rows: the non-zero dofs of one contact's rows. (<= nv)
    pub(crate) row_dofs: Vec<usize>,
    pub(crate) scratch_ls: Vec<(f64, usize)>,
    pub(crate) scratch_points: Vec<crate::collision::ContactPoint>,
    /// The step's input (q, v and the carry's warm start), restored if the step fails.
    pub(crate) scratch_rollback: [Vec<f64>; 3],
}

impl Data {
    /// Allocate scratch for `model`.
    pub fn new(model: &Model) -> Self {
        let nb = model.nbody;
        let nv = model.nv;
        let nj = model.njnt;
        let ng = model.ngeom;
        Self {
            xpos: vec![Vec3::zeros(); nb],
            xquat: vec![Quat::identity(); nb],
            xmat: vec![Mat3::identity(); nb],
            xipos: vec![Vec3::zeros(); nb],
            xanchor: vec![Vec3::zeros(); nj],
            xaxis: vec![Vec3::zeros(); nj],
            geom_xpos: vec![Vec3::zeros(); ng],
            geom_xmat: vec![Mat3::identity(); ng],
            cdof: vec![Motion::zero(); nv],
            cinert: vec![Inertia::zero(); nb],
            body_dof_last: crate::model::compile::body_dof_last(model),
            crb: vec![Inertia::zero(); nb],
            qm: vec![0.0; nv * nv],
            cvel: vec![Motion::zero(); nb],
            cdof_dot: vec![Motion::zero(); nv],
            cacc: vec![Motion::zero(); nb],
            cfrc: vec![Force::zero(); nb],
            qfrc_bias: vec![0.0; nv],
            qfrc_passive: vec![0.0; nv],
            qfrc_actuator: vec![0.0; nv],
            actuator_clamped: vec![false; nv],
            qfrc_applied: vec![0.0; nv],
            qfrc_smooth: vec![0.0; nv],
            qm_h: vec![0.0; nv * nv],
            qm_h_chol: vec![0.0; nv * nv],
            qacc_smooth: vec![0.0; nv],
            contacts: Vec::with_capacity(64),
            nefc: 0,
            efc_kind: Vec::with_capacity(256),
            efc_j: Vec::with_capacity(256 * nv),
            efc_nz_adr: Vec::with_capacity(257),
            efc_nz: Vec::with_capacity(256 * nv.min(64)),
            efc_pos: Vec::with_capacity(256),
            efc_aref: Vec::with_capacity(256),
            efc_d: Vec::with_capacity(256),
            efc_r: Vec::with_capacity(256),
            efc_active: Vec::with_capacity(256),
            efc_force: Vec::with_capacity(256),
            qacc: vec![0.0; nv],
            qfrc_constraint: vec![0.0; nv],
            hess_chol: vec![0.0; nv * nv],
            hess_chol_start: Vec::with_capacity(nv),
            qm_h_chol_start: Vec::with_capacity(nv),
            solver_niter: 0,
            solver_residual: 0.0,
            scratch_nv: std::array::from_fn(|_| vec![0.0; nv]),
            scratch_efc: std::array::from_fn(|_| Vec::with_capacity(256)),
            scratch_jac: vec![Vec3::zeros(); nv],
            row_dofs: Vec::with_capacity(nv),
            scratch_ls: Vec::with_capacity(256),
            scratch_points: Vec::with_capacity(16),
            scratch_rollback: [vec![0.0; model.nq], vec![0.0; nv], vec![0.0; nv]],
        }
    }

    /// The world pose of geom `g`, from the kinematics stage's `geom_xpos` and `geom_xmat`.
    #[inline]
    pub fn geom_frame(&self, g: usize) -> Pose {
        Pose {
            pos: self.geom_xpos[g],
            rot: self.geom_xmat[g],
        }
    }
}

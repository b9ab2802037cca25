//! Per-step scratch: every quantity a stage computes, grouped by the stage that fills it.
//! Allocated once per model by [`Data::new`]; stepping reuses the buffers. Scratch only: what
//! a step hands the next (the solver's warm start, the substep count) is the caller's
//! [`crate::state::StepCarry`], the per-substep log a reverse pass replays is the caller's
//! `pipeline::StepLog`, and the reverse pass's buffers are its own. A computation sets
//! everything it reads here.

use std::sync::{Arc, Mutex};

use faer::dyn_stack::{MemBuffer, StackReq};
use faer::sparse::linalg::cholesky::SymbolicCholesky;
use faer::sparse::SymbolicSparseColMat;

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
    /// Combined torsional friction coefficient (condim 4 and 6).
    pub spin: f64,
    /// Combined rolling friction coefficient (condim 6).
    pub roll: f64,
    /// Combined softness (time constant, damping ratio).
    pub solref: [f64; 2],
    /// Combined impedance.
    pub solimp: [f64; 5],
    /// Contact dimensionality: 1 (frictionless), 3 (sliding), 4 (and torsion), 6 (and
    /// rolling).
    pub condim: usize,
    /// Combined margin.
    pub margin: f64,
    /// First constraint row of this contact.
    pub efc_adr: usize,
    /// The narrowphase result this contact was made from (carries the contact feature the
    /// reverse pass differentiates).
    pub point: crate::collision::ContactPoint,
}

/// MuJoCo's `mjMINMU`: the least torsional and rolling friction a contact keeps.
pub const MIN_MU: f64 = 1e-5;

impl Contact {
    /// The friction coefficient of each of its rows past the normal, in MuJoCo's order
    /// (`con->friction`): sliding, sliding, torsional, rolling, rolling; the torsional and
    /// rolling ones at least MuJoCo's `mjMINMU` (1e-5), as `mj_assignFriction` keeps them.
    #[inline]
    pub fn friction_rows(&self) -> [f64; 5] {
        let (spin, roll) = (self.spin.max(MIN_MU), self.roll.max(MIN_MU));
        [self.friction, self.friction, spin, roll, roll]
    }
}

/// The largest number of rows of a contact ([`crate::constraint::cone`]).
pub const CONE_MAX_DIM: usize = 6;

/// The parameters of one elliptic contact's cost (its methods: [`crate::constraint::cone`]).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Elliptic {
    /// Number of rows (3, 4 or 6).
    pub dim: usize,
    /// Friction of each row past the normal (`dim - 1` used): sliding, sliding, torsional,
    /// rolling, rolling.
    pub f: [f64; CONE_MAX_DIM - 1],
    /// Friction of the regularized cone, `f_1 sqrt(D0 / D1)` (MuJoCo's `con->mu`).
    pub mu_r: f64,
    /// `D` of the rows (`dim` used).
    pub d: [f64; CONE_MAX_DIM],
}

/// An elliptic contact's cost along a line `z + t dz` of its residuals, reduced to a few
/// numbers once per line search (MuJoCo's `PrimalPrepare`): the scaled normal
/// `N(t) = n0 + t n1`, the squared friction norm `T^2(t) = tt + 2 t tu + t^2 uu`, and the
/// bottom zone's slope `b0 + t b1`.
#[derive(Clone, Copy, Debug, Default)]
pub struct ConeLine {
    pub(crate) n0: f64,
    pub(crate) n1: f64,
    pub(crate) tt: f64,
    pub(crate) tu: f64,
    pub(crate) uu: f64,
    pub(crate) b0: f64,
    pub(crate) b1: f64,
    pub(crate) mu: f64,
    pub(crate) dm: f64,
}

/// The rows' cost along a line of the elliptic line search, prepared once per search
/// (`constraint::solver`): each elliptic contact reduced to a [`ConeLine`], the other rows'
/// indices.
#[derive(Clone, Debug, Default)]
pub struct LineRows {
    pub(crate) cones: Vec<ConeLine>,
    pub(crate) rows: Vec<usize>,
}

/// Kind of a constraint row. Rows come in MuJoCo's order: equalities, dof then tendon friction,
/// joint then tendon limits, contacts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowKind {
    /// Row `k` of equality constraint `eq` (connect: 3 rows, weld: 6, joint: 1): always
    /// quadratic, its force of either sign.
    Equality(usize, usize),
    /// Dry friction of a dof (`dof_frictionloss`): a Huber cost whose force saturates at
    /// `+-frictionloss`.
    Friction(usize),
    /// Dry friction of a fixed tendon (`tendon_frictionloss`), as [`RowKind::Friction`].
    TendonFriction(usize),
    /// Lower or upper joint limit (the joint index).
    Limit(usize),
    /// Lower or upper limit of a fixed tendon's length (the tendon index).
    TendonLimit(usize),
    /// Frictionless contact normal (contact index).
    ContactNormal(usize),
    /// Edge of a pyramidal friction cone (contact index, edge 0..2 (condim - 1)).
    ContactPyramid(usize, usize),
    /// Row `k` of a contact with an elliptic friction cone (contact index; 0: normal, 1 and
    /// 2: the frame's tangents, 3 to 5: torsion and rolling). The contact's rows share one cost
    /// ([`crate::constraint::cone`]), so their state is the contact's.
    ContactElliptic(usize, usize),
}

/// State of a constraint row at an acceleration, as MuJoCo names them: which piece of the
/// row's cost applies (`constraint::row_state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RowState {
    /// An inequality row that is satisfied: no force, no cost.
    Inactive,
    /// `1/2 D z^2`: force `-D z` (equalities always, inequalities when violated, friction
    /// rows below their bound).
    Quadratic,
    /// A friction row saturated at `+frictionloss` (its residual below `-R frictionloss`).
    LinearNeg,
    /// A friction row saturated at `-frictionloss` (its residual above `R frictionloss`).
    LinearPos,
    /// The rows of an elliptic contact in the middle zone of its cone: one non-separable cost
    /// over them ([`crate::constraint::cone`]).
    Cone,
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
    /// Joint-space mass matrix with armature, lower triangle in its tree pattern
    /// (`dynamics::mass`). (dof_m_col.len())
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
    /// Passive forces: springs, damping and the fluid. (nv)
    pub qfrc_passive: Vec<f64>,
    /// The fluid's wrench on each body's subtree (world origin), as
    /// [`crate::dynamics::fluid::fluid`] leaves it. (nbody)
    pub fluid_frc: Vec<Force>,
    /// Actuator forces from the controls. (nv)
    pub qfrc_actuator: Vec<f64>,
    /// Which dofs' actuator force was clamped by its force range. (nv)
    pub actuator_clamped: Vec<bool>,
    /// Extra user-applied generalized forces (cleared by nobody; the user owns it). (nv)
    pub qfrc_applied: Vec<f64>,
    /// Total smooth force: applied + actuator + passive - bias. (nv)
    pub qfrc_smooth: Vec<f64>,
    /// The integrator's matrix, M + h (D + Kv) under implicit integration, in M's tree
    /// pattern. (dof_m_col.len())
    pub qm_h: Vec<f64>,
    /// Whether `qm_h` differs from `qm` (some implicit damping or gain is not zero).
    pub implicit_active: bool,
    /// Whether the constraints are solved against M while the integrator uses `M_h != M`
    /// (MuJoCo's split: implicit terms, rows, and `Options::implicit_constraints` off); then
    /// the integrated acceleration `qacc_int` is `M_h^-1 (f_smooth + J^T f)`
    /// (`solver::integrated_acceleration`).
    pub implicit_split: bool,
    /// `L^T D L` factor of `qm`, made when `implicit_active` and there are rows (the
    /// unconstrained acceleration `M^-1 f_smooth` the solver starts from). (dof_m_col.len())
    pub qm_ldl: Vec<f64>,
    /// `L^T D L` factor of `qm_h` in the same pattern (`dynamics::mass::factor`).
    /// (dof_m_col.len())
    pub qm_h_ldl: Vec<f64>,
    /// Unconstrained acceleration, the constraint solver's start: `M^-1 f_smooth` (`M_h^-1
    /// f_smooth` when there are no rows). (nv)
    pub qacc_smooth: Vec<f64>,

    // ---- collision ----
    /// Active contacts.
    pub contacts: Vec<Contact>,

    // ---- tendons ----
    /// Each tendon's length at the current positions ([`crate::tendon::tendons`]). (ntendon)
    pub ten_length: Vec<f64>,
    /// Each tendon's Jacobian, (dof, coefficient) ascending by dof: a fixed tendon's constant
    /// one, a spatial tendon's at the current positions. (ntendon)
    pub ten_jac: Vec<Vec<(usize, f64)>>,

    // ---- constraints ----
    /// Number of constraint rows.
    pub nefc: usize,
    /// Each contact's elliptic cone, made with its rows (meaningful for the contacts whose rows
    /// are [`RowKind::ContactElliptic`]). (ncontact)
    pub efc_cone: Vec<Elliptic>,
    /// Whether the rows hold an elliptic contact (whose cost is not piecewise quadratic: the
    /// solver's line search and polish take Newton steps on it).
    pub efc_elliptic: bool,
    /// Counts the rebuilds of the rows (`constraint::make_rows`): what the Newton Hessian's
    /// per-step bookkeeping was made for.
    pub efc_version: u64,
    /// Row kinds. (nefc)
    pub efc_kind: Vec<RowKind>,
    /// Row Jacobians, sparse by row: row r's entries at the dofs `efc_nz[efc_nz_adr[r]..
    /// efc_nz_adr[r + 1]]`, stored at the same positions (its other entries are structural
    /// zeros). (efc_nz.len())
    pub efc_j: Vec<f64>,
    /// Where each row's non-zero dofs start in `efc_nz` (and its entries in `efc_j`). (nefc + 1)
    pub efc_nz_adr: Vec<usize>,
    /// The non-zero dofs of every row, ascending per row (a limit: its dof; a contact: the
    /// dofs of its two bodies' paths to the root).
    pub efc_nz: Vec<usize>,
    /// Violation of each row (distance or limit overshoot; negative = violated). (nefc)
    pub efc_pos: Vec<f64>,
    /// Reference acceleration of each row. (nefc)
    pub efc_aref: Vec<f64>,
    /// Row stiffness D = 1 / R. (nefc)
    pub efc_d: Vec<f64>,
    /// Row regularizer R. (nefc)
    pub efc_r: Vec<f64>,
    /// Force bound of friction rows (their `frictionloss`; 0 for the other rows). (nefc)
    pub efc_floss: Vec<f64>,
    /// Whether each row's force is non-zero at the solution (its state is not
    /// [`RowState::Inactive`]). (nefc)
    pub efc_active: Vec<bool>,
    /// Each row's state at the solution. (nefc)
    pub efc_state: Vec<RowState>,
    /// Row force at the solution. (nefc)
    pub efc_force: Vec<f64>,

    // ---- solver ----
    /// Constrained acceleration, the constraint solver's solution (MuJoCo's `qacc`: the warm
    /// start of the next solve). (nv)
    pub qacc: Vec<f64>,
    /// The acceleration the integrator applies (`qacc` without rows). (nv)
    pub qacc_int: Vec<f64>,
    /// Constraint forces in joint space, J^T f. (nv)
    pub qfrc_constraint: Vec<f64>,
    /// Newton Hessian M + J_A^T D_A J_A of the last solve's active set (M_h without rows), factored
    /// (`constraint::hessian`).
    pub hess: Hessian,
    /// Newton iterations used by the last solve.
    pub solver_niter: usize,
    /// Scaled norm of the optimality residual at the last solve's result (0 without constraints).
    pub solver_residual: f64,

    // scratch (nv and nefc sized)
    pub(crate) scratch_nv: [Vec<f64>; 4],
    pub(crate) scratch_efc: [Vec<f64>; 2],
    /// The rows along the elliptic line search's line.
    pub(crate) scratch_lines: LineRows,
    /// Row states of two points of the solver's polish (nefc each).
    pub(crate) scratch_states: [Vec<RowState>; 2],
    pub(crate) scratch_jac: Vec<Vec3>,
    /// The relative rotation Jacobian of a contact (torsion and rolling rows). (nv)
    pub(crate) scratch_jac_rot: Vec<Vec3>,
    /// Scratch of make_rows: the non-zero dofs of one contact's rows. (<= nv)
    pub(crate) row_dofs: Vec<usize>,
    /// Scratch of the line search: each kink along the direction (step length, row, the row's
    /// state before and after).
    pub(crate) scratch_ls: Vec<(f64, usize, RowState, RowState)>,
    pub(crate) scratch_points: Vec<crate::collision::ContactPoint>,
    /// Scratch of the broadphase (`detect`): each bounded geom's world box `[lo, hi]` per axis
    /// with the geom, and the candidate pairs' indices.
    pub(crate) scratch_boxes: Vec<([f64; 3], [f64; 3], usize)>,
    pub(crate) scratch_pairs: Vec<usize>,
    /// The step's input (q, v, the carry's warm start and the activations), restored if the
    /// step fails.
    pub(crate) scratch_rollback: [Vec<f64>; 4],
    /// Runge-Kutta 4's stages of the current substep (empty under the other integrators).
    pub(crate) rk: RkStages,
}

/// The stages of a Runge-Kutta 4 substep: each stage's state and acceleration, the state an
/// acceleration is evaluated at, and the combined velocity.
#[derive(Clone, Debug, Default)]
pub struct RkStages {
    /// Positions of stages 0..3. (4 x nq)
    pub q: Vec<Vec<f64>>,
    /// Velocities. (4 x nv)
    pub v: Vec<Vec<f64>>,
    /// Accelerations. (4 x nv)
    pub a: Vec<Vec<f64>>,
    /// The state of the stage being evaluated.
    pub state: crate::state::State,
    /// Combined velocity. (nv)
    pub u: Vec<f64>,
}

impl RkStages {
    /// Stages for `model` (none unless its integrator is RK4).
    pub fn new(model: &Model) -> Self {
        if model.opt.integrator != crate::model::Integrator::RK4 {
            return Self::default();
        }
        let (nq, nv) = (model.nq, model.nv);
        Self {
            q: vec![vec![0.0; nq]; 4],
            v: vec![vec![0.0; nv]; 4],
            a: vec![vec![0.0; nv]; 4],
            state: crate::state::State::new(model),
            u: vec![0.0; nv],
        }
    }
}

impl Data {
    /// The matrix the constraint problem is solved against: `qm` under MuJoCo's split
    /// (`implicit_split`), else `qm_h` (equal to `qm` without implicit terms).
    #[inline]
    pub fn solver_mass(&self) -> &[f64] {
        if self.implicit_split {
            &self.qm
        } else {
            &self.qm_h
        }
    }

    /// Allocate scratch for `model`.
    pub fn new(model: &Model) -> Self {
        let nb = model.nbody;
        let nv = model.nv;
        let nm = model.dof_m_col.len();
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
            qm: vec![0.0; nm],
            cvel: vec![Motion::zero(); nb],
            cdof_dot: vec![Motion::zero(); nv],
            cacc: vec![Motion::zero(); nb],
            cfrc: vec![Force::zero(); nb],
            qfrc_bias: vec![0.0; nv],
            qfrc_passive: vec![0.0; nv],
            fluid_frc: vec![Force::zero(); model.nbody],
            qfrc_actuator: vec![0.0; nv],
            actuator_clamped: vec![false; model.nu()],
            qfrc_applied: vec![0.0; nv],
            qfrc_smooth: vec![0.0; nv],
            qm_h: vec![0.0; nm],
            qm_h_ldl: vec![0.0; nm],
            implicit_active: false,
            implicit_split: false,
            qm_ldl: vec![0.0; nm],
            qacc_smooth: vec![0.0; nv],
            contacts: Vec::with_capacity(64),
            efc_cone: Vec::with_capacity(64),
            ten_length: vec![0.0; model.tendons.len()],
            ten_jac: model.tendons.iter().map(|t| t.jac.clone()).collect(),
            nefc: 0,
            efc_elliptic: false,
            efc_version: 0,
            efc_kind: Vec::with_capacity(256),
            efc_j: Vec::with_capacity(256 * nv.min(64)),
            efc_nz_adr: Vec::with_capacity(257),
            efc_nz: Vec::with_capacity(256 * nv.min(64)),
            efc_pos: Vec::with_capacity(256),
            efc_aref: Vec::with_capacity(256),
            efc_d: Vec::with_capacity(256),
            efc_r: Vec::with_capacity(256),
            efc_floss: Vec::with_capacity(256),
            efc_active: Vec::with_capacity(256),
            efc_state: Vec::with_capacity(256),
            efc_force: Vec::with_capacity(256),
            qacc: vec![0.0; nv],
            qacc_int: vec![0.0; nv],
            qfrc_constraint: vec![0.0; nv],
            hess: Hessian::new(model),
            solver_niter: 0,
            solver_residual: 0.0,
            scratch_nv: std::array::from_fn(|_| vec![0.0; nv]),
            scratch_efc: std::array::from_fn(|_| Vec::with_capacity(256)),
            scratch_states: std::array::from_fn(|_| Vec::with_capacity(256)),
            scratch_lines: Default::default(),
            scratch_jac: vec![Vec3::zeros(); nv],
            scratch_jac_rot: vec![Vec3::zeros(); nv],
            row_dofs: Vec::with_capacity(nv),
            scratch_ls: Vec::with_capacity(256),
            scratch_points: Vec::with_capacity(16),
            scratch_boxes: Vec::new(),
            scratch_pairs: Vec::new(),
            scratch_rollback: [
                vec![0.0; model.nq],
                vec![0.0; nv],
                vec![0.0; nv],
                vec![0.0; model.na()],
            ],
            rk: RkStages::new(model),
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

    /// Row `r` of the constraint Jacobian: its non-zero dofs and its entries there.
    #[inline]
    pub fn efc_row(&self, r: usize) -> (&[usize], &[f64]) {
        let span = self.efc_nz_adr[r]..self.efc_nz_adr[r + 1];
        (&self.efc_nz[span.clone()], &self.efc_j[span])
    }

    /// Tendon `t`'s Jacobian times `x` (nv): its rate of change at velocities `x`.
    #[inline]
    pub fn ten_velocity(&self, t: usize, x: &[f64]) -> f64 {
        self.ten_jac[t].iter().map(|&(d, c)| c * x[d]).sum()
    }

    /// `J_r x`: row `r` of the constraint Jacobian times `x` (nv).
    #[inline]
    pub fn efc_row_dot(&self, r: usize, x: &[f64]) -> f64 {
        let (dofs, vals) = self.efc_row(r);
        dofs.iter().zip(vals).map(|(&i, j)| j * x[i]).sum()
    }
}

/// Largest nv whose Newton Hessian is stored dense (`constraint::hessian`).
pub const DENSE_MAX_NV: usize = 60;

/// The factored Newton Hessian of the constraint solve (the algorithm:
/// `constraint::hessian`).
#[derive(Default)]
pub struct Hessian {
    /// Which factor the last [`Hessian::factor`] left.
    pub(crate) kind: HessianKind,
    /// Dense: the factor (row-major, lower) and its envelope starts.
    pub(crate) dense: Vec<f64>,
    pub(crate) start: Vec<usize>,
    /// Without rows: `M_h`'s tree factor.
    pub(crate) mass_ldl: Vec<f64>,
    /// Sparse: the pattern of the current body pairs, H's values on it, the factor's values,
    /// faer's workspace (behind a `Mutex`, never contended: a solve needs it, and the reverse
    /// pass solves with the factor of a `&Data`), and per row where its pair's block sits
    /// (`usize::MAX`: a limit row).
    pub(crate) pattern: Option<Arc<HessianPattern>>,
    pub(crate) values: Vec<f64>,
    pub(crate) factor: Vec<f64>,
    pub(crate) mem: Mutex<Option<MemBuffer>>,
    pub(crate) row_pair: Vec<usize>,
    /// Scratch: the body pairs of this step's contacts, and one contact's block of J^T D J.
    pub(crate) pairs: Vec<(usize, usize)>,
    pub(crate) block: Vec<f64>,
    /// Symbolic analyses done so far (one per change of the body pairs in contact).
    pub(crate) analyses: usize,
    /// The `Data::efc_version` of the rows `row_pair` was made for.
    pub(crate) rows_version: Option<u64>,
}

/// Which factor a [`Hessian`] holds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum HessianKind {
    /// None yet.
    #[default]
    None,
    /// `M_h`'s tree factor (no rows).
    Mass,
    /// Dense envelope Cholesky.
    Dense,
    /// faer's sparse Cholesky.
    Sparse,
}

/// The Newton Hessian's sparsity for one set of body pairs in contact, and its symbolic factorization.
#[derive(Debug)]
pub struct HessianPattern {
    /// The body pairs (lower body first), ascending.
    pub(crate) pairs: Vec<(usize, usize)>,
    /// H's lower triangle in compressed columns.
    pub(crate) csc: SymbolicSparseColMat<usize>,
    /// Where each entry of M's tree pattern goes in the values. (dof_m_col.len())
    pub(crate) m_pos: Vec<usize>,
    /// Per pair, where each product of its dofs `(a, b <= a)` goes, row by row of the pair's
    /// sorted dof list; `pair_adr` delimits the pairs.
    pub(crate) pair_adr: Vec<usize>,
    pub(crate) pair_pos: Vec<usize>,
    pub(crate) symbolic: SymbolicCholesky<usize>,
    /// faer's workspace for a factorization or a solve with one right-hand side.
    pub(crate) req: StackReq,
}

impl Clone for Hessian {
    fn clone(&self) -> Self {
        Self {
            kind: self.kind,
            dense: self.dense.clone(),
            start: self.start.clone(),
            mass_ldl: self.mass_ldl.clone(),
            pattern: self.pattern.clone(),
            values: self.values.clone(),
            factor: self.factor.clone(),
            mem: Mutex::new(self.pattern.as_ref().map(|p| MemBuffer::new(p.req))),
            row_pair: self.row_pair.clone(),
            pairs: self.pairs.clone(),
            block: Vec::new(),
            analyses: self.analyses,
            rows_version: self.rows_version,
        }
    }
}

impl std::fmt::Debug for Hessian {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hessian")
            .field("kind", &self.kind)
            .field("nnz", &self.values.len())
            .finish()
    }
}

impl PartialEq for Hessian {
    /// Equal factors of the same kind (the workspace aside).
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind
            && match self.kind {
                HessianKind::None => true,
                HessianKind::Mass => self.mass_ldl == other.mass_ldl,
                HessianKind::Dense => self.dense == other.dense,
                HessianKind::Sparse => self.factor == other.factor,
            }
    }
}

impl Hessian {
    /// Scratch for `model` (the dense storage sized up front; the sparse one when the first
    /// contacts come).
    pub fn new(model: &Model) -> Self {
        let nv = model.nv;
        let dense = nv <= DENSE_MAX_NV;
        Self {
            dense: if dense {
                vec![0.0; nv * nv]
            } else {
                Vec::new()
            },
            start: Vec::with_capacity(if dense { nv } else { 0 }),
            mass_ldl: vec![0.0; model.dof_m_col.len()],
            ..Self::default()
        }
    }

    /// Which factor the last factorization left.
    pub fn kind(&self) -> HessianKind {
        self.kind
    }

    /// How many symbolic analyses of the sparse storage were done (a new one each time the body
    /// pairs in contact change).
    pub fn analyses(&self) -> usize {
        self.analyses
    }
}

//! The immutable model: kinematic tree, inertias, joints, geoms, options.
//!
//! Laid out as a struct of arrays (MuJoCo style). Field names start with the
//! entity they describe (`body_`, `jnt_`, `dof_`, `geom_`) and each carries its
//! shape in the doc comment. Body 0 is the world. Bodies are stored in
//! topological order (`body_parent[i] < i`), so one forward loop visits parents
//! before children.
//!
//! The physical parameters that users may change or differentiate (masses,
//! inertias, friction, damping, gains, gravity) live in [`Params`]; the model
//! holds their defaults in [`Model::params0`].

pub mod builder;
pub mod compile;
pub mod inertia;
pub mod mass;
pub mod mesh;
pub mod mesh_io;
pub mod mjcf;
pub mod params;
pub mod primitives;
pub mod tendon_path;
pub mod urdf;

pub use crate::joint::JointType;
pub use builder::{ActuatorSpec, BodySpec, EntitySpec, GeomSpec, JointSpec, Medium, ModelBuilder};
pub use mesh::Mesh;

use crate::math::{Mat3, Quat, Vec3};

/// A robot file's XML text as MuJoCo's reader (tinyxml2, reading a C string) takes it: the text
/// ends at its first NUL byte (pybullet's `humanoid.urdf` ends with one), and an XML
/// declaration after leading blank lines is accepted (pybullet's `diff_ring.urdf`; it is blanked
/// out with spaces, so every line and column stays where the file has it).
pub(crate) fn xml_as_read(text: &str) -> std::borrow::Cow<'_, str> {
    let text = text.split('\0').next().unwrap_or("");
    let lead = text.len() - text.trim_start().len();
    if lead > 0 && text[lead..].starts_with("<?xml") {
        if let Some(end) = text[lead..].find("?>") {
            let mut s = text.to_string();
            s.replace_range(lead..lead + end + 2, &" ".repeat(end + 2));
            return s.into();
        }
    }
    text.into()
}

/// Collision/visual shape kinds. Sizes follow MuJoCo's conventions (see [`Model::geom_size`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GeomType {
    /// Infinite plane through the geom origin with normal +z (size: half extents for drawing only).
    Plane,
    /// size[0] = radius.
    Sphere,
    /// size[0] = radius, size[1] = half length of the segment along local z.
    Capsule,
    /// size = half extents.
    Box,
    /// size[0] = radius, size[1] = half height along local z.
    Cylinder,
    /// size = the three semi-axes along local x, y, z.
    Ellipsoid,
    /// Convex hull of a mesh (`geom_mesh`); size unused.
    Mesh,
}

impl GeomType {
    /// The kind's index in MuJoCo's `mjtGeom` (plane 0, sphere 2, capsule 3, ellipsoid 4,
    /// cylinder 5, box 6, mesh 7): a contact's first geom is the one of lower index, as MuJoCo
    /// orders a pair before colliding it (the normal points from it to the other).
    pub fn mujoco_index(self) -> u8 {
        match self {
            GeomType::Plane => 0,
            GeomType::Sphere => 2,
            GeomType::Capsule => 3,
            GeomType::Ellipsoid => 4,
            GeomType::Cylinder => 5,
            GeomType::Box => 6,
            GeomType::Mesh => 7,
        }
    }

    /// The kind's name, as MJCF spells it.
    pub fn name(self) -> &'static str {
        match self {
            GeomType::Plane => "plane",
            GeomType::Sphere => "sphere",
            GeomType::Capsule => "capsule",
            GeomType::Box => "box",
            GeomType::Cylinder => "cylinder",
            GeomType::Ellipsoid => "ellipsoid",
            GeomType::Mesh => "mesh",
        }
    }
}

/// How a dof is driven (Genesis's control modes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CtrlMode {
    /// target is a generalized force.
    #[default]
    Force,
    /// PD: force = kp (target - q) - kv v.
    Position,
    /// force = kv (target - v).
    Velocity,
}

impl CtrlMode {
    /// Every mode, in the order of their codes (the Python package's `CONTROL_MODES`).
    pub const ALL: [CtrlMode; 3] = [CtrlMode::Force, CtrlMode::Position, CtrlMode::Velocity];

    /// The mode's code across the Python boundary (int8 arrays): its index in [`Self::ALL`].
    pub fn code(self) -> i8 {
        self as i8
    }

    /// The mode's name (as Genesis calls its `control_dofs_*` functions).
    pub fn name(self) -> &'static str {
        match self {
            CtrlMode::Force => "force",
            CtrlMode::Position => "position",
            CtrlMode::Velocity => "velocity",
        }
    }

    /// The mode of `code`, or an error naming the codes there are.
    pub fn from_code(code: i8) -> crate::Result<Self> {
        Self::ALL
            .get(code as usize)
            .copied()
            .filter(|_| code >= 0)
            .ok_or_else(|| {
                crate::Error::invalid(
                    "mode",
                    format!("control modes are 0 (force), 1 (position), 2 (velocity), got {code}"),
                )
            })
    }
}

/// Integration scheme. See DESIGN.md section 3, step 8.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Integrator {
    /// Semi-implicit Euler; joint damping implicit (M + h D), as MuJoCo's Euler.
    Euler,
    /// Also actuator velocity gains implicit (M + h (D + Kv)), as MuJoCo's implicitfast.
    ImplicitFast,
    /// Classic fourth-order Runge-Kutta on (q, v), every force explicit, as MuJoCo's RK4: four
    /// evaluations of the constrained acceleration per substep ([`crate::integrator`]).
    RK4,
}

impl Integrator {
    /// Its name, as [`Integrator::from_name`] reads it.
    pub fn name(self) -> &'static str {
        match self {
            Integrator::Euler => "euler",
            Integrator::ImplicitFast => "implicitfast",
            Integrator::RK4 => "RK4",
        }
    }

    /// The integrator named `name` ("euler", "implicitfast" or "RK4").
    pub fn from_name(name: &str) -> crate::Result<Self> {
        match name {
            "euler" => Ok(Integrator::Euler),
            "implicitfast" => Ok(Integrator::ImplicitFast),
            "RK4" | "rk4" => Ok(Integrator::RK4),
            other => Err(crate::Error::invalid(
                "integrator",
                format!("expected 'euler', 'implicitfast' or 'RK4', got '{other}'"),
            )),
        }
    }
}

/// The friction cone of frictional contacts (MuJoCo's `<option cone>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FrictionCone {
    /// `2 (condim - 1)` rows per contact, `n +- f_j d_j` (`n +- mu t1`, `n +- mu t2` for
    /// condim 3), each a one-sided constraint.
    #[default]
    Pyramidal,
    /// `condim` rows per contact (normal, two tangents, then torsion and rolling) under one cost
    /// whose forces lie in the cone `|f_t| <= mu f_n` ([`crate::constraint::cone`]).
    Elliptic,
}

impl FrictionCone {
    /// The cone named `name` ("pyramidal" or "elliptic").
    pub fn from_name(name: &str) -> crate::Result<Self> {
        match name {
            "pyramidal" => Ok(Self::Pyramidal),
            "elliptic" => Ok(Self::Elliptic),
            other => Err(crate::Error::invalid(
                "cone",
                format!("expected 'pyramidal' or 'elliptic', got '{other}'"),
            )),
        }
    }

    /// The cone's name, as [`FrictionCone::from_name`] reads it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pyramidal => "pyramidal",
            Self::Elliptic => "elliptic",
        }
    }
}

/// Simulation options.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// Length of one `step` (s). Each step runs `substeps` substeps of `timestep / substeps`.
    pub timestep: f64,
    /// Substeps per step.
    pub substeps: usize,
    /// Integration scheme.
    pub integrator: Integrator,
    /// Detect and resolve contacts.
    pub enable_collision: bool,
    /// Enforce joint limits.
    pub enable_joint_limit: bool,
    /// Enforce equality constraints (MJCF `<flag equality>`).
    pub enable_equality: bool,
    /// Apply dry joint friction (MJCF `<flag frictionloss>`).
    pub enable_frictionloss: bool,
    /// Allow contacts between geoms of the same entity (non-adjacent bodies).
    pub enable_self_collision: bool,
    /// Maximum Newton iterations of the constraint solver.
    pub iterations: usize,
    /// Solver tolerance on the scaled cost improvement and gradient.
    pub tolerance: f64,
    /// Maximum iterations of the exact line search.
    pub ls_iterations: usize,
    /// Overrides every contact's solref time constant when set (s); MuJoCo's default is 0.02.
    pub constraint_timeconst: Option<f64>,
    /// Ratio of frictional to normal constraint impedance (MuJoCo's impratio).
    pub impratio: f64,
    /// The friction cone of frictional contacts.
    pub cone: FrictionCone,
    /// Solve the constraint forces against the implicit integrator's `M + h D` instead of
    /// MuJoCo's `M` (the default, false: the forces are solved against M, then the implicit
    /// damping and velocity gains act on them). True makes the forces consistent with the
    /// implicit terms, which stiff velocity servos in contact (h kv much larger than the
    /// dof's inertia) need to stay smooth; it departs from MuJoCo's step.
    pub implicit_constraints: bool,
    /// Under [`Integrator::Euler`], integrate joint damping implicitly (MuJoCo's default;
    /// `<flag eulerdamp="disable">` makes it explicit).
    pub euler_damping: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            timestep: 0.01,
            substeps: 1,
            integrator: Integrator::ImplicitFast,
            enable_collision: true,
            enable_joint_limit: true,
            enable_equality: true,
            enable_frictionloss: true,
            enable_self_collision: true,
            iterations: 100,
            tolerance: 1e-8,
            ls_iterations: 50,
            constraint_timeconst: None,
            impratio: 1.0,
            cone: FrictionCone::Pyramidal,
            implicit_constraints: false,
            euler_damping: true,
        }
    }
}

impl Options {
    /// An error naming the first option out of its range (NaN is out of every range).
    pub fn validate(&self) -> crate::Result<()> {
        let bad = |what: &str, message: String| Err(crate::Error::invalid(what, message));
        let positive = |x: f64| x > 0.0 && x.is_finite();
        if !positive(self.timestep) {
            return bad(
                "dt",
                format!("must be positive and finite, got {}", self.timestep),
            );
        }
        for (what, n) in [
            ("substeps", self.substeps),
            ("iterations", self.iterations),
            ("ls_iterations", self.ls_iterations),
        ] {
            if n == 0 {
                return bad(what, "must be at least 1".into());
            }
        }
        if !positive(self.tolerance) {
            return bad(
                "tolerance",
                format!("must be positive and finite, got {}", self.tolerance),
            );
        }
        if !positive(self.impratio) {
            return bad(
                "impratio",
                format!("must be positive and finite, got {}", self.impratio),
            );
        }
        match self.constraint_timeconst {
            Some(tc) if !positive(tc) => bad(
                "constraint_timeconst",
                format!("must be positive, got {tc}"),
            ),
            _ => Ok(()),
        }
    }
}

/// Physical parameters: the part of the model users can change after `build`
/// and differentiate. Flat vectors, one entry (or row) per body / dof / geom.
#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    /// Gravity (m/s^2), world frame. (3)
    pub gravity: Vec3,
    /// Body mass (kg). (nbody)
    pub body_mass: Vec<f64>,
    /// Centre of mass in the body frame (m). (nbody)
    pub body_ipos: Vec<Vec3>,
    /// Rotational inertia about the centre of mass, body-frame axes (kg m^2). (nbody)
    pub body_inertia: Vec<Mat3>,
    /// Joint damping (N m s/rad or N s/m). (nv)
    pub dof_damping: Vec<f64>,
    /// Armature (rotor inertia added to the mass matrix diagonal). (nv)
    pub dof_armature: Vec<f64>,
    /// Position gain of PD position control. (nv)
    pub dof_kp: Vec<f64>,
    /// Velocity gain of PD position / velocity control. (nv)
    pub dof_kv: Vec<f64>,
    /// Actuator force limits [lo, hi] (infinite when unlimited). (nv)
    pub dof_force_range: Vec<[f64; 2]>,
    /// Joint stiffness (spring towards `jnt_qpos_spring`) per dof of hinge/slide joints. (nv)
    pub dof_stiffness: Vec<f64>,
    /// Sliding, torsional and rolling friction coefficients. (ngeom)
    pub geom_friction: Vec<[f64; 3]>,
    /// Dry friction of each dof (MuJoCo's `frictionloss`): the most force its friction row
    /// holds (N m or N). (nv)
    pub dof_frictionloss: Vec<f64>,
    /// Tendon spring stiffness (N/m or N m/rad). (ntendon)
    pub tendon_stiffness: Vec<f64>,
    /// Tendon damping. (ntendon)
    pub tendon_damping: Vec<f64>,
    /// Tendon dry friction (the most force its friction row holds). (ntendon)
    pub tendon_frictionloss: Vec<f64>,
    /// Tendon spring rest lengths [lo, hi]: no spring force between them. (ntendon)
    pub tendon_lengthspring: Vec<[f64; 2]>,
    /// Position gain of a tendon's control channel (as `dof_kp`). (ntendon)
    pub tendon_kp: Vec<f64>,
    /// Velocity gain of a tendon's control channel (as `dof_kv`). (ntendon)
    pub tendon_kv: Vec<f64>,
    /// Force limits [lo, hi] of a tendon's control channel (infinite when unlimited). (ntendon)
    pub tendon_force_range: Vec<[f64; 2]>,
    /// Softness of each equality (MuJoCo's solref: time constant and damping ratio, or
    /// direct stiffness and damping, both <= 0). (nequality)
    pub eq_solref: Vec<[f64; 2]>,
    /// Polynomial of each joint or tendon equality, `q1 - q1_0 = c0 + c1 x + c2 x^2 + c3 x^3 +
    /// c4 x^4` with `x = q2 - q2_0` (tendons: their lengths and reference lengths); a URDF
    /// mimic's offset is `c0`, its multiplier `c1`. Unused by connect and weld. (nequality)
    pub eq_polycoef: Vec<[f64; 5]>,
    /// Density of the medium the bodies move in (kg/m^3; MuJoCo's `<option density>`): the
    /// quadratic drag of the inertia-box fluid model ([`crate::dynamics::fluid`]).
    pub fluid_density: f64,
    /// Viscosity of the medium (Pa s; `<option viscosity>`): the linear drag.
    pub fluid_viscosity: f64,
    /// Velocity of the medium (m/s, world frame; `<option wind>`).
    pub wind: Vec3,
    /// Pose of each mocap body relative to the world (its parent): position, and orientation as
    /// a quaternion `[w, x, y, z]` normalized where read (MuJoCo's `mocap_pos`, `mocap_quat`).
    /// (nmocap)
    pub mocap_pos: Vec<Vec3>,
    /// See `mocap_pos`. (nmocap)
    pub mocap_quat: Vec<[f64; 4]>,
    /// External wrench on each body: force (N) then torque (N m), world frame, applied at its
    /// centre of mass (MuJoCo's `xfrc_applied`; Genesis's `apply_links_external_force`). (nbody)
    pub body_xfrc: Vec<[f64; 6]>,
}

/// A convex mesh used by one or more geoms.
pub use mesh::Mesh as MeshData;

/// Informational record of an MJCF actuator (mapped onto per-dof controls at load time).
#[derive(Clone, Debug, PartialEq)]
pub struct ActuatorInfo {
    /// Actuator name.
    pub name: String,
    /// Its control channel: the driven dof, or `nv` + the driven tendon ([`Model::nu`]).
    pub dof: usize,
    /// Control mode the actuator maps to.
    pub mode: CtrlMode,
    /// Transmission gear (force = gear * ctrl for motors).
    pub gear: f64,
    /// Control range in the file's units (infinite when unlimited).
    pub ctrl_range: [f64; 2],
    /// The same range in the channel's target units for the actuator's mode (MuJoCo clamps
    /// `ctrl` to `ctrl_range`; kinegrad clamps the channel target in that mode to this range,
    /// [`Model::ctrl_target_range`]).
    pub target_range: [f64; 2],
    /// Position gain in the file's units (MuJoCo's `kp`; Position mode).
    pub kp: f64,
    /// MuJoCo's `dampratio` of a position servo, 0 when its `kv` was given
    /// ([`ActuatorSpec::dampratio`]).
    pub dampratio: f64,
    /// Its activation dynamics (MuJoCo's `dyntype`), if it has any: its channel's law then reads
    /// an activation state ([`Model::activations`]) instead of the target.
    pub dynamics: Option<ActDyn>,
    /// MuJoCo's `actrange`, when `actlimited`, in the channel's target units (as
    /// `target_range`).
    pub act_range: Option<[f64; 2]>,
    /// MuJoCo's `actearly`: the law reads the activation the step integrates to.
    pub act_early: bool,
}

/// Activation dynamics of a control channel (MuJoCo's `dyntype`, in the channel's target units:
/// `u` the target as clamped to the channel's range, `a` the activation).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ActDyn {
    /// `da/dt = (u - a) / tau`, integrated by explicit Euler (MuJoCo's `filter`).
    Filter {
        /// Time constant (s), at least [`crate::math::MINVAL`].
        tau: f64,
    },
    /// The same filter integrated exactly over the step: `a + (u - a) (1 - exp(-h / tau))`
    /// (MuJoCo's `filterexact`).
    FilterExact {
        /// Time constant (s), at least [`crate::math::MINVAL`].
        tau: f64,
    },
    /// `da/dt = u` (MuJoCo's `integrator`).
    Integrator,
}

/// The activation state of one control channel: its dynamics, range and timing.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Activation {
    /// The channel whose law reads this activation instead of its target (a dof, or `nv` + a
    /// tendon, as [`Model::nu`] counts them).
    pub channel: usize,
    /// Its dynamics.
    pub dynamics: ActDyn,
    /// The range it is clamped to after each integration, in target units (infinite when
    /// unlimited: MuJoCo's `actlimited` / `actrange`).
    pub range: [f64; 2],
    /// MuJoCo's `actearly`: the law reads the activation at the end of the substep rather than
    /// at its start (no delay of one substep between control and force).
    pub early: bool,
}

/// Immutable model. Build it with [`ModelBuilder`] or the URDF/MJCF loaders.
#[derive(Clone, Debug)]
pub struct Model {
    /// Simulation options.
    pub opt: Options,
    /// Default physical parameters.
    pub params0: Params,

    // ---- sizes ----
    /// Number of position coordinates.
    pub nq: usize,
    /// Number of degrees of freedom.
    pub nv: usize,
    /// Number of bodies, world included.
    pub nbody: usize,
    /// Number of joints.
    pub njnt: usize,
    /// Number of geoms.
    pub ngeom: usize,

    // ---- bodies (nbody) ----
    /// Body name (world is "world").
    pub body_name: Vec<String>,
    /// Parent body (world's parent is itself, 0).
    pub body_parent: Vec<usize>,
    /// Root body of the subtree below the world that holds this body.
    pub body_root: Vec<usize>,
    /// Welded group: the nearest ancestor-or-self body that has joints or is a mocap body (or
    /// 0).
    pub body_weld: Vec<usize>,
    /// Each body's index among the mocap bodies (`usize::MAX` if it is not one): its pose is
    /// the parameters `mocap_pos`, `mocap_quat` ([`Params`]). (nbody)
    pub body_mocap: Vec<usize>,
    /// Entity index (world: usize::MAX).
    pub body_entity: Vec<usize>,
    /// Principal axes of each body's inertia in its frame (columns; MuJoCo's `body_iquat`), as
    /// built from the model's inertia: the frame of the inertia-box fluid model. (nbody)
    pub body_fluid_frame: Vec<Mat3>,
    /// Whether each body's inertial frame is its own frame as MuJoCo's compiler sets it
    /// (`body_iquat` the identity; MuJoCo's "simple" bodies need it). (nbody)
    pub body_iframe_identity: Vec<bool>,
    /// Whether each body is one MuJoCo's compiler fuses into its parent ([`BodySpec::fused`]:
    /// a URDF link on a fixed joint): its contact and equality weights (`body_invweight0`) are
    /// the fused body's, taken at the centre of mass of the parent and every body fused into it.
    /// (nbody)
    pub body_fused: Vec<bool>,
    /// Position of the body frame in the parent frame (at q = qpos0).
    pub body_pos: Vec<Vec3>,
    /// Orientation of the body frame in the parent frame.
    pub body_quat: Vec<Quat>,
    /// First joint of the body.
    pub body_jnt_adr: Vec<usize>,
    /// Number of joints of the body.
    pub body_jnt_num: Vec<usize>,
    /// First dof of the body.
    pub body_dof_adr: Vec<usize>,
    /// Number of dofs of the body.
    pub body_dof_num: Vec<usize>,
    /// First geom of the body.
    pub body_geom_adr: Vec<usize>,
    /// Number of geoms of the body.
    pub body_geom_num: Vec<usize>,

    // ---- joints (njnt) ----
    /// Joint name.
    pub jnt_name: Vec<String>,
    /// Joint type.
    pub jnt_type: Vec<JointType>,
    /// Body the joint moves.
    pub jnt_body: Vec<usize>,
    /// First position coordinate.
    pub jnt_qpos_adr: Vec<usize>,
    /// First dof.
    pub jnt_dof_adr: Vec<usize>,
    /// Anchor in the body frame (m).
    pub jnt_pos: Vec<Vec3>,
    /// Unit axis in the body frame (hinge, slide).
    pub jnt_axis: Vec<Vec3>,
    /// Whether the range is enforced.
    pub jnt_limited: Vec<bool>,
    /// Range [lo, hi] (rad or m; for ball joints hi is the maximum angle).
    pub jnt_range: Vec<[f64; 2]>,
    /// Spring rest position (hinge, slide).
    pub jnt_qpos_spring: Vec<f64>,
    /// Limit softness (time constant, damping ratio).
    pub jnt_solref: Vec<[f64; 2]>,
    /// Limit impedance (dmin, dmax, width, midpoint, power).
    pub jnt_solimp: Vec<[f64; 5]>,
    /// Limit margin.
    pub jnt_margin: Vec<f64>,
    /// Softness of the joint's dry-friction rows (MJCF `solreffriction`).
    pub jnt_solref_fri: Vec<[f64; 2]>,
    /// Impedance of the joint's dry-friction rows (MJCF `solimpfriction`).
    pub jnt_solimp_fri: Vec<[f64; 5]>,

    // ---- dofs (nv) ----
    /// Body the dof moves.
    pub dof_body: Vec<usize>,
    /// Joint the dof belongs to.
    pub dof_jnt: Vec<usize>,
    /// Previous dof on the path to the root (usize::MAX at a root).
    pub dof_parent: Vec<usize>,
    /// Where row i of the mass matrix's lower triangle starts in `dof_m_col` (and in the
    /// tree-sparse matrices of `dynamics::mass`). (nv + 1)
    pub dof_m_adr: Vec<usize>,
    /// The columns of each row of the mass matrix's lower triangle that can be non-zero: the
    /// row's dof's ancestors ascending, then the dof itself (compile stage).
    pub dof_m_col: Vec<usize>,

    /// Reference configuration: the model's bodies are at `body_pos/quat` when q = qpos0. (nq)
    pub qpos0: Vec<f64>,

    // ---- geoms (ngeom) ----
    /// Geom name ("" if unnamed).
    pub geom_name: Vec<String>,
    /// Geom type.
    pub geom_type: Vec<GeomType>,
    /// Body the geom is attached to.
    pub geom_body: Vec<usize>,
    /// Position in the body frame.
    pub geom_pos: Vec<Vec3>,
    /// Orientation in the body frame.
    pub geom_quat: Vec<Quat>,
    /// Size parameters (see [`GeomType`]).
    pub geom_size: Vec<Vec3>,
    /// Mesh index for `GeomType::Mesh`.
    pub geom_mesh: Vec<Option<usize>>,
    /// Contact type bitmask.
    pub geom_contype: Vec<u32>,
    /// Contact affinity bitmask.
    pub geom_conaffinity: Vec<u32>,
    /// Contact dimensionality: 1 frictionless, 3 sliding friction.
    pub geom_condim: Vec<usize>,
    /// Contact softness (time constant, damping ratio).
    pub geom_solref: Vec<[f64; 2]>,
    /// Contact impedance (dmin, dmax, width, midpoint, power).
    pub geom_solimp: Vec<[f64; 5]>,
    /// Contact detection margin (m).
    pub geom_margin: Vec<f64>,
    /// Detection gap (MuJoCo's `gap`): see [`GeomSpec::gap`]. (ngeom)
    pub geom_gap: Vec<f64>,
    /// Contact priority (MuJoCo's `priority`, see `constraint::contact_params`).
    pub geom_priority: Vec<i32>,
    /// Solver mixing weight (MuJoCo's `solmix`).
    pub geom_solmix: Vec<f64>,
    /// Colour (r, g, b, a).
    pub geom_rgba: Vec<[f32; 4]>,
    /// Visual-only geom (never collides, never adds mass).
    pub geom_visual: Vec<bool>,
    /// Radius of a bounding sphere about the geom origin (infinite for planes).
    pub geom_rbound: Vec<f64>,

    /// Inverse weights at qpos0 (translation, rotation): mean diagonal of J M^-1 J^T at the
    /// body's centre of mass; used to scale constraint regularizers. (nbody)
    pub body_invweight0: Vec<[f64; 2]>,
    /// Diagonal of M^-1 at qpos0. (nv)
    pub dof_invweight0: Vec<f64>,
    /// Mean diagonal of M at qpos0 (scales the solver tolerance).
    pub stat_meaninertia: f64,

    /// Bounding box of each geom in its own frame: (centre, half extents); infinite for planes. (ngeom)
    pub geom_aabb: Vec<[Vec3; 2]>,
    /// Geom pairs that may collide (static filters applied: masks, welds, parent-child,
    /// self-collision option, exclusions), with the smaller index first, ascending.
    pub collision_pairs: Vec<(usize, usize)>,
    /// The indices in `collision_pairs` of the pairs with an unbounded geom (a plane), which
    /// the broadphase's sweep cannot place (compile stage).
    pub collision_pairs_unbounded: Vec<usize>,

    /// Meshes referenced by geoms.
    pub meshes: Vec<Mesh>,
    /// MJCF actuators, mapped onto dof control parameters.
    pub actuators: Vec<ActuatorInfo>,
    /// The range each control channel's target is clamped to before the actuator law, per
    /// control mode (indexed by [`CtrlMode::code`]), as MuJoCo clamps `ctrl` to `ctrlrange`: an
    /// actuator's range, in target units, for the channel in that actuator's mode (the
    /// intersection when several drive it); infinite for every other mode, so a position
    /// servo's range does not bound the torques of a user who switches its channel to force
    /// control. (nu)
    pub ctrl_target_range: Vec<[[f64; 2]; 3]>,
    /// The activation states (MuJoCo's `act`, na of them): the channels driven through
    /// activation dynamics ([`crate::dynamics::activation`]).
    pub activations: Vec<Activation>,
    /// The activation of each control channel, if it has one (nu).
    pub ch_act: Vec<Option<usize>>,
    /// Excluded body pairs (MJCF `<contact><exclude>`), stored with the smaller index first.
    pub exclude_pairs: Vec<(usize, usize)>,
    /// The standalone free bodies, (body, free joint): a free joint's body with nothing moving
    /// or weighing below it, which `implicitfast` integrates with its bias derivative
    /// ([`crate::dynamics::free_gyro`]).
    pub free_gyro: Vec<(usize, usize)>,
    /// Equality constraints (MJCF `<equality>`, URDF `<mimic>`), one record each: there are
    /// few, and each kind reads different fields.
    pub equalities: Vec<Equality>,
    /// Fixed tendons (MJCF `<tendon><fixed>`), one record each.
    pub tendons: Vec<Tendon>,
    /// Named states of the entities (MJCF `<keyframe><key>`).
    pub keyframes: Vec<Keyframe>,

    // ---- entities ----
    /// Entity names.
    pub entity_name: Vec<String>,
    /// First body of each entity.
    pub entity_body_adr: Vec<usize>,
    /// Body count of each entity.
    pub entity_body_num: Vec<usize>,
    /// First joint of each entity.
    pub entity_jnt_adr: Vec<usize>,
    /// Joint count of each entity.
    pub entity_jnt_num: Vec<usize>,
    /// First dof of each entity.
    pub entity_dof_adr: Vec<usize>,
    /// Dof count of each entity.
    pub entity_dof_num: Vec<usize>,
    /// First position coordinate of each entity.
    pub entity_qpos_adr: Vec<usize>,
    /// Position-coordinate count of each entity.
    pub entity_qpos_num: Vec<usize>,
    /// First geom of each entity.
    pub entity_geom_adr: Vec<usize>,
    /// First site of each entity.
    pub entity_site_adr: Vec<usize>,
    /// Number of sites of each entity.
    pub entity_site_num: Vec<usize>,
    /// Site name ("" if unnamed). (nsite)
    pub site_name: Vec<String>,
    /// Body each site is fixed on. (nsite)
    pub site_body: Vec<usize>,
    /// Site position in its body's frame. (nsite)
    pub site_pos: Vec<Vec3>,
    /// Site orientation in its body's frame. (nsite)
    pub site_quat: Vec<Quat>,
    /// Geom count of each entity.
    pub entity_geom_num: Vec<usize>,
}

/// Kind of an equality constraint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EqType {
    /// A point of body 1 held at a point of body 2 (3 rows: a ball joint).
    Connect,
    /// A frame of body 1 held at a frame of body 2 (6 rows: 3 translation, 3 rotation).
    Weld,
    /// Joint 1's position a polynomial of joint 2's (1 row; URDF mimic joints).
    Joint,
    /// Tendon 1's length a polynomial of tendon 2's (1 row).
    Tendon,
}

impl EqType {
    /// Its number of constraint rows.
    pub fn nrow(self) -> usize {
        match self {
            EqType::Connect => 3,
            EqType::Weld => 6,
            EqType::Joint | EqType::Tendon => 1,
        }
    }
}

/// A compiled equality constraint, in MuJoCo's formulation (`mj_instantiateEquality`).
#[derive(Clone, Debug, PartialEq)]
pub struct Equality {
    /// Its name ("" if unnamed).
    pub name: String,
    /// Its kind.
    pub kind: EqType,
    /// Connect and weld: the two bodies (the second may be the world, 0). Joint (tendon): the
    /// two hinge or slide joints (tendons), the second `usize::MAX` if absent: the first then
    /// held at its reference value plus `polycoef[0]`.
    pub obj: [usize; 2],
    /// Connect and weld: the constrained point in body 1's frame and in body 2's.
    pub anchor: [Vec3; 2],
    /// Weld: the constrained frame's orientation in body 1 and in body 2; the rotational error
    /// is the vector part of `(q2 frame[1])^-1 (q1 frame[0])`, times `torquescale`.
    pub frame: [Quat; 2],
    /// Weld: the scale of the rotational rows.
    pub torquescale: f64,
    /// Impedance. (Its softness and, for joint and tendon equalities, its polynomial are
    /// parameters: `Params::eq_solref`, `Params::eq_polycoef`.)
    pub solimp: [f64; 5],
    /// Whether its rows are made.
    pub active: bool,
}

/// A named state of one entity (MJCF `<key>`): what is unsaid is `qpos0` and zero velocity.
#[derive(Clone, Debug, PartialEq)]
pub struct Keyframe {
    /// Its entity.
    pub entity: usize,
    /// Its name ("" if unnamed).
    pub name: String,
    /// The entity's positions. (its nq)
    pub qpos: Vec<f64>,
    /// The entity's velocities. (its nv)
    pub qvel: Vec<f64>,
    /// The actuators' controls as the file writes them (empty if unsaid).
    pub ctrl: Vec<f64>,
}

/// A fixed tendon: a length that is a linear function of joint positions,
/// `L = sum_k coef_k q_k` (MuJoCo's `<fixed>`), with its limit and friction rows and spring.
#[derive(Clone, Debug, PartialEq)]
pub struct Tendon {
    /// Its name.
    pub name: String,
    /// Its terms: (qpos address of a hinge or slide joint, coefficient).
    pub terms: Vec<(usize, f64)>,
    /// Its Jacobian: (dof, coefficient), ascending by dof, one entry per dof (constant).
    pub jac: Vec<(usize, f64)>,
    /// Whether its range is enforced.
    pub limited: bool,
    /// Its range [lo, hi].
    pub range: [f64; 2],
    /// Limit softness and impedance, margin.
    pub solref_lim: [f64; 2],
    /// Limit impedance.
    pub solimp_lim: [f64; 5],
    /// Limit margin.
    pub margin: f64,
    /// Softness of its dry-friction row.
    pub solref_fri: [f64; 2],
    /// Impedance of its dry-friction row.
    pub solimp_fri: [f64; 5],
    /// Its length at `qpos0`.
    pub length0: f64,
    /// `J M^-1 J^T` at `qpos0` (the regularizers' scale, as MuJoCo's `tendon_invweight0`).
    pub invweight0: f64,
    /// The entries of `J^T J` inside M's tree pattern: (dof i, dof j an ancestor of i or i,
    /// index in `dof_m_col`, `J_i J_j`). The implicit integrator's share of the tendon's
    /// damping and actuator kv (MuJoCo's implicitfast keeps `qDeriv` only where M has entries;
    /// the coupling of dofs on different branches stays explicit). A spatial tendon's
    /// coefficients change with q: [`Tendon::tree_pair_coef`] reads them from its Jacobian.
    pub tree_pairs: Vec<(usize, usize, usize, f64)>,
    /// A spatial tendon's path (empty for a fixed tendon): its branches through sites
    /// ([`crate::tendon`]). Its `terms` are then empty and its `jac` gives the dofs its
    /// Jacobian can touch (values per step in `Data::ten_jac`).
    pub spatial: Vec<SpatialBranch>,
}

/// One branch of a spatial tendon's path: the polyline through its sites, its length divided
/// by `divisor` (MuJoCo's `<pulley divisor>`; 1 for the first branch).
#[derive(Clone, Debug, PartialEq)]
pub struct SpatialBranch {
    /// The length's divisor.
    pub divisor: f64,
    /// The sites (model indices), in path order.
    pub sites: Vec<usize>,
    /// For each segment between consecutive sites, the geom it wraps around, if any.
    pub wraps: Vec<Option<TendonWrap>>,
}

/// A segment of a spatial tendon that wraps around a sphere or cylinder geom
/// ([`tendon_path`]), on the side of `side` (a site) if given.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TendonWrap {
    /// The geom (sphere or cylinder).
    pub geom: usize,
    /// The side site.
    pub side: Option<usize>,
}

impl Tendon {
    /// Whether it is a spatial tendon (a path through sites).
    #[inline]
    pub fn is_spatial(&self) -> bool {
        !self.spatial.is_empty()
    }

    /// A fixed tendon's length at positions `q` (a spatial tendon's: `Data::ten_length`).
    #[inline]
    pub fn length(&self, q: &[f64]) -> f64 {
        self.terms.iter().map(|&(a, c)| c * q[a]).sum()
    }

    /// The coefficient `J_i J_j` of its tree pair `(i, j, _, c)` for the Jacobian `jac`
    /// (`Data::ten_jac`): `c` for a fixed tendon, from `jac` for a spatial one.
    #[inline]
    pub fn tree_pair_coef(&self, pair: &(usize, usize, usize, f64), jac: &[(usize, f64)]) -> f64 {
        if self.spatial.is_empty() {
            return pair.3;
        }
        let at = |d: usize| {
            jac.binary_search_by_key(&d, |x| x.0)
                .map_or(0.0, |k| jac[k].1)
        };
        at(pair.0) * at(pair.1)
    }

    /// A fixed tendon's rate of change at velocities `v` (a spatial tendon's:
    /// `Data::ten_velocity`).
    #[inline]
    pub fn velocity(&self, v: &[f64]) -> f64 {
        self.jac.iter().map(|&(d, c)| c * v[d]).sum()
    }
}

impl Model {
    /// Number of control channels: one per dof, then one per tendon (a force, position or
    /// velocity target along the tendon, as MuJoCo's actuators on tendons).
    #[inline]
    pub fn nu(&self) -> usize {
        self.nv + self.tendons.len()
    }

    /// Number of activation states ([`Model::activations`]).
    pub fn na(&self) -> usize {
        self.activations.len()
    }

    /// Number of mocap bodies ([`Model::body_mocap`]).
    #[inline]
    pub fn nmocap(&self) -> usize {
        self.params0.mocap_pos.len()
    }

    /// Whether body `b` is static: welded to the world or to a mocap body (no dof moves it;
    /// two static bodies never collide, as in MuJoCo).
    #[inline]
    pub fn body_static(&self, b: usize) -> bool {
        let w = self.body_weld[b];
        w == 0 || self.body_mocap[w] != usize::MAX
    }

    /// The two bodies whose dofs equality `e`'s rows move (a joint equality: the joints'
    /// bodies; the world for an absent second joint; a tendon equality: the world, its dofs
    /// being the tendons', see [`Model::eq_dofs`]).
    pub fn eq_bodies(&self, e: usize) -> (usize, usize) {
        let eq = &self.equalities[e];
        match eq.kind {
            EqType::Connect | EqType::Weld => (eq.obj[0], eq.obj[1]),
            EqType::Joint => (
                self.jnt_body[eq.obj[0]],
                if eq.obj[1] == usize::MAX {
                    0
                } else {
                    self.jnt_body[eq.obj[1]]
                },
            ),
            EqType::Tendon => (0, 0),
        }
    }

    /// Body index by name.
    pub fn body_id(&self, name: &str) -> Option<usize> {
        self.body_name.iter().position(|n| n == name)
    }
    /// Joint index by name.
    pub fn joint_id(&self, name: &str) -> Option<usize> {
        self.jnt_name.iter().position(|n| n == name)
    }
    /// Geom index by name.
    pub fn geom_id(&self, name: &str) -> Option<usize> {
        self.geom_name.iter().position(|n| n == name)
    }
    /// Whether dof `a` is `b` or an ancestor of `b` in the tree.
    pub fn dof_is_ancestor(&self, a: usize, mut b: usize) -> bool {
        while b != usize::MAX {
            if a == b {
                return true;
            }
            b = self.dof_parent[b];
        }
        false
    }
}

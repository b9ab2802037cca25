//! Assembling a [`Model`] from entity descriptions (what the loaders produce).
//!
//! An [`EntitySpec`] is one robot or object: a list of bodies in topological
//! order, each with its joints and geoms, plus meshes and actuators. The
//! [`ModelBuilder`] places entities in the world and concatenates them into one
//! struct-of-arrays [`Model`].

use super::{
    ActDyn, Activation, ActuatorInfo, CtrlMode, EqType, Equality, GeomType, JointType, Keyframe,
    Mesh, Model, Options, Params, SpatialBranch, Tendon, TendonWrap,
};
use crate::error::{Error, Result};
use crate::math::{Mat3, Pose, Quat, Vec3};

/// MuJoCo's default contact/limit softness: (time constant 0.02 s, damping ratio 1).
pub const DEFAULT_SOLREF: [f64; 2] = [0.02, 1.0];
/// MuJoCo's default impedance (dmin, dmax, width, midpoint, power).
pub const DEFAULT_SOLIMP: [f64; 5] = [0.9, 0.95, 0.001, 0.5, 2.0];

/// One joint of a body.
#[derive(Clone, Debug)]
pub struct JointSpec {
    /// Joint name (unique within the model after prefixing).
    pub name: String,
    /// Joint type.
    pub kind: JointType,
    /// Anchor in the body frame (m).
    pub pos: Vec3,
    /// Axis in the body frame (normalized by the builder).
    pub axis: Vec3,
    /// Enforced range, if limited.
    pub range: Option<[f64; 2]>,
    /// Damping per dof.
    pub damping: f64,
    /// Armature per dof.
    pub armature: f64,
    /// Spring stiffness (hinge, slide).
    pub stiffness: f64,
    /// Spring rest position (hinge, slide).
    pub springref: f64,
    /// Reference position: the value of q at which the body sits at its model pose (hinge, slide).
    pub reference: f64,
    /// Limit softness.
    pub solref: [f64; 2],
    /// Limit impedance.
    pub solimp: [f64; 5],
    /// Limit margin.
    pub margin: f64,
    /// Dry friction of each dof (MuJoCo's `frictionloss`; URDF `<dynamics friction>`).
    pub frictionloss: f64,
    /// Softness of the dry-friction rows.
    pub solref_fri: [f64; 2],
    /// Impedance of the dry-friction rows.
    pub solimp_fri: [f64; 5],
    /// PD position gain of each dof.
    pub kp: f64,
    /// Velocity gain of each dof.
    pub kv: f64,
    /// Actuator force limits.
    pub force_range: [f64; 2],
    /// Line of the element in the entity's source file (0: unknown), for error messages.
    pub line: u32,
}

impl JointSpec {
    /// A joint with MuJoCo's defaults.
    pub fn new(name: impl Into<String>, kind: JointType) -> Self {
        Self {
            name: name.into(),
            kind,
            pos: Vec3::zeros(),
            axis: Vec3::z(),
            range: None,
            damping: 0.0,
            armature: 0.0,
            stiffness: 0.0,
            springref: 0.0,
            reference: 0.0,
            solref: DEFAULT_SOLREF,
            solimp: DEFAULT_SOLIMP,
            margin: 0.0,
            frictionloss: 0.0,
            solref_fri: DEFAULT_SOLREF,
            solimp_fri: DEFAULT_SOLIMP,
            kp: 100.0,
            kv: 10.0,
            force_range: [f64::NEG_INFINITY, f64::INFINITY],
            line: 0,
        }
    }
}

/// One geom of a body.
#[derive(Clone, Debug)]
pub struct GeomSpec {
    /// Geom name ("" if unnamed).
    pub name: String,
    /// Shape.
    pub kind: GeomType,
    /// Size (MuJoCo conventions, see [`GeomType`]).
    pub size: Vec3,
    /// Position in the body frame.
    pub pos: Vec3,
    /// Orientation in the body frame.
    pub quat: Quat,
    /// Index into the entity's meshes for `GeomType::Mesh`.
    pub mesh: Option<usize>,
    /// Sliding, torsional, rolling friction.
    pub friction: [f64; 3],
    /// Contact type bitmask.
    pub contype: u32,
    /// Contact affinity bitmask.
    pub conaffinity: u32,
    /// Contact dimensionality (1 or 3).
    pub condim: usize,
    /// Contact softness.
    pub solref: [f64; 2],
    /// Contact impedance.
    pub solimp: [f64; 5],
    /// Detection margin: a pair's contacts act within the sum of its geoms' margins (MuJoCo).
    pub margin: f64,
    /// Gap: a pair's contacts are detected within the sums of margins and gaps, and act only
    /// within the margins (MuJoCo's `gap`: the contacts in the gap are kept out of the rows).
    pub gap: f64,
    /// Contact priority: the higher of a pair's gives the contact's friction, condim, solref
    /// and solimp (MuJoCo's `priority`).
    pub priority: i32,
    /// Weight of this geom's solref and solimp in a contact between equal priorities
    /// (MuJoCo's `solmix`).
    pub solmix: f64,
    /// Colour.
    pub rgba: [f32; 4],
    /// Visual only: never collides, never contributes mass.
    pub visual: bool,
    /// Line of the element in the entity's source file (0: unknown), for error messages.
    pub line: u32,
}

impl GeomSpec {
    /// A colliding geom with MuJoCo's defaults.
    pub fn new(kind: GeomType, size: Vec3) -> Self {
        Self {
            name: String::new(),
            kind,
            size,
            pos: Vec3::zeros(),
            quat: Quat::identity(),
            mesh: None,
            friction: [1.0, 0.005, 0.0001],
            contype: 1,
            conaffinity: 1,
            condim: 3,
            solref: DEFAULT_SOLREF,
            solimp: DEFAULT_SOLIMP,
            margin: 0.0,
            gap: 0.0,
            priority: 0,
            solmix: 1.0,
            rgba: [0.5, 0.5, 0.5, 1.0],
            visual: false,
            line: 0,
        }
    }
}

/// One body (link).
#[derive(Clone, Debug)]
pub struct BodySpec {
    /// Body name.
    pub name: String,
    /// Parent body index within the entity (must be smaller than this body's index); `None` for the entity root(s).
    pub parent: Option<usize>,
    /// Position of the body frame in the parent frame.
    pub pos: Vec3,
    /// Orientation of the body frame in the parent frame.
    pub quat: Quat,
    /// Mass (kg).
    pub mass: f64,
    /// Centre of mass in the body frame.
    pub ipos: Vec3,
    /// Rotational inertia about the centre of mass, body-frame axes.
    pub inertia: Mat3,
    /// The inertia's principal axes (a rotation of the body frame), when the loader knows them
    /// as MuJoCo's compiler sets them (`body_iquat`: a single geom's frame, an `<inertial>`'s
    /// orientation); `None`: from the inertia's eigenvectors. Only the fluid model reads it
    /// (its drag is not invariant under turns about an axis of equal moments).
    pub inertia_frame: Option<Quat>,
    /// Joints between the parent and this body, applied in order.
    pub joints: Vec<JointSpec>,
    /// Geoms attached to the body.
    pub geoms: Vec<GeomSpec>,
    /// Sites: named frames fixed on the body (MJCF `<site>`), readable as poses.
    pub sites: Vec<SiteSpec>,
    /// Whether MuJoCo's compiler (and Genesis's `merge_fixed_links`) would fuse this jointless
    /// body into its parent: a URDF link on a fixed joint. kinegrad keeps it as a link of its
    /// own (readable, with its own geoms), but gives it the per-body constants MuJoCo computes
    /// for the fused body ([`Model::body_fused`]).
    pub fused: bool,
    /// A mocap body (MJCF `mocap="true"`): a jointless child of the world whose pose is the
    /// parameters `mocap_pos`, `mocap_quat` ([`Model::body_mocap`]), set between steps.
    pub mocap: bool,
    /// Line of the element in the entity's source file (0: unknown), for error messages.
    pub line: u32,
}

/// A named state of an entity (MJCF `<key>`): positions and velocities as written (`None`:
/// `qpos0` and zero), the actuators' controls kept as written.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KeyframeSpec {
    /// Its name ("" if unnamed).
    pub name: String,
    /// Positions (the entity's nq), if given.
    pub qpos: Option<Vec<f64>>,
    /// Velocities (nv), if given.
    pub qvel: Option<Vec<f64>>,
    /// Actuator controls as the file writes them (one per actuator), if given.
    pub ctrl: Option<Vec<f64>>,
    /// Line of the element (0: unknown).
    pub line: u32,
}

/// A site: a named frame fixed on its body (MJCF `<site>`), no physics.
#[derive(Clone, Debug, PartialEq)]
pub struct SiteSpec {
    /// Its name ("" if unnamed).
    pub name: String,
    /// Position in the body frame.
    pub pos: Vec3,
    /// Orientation in the body frame.
    pub quat: Quat,
}

impl BodySpec {
    /// A massless body at the parent's origin.
    pub fn new(name: impl Into<String>, parent: Option<usize>) -> Self {
        Self {
            name: name.into(),
            parent,
            pos: Vec3::zeros(),
            quat: Quat::identity(),
            mass: 0.0,
            ipos: Vec3::zeros(),
            inertia: Mat3::zeros(),
            inertia_frame: None,
            joints: Vec::new(),
            geoms: Vec::new(),
            sites: Vec::new(),
            fused: false,
            mocap: false,
            line: 0,
        }
    }
}

/// An actuator from a model file, mapped onto the control parameters of one dof or tendon.
#[derive(Clone, Debug)]
pub struct ActuatorSpec {
    /// Actuator name.
    pub name: String,
    /// Name of the driven joint (hinge or slide), or of the tendon when `tendon`.
    pub joint: String,
    /// Whether it drives a tendon (its channel: `Model::nv` + the tendon's index).
    pub tendon: bool,
    /// Control mode.
    pub mode: CtrlMode,
    /// Position gain (Position mode).
    pub kp: f64,
    /// Velocity gain (Position and Velocity modes).
    pub kv: f64,
    /// Gear ratio.
    pub gear: f64,
    /// Control range, in the file's control units (infinite when unlimited).
    pub ctrl_range: [f64; 2],
    /// The channel target one unit of the file's control stands for (MuJoCo's `ctrl`):
    /// `gear` for a force channel (its target is a joint force), `1 / gear` for a position or
    /// velocity servo, `k / (kp gear)` for a PD whose control is scaled by `k / kp`. Maps
    /// `ctrl_range` onto the channel's target range ([`Model::ctrl_target_range`]).
    pub target_per_ctrl: f64,
    /// Force range.
    pub force_range: [f64; 2],
    /// MuJoCo's `dampratio` of a position servo (0: `kv` as given): `kv` is set at compile time
    /// to `dampratio 2 sqrt(kp m)`, `m` the inertia the servo moves at qpos0, as MuJoCo sets it
    /// (`compile::set_dampratio_gains`).
    pub dampratio: f64,
    /// Activation dynamics (MuJoCo's `dyntype`), if any.
    pub dynamics: Option<ActDyn>,
    /// The activation's range in the file's control units (MuJoCo's `actrange` when
    /// `actlimited`).
    pub act_range: Option<[f64; 2]>,
    /// MuJoCo's `actearly`.
    pub act_early: bool,
}

/// An equality constraint between two bodies or two joints of one entity, as a loader reads
/// it (MJCF `<equality>`, URDF `<mimic>`); [`Equality`] is its compiled form.
#[derive(Clone, Debug)]
pub struct EqualitySpec {
    /// Name ("" if unnamed).
    pub name: String,
    /// Kind.
    pub kind: EqType,
    /// The two bodies (connect, weld) or joints (joint) by name; the second "" for the world
    /// body (connect, weld) or no second joint.
    pub obj: [String; 2],
    /// Connect and weld: the point in body 1's and body 2's frames; `None` where it is to be
    /// found at the reference configuration so that the constraint holds there (connect: the
    /// point in body 2; weld: the point and frame in body 1).
    pub anchor: [Option<Vec3>; 2],
    /// Weld: the frame's orientation in body 1 and body 2 (`None`: as for `anchor`).
    pub frame: [Option<Quat>; 2],
    /// Weld: the scale of the rotational rows.
    pub torquescale: f64,
    /// Joint: the polynomial's coefficients.
    pub polycoef: [f64; 5],
    /// Softness.
    pub solref: [f64; 2],
    /// Impedance.
    pub solimp: [f64; 5],
    /// Whether it holds from the start.
    pub active: bool,
    /// Line of the element in the entity's source file (0: unknown), for error messages.
    pub line: u32,
}

impl EqualitySpec {
    /// An equality of `kind` between `obj1` and `obj2` with MuJoCo's defaults.
    pub fn new(kind: EqType, obj1: impl Into<String>, obj2: impl Into<String>) -> Self {
        Self {
            name: String::new(),
            kind,
            obj: [obj1.into(), obj2.into()],
            anchor: [None, None],
            frame: [None, None],
            torquescale: 1.0,
            polycoef: [0.0, 1.0, 0.0, 0.0, 0.0],
            solref: DEFAULT_SOLREF,
            solimp: DEFAULT_SOLIMP,
            active: true,
            line: 0,
        }
    }
}

/// A fixed tendon of one entity, as a loader reads it (MJCF `<tendon><fixed>`).
#[derive(Clone, Debug)]
pub struct TendonSpec {
    /// Name.
    pub name: String,
    /// Its terms: (hinge or slide joint name, coefficient).
    pub joints: Vec<(String, f64)>,
    /// Enforced range, if limited.
    pub range: Option<[f64; 2]>,
    /// Limit softness.
    pub solref_lim: [f64; 2],
    /// Limit impedance.
    pub solimp_lim: [f64; 5],
    /// Limit margin.
    pub margin: f64,
    /// Dry friction.
    pub frictionloss: f64,
    /// Friction softness.
    pub solref_fri: [f64; 2],
    /// Friction impedance.
    pub solimp_fri: [f64; 5],
    /// Spring stiffness.
    pub stiffness: f64,
    /// Damping.
    pub damping: f64,
    /// Spring rest lengths [lo, hi]; `None`: its length at the reference configuration.
    pub springlength: Option<[f64; 2]>,
    /// A spatial tendon's path (MJCF `<spatial>`), in order; empty for a fixed tendon.
    pub path: Vec<PathElem>,
    /// Line of the element in the entity's source file (0: unknown), for error messages.
    pub line: u32,
}

/// One element of a spatial tendon's path.
#[derive(Clone, Debug, PartialEq)]
pub enum PathElem {
    /// A site, by name.
    Site(String),
    /// A pulley: a new branch, its length divided by the divisor.
    Pulley(f64),
    /// A sphere or cylinder geom, by name, the segment between the sites around it wraps
    /// around (on the side of the named side site, if any).
    Geom {
        /// The geom.
        name: String,
        /// The side site.
        side: Option<String>,
    },
}

impl TendonSpec {
    /// A tendon over `joints` with MuJoCo's defaults.
    pub fn new(name: impl Into<String>, joints: Vec<(String, f64)>) -> Self {
        Self {
            name: name.into(),
            joints,
            range: None,
            solref_lim: DEFAULT_SOLREF,
            solimp_lim: DEFAULT_SOLIMP,
            margin: 0.0,
            frictionloss: 0.0,
            solref_fri: DEFAULT_SOLREF,
            solimp_fri: DEFAULT_SOLIMP,
            stiffness: 0.0,
            damping: 0.0,
            springlength: None,
            path: Vec::new(),
            line: 0,
        }
    }
}

/// One robot or object, as produced by a loader or a primitive morph.
#[derive(Clone, Debug, Default)]
pub struct EntitySpec {
    /// Entity name.
    pub name: String,
    /// Bodies in topological order.
    pub bodies: Vec<BodySpec>,
    /// Meshes referenced by geoms.
    pub meshes: Vec<Mesh>,
    /// Actuators.
    pub actuators: Vec<ActuatorSpec>,
    /// Body-name pairs excluded from contact.
    pub excludes: Vec<(String, String)>,
    /// Equality constraints.
    pub equalities: Vec<EqualitySpec>,
    /// Named states (MJCF `<keyframe><key>`).
    pub keyframes: Vec<KeyframeSpec>,
    /// Fixed tendons.
    pub tendons: Vec<TendonSpec>,
    /// Options found in the file (MJCF `<option>`), if any.
    pub options: Option<Options>,
    /// Gravity the file sets (MJCF `<option gravity>`), if it does: a parameter, not an option.
    pub gravity: Option<Vec3>,
    /// The medium the file sets (MJCF `<option density viscosity wind>`), if it does: the
    /// scene's (the first entity's that sets one), as parameters.
    pub medium: Option<Medium>,
    /// The simulation settings the file writes, as written (MJCF `<option>` attributes and
    /// `<flag>` ones as `flag.NAME`): what a scene whose own options win reports as not applied
    /// (`mjcf::options_not_applied`).
    pub option_attrs: Vec<(String, String)>,
    /// Things the loader met and could not use, for the user to see.
    pub warnings: Vec<String>,
    /// The file the entity was loaded from: the builder's errors about its bodies, joints,
    /// geoms and actuators start with `file: line N:` (the element's `line`).
    pub source: Option<std::path::PathBuf>,
}

impl EntitySpec {
    /// Give every geom the sliding friction `mu` (Genesis's `material.friction`).
    pub fn set_friction(&mut self, mu: f64) -> crate::Result<()> {
        if !(mu >= 0.0) || !mu.is_finite() {
            return Err(crate::Error::invalid(
                "friction",
                format!("must be finite and >= 0, got {mu}"),
            ));
        }
        for g in self.bodies.iter_mut().flat_map(|b| b.geoms.iter_mut()) {
            g.friction[0] = mu;
        }
        Ok(())
    }

    /// Every geom's collision bitmasks (MuJoCo's `contype`, `conaffinity`; both 0: the entity
    /// collides with nothing).
    pub fn set_collision_masks(&mut self, contype: u32, conaffinity: u32) {
        for g in self.bodies.iter_mut().flat_map(|b| b.geoms.iter_mut()) {
            (g.contype, g.conaffinity) = (contype, conaffinity);
        }
    }

    /// Genesis's `default_armature`: the armature (rotor inertia) of every joint but free ones
    /// whose armature the file leaves at 0. Returns how many joints took it.
    pub fn set_default_armature(&mut self, armature: f64) -> crate::Result<usize> {
        if !(armature >= 0.0) || !armature.is_finite() {
            return Err(crate::Error::invalid(
                "default_armature",
                format!("must be finite and >= 0, got {armature}"),
            ));
        }
        let mut n = 0;
        for j in self.bodies.iter_mut().flat_map(|b| b.joints.iter_mut()) {
            if j.kind != JointType::Free && j.armature == 0.0 {
                j.armature = armature;
                n += 1;
            }
        }
        Ok(n)
    }
}

/// How an entity's base is attached to the world.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BaseMode {
    /// Keep the joints given in the file.
    AsIs,
    /// Give a jointless root body a free joint (floating base).
    Free,
    /// Weld the root to the world, removing a free root joint if present.
    Fixed,
    /// Hang the roots on body `body` (its index among the bodies of entity `entity`, an entity
    /// added before) at their poses in their file, welded (their joints removed): Genesis's
    /// `entity.attach(parent, link)`. The entity's pose is not used.
    Attach {
        /// The parent entity.
        entity: usize,
        /// The body of the parent entity.
        body: usize,
    },
}

/// Concatenates placed entities into one [`Model`].
#[derive(Clone, Debug, Default)]
pub struct ModelBuilder {
    entities: Vec<(EntitySpec, Pose, BaseMode)>,
    /// Options of the model being built.
    pub options: Options,
}

/// A fluid medium (MuJoCo's `<option density viscosity wind>`; [`crate::dynamics::fluid`]).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Medium {
    /// Density (kg/m^3).
    pub density: f64,
    /// Viscosity (Pa s).
    pub viscosity: f64,
    /// Velocity of the medium (m/s, world frame).
    pub wind: Vec3,
}

impl ModelBuilder {
    /// Empty builder with default options.
    pub fn new() -> Self {
        Self::default()
    }

    /// The medium of the scene: the first placed entity's that sets one.
    pub fn medium(&self) -> Option<Medium> {
        self.entities.iter().find_map(|e| e.0.medium)
    }

    /// A warning when `spec` sets a medium other than the scene's (which wins).
    pub fn medium_conflict(&self, spec: &EntitySpec) -> Option<String> {
        match (self.medium(), spec.medium) {
            (Some(scene), Some(own)) if scene != own => Some(format!(
                "entity '{}': <option density='{}' viscosity='{}' wind='{} {} {}'> differs from the scene's medium (density {}, viscosity {}, wind {} {} {}), set by an entity placed before it: the scene's applies",
                spec.name, own.density, own.viscosity, own.wind.x, own.wind.y, own.wind.z,
                scene.density, scene.viscosity, scene.wind.x, scene.wind.y, scene.wind.z
            )),
            _ => None,
        }
    }

    /// Place an entity with its root frame at `pose` in the world; returns its index.
    pub fn add_entity(&mut self, spec: EntitySpec, pose: Pose, base: BaseMode) -> usize {
        self.entities.push((spec, pose, base));
        self.entities.len() - 1
    }

    /// Attach entity `child` to body `body` of entity `parent` ([`BaseMode::Attach`]); an error
    /// unless both exist, `parent` was added before `child`, and `body` is one of its bodies.
    pub fn attach(&mut self, child: usize, parent: usize, body: usize) -> Result<()> {
        let n = self.entities.len();
        if child >= n || parent >= child {
            return Err(Error::invalid(
                "attach",
                format!("entity {child} cannot hang on entity {parent}: the parent must be added before the child"),
            ));
        }
        if body >= self.entities[parent].0.bodies.len() {
            return Err(Error::invalid(
                "attach",
                format!("entity {parent} has no body {body}"),
            ));
        }
        self.entities[child].2 = BaseMode::Attach {
            entity: parent,
            body,
        };
        Ok(())
    }

    /// Assemble the model.
    pub fn build(&self) -> Result<Model> {
        let opt = self.options.clone();
        if !(opt.timestep > 0.0) || !opt.timestep.is_finite() {
            return Err(Error::invalid(
                "options.timestep",
                format!("must be positive, got {}", opt.timestep),
            ));
        }
        if opt.substeps == 0 {
            return Err(Error::invalid("options.substeps", "must be at least 1"));
        }
        let mut m = empty_model(opt);
        for (ei, (spec, pose, base)) in self.entities.iter().enumerate() {
            add_entity_to_model(&mut m, ei, spec, pose, *base)?;
        }
        finish(&mut m).map_err(|b| {
            let e = m.body_entity[b];
            let spec = &self.entities[e].0;
            let line = spec.bodies[b - m.entity_body_adr[e]].line;
            Error::invalid(
                format!(
                    "{}entity '{}', body '{}'",
                    crate::error::location(spec.source.as_deref(), line),
                    m.entity_name[e],
                    m.body_name[b]
                ),
                "mass matrix is singular: a moving body (or its subtree) has no mass or inertia",
            )
        })?;
        if let Some(md) = self.medium() {
            m.params0.fluid_density = md.density;
            m.params0.fluid_viscosity = md.viscosity;
            m.params0.wind = md.wind;
        }
        // the checks above name the file and element; whatever they let through, the parameter
        // setters would refuse is refused here too, so a loaded value can always be set again
        let mut values = Vec::new();
        for f in &super::params::PARAM_FIELDS {
            values.clear();
            f.read(&m.params0, &mut values);
            f.check(&values)?;
        }
        Ok(m)
    }
}

/// The final channel of every actuator: a tendon actuator's is `nv + tendon`, known once every
/// entity's dofs are in (until then it is held as `usize::MAX - tendon`).
fn finish_channels(m: &mut Model) {
    let nv = m.nv;
    m.ctrl_target_range = vec![[[f64::NEG_INFINITY, f64::INFINITY]; 3]; m.nu()];
    for a in &mut m.actuators {
        if a.dof > usize::MAX / 2 {
            a.dof = nv + (usize::MAX - a.dof);
        }
        // several actuators on one channel: the targets all of them allow (an empty
        // intersection keeps the last actuator's range, as it keeps its gains)
        let r = &mut m.ctrl_target_range[a.dof][a.mode.code() as usize];
        let both = [r[0].max(a.target_range[0]), r[1].min(a.target_range[1])];
        *r = if both[0] <= both[1] {
            both
        } else {
            a.target_range
        };
    }
    // the activations: one per channel an actuator with dynamics drives (the last such
    // actuator's, as a channel keeps the last actuator's gains), in channel order
    m.ch_act = vec![None; m.nu()];
    let mut last: Vec<Option<&ActuatorInfo>> = vec![None; m.nu()];
    for a in &m.actuators {
        if a.dynamics.is_some() {
            last[a.dof] = Some(a);
        }
    }
    m.activations.clear();
    for (ch, a) in last.iter().enumerate() {
        let Some(a) = a else { continue };
        let Some(dynamics) = a.dynamics else { continue };
        m.ch_act[ch] = Some(m.activations.len());
        m.activations.push(Activation {
            channel: ch,
            dynamics,
            range: a.act_range.unwrap_or([f64::NEG_INFINITY, f64::INFINITY]),
            early: a.act_early,
        });
    }
}

/// A control range `[lo, hi]` (the file's units) as the range of the channel target
/// `target_per_ctrl * ctrl`; unlimited when the scale is not finite and non-zero.
fn target_range([lo, hi]: [f64; 2], target_per_ctrl: f64) -> [f64; 2] {
    let s = target_per_ctrl;
    if !(s.is_finite() && s != 0.0 && lo <= hi) {
        return [f64::NEG_INFINITY, f64::INFINITY];
    }
    // an infinite bound stays infinite (s is finite and non-zero), its sign turned with s's
    let (a, b) = (s * lo, s * hi);
    [a.min(b), a.max(b)]
}

/// Whether MuJoCo's compiler gives body `b` the identity as inertial rotation (`body_iquat`):
/// a frame the loader knows (a single geom's, an `<inertial>`'s) that is the identity, or an
/// inertia already diagonal with its moments in MuJoCo's decreasing order (its eigenvector
/// sort leaves it unturned).
fn inertial_frame_is_body_frame(b: &BodySpec) -> bool {
    const EPS: f64 = 1e-14;
    match b.inertia_frame {
        Some(q) => (q.w - 1.0).abs() <= EPS && q.imag().norm() <= EPS,
        None => {
            let i = &b.inertia;
            let off = i[(0, 1)].abs() + i[(0, 2)].abs() + i[(1, 2)].abs();
            off == 0.0 && i[(0, 0)] >= i[(1, 1)] && i[(1, 1)] >= i[(2, 2)]
        }
    }
}

/// A rotation whose columns are principal axes of the symmetric `inertia` (the identity for an
/// inertia already diagonal in its axes, or zero).
fn principal_axes(inertia: &Mat3) -> Mat3 {
    let off = inertia[(0, 1)].abs() + inertia[(0, 2)].abs() + inertia[(1, 2)].abs();
    if off == 0.0 {
        return Mat3::identity();
    }
    let mut r = nalgebra::SymmetricEigen::new(*inertia).eigenvectors;
    if r.determinant() < 0.0 {
        r.column_mut(2).neg_mut();
    }
    r
}

fn empty_model(opt: Options) -> Model {
    Model {
        opt,
        params0: Params {
            gravity: Vec3::new(0.0, 0.0, -9.81),
            body_mass: vec![0.0],
            body_ipos: vec![Vec3::zeros()],
            body_inertia: vec![Mat3::zeros()],
            dof_damping: vec![],
            dof_armature: vec![],
            dof_kp: vec![],
            dof_kv: vec![],
            dof_force_range: vec![],
            dof_stiffness: vec![],
            geom_friction: vec![],
            dof_frictionloss: vec![],
            tendon_stiffness: vec![],
            tendon_damping: vec![],
            tendon_frictionloss: vec![],
            tendon_lengthspring: vec![],
            tendon_kp: vec![],
            tendon_kv: vec![],
            tendon_force_range: vec![],
            eq_solref: vec![],
            eq_polycoef: vec![],
            fluid_density: 0.0,
            fluid_viscosity: 0.0,
            wind: Vec3::zeros(),
            mocap_pos: vec![],
            mocap_quat: vec![],
            body_xfrc: vec![[0.0; 6]],
        },
        nq: 0,
        nv: 0,
        nbody: 1,
        njnt: 0,
        ngeom: 0,
        body_name: vec!["world".into()],
        body_parent: vec![0],
        body_root: vec![0],
        body_weld: vec![0],
        body_mocap: vec![usize::MAX],
        body_entity: vec![usize::MAX],
        body_fluid_frame: vec![Mat3::identity()],
        body_iframe_identity: vec![true],
        body_fused: vec![false],
        body_pos: vec![Vec3::zeros()],
        body_quat: vec![Quat::identity()],
        body_jnt_adr: vec![0],
        body_jnt_num: vec![0],
        body_dof_adr: vec![0],
        body_dof_num: vec![0],
        body_geom_adr: vec![0],
        body_geom_num: vec![0],
        jnt_name: vec![],
        jnt_type: vec![],
        jnt_body: vec![],
        jnt_qpos_adr: vec![],
        jnt_dof_adr: vec![],
        jnt_pos: vec![],
        jnt_axis: vec![],
        jnt_limited: vec![],
        jnt_range: vec![],
        jnt_qpos_spring: vec![],
        jnt_solref: vec![],
        jnt_solimp: vec![],
        jnt_margin: vec![],
        jnt_solref_fri: vec![],
        jnt_solimp_fri: vec![],
        dof_body: vec![],
        dof_jnt: vec![],
        dof_parent: vec![],
        dof_m_adr: vec![],
        dof_m_col: vec![],
        qpos0: vec![],
        geom_name: vec![],
        geom_type: vec![],
        geom_body: vec![],
        geom_pos: vec![],
        geom_quat: vec![],
        geom_size: vec![],
        geom_mesh: vec![],
        geom_contype: vec![],
        geom_conaffinity: vec![],
        geom_condim: vec![],
        geom_solref: vec![],
        geom_solimp: vec![],
        geom_margin: vec![],
        geom_gap: vec![],
        geom_priority: vec![],
        geom_solmix: vec![],
        geom_rgba: vec![],
        geom_visual: vec![],
        geom_rbound: vec![],
        body_invweight0: vec![[0.0, 0.0]],
        dof_invweight0: vec![],
        stat_meaninertia: 1.0,
        geom_aabb: vec![],
        collision_pairs: vec![],
        collision_pairs_unbounded: vec![],
        meshes: vec![],
        actuators: vec![],
        ctrl_target_range: vec![],
        activations: vec![],
        ch_act: vec![],
        exclude_pairs: vec![],
        free_gyro: vec![],
        equalities: vec![],
        tendons: vec![],
        keyframes: vec![],
        entity_name: vec![],
        entity_body_adr: vec![],
        entity_body_num: vec![],
        entity_jnt_adr: vec![],
        entity_jnt_num: vec![],
        entity_dof_adr: vec![],
        entity_dof_num: vec![],
        entity_qpos_adr: vec![],
        entity_qpos_num: vec![],
        entity_geom_adr: vec![],
        entity_geom_num: vec![],
        site_name: vec![],
        site_body: vec![],
        site_pos: vec![],
        site_quat: vec![],
        entity_site_adr: vec![],
        entity_site_num: vec![],
    }
}

/// A solref must be all standard (time constant, damping ratio > 0) or all direct (stiffness,
/// damping <= 0): MuJoCo replaces a mixed one by the default with a warning; kinegrad refuses it
/// naming the element (its gains would be infinite or of the wrong sign).
fn check_solref(what: &str, name: &str, s: [f64; 2]) -> Result<()> {
    if (s[0] > 0.0) != (s[1] > 0.0) {
        return Err(Error::invalid(
            what,
            format!(
                "{name} [{}, {}] mixes the standard (both > 0) and direct (both <= 0) formats",
                s[0], s[1]
            ),
        ));
    }
    Ok(())
}

fn check_finite(what: &str, vals: &[f64]) -> Result<()> {
    if vals.iter().all(|x| x.is_finite()) {
        Ok(())
    } else {
        Err(Error::invalid(what, "contains a non-finite value"))
    }
}

fn add_entity_to_model(
    m: &mut Model,
    ei: usize,
    spec: &EntitySpec,
    pose: &Pose,
    base: BaseMode,
) -> Result<()> {
    let ename = if spec.name.is_empty() {
        format!("entity{ei}")
    } else {
        spec.name.clone()
    };
    if spec.bodies.is_empty() {
        return Err(Error::invalid(
            format!(
                "{}entity '{ename}'",
                crate::error::location(spec.source.as_deref(), 0)
            ),
            "has no bodies",
        ));
    }
    let body0 = m.nbody;
    let jnt0 = m.njnt;
    let dof0 = m.nv;
    let q0 = m.nq;
    let geom0 = m.ngeom;
    let mesh0 = m.meshes.len();
    let site0 = m.site_name.len();
    m.meshes.extend(spec.meshes.iter().cloned());
    let entity_quat = Quat::from_matrix(&pose.rot);

    // last dof on the path from each entity body to the world (usize::MAX: welded to it)
    let mut last_dof: Vec<usize> = Vec::with_capacity(spec.bodies.len());
    for (bi, b) in spec.bodies.iter().enumerate() {
        let bid = m.nbody;
        let loc = |line: u32| crate::error::location(spec.source.as_deref(), line);
        let where_ = format!("{}entity '{ename}', body '{}'", loc(b.line), b.name);
        let where_nl = format!("entity '{ename}', body '{}'", b.name);
        for s in &b.sites {
            let q = s.quat.coords;
            check_finite(
                &format!("{where_}, site '{}'", s.name),
                &[s.pos.x, s.pos.y, s.pos.z, q.x, q.y, q.z, q.w],
            )?;
            m.site_name.push(s.name.clone());
            m.site_body.push(bid);
            m.site_pos.push(s.pos);
            m.site_quat.push(s.quat);
        }
        let parent = match (b.parent, base) {
            (Some(p), _) if p < bi => body0 + p,
            (Some(p), _) => {
                return Err(Error::invalid(
                    where_,
                    format!(
                    "parent index {p} is not before the body (bodies must be in topological order)"
                ),
                ))
            }
            (None, BaseMode::Attach { entity, body }) => {
                if entity >= ei || body >= m.entity_body_num[entity] {
                    return Err(Error::invalid(
                        where_,
                        format!("attached to body {body} of entity {entity}, which is not a body of an entity added before"),
                    ));
                }
                m.entity_body_adr[entity] + body
            }
            (None, _) => 0,
        };
        let attached = b.parent.is_none() && parent != 0;
        check_finite(
            &where_,
            &[
                b.mass, b.pos.x, b.pos.y, b.pos.z, b.ipos.x, b.ipos.y, b.ipos.z,
            ],
        )?;
        check_finite(&where_, b.inertia.as_slice())?;
        if b.mass < 0.0 {
            return Err(Error::invalid(where_, format!("negative mass {}", b.mass)));
        }
        // what the parameter setters refuse, the builder refuses too
        super::inertia::principal_moments(&b.inertia).map_err(|e| Error::invalid(&where_, e))?;
        // roots are placed by the entity pose
        let (pos, quat) = if parent == 0 {
            (pose.apply(&b.pos), entity_quat * b.quat)
        } else {
            (b.pos, b.quat)
        };
        let mut joints: Vec<JointSpec> = b.joints.clone();
        if parent == 0 {
            match base {
                BaseMode::AsIs => {}
                BaseMode::Free => {
                    // (a mocap body moves by its parameters, never by a joint)
                    if joints.is_empty() && !b.mocap {
                        joints.push(JointSpec::new(format!("{}_root", b.name), JointType::Free));
                    }
                }
                BaseMode::Fixed => joints.retain(|j| j.kind != JointType::Free),
                BaseMode::Attach { .. } => {}
            }
        }
        if attached {
            joints.clear(); // welded to its new parent
        }
        m.body_name.push(b.name.clone());
        m.body_parent.push(parent);
        m.body_root.push(if parent == 0 {
            bid
        } else {
            m.body_root[parent]
        });
        // a mocap body roots a weld group of its own (MuJoCo's `body_weldid`), static as the
        // world's: [`Model::body_static`]
        m.body_weld.push(if joints.is_empty() && !b.mocap {
            m.body_weld[parent]
        } else {
            bid
        });
        if b.mocap {
            if parent != 0 || !joints.is_empty() {
                return Err(Error::invalid(
                    where_,
                    "a mocap body must be a child of the world without joints",
                ));
            }
            m.body_mocap.push(m.params0.mocap_pos.len());
            m.params0.mocap_pos.push(pos);
            m.params0.mocap_quat.push([quat.w, quat.i, quat.j, quat.k]);
        } else {
            m.body_mocap.push(usize::MAX);
        }
        m.body_entity.push(ei);
        m.body_pos.push(pos);
        m.body_quat.push(quat);
        m.params0.body_mass.push(b.mass);
        m.params0.body_xfrc.push([0.0; 6]);
        m.params0.body_ipos.push(b.ipos);
        m.params0.body_inertia.push(b.inertia);
        m.body_fluid_frame.push(match b.inertia_frame {
            Some(q) => *q.to_rotation_matrix().matrix(),
            None => principal_axes(&b.inertia),
        });
        m.body_iframe_identity.push(inertial_frame_is_body_frame(b));
        m.body_fused
            .push(b.fused && joints.is_empty() && parent != 0);
        m.body_jnt_adr.push(m.njnt);
        m.body_jnt_num.push(joints.len());
        m.body_dof_adr.push(m.nv);
        m.body_geom_adr.push(m.ngeom);
        m.body_geom_num.push(b.geoms.len());

        // previous dof on the path to the root (the parent's last moving dof, kept per body)
        let mut prev_dof = match b.parent {
            Some(p) if parent != 0 => last_dof[p],
            // an attached root: the last dof on its new parent's path
            None if parent != 0 => {
                let mut a = parent;
                while a != 0 && m.body_dof_num[a] == 0 {
                    a = m.body_parent[a];
                }
                if a == 0 {
                    usize::MAX
                } else {
                    m.body_dof_adr[a] + m.body_dof_num[a] - 1
                }
            }
            _ => usize::MAX,
        };
        // the motion subspaces of a ball joint are the body's final axes (as in MuJoCo), which is
        // only consistent when no rotation follows it in the same body
        if let Some(k) = joints.iter().position(|j| j.kind == JointType::Ball) {
            if let Some(j) = joints[k + 1..]
                .iter()
                .find(|j| matches!(j.kind, JointType::Hinge | JointType::Ball))
            {
                return Err(Error::unsupported(
                    format!("{}{where_nl}, joint '{}'", loc(j.line), j.name),
                    format!("a rotating joint after the ball joint '{}' in the same body (put it in a child body)", joints[k].name),
                ));
            }
        }
        let mut ndof_body = 0;
        for j in &joints {
            let jw = format!("{}{where_nl}, joint '{}'", loc(j.line), j.name);
            check_finite(
                &jw,
                &[
                    j.pos.x,
                    j.pos.y,
                    j.pos.z,
                    j.damping,
                    j.armature,
                    j.stiffness,
                    j.reference,
                    j.kp,
                    j.kv,
                ],
            )?;
            for (what, v) in [
                ("damping", j.damping),
                ("armature", j.armature),
                ("stiffness", j.stiffness),
                ("kp", j.kp),
                ("kv", j.kv),
                ("frictionloss", j.frictionloss),
            ] {
                if v < 0.0 {
                    return Err(Error::invalid(&jw, format!("negative {what} {v}")));
                }
            }
            if j.kind == JointType::Free && parent != 0 {
                return Err(Error::invalid(
                    jw,
                    "a free joint is only allowed on a body whose parent is the world",
                ));
            }
            let axis = if j.kind.has_axis() {
                let n = j.axis.norm();
                if !(n > 1e-12) || !n.is_finite() {
                    return Err(Error::invalid(jw, "axis has zero length"));
                }
                j.axis / n
            } else {
                j.axis
            };
            if let Some(r) = j.range {
                if !(r[0] <= r[1]) {
                    return Err(Error::invalid(
                        jw,
                        format!("range [{}, {}] is empty", r[0], r[1]),
                    ));
                }
            }
            if !(j.force_range[0] <= j.force_range[1]) {
                return Err(Error::invalid(
                    jw,
                    format!(
                        "force range [{}, {}] is empty",
                        j.force_range[0], j.force_range[1]
                    ),
                ));
            }
            m.jnt_name.push(j.name.clone());
            m.jnt_type.push(j.kind);
            m.jnt_body.push(bid);
            m.jnt_qpos_adr.push(m.nq);
            m.jnt_dof_adr.push(m.nv);
            m.jnt_pos.push(j.pos);
            m.jnt_axis.push(axis);
            m.jnt_limited
                .push(j.range.is_some() && j.kind.range_unit().is_some());
            m.jnt_range
                .push(j.range.unwrap_or([f64::NEG_INFINITY, f64::INFINITY]));
            m.jnt_qpos_spring.push(j.springref);
            check_solref(&jw, "solreflimit", j.solref)?;
            check_solref(&jw, "solreffriction", j.solref_fri)?;
            m.jnt_solref.push(j.solref);
            m.jnt_solimp.push(j.solimp);
            m.jnt_margin.push(j.margin);
            m.jnt_solref_fri.push(j.solref_fri);
            m.jnt_solimp_fri.push(j.solimp_fri);
            j.kind.default_qpos(&pos, &quat, j.reference, &mut m.qpos0);
            for _ in 0..j.kind.nv() {
                m.dof_body.push(bid);
                m.dof_jnt.push(m.njnt);
                m.dof_parent.push(prev_dof);
                prev_dof = m.nv;
                m.params0.dof_damping.push(j.damping);
                m.params0.dof_armature.push(j.armature);
                m.params0.dof_kp.push(j.kp);
                m.params0.dof_kv.push(j.kv);
                m.params0.dof_force_range.push(j.force_range);
                m.params0.dof_frictionloss.push(j.frictionloss);
                m.params0
                    .dof_stiffness
                    .push(if j.kind.is_scalar() { j.stiffness } else { 0.0 });
                m.nv += 1;
                ndof_body += 1;
            }
            m.nq += j.kind.nq();
            m.njnt += 1;
        }
        m.body_dof_num.push(ndof_body);
        last_dof.push(prev_dof);
        m.nbody += 1;

        for g in &b.geoms {
            let gw = format!("{}{where_nl}, geom '{}'", loc(g.line), g.name);
            check_finite(
                &gw,
                &[g.size.x, g.size.y, g.size.z, g.pos.x, g.pos.y, g.pos.z],
            )?;
            if !g.friction.iter().all(|&f| f >= 0.0 && f.is_finite()) {
                return Err(Error::invalid(
                    &gw,
                    format!("friction {:?} must be finite and >= 0", g.friction),
                ));
            }
            let mesh = match (g.kind, g.mesh) {
                (GeomType::Mesh, Some(k)) if k < spec.meshes.len() => Some(mesh0 + k),
                (GeomType::Mesh, _) => {
                    return Err(Error::invalid(gw, "mesh geom without a valid mesh"))
                }
                _ => None,
            };
            let needs_size = match g.kind {
                GeomType::Sphere => g.size.x > 0.0,
                GeomType::Capsule | GeomType::Cylinder => g.size.x > 0.0 && g.size.y >= 0.0,
                GeomType::Box | GeomType::Ellipsoid => {
                    g.size.x > 0.0 && g.size.y > 0.0 && g.size.z > 0.0
                }
                GeomType::Plane | GeomType::Mesh => true,
            };
            if !needs_size {
                return Err(Error::invalid(
                    gw,
                    format!(
                        "invalid size {:?} for a {:?}",
                        [g.size.x, g.size.y, g.size.z],
                        g.kind
                    ),
                ));
            }
            let (contype, conaffinity) = if g.visual {
                (0, 0)
            } else {
                (g.contype, g.conaffinity)
            };
            m.geom_name.push(g.name.clone());
            m.geom_type.push(g.kind);
            m.geom_body.push(bid);
            m.geom_pos.push(g.pos);
            m.geom_quat.push(g.quat);
            m.geom_size.push(g.size);
            m.geom_mesh.push(mesh);
            m.geom_contype.push(contype);
            m.geom_conaffinity.push(conaffinity);
            m.geom_condim.push(g.condim);
            check_solref(&gw, "solref", g.solref)?;
            m.geom_solref.push(g.solref);
            m.geom_solimp.push(g.solimp);
            if !(g.margin >= 0.0 && g.gap >= 0.0 && g.margin.is_finite() && g.gap.is_finite()) {
                return Err(Error::invalid(
                    &gw,
                    format!(
                        "margin {} and gap {} must be finite and >= 0",
                        g.margin, g.gap
                    ),
                ));
            }
            m.geom_margin.push(g.margin);
            m.geom_gap.push(g.gap);
            check_finite(&gw, &[g.solmix])?;
            m.geom_priority.push(g.priority);
            m.geom_solmix.push(g.solmix.max(0.0));
            m.geom_rgba.push(g.rgba);
            m.geom_visual.push(g.visual);
            let rbound = match g.kind {
                GeomType::Plane => f64::INFINITY,
                GeomType::Sphere => g.size.x,
                GeomType::Capsule => g.size.x + g.size.y,
                GeomType::Box => g.size.norm(),
                GeomType::Cylinder => (g.size.x * g.size.x + g.size.y * g.size.y).sqrt(),
                GeomType::Ellipsoid => g.size.max(),
                // a geom that can collide needs its mesh's hull (computed here once per mesh);
                // a drawn-only mesh is not hulled: its farthest vertex is the hull's
                GeomType::Mesh => {
                    let mk = &m.meshes[mesh.unwrap()];
                    let v = if contype != 0 || conaffinity != 0 {
                        &mk.hull()
                            .map_err(|e| Error::invalid(&gw, e.to_string()))?
                            .vertices
                    } else {
                        &mk.vertices
                    };
                    v.iter().map(|v| v.norm()).fold(0.0, f64::max)
                }
            };
            m.geom_rbound.push(rbound);
            m.params0.geom_friction.push(g.friction);
            m.ngeom += 1;
        }
    }

    // name lookups (the first of equal names, as a linear search would find)
    let mut jnt_by_name: std::collections::HashMap<&str, usize> = Default::default();
    for j in jnt0..m.njnt {
        jnt_by_name.entry(m.jnt_name[j].as_str()).or_insert(j);
    }
    let mut body_by_name: std::collections::HashMap<&str, usize> = Default::default();
    for b in body0..m.nbody {
        body_by_name.entry(m.body_name[b].as_str()).or_insert(b);
    }
    let mut actuators = Vec::with_capacity(spec.actuators.len());
    let mut tendon_by_name: std::collections::HashMap<&str, usize> = Default::default();
    for t in &spec.tendons {
        let tw = format!(
            "{}entity '{ename}', tendon '{}'",
            crate::error::location(spec.source.as_deref(), t.line),
            t.name
        );
        let mut vals = vec![t.margin, t.frictionloss, t.stiffness, t.damping];
        vals.extend(t.solref_lim);
        vals.extend(t.solimp_lim);
        vals.extend(t.solref_fri);
        vals.extend(t.solimp_fri);
        vals.extend(t.range.iter().flatten());
        vals.extend(t.springlength.iter().flatten());
        check_finite(&tw, &vals)?;
        check_solref(&tw, "solreflimit", t.solref_lim)?;
        check_solref(&tw, "solreffriction", t.solref_fri)?;
        for (what, v) in [
            ("frictionloss", t.frictionloss),
            ("stiffness", t.stiffness),
            ("damping", t.damping),
        ] {
            if v < 0.0 {
                return Err(Error::invalid(&tw, format!("negative {what} {v}")));
            }
        }
        if let Some(r) = t.range {
            if !(r[0] <= r[1]) {
                return Err(Error::invalid(
                    &tw,
                    format!("range [{}, {}] is empty", r[0], r[1]),
                ));
            }
        }
        if !t.path.is_empty() {
            let ten = spatial_tendon(m, t, &tw, (site0, geom0))?;
            tendon_by_name
                .entry(t.name.as_str())
                .or_insert(m.tendons.len());
            let length0 = ten.length0;
            m.tendons.push(ten);
            push_tendon_params(&mut m.params0, t, length0);
            continue;
        }
        if t.joints.is_empty() {
            return Err(Error::invalid(
                &tw,
                "a fixed tendon needs at least one joint",
            ));
        }
        let mut terms = Vec::with_capacity(t.joints.len());
        let mut jac: Vec<(usize, f64)> = Vec::with_capacity(t.joints.len());
        for (jn, c) in &t.joints {
            let j = *jnt_by_name
                .get(jn.as_str())
                .ok_or_else(|| Error::invalid(&tw, format!("unknown joint '{jn}'")))?;
            if !m.jnt_type[j].is_scalar() {
                return Err(Error::invalid(
                    &tw,
                    format!("joint '{jn}' is not a hinge or slide joint"),
                ));
            }
            check_finite(&tw, &[*c])?;
            terms.push((m.jnt_qpos_adr[j], *c));
            jac.push((m.jnt_dof_adr[j], *c));
        }
        jac.sort_unstable_by_key(|x| x.0);
        let mut merged: Vec<(usize, f64)> = Vec::with_capacity(jac.len());
        for (d, c) in jac {
            match merged.last_mut() {
                Some(last) if last.0 == d => last.1 += c,
                _ => merged.push((d, c)),
            }
        }
        let length0 = terms.iter().map(|&(a, c)| c * m.qpos0[a]).sum();
        tendon_by_name
            .entry(t.name.as_str())
            .or_insert(m.tendons.len());
        m.tendons.push(Tendon {
            terms,
            jac: merged,
            length0,
            ..tendon_of(t)
        });
        push_tendon_params(&mut m.params0, t, length0);
    }
    for a in &spec.actuators {
        let aw = format!(
            "{}entity '{ename}', actuator '{}'",
            crate::error::location(spec.source.as_deref(), 0),
            a.name
        );
        // the control channel: the joint's dof, or nv + the tendon's index (resolved once every
        // joint is: a tendon channel's number moves with nv)
        let dof = if a.tendon {
            let t = *tendon_by_name
                .get(a.joint.as_str())
                .ok_or_else(|| Error::invalid(&aw, format!("tendon '{}' not found", a.joint)))?;
            usize::MAX - t
        } else {
            let jid = *jnt_by_name
                .get(a.joint.as_str())
                .ok_or_else(|| Error::invalid(&aw, format!("joint '{}' not found", a.joint)))?;
            if !m.jnt_type[jid].is_scalar() {
                return Err(Error::unsupported(&aw, "actuators on ball or free joints"));
            }
            m.jnt_dof_adr[jid]
        };
        // (kp, kv, force range) of the channel
        let (kp, kv, fr) = if a.tendon {
            let t = usize::MAX - dof;
            (
                &mut m.params0.tendon_kp[t],
                &mut m.params0.tendon_kv[t],
                &mut m.params0.tendon_force_range[t],
            )
        } else {
            (
                &mut m.params0.dof_kp[dof],
                &mut m.params0.dof_kv[dof],
                &mut m.params0.dof_force_range[dof],
            )
        };
        let g2 = a.gear * a.gear;
        match a.mode {
            CtrlMode::Position => {
                *kp = a.kp * g2;
                *kv = a.kv * g2;
            }
            CtrlMode::Velocity => *kv = a.kv * g2,
            CtrlMode::Force => {}
        }
        // the actuator's force range, mapped to joint torque, intersected with the joint's
        let [lo, hi] = a.force_range;
        if !(lo <= hi) {
            return Err(Error::invalid(
                &aw,
                format!("forcerange [{lo}, {hi}] is empty"),
            ));
        }
        let (glo, ghi) = if a.gear >= 0.0 {
            (a.gear * lo, a.gear * hi)
        } else {
            (a.gear * hi, a.gear * lo)
        };
        let (glo, ghi) = (
            if glo.is_nan() { f64::NEG_INFINITY } else { glo },
            if ghi.is_nan() { f64::INFINITY } else { ghi },
        );
        let cur = *fr;
        let range = [cur[0].max(glo), cur[1].min(ghi)];
        if !(range[0] <= range[1]) {
            return Err(Error::invalid(
                &aw,
                format!(
                    "forcerange [{glo}, {ghi}] (joint torque) does not overlap joint '{}''s force range [{}, {}]",
                    a.joint, cur[0], cur[1]
                ),
            ));
        }
        *fr = range;
        actuators.push(ActuatorInfo {
            name: a.name.clone(),
            dof,
            mode: a.mode,
            gear: a.gear,
            ctrl_range: a.ctrl_range,
            target_range: target_range(a.ctrl_range, a.target_per_ctrl),
            kp: a.kp,
            dampratio: if a.mode == CtrlMode::Position {
                a.dampratio
            } else {
                0.0
            },
            dynamics: a.dynamics,
            // the activation is in the channel's target units, as its range
            act_range: a.act_range.map(|r| target_range(r, a.target_per_ctrl)),
            act_early: a.act_early,
        });
    }

    let mut excludes = Vec::with_capacity(spec.excludes.len());
    for (n1, n2) in &spec.excludes {
        let find = |n: &str| body_by_name.get(n).copied();
        let (b1, b2) = match (find(n1), find(n2)) {
            (Some(a), Some(b)) => (a, b),
            _ => {
                return Err(Error::invalid(
                    format!(
                        "{}entity '{ename}', exclude",
                        crate::error::location(spec.source.as_deref(), 0)
                    ),
                    format!("unknown body in pair ('{n1}', '{n2}')"),
                ))
            }
        };
        excludes.push((b1.min(b2), b1.max(b2)));
    }
    for e in &spec.equalities {
        let ew = format!(
            "{}entity '{ename}', equality '{}'",
            crate::error::location(spec.source.as_deref(), e.line),
            e.name
        );
        let body = |n: &str| {
            if n.is_empty() || n == "world" {
                Ok(0)
            } else {
                body_by_name
                    .get(n)
                    .copied()
                    .ok_or_else(|| Error::invalid(&ew, format!("unknown body '{n}'")))
            }
        };
        let joint = |n: &str| -> Result<usize> {
            let j = jnt_by_name
                .get(n)
                .copied()
                .ok_or_else(|| Error::invalid(&ew, format!("unknown joint '{n}'")))?;
            if !m.jnt_type[j].is_scalar() {
                return Err(Error::invalid(
                    &ew,
                    format!("joint '{n}' is not a hinge or slide joint"),
                ));
            }
            Ok(j)
        };
        let tendon = |n: &str| -> Result<usize> {
            let t = tendon_by_name
                .get(n)
                .copied()
                .ok_or_else(|| Error::invalid(&ew, format!("unknown tendon '{n}'")))?;
            if m.tendons[t].is_spatial() {
                return Err(Error::invalid(
                    &ew,
                    format!(
                        "an equality on spatial tendon '{n}' is unsupported (fixed tendons only)"
                    ),
                ));
            }
            Ok(t)
        };
        let obj = match e.kind {
            EqType::Connect | EqType::Weld => [body(&e.obj[0])?, body(&e.obj[1])?],
            EqType::Tendon => [
                tendon(&e.obj[0])?,
                if e.obj[1].is_empty() {
                    usize::MAX
                } else {
                    tendon(&e.obj[1])?
                },
            ],
            EqType::Joint => [
                joint(&e.obj[0])?,
                if e.obj[1].is_empty() {
                    usize::MAX
                } else {
                    joint(&e.obj[1])?
                },
            ],
        };
        if matches!(e.kind, EqType::Connect | EqType::Weld) && obj[0] == obj[1] {
            return Err(Error::invalid(&ew, "both sides are the same body"));
        }
        if e.kind == EqType::Connect && e.anchor[0].is_none() {
            return Err(Error::invalid(&ew, "a connect constraint needs an anchor"));
        }
        let mut vals = e.polycoef.to_vec();
        vals.extend(e.solref);
        vals.extend(e.solimp);
        vals.push(e.torquescale);
        for a in e.anchor.iter().flatten() {
            vals.extend(a.iter());
        }
        for q in e.frame.iter().flatten() {
            vals.extend(q.coords.iter());
        }
        check_finite(&ew, &vals)?;
        check_solref(&ew, "solref", e.solref)?;
        if matches!(e.kind, EqType::Joint | EqType::Tendon) && obj[0] == obj[1] {
            return Err(Error::invalid(
                &ew,
                "both sides are the same joint or tendon",
            ));
        }
        // what is left unsaid holds at the reference configuration (MuJoCo's mj_setConst)
        let (mut anchor, mut frame) = ([Vec3::zeros(); 2], [Quat::identity(); 2]);
        if matches!(e.kind, EqType::Connect | EqType::Weld) {
            let poses = super::compile::body_poses0(m);
            let (x1, q1) = poses[obj[0]];
            let (x2, q2) = poses[obj[1]];
            match e.kind {
                EqType::Connect => {
                    anchor[0] = e.anchor[0].expect("checked above");
                    let p = x1 + q1 * anchor[0];
                    anchor[1] = e.anchor[1].unwrap_or_else(|| q2.inverse() * (p - x2));
                }
                _ => {
                    anchor[1] = e.anchor[1].unwrap_or_else(Vec3::zeros);
                    frame[1] = e.frame[1].unwrap_or_else(Quat::identity);
                    match (e.anchor[0], e.frame[0]) {
                        (Some(a), Some(f)) => (anchor[0], frame[0]) = (a, f),
                        _ => {
                            let p = x2 + q2 * anchor[1];
                            anchor[0] = q1.inverse() * (p - x1);
                            frame[0] = q1.inverse() * q2 * frame[1];
                        }
                    }
                }
            }
        }
        m.equalities.push(Equality {
            name: e.name.clone(),
            kind: e.kind,
            obj,
            anchor,
            frame,
            torquescale: e.torquescale,
            solimp: e.solimp,
            active: e.active,
        });
        m.params0.eq_solref.push(e.solref);
        m.params0.eq_polycoef.push(e.polycoef);
    }
    drop(jnt_by_name);
    drop(body_by_name);
    m.actuators.extend(actuators);
    m.exclude_pairs.extend(excludes);

    m.entity_name.push(ename.clone());
    m.entity_body_adr.push(body0);
    m.entity_body_num.push(m.nbody - body0);
    m.entity_jnt_adr.push(jnt0);
    m.entity_jnt_num.push(m.njnt - jnt0);
    m.entity_dof_adr.push(dof0);
    m.entity_dof_num.push(m.nv - dof0);
    m.entity_qpos_adr.push(q0);
    m.entity_qpos_num.push(m.nq - q0);
    m.entity_geom_adr.push(geom0);
    m.entity_geom_num.push(m.ngeom - geom0);
    m.entity_site_adr.push(site0);
    m.entity_site_num.push(m.site_name.len() - site0);
    // keyframes: sizes checked against the entity's coordinates, the unsaid filled in
    let (nq_e, nv_e) = (m.nq - q0, m.nv - dof0);
    for k in &spec.keyframes {
        let where_ = format!(
            "{}entity '{ename}', keyframe '{}'",
            crate::error::location(spec.source.as_deref(), k.line),
            k.name
        );
        let take = |what: &str, v: &Option<Vec<f64>>, n: usize, dflt: &[f64]| -> Result<Vec<f64>> {
            match v {
                None => Ok(dflt.to_vec()),
                Some(x) if x.len() == n && x.iter().all(|y| y.is_finite()) => Ok(x.clone()),
                Some(x) if x.len() != n => Err(Error::invalid(
                    &where_,
                    format!("{what} has {} numbers, the entity has {n}", x.len()),
                )),
                Some(_) => Err(Error::invalid(&where_, format!("{what} is not finite"))),
            }
        };
        let qpos = take("qpos", &k.qpos, nq_e, &m.qpos0[q0..])?;
        let qvel = take("qvel", &k.qvel, nv_e, &vec![0.0; nv_e])?;
        let ctrl = k.ctrl.clone().unwrap_or_default();
        m.keyframes.push(Keyframe {
            entity: ei,
            name: k.name.clone(),
            qpos,
            qvel,
            ctrl,
        });
    }
    Ok(())
}

/// The compile stage ([`super::compile`]): pair lists and inverse weights; `Err(body)` names a body whose mass matrix pivot vanishes.
fn finish(m: &mut Model) -> std::result::Result<(), usize> {
    finish_channels(m);
    m.exclude_pairs.sort_unstable();
    m.exclude_pairs.dedup();
    super::compile::set_collision_pairs(m);
    super::compile::set_mass_pattern(m);
    m.free_gyro = super::compile::standalone_free_bodies(m);
    super::compile::compute_invweight0(m)?;
    super::compile::set_dampratio_gains(m);
    Ok(())
}

/// The tendon of `t` without its path (no terms, Jacobian or branches) and without what the
/// compile stage sets (length at qpos0, inverse weight, tree pairs).
fn tendon_of(t: &TendonSpec) -> Tendon {
    Tendon {
        name: t.name.clone(),
        terms: Vec::new(),
        jac: Vec::new(),
        limited: t.range.is_some(),
        range: t.range.unwrap_or([f64::NEG_INFINITY, f64::INFINITY]),
        solref_lim: t.solref_lim,
        solimp_lim: t.solimp_lim,
        margin: t.margin,
        solref_fri: t.solref_fri,
        solimp_fri: t.solimp_fri,
        length0: 0.0,
        invweight0: 0.0,
        tree_pairs: Vec::new(),
        spatial: Vec::new(),
    }
}

/// A tendon's parameters (its spring rest lengths default to `length0`, its length at qpos0).
fn push_tendon_params(p: &mut Params, t: &TendonSpec, length0: f64) {
    p.tendon_stiffness.push(t.stiffness);
    p.tendon_damping.push(t.damping);
    p.tendon_frictionloss.push(t.frictionloss);
    p.tendon_lengthspring
        .push(t.springlength.unwrap_or([length0, length0]));
    p.tendon_kp.push(0.0);
    p.tendon_kv.push(0.0);
    p.tendon_force_range
        .push([f64::NEG_INFINITY, f64::INFINITY]);
}

/// The spatial tendon of `t` (its path's sites named among the entity's, from model site
/// `site0`): branches of at least two sites, pulley divisors positive; its length at qpos0 and
/// the dofs its Jacobian can touch.
fn spatial_tendon(
    m: &Model,
    t: &TendonSpec,
    tw: &str,
    (site0, geom0): (usize, usize),
) -> Result<Tendon> {
    let mut branches = vec![SpatialBranch {
        divisor: 1.0,
        sites: Vec::new(),
        wraps: Vec::new(),
    }];
    let site = |name: &str| {
        (site0..m.site_name.len())
            .find(|&s| m.site_name[s] == *name)
            .ok_or_else(|| Error::invalid(tw, format!("unknown site '{name}'")))
    };
    // a geom waiting for the site that ends its segment
    let mut pending: Option<TendonWrap> = None;
    for el in &t.path {
        match el {
            PathElem::Site(name) => {
                let s = site(name)?;
                let b = branches.last_mut().expect("one branch");
                if !b.sites.is_empty() {
                    b.wraps.push(pending.take());
                } else if pending.is_some() {
                    return Err(Error::invalid(tw, "a wrap geom must follow a site"));
                }
                b.sites.push(s);
            }
            PathElem::Geom { name, side } => {
                let g = (geom0..m.ngeom)
                    .find(|&g| m.geom_name[g] == *name)
                    .ok_or_else(|| Error::invalid(tw, format!("unknown geom '{name}'")))?;
                if !matches!(m.geom_type[g], GeomType::Sphere | GeomType::Cylinder) {
                    return Err(Error::invalid(
                        tw,
                        format!("geom '{name}': a tendon wraps around spheres and cylinders only"),
                    ));
                }
                if pending.is_some() || branches.last().is_none_or(|b| b.sites.is_empty()) {
                    return Err(Error::invalid(
                        tw,
                        format!("geom '{name}' must sit between two sites"),
                    ));
                }
                let side = side.as_deref().map(site).transpose()?;
                pending = Some(TendonWrap { geom: g, side });
            }
            PathElem::Pulley(d) => {
                if !(d.is_finite() && *d > 0.0) {
                    return Err(Error::invalid(
                        tw,
                        format!("pulley divisor must be positive, got {d}"),
                    ));
                }
                if pending.is_some() {
                    return Err(Error::invalid(tw, "a wrap geom must be followed by a site"));
                }
                branches.push(SpatialBranch {
                    divisor: *d,
                    sites: Vec::new(),
                    wraps: Vec::new(),
                });
            }
        }
    }
    if pending.is_some() {
        return Err(Error::invalid(tw, "a wrap geom must be followed by a site"));
    }
    if let Some(b) = branches.iter().find(|b| b.sites.len() < 2) {
        return Err(Error::invalid(
            tw,
            format!(
                "each branch of a spatial tendon needs at least two sites, one has {}",
                b.sites.len()
            ),
        ));
    }
    let mut ten = Tendon {
        spatial: branches,
        ..tendon_of(t)
    };
    let dof_last = super::compile::body_dof_last(m);
    ten.jac = super::tendon_path::spatial_dofs(m, &ten, &dof_last);
    let poses = super::compile::body_poses0(m);
    ten.length0 = super::tendon_path::spatial_length(
        m,
        &ten,
        |s| {
            let (p, q) = poses[m.site_body[s]];
            p + q * m.site_pos[s]
        },
        |g| {
            let (p, q) = poses[m.geom_body[g]];
            (
                p + q * m.geom_pos[g],
                *(q * m.geom_quat[g]).to_rotation_matrix().matrix(),
            )
        },
    );
    Ok(ten)
}

//! `SceneBuilder`: options and placed entities; `build` makes a [`Sim`].

use crate::sim::{warn, Sim};
use crate::{guard, to_py_err};
use kinegrad::math::{Pose, Vec3};
use kinegrad::model::builder::BaseMode;
use kinegrad::model::{mjcf, primitives, urdf, EntitySpec, FrictionCone, Integrator, Options};
use kinegrad::{diagnostics, ModelBuilder};
use pyo3::prelude::*;
use std::path::Path;
use std::sync::Arc;

/// Options and placed entities; `build` makes a [`Sim`].
#[pyclass(module = "kinegrad._native")]
pub struct SceneBuilder {
    builder: ModelBuilder,
    gravity: Vec3,
}

/// What a Genesis morph sets on the entity it adds, besides its pose and base.
#[derive(Default)]
struct EntityOptions {
    /// Every geom's sliding friction.
    friction: Option<f64>,
    /// Every geom's (contype, conaffinity).
    masks: Option<(u32, u32)>,
    /// Armature of the joints the file leaves without one.
    default_armature: Option<f64>,
}

impl SceneBuilder {
    /// Place `spec` at (pos, quat) with `opts` applied; (index, loader warnings).
    fn place(
        &mut self,
        spec: kinegrad::Result<EntitySpec>,
        at: ([f64; 3], [f64; 4]),
        base: BaseMode,
        opts: EntityOptions,
    ) -> PyResult<(usize, Vec<String>)> {
        guard(|| {
            let mut spec = spec.map_err(to_py_err)?;
            let pose = Pose::checked(at.0, at.1).map_err(to_py_err)?;
            if let Some(mu) = opts.friction {
                spec.set_friction(mu).map_err(to_py_err)?;
            }
            if let Some((contype, conaffinity)) = opts.masks {
                spec.set_collision_masks(contype, conaffinity);
            }
            if let Some(a) = opts.default_armature {
                spec.set_default_armature(a).map_err(to_py_err)?;
            }
            let mut warnings = spec.warnings.clone();
            warnings.extend(mjcf::options_not_applied(
                &spec,
                &self.builder.options,
                &self.gravity,
            ));
            warnings.extend(self.builder.medium_conflict(&spec));
            if spec.medium.is_some()
                && self.builder.options.integrator == kinegrad::model::Integrator::ImplicitFast
            {
                warnings.push(format!(
                    "entity '{}': its fluid forces (<option density/viscosity>) are integrated explicitly under implicitfast, where MuJoCo also takes their velocity derivative implicitly: the two part; Euler and RK4 integrate them as MuJoCo does",
                    spec.name
                ));
            }
            Ok((self.builder.add_entity(spec, pose, base), warnings))
        })
    }
}

impl SceneBuilder {
    /// Place an MJCF entity (its roots keep the joints the file gives them) with Genesis's
    /// file-morph options.
    fn place_mjcf(
        &mut self,
        spec: kinegrad::Result<EntitySpec>,
        at: ([f64; 3], [f64; 4]),
        friction: Option<f64>,
        collision: bool,
        default_armature: Option<f64>,
    ) -> PyResult<(usize, Vec<String>)> {
        let opts = EntityOptions {
            friction,
            masks: masks(collision, None, None),
            default_armature,
        };
        self.place(spec, at, BaseMode::AsIs, opts)
    }
}

/// `collision=False` as collision bitmasks (none), else the masks given (or the file's).
fn masks(collision: bool, contype: Option<u32>, conaffinity: Option<u32>) -> Option<(u32, u32)> {
    if !collision {
        return Some((0, 0));
    }
    match (contype, conaffinity) {
        (None, None) => None,
        (t, a) => Some((t.unwrap_or(0xFFFF), a.unwrap_or(0xFFFF))),
    }
}

#[pymethods]
impl SceneBuilder {
    #[new]
    #[pyo3(signature = (
        timestep=0.01, substeps=1, gravity=[0.0, 0.0, -9.81], integrator="implicitfast",
        enable_collision=true, enable_joint_limit=true, enable_self_collision=true,
        iterations=100, tolerance=1e-8, ls_iterations=50, constraint_timeconst=None, impratio=1.0,
        enable_equality=true, enable_frictionloss=true, implicit_constraints=false,
        euler_damping=true, cone="pyramidal"
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        timestep: f64,
        substeps: usize,
        gravity: [f64; 3],
        integrator: &str,
        enable_collision: bool,
        enable_joint_limit: bool,
        enable_self_collision: bool,
        iterations: usize,
        tolerance: f64,
        ls_iterations: usize,
        constraint_timeconst: Option<f64>,
        impratio: f64,
        enable_equality: bool,
        enable_frictionloss: bool,
        implicit_constraints: bool,
        euler_damping: bool,
        cone: &str,
    ) -> PyResult<Self> {
        let integrator = Integrator::from_name(integrator).map_err(to_py_err)?;
        let cone = FrictionCone::from_name(cone).map_err(to_py_err)?;
        let options = Options {
            timestep,
            substeps,
            integrator,
            enable_collision,
            enable_joint_limit,
            enable_equality,
            enable_frictionloss,
            enable_self_collision,
            iterations,
            tolerance,
            ls_iterations,
            constraint_timeconst,
            impratio,
            cone,
            implicit_constraints,
            euler_damping,
        };
        options.validate().map_err(to_py_err)?;
        if !gravity.iter().all(|x| x.is_finite()) {
            return Err(crate::invalid(format!(
                "gravity: must be finite, got {gravity:?}"
            )));
        }
        let gravity = Vec3::from(gravity);
        let mut builder = ModelBuilder::new();
        builder.options = options;
        Ok(Self { builder, gravity })
    }

    /// Load a URDF; a fixed base is welded to the world, otherwise the root gets a free joint.
    /// Returns (entity index, loader warnings).
    /// `collision=False`: its geoms collide with nothing; `default_armature`: the armature of
    /// every joint (Genesis's option).
    #[pyo3(signature = (path, scale, pos, quat, fixed, friction=None, collision=true, default_armature=None))]
    #[allow(clippy::too_many_arguments)]
    fn add_urdf(
        &mut self,
        path: &str,
        scale: f64,
        pos: [f64; 3],
        quat: [f64; 4],
        fixed: bool,
        friction: Option<f64>,
        collision: bool,
        default_armature: Option<f64>,
    ) -> PyResult<(usize, Vec<String>)> {
        let base = if fixed {
            BaseMode::Fixed
        } else {
            BaseMode::Free
        };
        let opts = EntityOptions {
            friction,
            masks: masks(collision, None, None),
            default_armature,
        };
        self.place(urdf::load(Path::new(path), scale), (pos, quat), base, opts)
    }

    /// Load an MJCF, keeping the joints the file gives its roots. Returns (entity index, loader warnings).
    /// `collision=False`: its geoms collide with nothing; `default_armature`: the armature of
    /// every joint but free ones that the file leaves without one (Genesis's option).
    #[pyo3(signature = (path, scale, pos, quat, friction=None, collision=true, default_armature=None))]
    #[allow(clippy::too_many_arguments)]
    fn add_mjcf(
        &mut self,
        path: &str,
        scale: f64,
        pos: [f64; 3],
        quat: [f64; 4],
        friction: Option<f64>,
        collision: bool,
        default_armature: Option<f64>,
    ) -> PyResult<(usize, Vec<String>)> {
        let spec = mjcf::load(Path::new(path), scale);
        self.place_mjcf(spec, (pos, quat), friction, collision, default_armature)
    }

    /// Load MJCF text (`path` names it in errors and anchors its relative paths), keeping the
    /// joints it gives its roots, as [`Self::add_mjcf`]. Returns (entity index, loader warnings).
    #[pyo3(signature = (text, path, scale, pos, quat, friction=None, collision=true, default_armature=None))]
    #[allow(clippy::too_many_arguments)]
    fn add_mjcf_text(
        &mut self,
        text: &str,
        path: &str,
        scale: f64,
        pos: [f64; 3],
        quat: [f64; 4],
        friction: Option<f64>,
        collision: bool,
        default_armature: Option<f64>,
    ) -> PyResult<(usize, Vec<String>)> {
        let spec = mjcf::load_str(text, Path::new(path), scale);
        self.place_mjcf(spec, (pos, quat), friction, collision, default_armature)
    }

    /// Add a primitive: kind in plane (dims = normal), box (full sizes), sphere (radius),
    /// cylinder and capsule (radius, height). A plane is always fixed. `collision=False`: it
    /// collides with nothing; `contype`/`conaffinity`: its collision bitmasks (Genesis's
    /// default 0xFFFF for the one not given). Returns the entity index.
    #[pyo3(signature = (kind, dims, pos, quat, fixed, rho=200.0, friction=None, collision=true, contype=None, conaffinity=None))]
    #[allow(clippy::too_many_arguments)]
    fn add_primitive(
        &mut self,
        kind: &str,
        dims: Vec<f64>,
        pos: [f64; 3],
        quat: [f64; 4],
        fixed: bool,
        rho: f64,
        friction: Option<f64>,
        collision: bool,
        contype: Option<u32>,
        conaffinity: Option<u32>,
    ) -> PyResult<usize> {
        let base = if fixed || kind == "plane" {
            BaseMode::Fixed
        } else {
            BaseMode::Free
        };
        let opts = EntityOptions {
            friction,
            masks: masks(collision, contype, conaffinity),
            ..Default::default()
        };
        Ok(self
            .place(
                primitives::by_name(kind, &dims, rho),
                (pos, quat),
                base,
                opts,
            )?
            .0)
    }

    /// Hang entity `child`'s roots on body `body` (its index among the bodies of entity
    /// `parent`, added before), welded at their file poses (Genesis's `entity.attach`).
    fn attach(&mut self, child: usize, parent: usize, body: usize) -> PyResult<()> {
        self.builder.attach(child, parent, body).map_err(to_py_err)
    }

    /// Assemble the model and make `n_envs` (>= 1) environments at its reference configuration.
    /// A step too long for the constraints' time constants is warned about (RuntimeWarning).
    fn build(&self, py: Python<'_>, n_envs: usize) -> PyResult<Sim> {
        let mut inner = guard(|| {
            let mut model = self.builder.build().map_err(to_py_err)?;
            model.params0.gravity = self.gravity;
            kinegrad::Sim::new(Arc::new(model), n_envs).map_err(to_py_err)
        })?;
        let ws = diagnostics::timestep_warnings(&inner.model, &inner.model.params0);
        let ws = inner.unseen(ws);
        warn(py, &inner, &ws)?;
        Ok(Sim { inner })
    }
}

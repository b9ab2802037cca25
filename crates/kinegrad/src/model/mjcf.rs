//! MJCF loader: the subset used by the dm_control suite, the gymnasium MuJoCo
//! assets and MuJoCo Menagerie arms.
//!
//! Bodies are emitted in MuJoCo's order (depth-first, document order). Geoms of
//! `<worldbody>` go to a jointless root body `<model>_world`; the world's child
//! bodies become the entity's roots. Body mass properties follow MuJoCo's
//! compiler (explicit `<inertial>`, or the sum over geoms at their density or
//! mass when `inertiafromgeom` says so; `boundmass`, `boundinertia`,
//! `settotalmass`, `balanceinertia`). Elements kinegrad cannot use are listed in
//! [`EntitySpec::warnings`].
//!
//! Values are checked as MuJoCo's compiler checks them (repeated names, negative or indefinite
//! inertia, `A + B >= C`, massless moving bodies, inverted limited ranges, actuators without a
//! target, non-positive sizes, negative density), plus what kinegrad's parameters refuse
//! (negative gains and stiffness). Every error names the file and the element's line. The tree
//! is walked with explicit stacks, so no nesting depth can overflow the stack.

mod xml;

use super::builder::{
    ActuatorSpec, BaseMode, BodySpec, EntitySpec, EqualitySpec, GeomSpec, JointSpec, KeyframeSpec,
    Medium, ModelBuilder, PathElem, SiteSpec, TendonSpec,
};
use super::inertia::{self, MassProps};
use super::mesh::MeshInertia;
use super::{
    ActDyn, CtrlMode, EqType, FrictionCone, GeomType, Integrator, JointType, Model, Options,
};
use crate::error::{Error, Result};
use crate::joint::RangeUnit;
use crate::math::{Mat3, Pose, Quat, Vec3};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use xml::XNode;

/// Load an MJCF file into an entity (the world body's children become roots).
/// `scale` multiplies every length.
pub fn load(path: &Path, scale: f64) -> Result<EntitySpec> {
    let root = xml::parse_file(path)?;
    load_tree(root, path, scale)
}

/// Build the MJCF file at `path` as a scene of its own, as MuJoCo would: with its `<option>`s
/// (the builder's defaults where it gives none) and its joints as written.
pub fn load_model(path: &Path) -> Result<Model> {
    let spec = load(path, 1.0)?;
    let mut b = ModelBuilder::new();
    if let Some(o) = spec.options.clone() {
        b.options = o;
    }
    let gravity = spec.gravity;
    b.add_entity(spec, Pose::identity(), BaseMode::AsIs);
    let mut m = b.build()?;
    if let Some(g) = gravity {
        m.params0.gravity = g;
    }
    Ok(m)
}

/// What the file's `<option>` sets that a scene with options `opts` and `gravity` does
/// differently, one message per setting naming the file's value and the scene's (a Genesis
/// scene's options win over the file's, as in Genesis). Settings kinegrad does not support
/// are reported when the file is read, not here.
pub fn options_not_applied(spec: &EntitySpec, opts: &Options, gravity: &Vec3) -> Vec<String> {
    let mut out = Vec::new();
    let num = |v: &str| v.trim().parse::<f64>().ok();
    for (k, v) in &spec.option_attrs {
        let scene = match k.as_str() {
            "timestep" => {
                let h = opts.timestep / opts.substeps as f64;
                num(v)
                    .filter(|x| (x - h).abs() > 1e-12 * h)
                    .map(|_| format!("a substep of {h} s (SimOptions.dt / substeps)"))
            }
            "gravity" => {
                let g: Vec<f64> = v.split_whitespace().filter_map(num).collect();
                (g.len() != 3 || (Vec3::new(g[0], g[1], g[2]) - gravity).norm() > 1e-12).then(
                    || {
                        format!(
                            "gravity ({}, {}, {}) (SimOptions.gravity)",
                            gravity.x, gravity.y, gravity.z
                        )
                    },
                )
            }
            "integrator" => {
                let file = match v.as_str() {
                    "Euler" => Some(Integrator::Euler),
                    "implicitfast" => Some(Integrator::ImplicitFast),
                    "RK4" => Some(Integrator::RK4),
                    _ => None, // reported as unsupported when read
                };
                file.filter(|f| *f != opts.integrator).map(|_| {
                    format!(
                        "the {} integrator (RigidOptions.integrator)",
                        opts.integrator.name()
                    )
                })
            }
            "iterations" => num(v)
                .filter(|x| *x != opts.iterations as f64)
                .map(|_| format!("{} iterations (RigidOptions.iterations)", opts.iterations)),
            "ls_iterations" => num(v)
                .filter(|x| *x != opts.ls_iterations as f64)
                .map(|_| format!("{} (RigidOptions.ls_iterations)", opts.ls_iterations)),
            "tolerance" => num(v)
                .filter(|x| *x != opts.tolerance)
                .map(|_| format!("tolerance {} (RigidOptions.tolerance)", opts.tolerance)),
            "impratio" => num(v)
                .filter(|x| *x != opts.impratio)
                .map(|_| format!("impratio {} (RigidOptions.impratio)", opts.impratio)),
            "cone" => (v.as_str() != opts.cone.name())
                .then(|| format!("the {} cone (RigidOptions.cone)", opts.cone.name())),
            flag if flag.starts_with("flag.") => {
                let on = v == "enable";
                let setting = |name: &str, enabled: bool, option: &str| {
                    (enabled != on).then(|| {
                        format!(
                            "{name} {} ({option})",
                            if enabled { "enabled" } else { "disabled" }
                        )
                    })
                };
                match &flag[5..] {
                    "contact" => setting(
                        "contacts",
                        opts.enable_collision,
                        "RigidOptions.enable_collision",
                    ),
                    "limit" => setting(
                        "joint limits",
                        opts.enable_joint_limit,
                        "RigidOptions.enable_joint_limit",
                    ),
                    "equality" => setting(
                        "equality constraints",
                        opts.enable_equality,
                        "the scene's default",
                    ),
                    "frictionloss" => setting(
                        "joint friction",
                        opts.enable_frictionloss,
                        "the scene's default",
                    ),
                    "constraint" => setting(
                        "constraints",
                        opts.enable_collision || opts.enable_joint_limit,
                        "RigidOptions.enable_collision, enable_joint_limit",
                    ),
                    "gravity" => setting("gravity", gravity.norm() > 0.0, "SimOptions.gravity"),
                    "eulerdamp" if opts.integrator == Integrator::Euler => setting(
                        "implicit joint damping under Euler",
                        opts.euler_damping,
                        "the scene's default",
                    ),
                    _ => None,
                }
            }
            _ => None,
        };
        if let Some(scene) = scene {
            let attr = match k.strip_prefix("flag.") {
                Some(f) => format!("<option><flag {f}='{v}'>"),
                None => format!("<option {k}='{v}'>"),
            };
            out.push(format!(
                "{attr} is not applied: the scene's options win, and they give {scene}; set them to the file's value to simulate as the file says"
            ));
        }
    }
    out
}

/// Load MJCF text; `path` names the file in errors and anchors relative paths.
pub fn load_str(text: &str, path: &Path, scale: f64) -> Result<EntitySpec> {
    let root = xml::parse_text(text, path, 0)?;
    if root.tag != "mujoco" {
        return Err(Error::load(
            path,
            format!("root element is <{}>, expected <mujoco>", root.tag),
        ));
    }
    load_tree(root, path, scale)
}

fn load_tree(root: XNode, path: &Path, scale: f64) -> Result<EntitySpec> {
    if !(scale > 0.0 && scale.is_finite()) {
        return Err(Error::load(
            path,
            format!("scale must be positive and finite, got {scale}"),
        ));
    }
    let mut ld = Loader::new(path, scale);
    ld.spec.name = root.attr("model").unwrap_or("mjcf").to_string();
    ld.spec.source = Some(path.to_path_buf());
    ld.run(&root)?;
    inertia::apply_scale(&mut ld.spec, scale);
    mixed_solrefs_to_default(&mut ld.spec);
    Ok(ld.spec)
}

/// A solref mixing the standard (both > 0) and direct (both <= 0) formats is replaced by
/// MuJoCo's default (0.02, 1) with a warning naming the element, as MuJoCo does at run time.
fn mixed_solrefs_to_default(spec: &mut EntitySpec) {
    let mut warnings = Vec::new();
    let mut fix = |what: String, attr: &str, s: &mut [f64; 2]| {
        if (s[0] > 0.0) != (s[1] > 0.0) {
            warnings.push(format!(
                "{what}: {attr} [{}, {}] mixes the standard (both > 0) and direct (both <= 0) \
                 formats: MuJoCo's default [0.02, 1] used, as MuJoCo does",
                s[0], s[1]
            ));
            *s = [0.02, 1.0];
        }
    };
    for b in &mut spec.bodies {
        for j in &mut b.joints {
            fix(format!("joint '{}'", j.name), "solreflimit", &mut j.solref);
            fix(
                format!("joint '{}'", j.name),
                "solreffriction",
                &mut j.solref_fri,
            );
        }
        for (k, g) in b.geoms.iter_mut().enumerate() {
            let what = if g.name.is_empty() {
                format!("geom {k} of body '{}'", b.name)
            } else {
                format!("geom '{}'", g.name)
            };
            fix(what, "solref", &mut g.solref);
        }
    }
    for t in &mut spec.tendons {
        fix(
            format!("tendon '{}'", t.name),
            "solreflimit",
            &mut t.solref_lim,
        );
        fix(
            format!("tendon '{}'", t.name),
            "solreffriction",
            &mut t.solref_fri,
        );
    }
    for (k, e) in spec.equalities.iter_mut().enumerate() {
        fix(
            format!("equality {k} ('{}')", e.name),
            "solref",
            &mut e.solref,
        );
    }
    spec.warnings.extend(warnings);
}

#[derive(Clone, Copy, PartialEq)]
enum FromGeom {
    True,
    False,
    Auto,
}

struct Compiler {
    degree: bool,
    eulerseq: [u8; 3],
    meshdir: PathBuf,
    inertiafromgeom: FromGeom,
    autolimits: bool,
    boundmass: f64,
    boundinertia: f64,
    settotalmass: f64,
    balanceinertia: bool,
    group_range: [i64; 2],
}

/// Fully merged default attributes of one class, per element kind.
#[derive(Clone, Default)]
struct Class {
    tags: HashMap<String, HashMap<String, String>>,
}

/// An element with its default class resolved.
struct El<'a> {
    n: &'a XNode,
    defs: Option<&'a HashMap<String, String>>,
}

impl<'a> El<'a> {
    fn get(&self, key: &str) -> Option<&'a str> {
        self.n
            .attr(key)
            .or_else(|| self.defs.and_then(|d| d.get(key)).map(String::as_str))
    }
    fn err(&self, msg: impl std::fmt::Display) -> Error {
        self.n.err(msg)
    }
    fn nums(&self, key: &str) -> Result<Option<Vec<f64>>> {
        let Some(s) = self.get(key) else {
            return Ok(None);
        };
        let mut v = Vec::new();
        for tok in s.split_whitespace() {
            match tok.parse::<f64>() {
                Ok(x) if x.is_finite() => v.push(x),
                _ => {
                    return Err(
                        self.err(format!("attribute '{key}': bad number '{tok}' in \"{s}\""))
                    )
                }
            }
        }
        Ok(Some(v))
    }
    fn arr<const N: usize>(&self, key: &str) -> Result<Option<[f64; N]>> {
        match self.nums(key)? {
            None => Ok(None),
            Some(v) if v.len() == N => {
                let mut a = [0.0; N];
                a.copy_from_slice(&v);
                Ok(Some(a))
            }
            Some(v) => Err(self.err(format!(
                "attribute '{key}': expected {N} numbers, got {}",
                v.len()
            ))),
        }
    }
    /// At least `min`, at most `N` numbers; the rest keep `default`.
    fn arr_prefix<const N: usize>(
        &self,
        key: &str,
        min: usize,
        default: [f64; N],
    ) -> Result<[f64; N]> {
        match self.nums(key)? {
            None => Ok(default),
            Some(v) if v.len() >= min && v.len() <= N => {
                let mut a = default;
                a[..v.len()].copy_from_slice(&v);
                Ok(a)
            }
            Some(v) => Err(self.err(format!(
                "attribute '{key}': expected {min} to {N} numbers, got {}",
                v.len()
            ))),
        }
    }
    fn f(&self, key: &str, default: f64) -> Result<f64> {
        Ok(self.arr::<1>(key)?.map(|a| a[0]).unwrap_or(default))
    }
    fn vec3(&self, key: &str) -> Result<Option<Vec3>> {
        Ok(self.arr::<3>(key)?.map(|a| Vec3::new(a[0], a[1], a[2])))
    }
    fn int(&self, key: &str, default: i64) -> Result<i64> {
        match self.get(key) {
            None => Ok(default),
            Some(s) => s
                .trim()
                .parse()
                .map_err(|_| self.err(format!("attribute '{key}': bad integer '{s}'"))),
        }
    }
    fn boolean(&self, key: &str) -> Result<Option<bool>> {
        match self.get(key) {
            None | Some("auto") => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(s) => Err(self.err(format!(
                "attribute '{key}': expected true/false/auto, got '{s}'"
            ))),
        }
    }
}

struct MeshAsset {
    file: PathBuf,
    scale: Vec3,
    /// `refpos`, `refquat`: the frame the vertices are written in (MuJoCo reads each vertex
    /// as `refquat^-1 (v - refpos)`, before `scale`).
    refpos: Vec3,
    refquat: Quat,
    /// `inertia` (MuJoCo's default for MJCF meshes: legacy).
    inertia: MeshInertia,
    loaded: Option<std::result::Result<usize, String>>,
}

/// The most copies one `<replicate>` may make.
const MAX_REPLICAS: i64 = 100_000;

/// The most bodies a file may make (nested `<replicate>`s multiply their counts).
const MAX_BODIES: usize = 1_000_000;

struct Loader {
    file: PathBuf,
    scale: f64,
    comp: Compiler,
    classes: Rc<HashMap<String, Class>>,
    materials: HashMap<String, [f32; 4]>,
    mesh_assets: HashMap<String, MeshAsset>,
    spec: EntitySpec,
    warned: std::collections::HashSet<String>,
    world_body: Option<usize>,
    joint_names: std::collections::HashSet<String>,
    body_names: std::collections::HashSet<String>,
    /// Appended to the names of the bodies, joints and geoms read now: the copy indices of the
    /// `<replicate>`s around them (the innermost first, as MuJoCo names them).
    suffix: String,
    geom_names: std::collections::HashSet<String>,
    site_names: std::collections::HashSet<String>,
}

const ACTUATOR_TAGS: [&str; 9] = [
    "general",
    "motor",
    "position",
    "velocity",
    "intvelocity",
    "damper",
    "cylinder",
    "muscle",
    "adhesion",
];

fn def_key(tag: &str) -> &str {
    if ACTUATOR_TAGS.contains(&tag) {
        "actuator"
    } else {
        tag
    }
}

impl Loader {
    fn new(path: &Path, scale: f64) -> Self {
        let mut classes = HashMap::new();
        classes.insert("main".to_string(), Class::default());
        Self {
            file: path.to_path_buf(),
            scale,
            comp: Compiler {
                degree: true,
                eulerseq: *b"xyz",
                meshdir: PathBuf::new(),
                inertiafromgeom: FromGeom::Auto,
                autolimits: true,
                boundmass: 0.0,
                boundinertia: 0.0,
                settotalmass: -1.0,
                balanceinertia: false,
                group_range: [0, 5],
            },
            classes: Rc::new(classes),
            materials: HashMap::new(),
            mesh_assets: HashMap::new(),
            spec: EntitySpec::default(),
            warned: Default::default(),
            world_body: None,
            joint_names: Default::default(),
            body_names: Default::default(),
            geom_names: Default::default(),
            site_names: Default::default(),
            suffix: String::new(),
        }
    }

    /// Line of `n` for the builder's messages, which name the main file (0 in an included file).
    fn line_of(&self, n: &XNode) -> u32 {
        if *n.file == self.file {
            n.line
        } else {
            0
        }
    }

    fn warn(&mut self, msg: String) {
        // a set beside the list: a file with thousands of warnings is not quadratic
        if self.warned.insert(msg.clone()) {
            self.spec.warnings.push(msg);
        }
    }

    fn el<'a>(classes: &'a HashMap<String, Class>, n: &'a XNode, class: &str) -> Result<El<'a>> {
        let cname = n.attr("class").unwrap_or(class);
        let c = classes
            .get(cname)
            .ok_or_else(|| n.err(format!("unknown default class '{cname}'")))?;
        Ok(El {
            n,
            defs: c.tags.get(def_key(&n.tag)),
        })
    }

    fn run(&mut self, root: &XNode) -> Result<()> {
        for c in root.children.iter().filter(|c| c.tag == "compiler") {
            self.compiler(c)?;
        }
        for c in root.children.iter().filter(|c| c.tag == "default") {
            self.default(c, "main", true)?;
        }
        let mut opt = Options {
            timestep: 0.002,
            integrator: Integrator::Euler,
            ..Options::default()
        };
        for c in &root.children {
            match c.tag.as_str() {
                "option" => self.option(c, &mut opt)?,
                "asset" => self.asset(c)?,
                "compiler" | "default" | "worldbody" | "actuator" | "contact" | "equality"
                | "tendon" => {}
                "size" | "visual" | "statistic" | "extension" | "custom" => {}
                "keyframe" => {
                    for k in &c.children {
                        self.keyframe(k)?;
                    }
                }
                "sensor" => {
                    let names: Vec<String> = c.children.iter().map(|e| e.desc()).collect();
                    if !names.is_empty() {
                        self.warn(format!(
                            "<{}> unsupported, ignored: {}",
                            c.tag,
                            names.join(", ")
                        ));
                    }
                }
                other => self.warn(format!("<{other}> unsupported, ignored")),
            }
        }
        self.spec.options = Some(opt);
        // world geoms: a jointless root body first
        let has_world_geoms = root
            .children
            .iter()
            .filter(|c| c.tag == "worldbody")
            .any(world_has_geoms);
        if has_world_geoms {
            let name = format!("{}_world", self.spec.name);
            self.world_body = Some(0);
            self.spec.bodies.push(BodySpec::new(name, None));
        }
        for w in root.children.iter().filter(|c| c.tag == "worldbody") {
            self.children(w, None, Vec3::zeros(), Quat::identity(), "main")?;
        }
        if self.comp.settotalmass > 0.0 {
            let total: f64 = self
                .spec
                .bodies
                .iter()
                .enumerate()
                .filter(|(i, _)| Some(*i) != self.world_body)
                .map(|(_, b)| b.mass)
                .sum();
            if total > 0.0 {
                let f = self.comp.settotalmass / total;
                for (i, b) in self.spec.bodies.iter_mut().enumerate() {
                    if Some(i) != self.world_body {
                        b.mass *= f;
                        b.inertia *= f;
                    }
                }
            }
        }
        for c in root.children.iter().filter(|c| c.tag == "tendon") {
            for t in &c.children {
                self.tendon(t)?;
            }
        }
        for c in root.children.iter().filter(|c| c.tag == "actuator") {
            for a in &c.children {
                self.actuator(a)?;
            }
        }
        for c in root.children.iter().filter(|c| c.tag == "equality") {
            for e in &c.children {
                self.equality(e)?;
            }
        }
        for c in root.children.iter().filter(|c| c.tag == "contact") {
            for e in &c.children {
                match e.tag.as_str() {
                    "exclude" => {
                        let b1 = e
                            .attr("body1")
                            .ok_or_else(|| e.err("missing attribute 'body1'"))?;
                        let b2 = e
                            .attr("body2")
                            .ok_or_else(|| e.err("missing attribute 'body2'"))?;
                        let map = |b: &str| -> Option<String> {
                            if b == "world" {
                                self.world_body.map(|w| self.spec.bodies[w].name.clone())
                            } else {
                                Some(b.to_string())
                            }
                        };
                        for b in [b1, b2] {
                            if b != "world" && !self.spec.bodies.iter().any(|x| x.name == b) {
                                return Err(e.err(format!("unknown body '{b}'")));
                            }
                        }
                        if let (Some(x), Some(y)) = (map(b1), map(b2)) {
                            self.spec.excludes.push((x, y));
                        }
                    }
                    _ => self.warn(format!("<contact> {} unsupported, ignored", e.desc())),
                }
            }
        }
        Ok(())
    }

    /// One child of `<tendon>`: a fixed tendon (its joints and coefficients) or a spatial one
    /// (its sites, wrapping geoms with their side sites, and pulleys), with its limit, friction
    /// and spring.
    fn tendon(&mut self, n: &XNode) -> Result<()> {
        if n.tag != "fixed" && n.tag != "spatial" {
            self.warn(format!(
                "<tendon><{}> {}: unknown tendon kind, ignored",
                n.tag,
                n.attr("name").unwrap_or("")
            ));
            return Ok(());
        }
        let mut path = Vec::new();
        if n.tag == "spatial" {
            for c in &n.children {
                match c.tag.as_str() {
                    "site" => {
                        let s = c
                            .attr("site")
                            .ok_or_else(|| c.err("missing attribute 'site'"))?;
                        path.push(PathElem::Site(format!("{s}{}", self.suffix)));
                    }
                    "pulley" => {
                        let d = c
                            .attr("divisor")
                            .ok_or_else(|| c.err("missing attribute 'divisor'"))?;
                        let d = d
                            .trim()
                            .parse::<f64>()
                            .map_err(|_| c.err(format!("attribute 'divisor': bad number '{d}'")))?;
                        path.push(PathElem::Pulley(d));
                    }
                    "geom" => {
                        let g = c
                            .attr("geom")
                            .ok_or_else(|| c.err("missing attribute 'geom'"))?;
                        let side = c.attr("sidesite").map(|s| format!("{s}{}", self.suffix));
                        path.push(PathElem::Geom {
                            name: format!("{g}{}", self.suffix),
                            side,
                        });
                    }
                    _ => {}
                }
            }
        }
        let classes = self.classes.clone();
        let cname = n.attr("class").unwrap_or("main");
        let cls = classes
            .get(cname)
            .ok_or_else(|| n.err(format!("unknown default class '{cname}'")))?;
        let e = El {
            n,
            defs: cls.tags.get("tendon"),
        };
        let name = format!("{}{}", n.attr("name").unwrap_or(""), self.suffix);
        let mut joints = Vec::new();
        for j in &n.children {
            if j.tag != "joint" {
                continue;
            }
            let jn = j
                .attr("joint")
                .ok_or_else(|| j.err("missing attribute 'joint'"))?;
            let coef = match j.attr("coef") {
                None => 1.0,
                Some(c) => c
                    .trim()
                    .parse::<f64>()
                    .map_err(|_| j.err(format!("attribute 'coef': bad number '{c}'")))?,
            };
            joints.push((format!("{jn}{}", self.suffix), coef));
        }
        let mut t = TendonSpec::new(name, joints);
        t.path = path;
        t.line = self.line_of(n);
        let range = e.arr::<2>("range")?;
        let limited = e
            .boolean("limited")?
            .unwrap_or(self.comp.autolimits && range.is_some());
        if limited {
            let r = range.ok_or_else(|| n.err("limited tendon without 'range'"))?;
            if r[0] > r[1] {
                return Err(n.err(format!(
                    "attribute 'range': lower {} > upper {}",
                    r[0], r[1]
                )));
            }
            t.range = Some(r);
        }
        t.solref_lim = e.arr::<2>("solreflimit")?.unwrap_or(t.solref_lim);
        t.solimp_lim = e.arr_prefix::<5>("solimplimit", 1, t.solimp_lim)?;
        t.margin = e.f("margin", 0.0)?;
        t.frictionloss = e.f("frictionloss", 0.0)?;
        t.solref_fri = e.arr::<2>("solreffriction")?.unwrap_or(t.solref_fri);
        t.solimp_fri = e.arr_prefix::<5>("solimpfriction", 1, t.solimp_fri)?;
        t.stiffness = e.f("stiffness", 0.0)?;
        t.damping = e.f("damping", 0.0)?;
        if let Some(sl) = e.get("springlength") {
            let v: Vec<f64> = sl
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            // MuJoCo: exactly "-1 -1" means the length at qpos0 (a fixed tendon's length may be
            // negative, so no other value is special)
            t.springlength = match v.as_slice() {
                [a] if *a == -1.0 => None,
                [a] => Some([*a, *a]),
                [a, b] if *a == -1.0 && *b == -1.0 => None,
                [a, b] if a > b => {
                    return Err(n.err(format!("attribute 'springlength': lower {a} > upper {b}")))
                }
                [a, b] => Some([*a, *b]),
                _ => {
                    return Err(n.err(format!(
                        "attribute 'springlength': expected 1 or 2 numbers, got '{sl}'"
                    )))
                }
            };
        }
        self.spec.tendons.push(t);
        Ok(())
    }

    /// A connect or weld between two sites (MuJoCo's `site1`, `site2`): the sites' points
    /// (connect) or frames (weld) held together, on the sites' bodies.
    fn site_equality(&mut self, n: &XNode, e: &El, kind: EqType) -> Result<()> {
        let find = |attr: &str| -> Result<(String, Vec3, Quat)> {
            let name = n
                .attr(attr)
                .map(|s| format!("{s}{}", self.suffix))
                .ok_or_else(|| n.err(format!("needs body1 (with an anchor) or '{attr}'")))?;
            self.spec
                .bodies
                .iter()
                .find_map(|b| {
                    b.sites
                        .iter()
                        .find(|s| s.name == name)
                        .map(|s| (b.name.clone(), s.pos * self.scale, s.quat))
                })
                .ok_or_else(|| n.err(format!("attribute '{attr}': unknown site '{name}'")))
        };
        let (b1, p1, q1) = find("site1")?;
        let (b2, p2, q2) = find("site2")?;
        let mut spec = EqualitySpec::new(kind, b1, b2);
        spec.name = n.attr("name").unwrap_or("").to_string();
        spec.line = self.line_of(n);
        spec.active = e.boolean("active")?.unwrap_or(true);
        spec.solref = e.arr::<2>("solref")?.unwrap_or(spec.solref);
        spec.solimp = e.arr_prefix::<5>("solimp", 1, spec.solimp)?;
        spec.anchor = [Some(p1), Some(p2)];
        if kind == EqType::Weld {
            spec.frame = [Some(q1), Some(q2)];
            spec.torquescale = e.f("torquescale", 1.0)?;
        }
        self.spec.equalities.push(spec);
        Ok(())
    }

    /// One child of `<equality>`: connect, weld and joint constraints between bodies or joints
    /// by name (MuJoCo's reader: a connect is body-based when it names body1 and an anchor, a
    /// weld when it names body1).
    fn equality(&mut self, n: &XNode) -> Result<()> {
        let cname = n.attr("class").unwrap_or("main");
        let classes = self.classes.clone();
        let cls = classes
            .get(cname)
            .ok_or_else(|| n.err(format!("unknown default class '{cname}'")))?;
        let e = El {
            n,
            defs: cls.tags.get("equality"),
        };
        let kind = match n.tag.as_str() {
            "connect" => EqType::Connect,
            "weld" => EqType::Weld,
            "joint" => EqType::Joint,
            "tendon" => EqType::Tendon,
            other => {
                self.warn(format!("<equality><{other}> unsupported, ignored"));
                return Ok(());
            }
        };
        let named = |k: &str| n.attr(k).map(|s| format!("{s}{}", self.suffix));
        let (o1, o2) = match kind {
            EqType::Joint => (named("joint1"), named("joint2")),
            EqType::Tendon => (named("tendon1"), named("tendon2")),
            _ => (named("body1"), named("body2")),
        };
        let body_based = match kind {
            EqType::Connect => o1.is_some() && n.attr("anchor").is_some(),
            EqType::Weld => o1.is_some(),
            EqType::Joint | EqType::Tendon => true,
        };
        if !body_based {
            return self.site_equality(n, &e, kind);
        }
        let Some(o1) = o1 else {
            let a = if kind == EqType::Tendon {
                "tendon1"
            } else {
                "joint1"
            };
            return Err(n.err(format!("missing attribute '{a}'")));
        };
        let world = |b: Option<String>| match b {
            Some(b) if b != format!("world{}", self.suffix) && b != "world" => b,
            _ => String::new(),
        };
        let o2 = if matches!(kind, EqType::Joint | EqType::Tendon) {
            o2.unwrap_or_default()
        } else {
            world(o2)
        };
        let mut spec = EqualitySpec::new(kind, o1, o2);
        spec.name = n.attr("name").unwrap_or("").to_string();
        spec.line = self.line_of(n);
        spec.active = e.boolean("active")?.unwrap_or(true);
        spec.solref = e.arr::<2>("solref")?.unwrap_or(spec.solref);
        spec.solimp = e.arr_prefix::<5>("solimp", 1, spec.solimp)?;
        let len = |v: [f64; 3]| Vec3::from(v) * self.scale;
        match kind {
            EqType::Connect => {
                spec.anchor[0] = e.arr::<3>("anchor")?.map(len);
            }
            EqType::Weld => {
                spec.anchor[1] = Some(e.arr::<3>("anchor")?.map(len).unwrap_or_else(Vec3::zeros));
                let rp = e
                    .arr::<7>("relpose")?
                    .unwrap_or([0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
                let quat = nalgebra::Quaternion::new(rp[3], rp[4], rp[5], rp[6]);
                if quat.norm() > 0.0 {
                    spec.anchor[0] = Some(len([rp[0], rp[1], rp[2]]));
                    spec.frame[0] = Some(Quat::from_quaternion(quat));
                }
                spec.torquescale = e.f("torquescale", 1.0)?;
            }
            EqType::Joint | EqType::Tendon => {
                // MuJoCo's default polycoef is 0 1 0 0 0; given numbers replace its first ones
                if let Some(p) = n.attr("polycoef") {
                    let vals: Vec<f64> = p
                        .split_whitespace()
                        .map(|x| x.parse::<f64>())
                        .collect::<std::result::Result<_, _>>()
                        .map_err(|_| n.err(format!("attribute 'polycoef': bad number in '{p}'")))?;
                    if vals.is_empty() || vals.len() > 5 {
                        return Err(n.err("attribute 'polycoef': expected 1 to 5 numbers"));
                    }
                    spec.polycoef[..vals.len()].copy_from_slice(&vals);
                }
            }
        }
        self.spec.equalities.push(spec);
        Ok(())
    }

    fn compiler(&mut self, c: &XNode) -> Result<()> {
        let e = El { n: c, defs: None };
        match c.attr("angle") {
            None => {}
            Some("degree") => self.comp.degree = true,
            Some("radian") => self.comp.degree = false,
            Some(s) => {
                return Err(c.err(format!(
                    "attribute 'angle': expected degree or radian, got '{s}'"
                )))
            }
        }
        if let Some(s) = c.attr("eulerseq") {
            let b = s.as_bytes();
            if b.len() != 3 || !b.iter().all(|ch| b"xyzXYZ".contains(ch)) {
                return Err(c.err(format!(
                    "attribute 'eulerseq': expected 3 of xyzXYZ, got '{s}'"
                )));
            }
            self.comp.eulerseq = [b[0], b[1], b[2]];
        }
        if let Some(s) = c.attr("coordinate") {
            if s != "local" {
                return Err(c.err(format!("coordinate='{s}' is unsupported (only local)")));
            }
        }
        let base = self.file.parent().unwrap_or(Path::new("")).to_path_buf();
        // an empty directory is no directory (paths stay relative to their own file)
        let folder = |d: &str| {
            if d.is_empty() {
                PathBuf::new()
            } else {
                base.join(d)
            }
        };
        if let Some(d) = c.attr("assetdir") {
            self.comp.meshdir = folder(d);
        }
        if let Some(d) = c.attr("meshdir") {
            self.comp.meshdir = folder(d);
        }
        match c.attr("inertiafromgeom") {
            None | Some("auto") => {}
            Some("true") => self.comp.inertiafromgeom = FromGeom::True,
            Some("false") => self.comp.inertiafromgeom = FromGeom::False,
            Some(s) => {
                return Err(c.err(format!(
                    "attribute 'inertiafromgeom': expected true/false/auto, got '{s}'"
                )))
            }
        }
        if let Some(b) = e.boolean("autolimits")? {
            self.comp.autolimits = b;
        }
        self.comp.boundmass = e.f("boundmass", self.comp.boundmass)?;
        self.comp.boundinertia = e.f("boundinertia", self.comp.boundinertia)?;
        self.comp.settotalmass = e.f("settotalmass", self.comp.settotalmass)?;
        if let Some(b) = e.boolean("balanceinertia")? {
            self.comp.balanceinertia = b;
        }
        if let Some(r) = e.arr::<2>("inertiagrouprange")? {
            self.comp.group_range = [r[0] as i64, r[1] as i64];
        }
        for a in ["fusestatic", "discardvisual", "exactmeshinertia"] {
            if c.attr(a) == Some("true") {
                self.warn(format!("<compiler {a}='true'> unsupported, ignored"));
            }
        }
        Ok(())
    }

    /// A top-level `<default>` and its nested classes (an explicit stack, document order).
    fn default(&mut self, d: &XNode, parent: &str, top: bool) -> Result<()> {
        let mut stack = vec![(d, parent.to_string(), top)];
        while let Some((d, parent, top)) = stack.pop() {
            let name = match d.attr("class") {
                Some(c) => c.to_string(),
                None if top => "main".to_string(),
                None => return Err(d.err("nested <default> needs a 'class' attribute")),
            };
            let mut class = if name == "main" {
                self.classes.get("main").cloned().unwrap_or_default()
            } else {
                self.classes.get(&parent).cloned().unwrap_or_default()
            };
            for c in d.children.iter().filter(|c| c.tag != "default") {
                let m = class.tags.entry(def_key(&c.tag).to_string()).or_default();
                for (k, v) in &c.attrs {
                    m.insert(k.clone(), v.clone());
                }
            }
            Rc::make_mut(&mut self.classes).insert(name.clone(), class);
            for c in d.children.iter().rev().filter(|c| c.tag == "default") {
                stack.push((c, name.clone(), false));
            }
        }
        Ok(())
    }

    fn option(&mut self, o: &XNode, opt: &mut Options) -> Result<()> {
        let e = El { n: o, defs: None };
        for (k, v) in &o.attrs {
            self.spec.option_attrs.push((k.clone(), v.clone()));
        }
        for f in o.children.iter().filter(|c| c.tag == "flag") {
            for (k, v) in &f.attrs {
                self.spec
                    .option_attrs
                    .push((format!("flag.{k}"), v.clone()));
            }
        }
        opt.timestep = e.f("timestep", opt.timestep)?;
        if !(opt.timestep > 0.0) {
            return Err(o.err(format!(
                "attribute 'timestep': must be positive, got {}",
                opt.timestep
            )));
        }
        self.spec.gravity = e.vec3("gravity")?;
        match o.attr("integrator") {
            None | Some("Euler") => opt.integrator = Integrator::Euler,
            Some("implicitfast") => opt.integrator = Integrator::ImplicitFast,
            Some("RK4") => opt.integrator = Integrator::RK4,
            Some(s @ "implicit") => {
                opt.integrator = Integrator::ImplicitFast;
                self.warn(format!(
                    "<option integrator='{s}'> unsupported, implicitfast used"
                ));
            }
            Some(s) => return Err(o.err(format!("unknown integrator '{s}'"))),
        }
        opt.iterations = e.int("iterations", opt.iterations as i64)?.max(1) as usize;
        opt.ls_iterations = e.int("ls_iterations", opt.ls_iterations as i64)?.max(1) as usize;
        opt.tolerance = e.f("tolerance", opt.tolerance)?;
        opt.impratio = e.f("impratio", opt.impratio)?;
        if !(opt.tolerance >= 0.0) || !(opt.impratio > 0.0) {
            return Err(o.err(format!(
                "tolerance must be >= 0 and impratio > 0, got {} and {}",
                opt.tolerance, opt.impratio
            )));
        }
        let medium = Medium {
            density: e.f("density", 0.0)?,
            viscosity: e.f("viscosity", 0.0)?,
            wind: e.vec3("wind")?.unwrap_or_default(),
        };
        if !(medium.density >= 0.0)
            || !(medium.viscosity >= 0.0)
            || !medium.wind.iter().all(|x| x.is_finite())
        {
            return Err(o.err(format!(
                "density and viscosity must be >= 0 and wind finite, got {}, {} and {:?}",
                medium.density, medium.viscosity, medium.wind
            )));
        }
        if medium != Medium::default() {
            self.spec.medium = Some(medium);
        }
        match o.attr("cone") {
            None | Some("pyramidal") => opt.cone = FrictionCone::Pyramidal,
            Some("elliptic") => opt.cone = FrictionCone::Elliptic,
            Some(s) => return Err(o.err(format!("unknown cone '{s}'"))),
        }
        if e.int("noslip_iterations", 0)? > 0 {
            self.warn("<option noslip_iterations> unsupported, ignored".into());
        }
        for f in o.children.iter().filter(|c| c.tag == "flag") {
            for (k, v) in &f.attrs {
                match (k.as_str(), v.as_str()) {
                    ("contact", "disable") => opt.enable_collision = false,
                    ("limit", "disable") => opt.enable_joint_limit = false,
                    ("equality", "disable") => opt.enable_equality = false,
                    ("frictionloss", "disable") => opt.enable_frictionloss = false,
                    ("constraint", "disable") => {
                        opt.enable_collision = false;
                        opt.enable_joint_limit = false;
                        opt.enable_equality = false;
                        opt.enable_frictionloss = false;
                    }
                    // gravity is a parameter: off is zero
                    ("gravity", "disable") => self.spec.gravity = Some(Vec3::zeros()),
                    ("eulerdamp", "disable") => opt.euler_damping = false,
                    // read by each actuator (its control range then bounds nothing)
                    ("clampctrl", "disable") => {}
                    (k, "disable") | (k, "enable")
                        if !matches!(
                            k,
                            "contact"
                                | "limit"
                                | "constraint"
                                | "equality"
                                | "frictionloss"
                                | "gravity"
                                | "eulerdamp"
                                | "clampctrl"
                        ) =>
                    {
                        self.warn(format!("<option><flag {k}='{v}'> unsupported, ignored"));
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    fn asset(&mut self, a: &XNode) -> Result<()> {
        for c in &a.children {
            match c.tag.as_str() {
                "mesh" => {
                    let cls = self.classes.clone();
                    let e = Self::el(&cls, c, "main")?;
                    let Some(file) = e.get("file") else {
                        return Err(c.err("mesh without 'file' is unsupported"));
                    };
                    let name = match c.attr("name") {
                        Some(n) => n.to_string(),
                        None => Path::new(file)
                            .file_stem()
                            .and_then(|s| s.to_str())
                            .unwrap_or(file)
                            .to_string(),
                    };
                    let scale = e.vec3("scale")?.unwrap_or(Vec3::repeat(1.0));
                    let refpos = e.vec3("refpos")?.unwrap_or(Vec3::zeros());
                    let refquat = match e.arr::<4>("refquat")? {
                        None => Quat::identity(),
                        Some(q) => {
                            let q = nalgebra::Quaternion::new(q[0], q[1], q[2], q[3]);
                            if !(q.norm() > inertia::MINVAL) {
                                return Err(c.err("attribute 'refquat': zero quaternion"));
                            }
                            Quat::from_quaternion(q)
                        }
                    };
                    // no meshdir: relative to the folder of the file the element is in (an
                    // included file's own, as MuJoCo resolves it)
                    let dir = if self.comp.meshdir.as_os_str().is_empty() {
                        c.dir.as_ref().clone()
                    } else {
                        self.comp.meshdir.clone()
                    };
                    let p = dir.join(file);
                    let inertia = match e.get("inertia").unwrap_or("legacy") {
                        "legacy" => MeshInertia::Legacy,
                        "convex" => MeshInertia::Convex,
                        "exact" => MeshInertia::Exact,
                        "shell" => MeshInertia::Shell,
                        other => {
                            return Err(c.err(format!(
                                "attribute 'inertia': unknown mesh inertia '{other}' (convex, exact, legacy or shell)"
                            )))
                        }
                    };
                    self.mesh_assets.insert(
                        name,
                        MeshAsset {
                            file: p,
                            scale,
                            refpos,
                            refquat,
                            inertia,
                            loaded: None,
                        },
                    );
                }
                "material" => {
                    let cls = self.classes.clone();
                    let e = Self::el(&cls, c, "main")?;
                    let name = c
                        .attr("name")
                        .ok_or_else(|| c.err("missing attribute 'name'"))?;
                    let v = e.arr::<4>("rgba")?.unwrap_or([1.0; 4]);
                    self.materials.insert(name.to_string(), v.map(|x| x as f32));
                }
                "texture" => {}
                "hfield" | "skin" => {
                    self.warn(format!("<asset> {} unsupported, ignored", c.desc()))
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn mesh_index(&mut self, name: &str, g: &XNode) -> Result<std::result::Result<usize, String>> {
        let scale = self.scale;
        let asset = self
            .mesh_assets
            .get_mut(name)
            .ok_or_else(|| g.err(format!("unknown mesh '{name}'")))?;
        if let Some(r) = &asset.loaded {
            return Ok(r.clone());
        }
        let r = match inertia::load_mesh_asset_in(
            &asset.file,
            (asset.refpos, asset.refquat),
            asset.scale * scale,
            name,
        ) {
            Ok(mut m) => {
                m.inertia = asset.inertia;
                self.spec.meshes.push(m);
                Ok(self.spec.meshes.len() - 1)
            }
            Err(e) => Err(format!("mesh '{name}': {e}")),
        };
        asset.loaded = Some(r.clone());
        Ok(r)
    }

    fn angle(&self, x: f64) -> f64 {
        if self.comp.degree {
            x.to_radians()
        } else {
            x
        }
    }

    /// A name as written, with the suffix of the `<replicate>` copies being read.
    fn named(&self, name: &str) -> String {
        format!("{name}{}", self.suffix)
    }

    /// The rotation of Euler angles `a` in the compiler's unit and sequence (`eulerseq`: a
    /// lower-case axis rotates about the moving frame, an upper-case one about the fixed one).
    fn euler(&self, a: [f64; 3]) -> Quat {
        let mut q = Quat::identity();
        for (i, &ch) in self.comp.eulerseq.iter().enumerate() {
            let axis = match ch.to_ascii_lowercase() {
                b'x' => Vec3::x_axis(),
                b'y' => Vec3::y_axis(),
                _ => Vec3::z_axis(),
            };
            let r = Quat::from_axis_angle(&axis, self.angle(a[i]));
            q = if ch.is_ascii_lowercase() {
                q * r
            } else {
                r * q
            };
        }
        q
    }

    /// Where the children of a `<frame>` or a `<replicate>` are read, in the frame of its
    /// parent, each placement with its name suffix: a frame's one placement (its pose, no
    /// suffix), or a replicate's copies (count, offset, euler): copy i sits at
    /// `sum_{k<i} R^k offset` turned by `R^i` (R the rotation of `euler`, `R^i` computed as the
    /// rotation of `i euler`), and is named with `sep` and its index, zero-padded to the digits
    /// of `count` (as MuJoCo does).
    fn placements(&self, c: &XNode, class: &str) -> Result<Vec<(Vec3, Quat, String)>> {
        let cls = self.classes.clone();
        let e = Self::el(&cls, c, class)?;
        if c.tag == "frame" {
            let p = e.vec3("pos")?.unwrap_or_default();
            return Ok(vec![(p, self.orientation(&e)?, String::new())]);
        }
        let count = e.int("count", -1)?;
        if count < 1 {
            return Err(c.err("attribute 'count' missing or below 1"));
        }
        // a bound before anything is allocated (copies multiply through nested replicates)
        if count > MAX_REPLICAS {
            return Err(c.err(format!(
                "attribute 'count': {count} copies, more than {MAX_REPLICAS}"
            )));
        }
        let offset = e.vec3("offset")?.unwrap_or_default();
        let euler = e.arr::<3>("euler")?.unwrap_or([0.0; 3]);
        let sep = c.attr("sep").unwrap_or("");
        let width = count.to_string().len();
        let step = self.euler(euler);
        let (mut pos, mut quat) = (Vec3::zeros(), Quat::identity());
        let mut out = Vec::with_capacity(count as usize);
        for i in 0..count {
            let k = i as f64;
            let qi = self.euler([k * euler[0], k * euler[1], k * euler[2]]);
            out.push((pos, qi, format!("{sep}{i:0width$}")));
            pos += quat * offset;
            quat *= step;
        }
        Ok(out)
    }

    /// Orientation from quat / axisangle / euler / xyaxes / zaxis.
    fn orientation(&self, e: &El) -> Result<Quat> {
        let n = e.n;
        if let Some(q) = e.arr::<4>("quat")? {
            let v = nalgebra::Quaternion::new(q[0], q[1], q[2], q[3]);
            if v.norm() < 1e-12 {
                return Err(e.err("attribute 'quat' has zero norm"));
            }
            return Ok(Quat::from_quaternion(v));
        }
        if let Some(a) = e.arr::<4>("axisangle")? {
            let ax = Vec3::new(a[0], a[1], a[2]);
            if ax.norm() < 1e-12 {
                return Err(e.err("attribute 'axisangle' has a zero axis"));
            }
            return Ok(Quat::from_axis_angle(
                &nalgebra::Unit::new_normalize(ax),
                self.angle(a[3]),
            ));
        }
        if let Some(a) = e.arr::<3>("euler")? {
            return Ok(self.euler(a));
        }
        if let Some(a) = e.arr::<6>("xyaxes")? {
            let x = Vec3::new(a[0], a[1], a[2]);
            let y = Vec3::new(a[3], a[4], a[5]);
            let xn = x
                .try_normalize(1e-12)
                .ok_or_else(|| n.err("attribute 'xyaxes': zero x axis"))?;
            let yn = (y - xn * xn.dot(&y))
                .try_normalize(1e-12)
                .ok_or_else(|| n.err("attribute 'xyaxes': y axis parallel to x"))?;
            let m = Mat3::from_columns(&[xn, yn, xn.cross(&yn)]);
            return Ok(Quat::from_matrix(&m));
        }
        if let Some(z) = e.vec3("zaxis")? {
            return quat_z_to(&z).ok_or_else(|| n.err("attribute 'zaxis' has zero length"));
        }
        Ok(Quat::identity())
    }

    /// The subtree below `<worldbody>`: bodies, geoms and frames in document order (MuJoCo's
    /// depth-first body order); `frame` maps the child poses into the enclosing body's frame.
    /// An explicit stack instead of recursion, so that no nesting depth overflows the stack.
    fn children(
        &mut self,
        n: &XNode,
        body: Option<usize>,
        fpos: Vec3,
        fquat: Quat,
        class: &str,
    ) -> Result<()> {
        struct Level<'a> {
            n: &'a XNode,
            next: usize,
            body: Option<usize>,
            fpos: Vec3,
            fquat: Quat,
            class: String,
            /// Set on a `<body>` level: its mass properties are computed when it is left.
            finish: bool,
            /// The name suffix of the `<replicate>` copies around it.
            suffix: String,
        }
        let mut stack = vec![Level {
            n,
            next: 0,
            body,
            fpos,
            fquat,
            class: class.to_string(),
            finish: false,
            suffix: self.suffix.clone(),
        }];
        while let Some(top) = stack.last_mut() {
            let Some(c) = top.n.children.get(top.next) else {
                let done = stack.pop().expect("non-empty");
                if done.finish {
                    let idx = done.body.expect("a body level has its body");
                    self.body_mass(done.n, idx, &done.class)?;
                }
                continue;
            };
            top.next += 1;
            let (body, fpos, fquat, n) = (top.body, top.fpos, top.fquat, top.n);
            let class = top.class.clone();
            self.suffix.clone_from(&top.suffix);
            match c.tag.as_str() {
                "body" => {
                    let (idx, cc) = self.body_start(c, body, fpos, fquat, &class)?;
                    stack.push(Level {
                        n: c,
                        next: 0,
                        body: Some(idx),
                        fpos: Vec3::zeros(),
                        fquat: Quat::identity(),
                        class: cc,
                        finish: true,
                        suffix: self.suffix.clone(),
                    });
                }
                "frame" | "replicate" => {
                    // a frame's one placement, a replicate's copies: in reverse on the stack, so
                    // that the first is read first
                    let cc = c.attr("childclass").unwrap_or(&class).to_string();
                    for (p, q, sfx) in self.placements(c, &class)?.into_iter().rev() {
                        stack.push(Level {
                            n: c,
                            next: 0,
                            body,
                            fpos: fpos + fquat * p,
                            fquat: fquat * q,
                            class: cc.clone(),
                            finish: false,
                            suffix: format!("{sfx}{}", self.suffix),
                        });
                    }
                }
                "geom" => {
                    let target = match body {
                        Some(b) => b,
                        None => self
                            .world_body
                            .ok_or_else(|| c.err("internal: world geom without world body"))?,
                    };
                    self.geom(c, target, fpos, fquat, &class)?;
                }
                "joint" | "freejoint" | "inertial" => {
                    if body.is_none() {
                        return Err(c.err("not allowed in <worldbody>"));
                    }
                }
                "site" => {
                    let target = match body {
                        Some(b) => b,
                        None => self
                            .world_body
                            .ok_or_else(|| c.err("internal: world site without world body"))?,
                    };
                    self.site(c, target, fpos, fquat, &class)?;
                }
                "camera" | "light" => {}
                "composite" | "flexcomp" | "attach" | "plugin" => {
                    return Err(c.err("unsupported element"))
                }
                other => self.warn(format!("<{other}> in {} unsupported, ignored", n.desc())),
            }
        }
        self.suffix.clear();
        Ok(())
    }

    /// A `<body>` and its joints; returns its index and its child class. Its children are
    /// walked by [`Self::children`], which then calls [`Self::body_mass`].
    fn body_start(
        &mut self,
        n: &XNode,
        parent: Option<usize>,
        fpos: Vec3,
        fquat: Quat,
        class: &str,
    ) -> Result<(usize, String)> {
        let class = n.attr("childclass").unwrap_or(class).to_string();
        let e = El { n, defs: None };
        let idx = self.spec.bodies.len();
        if idx >= MAX_BODIES {
            return Err(n.err(format!("more than {MAX_BODIES} bodies")));
        }
        let name = n
            .attr("name")
            .map(|s| self.named(s))
            .unwrap_or_else(|| format!("body{idx}"));
        if !self.body_names.insert(name.clone()) {
            return Err(n.err(format!("repeated body name '{name}'")));
        }
        let mut b = BodySpec::new(name.clone(), parent);
        b.line = self.line_of(n);
        b.pos = fpos + fquat * e.vec3("pos")?.unwrap_or_default();
        b.quat = fquat * self.orientation(&e)?;
        let mocap = n.attr("mocap") == Some("true");
        b.mocap = mocap;
        self.spec.bodies.push(b);
        // joints (in document order)
        let mut joints = Vec::new();
        for c in &n.children {
            match c.tag.as_str() {
                "freejoint" => {
                    let jn = c
                        .attr("name")
                        .map(|s| self.named(s))
                        .unwrap_or_else(|| format!("{name}_freejoint"));
                    let mut j = JointSpec::new(jn, JointType::Free);
                    j.line = self.line_of(c);
                    joints.push(j);
                }
                "joint" => {
                    let j = self.joint(c, &class, &name, joints.len())?;
                    joints.push(j);
                }
                _ => {}
            }
        }
        if mocap && (parent.is_some() || !joints.is_empty()) {
            return Err(n.err(format!(
                "mocap body '{name}' is not a fixed child of the world (a mocap body has no joints and hangs from <worldbody>)"
            )));
        }
        for (j, c) in joints.iter().zip(
            n.children
                .iter()
                .filter(|c| c.tag == "joint" || c.tag == "freejoint"),
        ) {
            if !self.joint_names.insert(j.name.clone()) {
                return Err(c.err(format!("repeated joint name '{}'", j.name)));
            }
        }
        self.spec.bodies[idx].joints = joints;
        Ok((idx, class))
    }

    /// Mass properties of body `idx` (element `n`, child class `class`), once its subtree is read.
    fn body_mass(&mut self, n: &XNode, idx: usize, class: &str) -> Result<()> {
        let class = class.to_string();
        // mass properties
        let explicit = n.children.iter().find(|c| c.tag == "inertial");
        let (mut mp, mut frame) = (None, None);
        if self.comp.inertiafromgeom != FromGeom::True {
            if let Some(inl) = explicit {
                let (m, f) = self.inertial(inl)?;
                (mp, frame) = (Some(m), f);
            }
        }
        if mp.is_none() && self.comp.inertiafromgeom != FromGeom::False {
            let (m, f) = self.geom_mass(n, &class, Vec3::zeros(), Quat::identity())?;
            (mp, frame) = (Some(m), f);
        }
        let mut mp = mp.unwrap_or(MassProps::zero());
        if mp.mass < self.comp.boundmass {
            mp.mass = self.comp.boundmass;
        }
        if self.comp.boundinertia > 0.0 {
            let eig = nalgebra::SymmetricEigen::new(mp.inertia);
            let d = eig.eigenvalues.map(|x| x.max(self.comp.boundinertia));
            mp.inertia = eig.eigenvectors * Mat3::from_diagonal(&d) * eig.eigenvectors.transpose();
        }
        // MuJoCo: "mass and inertia of moving bodies must be larger than mjMINVAL"
        if !self.spec.bodies[idx].joints.is_empty() {
            let tiny_inertia = match inertia::principal_moments(&mp.inertia) {
                Ok(pm) => pm[0] < inertia::MINVAL,
                Err(_) => true,
            };
            if mp.mass < inertia::MINVAL || tiny_inertia {
                return Err(n.err(format!(
                    "mass and inertia of a moving body must be larger than {:e} (mass {})",
                    inertia::MINVAL,
                    mp.mass
                )));
            }
        }
        let b = &mut self.spec.bodies[idx];
        b.mass = mp.mass;
        b.ipos = mp.com;
        b.inertia = mp.inertia;
        b.inertia_frame = frame;
        Ok(())
    }

    /// An `<inertial>`'s mass properties in the body frame, with its orientation when its
    /// inertia is diagonal (`diaginertia`: the principal axes MuJoCo keeps).
    fn inertial(&self, n: &XNode) -> Result<(MassProps, Option<Quat>)> {
        let e = El { n, defs: None };
        let mass = e
            .arr::<1>("mass")?
            .ok_or_else(|| n.err("missing attribute 'mass'"))?[0];
        if mass < 0.0 {
            return Err(n.err(format!("negative mass {mass}")));
        }
        let pos = e
            .vec3("pos")?
            .ok_or_else(|| n.err("missing attribute 'pos'"))?;
        let mut i = if let Some(d) = e.vec3("diaginertia")? {
            if d.min() < 0.0 {
                return Err(n.err(format!(
                    "attribute 'diaginertia': negative moment in {} {} {}",
                    d.x, d.y, d.z
                )));
            }
            Mat3::from_diagonal(&d)
        } else if let Some(f) = e.arr::<6>("fullinertia")? {
            Mat3::new(f[0], f[3], f[4], f[3], f[1], f[5], f[4], f[5], f[2])
        } else {
            return Err(n.err("needs 'diaginertia' or 'fullinertia'"));
        };
        // as MuJoCo's compiler: positive semi-definite, and A + B >= C unless balanceinertia
        let pm = inertia::principal_moments(&i).map_err(|m| n.err(m))?;
        if let Err(m) = inertia::check_triangle(&pm) {
            if !self.comp.balanceinertia {
                return Err(n.err(format!("{m}; use balanceinertia to fix")));
            }
            i = Mat3::identity() * ((pm[0] + pm[1] + pm[2]) / 3.0);
        }
        let q = self.orientation(&e)?;
        let frame = e.vec3("diaginertia")?.map(|_| q);
        Ok((
            MassProps {
                mass,
                com: Vec3::zeros(),
                inertia: i,
            }
            .transformed(&pos, &q),
            frame,
        ))
    }

    /// Mass properties of a body from its geoms (including those inside `<frame>`s), body frame.
    /// With the frame of the single geom of mass when there is one (MuJoCo's compiler then
    /// takes that geom's frame as the body's inertial frame).
    fn geom_mass(
        &mut self,
        n: &XNode,
        class: &str,
        fpos: Vec3,
        fquat: Quat,
    ) -> Result<(MassProps, Option<Quat>)> {
        // the geoms in document order with their frame poses and classes (an explicit stack
        // through nested frames)
        let mut geoms: Vec<(&XNode, String, Vec3, Quat)> = Vec::new();
        let mut stack = vec![(n, 0usize, class.to_string(), fpos, fquat)];
        while let Some(top) = stack.last_mut() {
            let Some(c) = top.0.children.get(top.1) else {
                stack.pop();
                continue;
            };
            top.1 += 1;
            let (class, fpos, fquat) = (top.2.clone(), top.3, top.4);
            match c.tag.as_str() {
                "geom" => geoms.push((c, class, fpos, fquat)),
                "frame" | "replicate" => {
                    let cc = c.attr("childclass").unwrap_or(&class).to_string();
                    for (p, q, _) in self.placements(c, &class)?.into_iter().rev() {
                        stack.push((c, 0, cc.clone(), fpos + fquat * p, fquat * q));
                    }
                }
                _ => {}
            }
        }
        let mut total = MassProps::zero();
        let (mut massive, mut frame) = (0usize, None);
        for (c, class, fpos, fquat) in geoms {
            let class = class.as_str();
            let cls = self.classes.clone();
            let e = Self::el(&cls, c, class)?;
            let group = e.int("group", 0)?;
            if group < self.comp.group_range[0] || group > self.comp.group_range[1] {
                continue;
            }
            let sh = self.shape(&e, 0.0)?;
            let density = e.f("density", 1000.0)?;
            let mass_attr = e.arr::<1>("mass")?.map(|a| a[0]);
            if density < 0.0 || mass_attr.is_some_and(|m| m < 0.0) {
                return Err(c.err("negative mass or density"));
            }
            let unit = match sh.kind {
                Shape::Prim(GeomType::Plane) => continue,
                Shape::Prim(k) => inertia::primitive_mass_props(k, &sh.size, 1.0),
                Shape::Mesh(ref m) => match self.mesh_index(m, c)? {
                    Ok(k) => {
                        let mesh = &self.spec.meshes[k];
                        let mp = inertia::mesh_mass_props(mesh, 1.0, self.scale);
                        if !(mp.mass > 0.0) && mesh.inertia != MeshInertia::Convex {
                            // MuJoCo refuses the file ("mesh volume is negative/too small")
                            let msg = format!(
                                "{}: mesh '{m}': its volume (inertia='{}') is negative or too small (misoriented triangles?); no mass from this geom",
                                c.desc(),
                                format!("{:?}", mesh.inertia).to_lowercase()
                            );
                            self.warn(msg);
                            continue;
                        }
                        mp
                    }
                    Err(msg) => {
                        self.warn(format!("{}: {msg}; no mass from this geom", c.desc()));
                        continue;
                    }
                },
                Shape::Other => continue,
            };
            let density = match mass_attr {
                Some(m) if unit.mass > 0.0 => m / unit.mass,
                Some(_) => 0.0,
                None => density,
            };
            let gp = MassProps {
                mass: unit.mass * density,
                com: unit.com,
                inertia: unit.inertia * density,
            };
            if gp.mass > 1e-14 {
                // a primitive's inertia is diagonal in its frame (a mesh's in its own)
                massive += 1;
                frame = matches!(sh.kind, Shape::Prim(_)).then_some(fquat * sh.quat);
            }
            total = total.add(&gp.transformed(&(fpos + fquat * sh.pos), &(fquat * sh.quat)));
        }
        Ok((total, if massive == 1 { frame } else { None }))
    }

    fn joint(&mut self, n: &XNode, class: &str, body: &str, k: usize) -> Result<JointSpec> {
        let cls = self.classes.clone();
        let e = Self::el(&cls, n, class)?;
        let t = e.get("type").unwrap_or("hinge");
        let kind =
            JointType::from_name(t).ok_or_else(|| n.err(format!("unknown joint type '{t}'")))?;
        let name = n
            .attr("name")
            .map(|s| self.named(s))
            .unwrap_or_else(|| format!("{body}_joint{k}"));
        let mut j = JointSpec::new(name.clone(), kind);
        j.line = self.line_of(n);
        let ang = |x: f64| {
            if kind.range_unit() == Some(RangeUnit::Angle) {
                self.angle(x)
            } else {
                x
            }
        };
        j.pos = e.vec3("pos")?.unwrap_or_default();
        j.axis = e.vec3("axis")?.unwrap_or(Vec3::z());
        if kind.has_axis() && j.axis.norm() < 1e-12 {
            return Err(n.err("attribute 'axis' has zero length"));
        }
        let range = e.arr::<2>("range")?;
        let limited = match e.boolean("limited")? {
            Some(b) => b,
            None => self.comp.autolimits && range.is_some(),
        };
        if limited && kind.range_unit().is_some() {
            // MuJoCo: a limited ball joint without a range gets [0, 0]; a hinge or slide one is
            // an error (its range must be increasing)
            let r = match range {
                Some(r) => r,
                None if kind == JointType::Ball => [0.0, 0.0],
                None => return Err(n.err("limited joint without 'range'")),
            };
            let r = [ang(r[0]), ang(r[1])];
            if r[0] > r[1] {
                return Err(n.err(format!(
                    "attribute 'range': lower {} > upper {}",
                    r[0], r[1]
                )));
            }
            j.range = Some(r);
        }
        j.damping = e.f("damping", 0.0)?;
        j.armature = e.f("armature", 0.0)?;
        j.stiffness = e.f("stiffness", 0.0)?;
        j.springref = ang(e.f("springref", 0.0)?);
        j.reference = ang(e.f("ref", 0.0)?);
        j.margin = e.f("margin", 0.0)?;
        j.solref = e.arr_prefix::<2>("solreflimit", 1, j.solref)?;
        j.solimp = e.arr_prefix::<5>("solimplimit", 1, j.solimp)?;
        if j.damping < 0.0 || j.armature < 0.0 {
            return Err(n.err("negative damping or armature"));
        }
        // MuJoCo allows a negative stiffness; kinegrad's parameters (dof_stiffness) do not
        if j.stiffness < 0.0 {
            return Err(n.err(format!(
                "attribute 'stiffness': negative stiffness {}",
                j.stiffness
            )));
        }
        j.frictionloss = e.f("frictionloss", 0.0)?;
        if !(j.frictionloss >= 0.0) {
            return Err(n.err(format!(
                "attribute 'frictionloss': negative frictionloss {}",
                j.frictionloss
            )));
        }
        j.solref_fri = e.arr::<2>("solreffriction")?.unwrap_or(j.solref_fri);
        j.solimp_fri = e.arr_prefix::<5>("solimpfriction", 1, j.solimp_fri)?;
        if let Some(fr) = e.arr::<2>("actuatorfrcrange")? {
            if e.boolean("actuatorfrclimited")?
                .unwrap_or(self.comp.autolimits)
            {
                j.force_range = fr;
            }
        }
        Ok(j)
    }

    /// Geom shape, size and frame (fromto resolved), without defaults of the body frame.
    /// A geom's or site's type, size and frame. `default_size` fills sizes not written
    /// (MuJoCo: 0 for geoms, which must then be sized, and 0.005 for sites).
    fn shape(&self, e: &El, default_size: f64) -> Result<ShapeInfo> {
        let n = e.n;
        let t = e.get("type").unwrap_or("sphere");
        let kind = match t {
            "plane" => Shape::Prim(GeomType::Plane),
            "sphere" => Shape::Prim(GeomType::Sphere),
            "capsule" => Shape::Prim(GeomType::Capsule),
            "box" => Shape::Prim(GeomType::Box),
            "cylinder" => Shape::Prim(GeomType::Cylinder),
            "ellipsoid" => Shape::Prim(GeomType::Ellipsoid),
            "mesh" => Shape::Mesh(
                e.get("mesh")
                    .ok_or_else(|| n.err("mesh geom without attribute 'mesh'"))?
                    .to_string(),
            ),
            "hfield" | "sdf" => Shape::Other,
            other => return Err(n.err(format!("unknown geom type '{other}'"))),
        };
        let mut size = e.arr_prefix::<3>("size", 1, [default_size; 3])?;
        let mut pos = e.vec3("pos")?.unwrap_or_default();
        let mut quat = self.orientation(e)?;
        if let Some(ft) = e.arr::<6>("fromto")? {
            if matches!(
                kind,
                Shape::Prim(
                    GeomType::Capsule | GeomType::Cylinder | GeomType::Box | GeomType::Ellipsoid
                )
            ) {
                let a = Vec3::new(ft[0], ft[1], ft[2]);
                let b = Vec3::new(ft[3], ft[4], ft[5]);
                // MuJoCo's frame: z from the second point to the first
                let d = a - b;
                pos = (a + b) / 2.0;
                quat = quat_z_to(&d)
                    .ok_or_else(|| n.err("attribute 'fromto': the two points coincide"))?;
                let half = d.norm() / 2.0;
                if matches!(kind, Shape::Prim(GeomType::Capsule | GeomType::Cylinder)) {
                    size[1] = half;
                } else {
                    // a box or ellipsoid: MuJoCo's size[0] across, the half length along
                    size[2] = half;
                    size[1] = size[0];
                }
            }
        }
        let size = Vec3::new(size[0], size[1], size[2]);
        let bad = match kind {
            Shape::Prim(GeomType::Sphere) => size.x <= 0.0,
            Shape::Prim(GeomType::Capsule | GeomType::Cylinder) => size.x <= 0.0 || size.y < 0.0,
            Shape::Prim(GeomType::Box | GeomType::Ellipsoid) => size.min() <= 0.0,
            _ => false,
        };
        if bad {
            let what = if size.iter().any(|&x| x < 0.0) {
                "negative"
            } else {
                "zero"
            };
            return Err(n.err(format!(
                "invalid size for type '{t}': {what} size {} {} {} (sizes must be positive)",
                size.x, size.y, size.z
            )));
        }
        Ok(ShapeInfo {
            kind,
            size,
            pos,
            quat,
        })
    }

    /// A `<key>` of `<keyframe>`: a named state (positions, velocities, controls); its sizes
    /// are checked when the entity is built. `time`, `act`, `mpos` and `mquat` are not kept.
    fn keyframe(&mut self, n: &XNode) -> Result<()> {
        if n.tag != "key" {
            self.warn(format!("<keyframe><{}> unsupported, ignored", n.tag));
            return Ok(());
        }
        let e = El { n, defs: None };
        for unused in ["act", "mpos", "mquat"] {
            if n.attr(unused).is_some() {
                self.warn(format!(
                    "{}: attribute '{unused}' unsupported, ignored",
                    n.desc()
                ));
            }
        }
        let k = KeyframeSpec {
            name: n.attr("name").unwrap_or("").to_string(),
            qpos: e.nums("qpos")?,
            qvel: e.nums("qvel")?,
            ctrl: e.nums("ctrl")?,
            line: self.line_of(n),
        };
        self.spec.keyframes.push(k);
        Ok(())
    }

    /// A `<site>`: a named frame on `body` (its shape and size are for display in MuJoCo and
    /// are not kept).
    fn site(&mut self, n: &XNode, body: usize, fpos: Vec3, fquat: Quat, class: &str) -> Result<()> {
        let cls = self.classes.clone();
        let e = Self::el(&cls, n, class)?;
        let sh = self.shape(&e, 0.005)?;
        let name = n.attr("name").map(|s| self.named(s)).unwrap_or_default();
        if !name.is_empty() && !self.site_names.insert(name.clone()) {
            return Err(n.err(format!("repeated site name '{name}'")));
        }
        self.spec.bodies[body].sites.push(SiteSpec {
            name,
            pos: fpos + fquat * sh.pos,
            quat: fquat * sh.quat,
        });
        Ok(())
    }

    fn geom(&mut self, n: &XNode, body: usize, fpos: Vec3, fquat: Quat, class: &str) -> Result<()> {
        let cls = self.classes.clone();
        let e = Self::el(&cls, n, class)?;
        let sh = self.shape(&e, 0.0)?;
        let gname = n.attr("name").map(|s| self.named(s)).unwrap_or_default();
        let (kind, mesh) = match &sh.kind {
            Shape::Prim(k) => (*k, None),
            Shape::Mesh(m) => (GeomType::Mesh, Some(m.clone())),
            Shape::Other => {
                self.warn(format!(
                    "{}: geom type '{}' unsupported, dropped (its mass is kept)",
                    n.desc(),
                    e.get("type").unwrap_or("")
                ));
                return Ok(());
            }
        };
        if !gname.is_empty() && !self.geom_names.insert(gname.clone()) {
            return Err(n.err(format!("repeated geom name '{gname}'")));
        }
        if e.get("fluidshape") == Some("ellipsoid") {
            self.warn(format!(
                "{}: fluidshape='ellipsoid' (MuJoCo's ellipsoid fluid model) unsupported: its body feels the inertia-box model",
                n.desc()
            ));
        }
        let mut g = GeomSpec::new(kind, sh.size);
        g.line = self.line_of(n);
        g.name = gname;
        g.pos = fpos + fquat * sh.pos;
        g.quat = fquat * sh.quat;
        let fr = e.arr_prefix::<3>("friction", 1, g.friction)?;
        g.friction = fr;
        let ct = e.int("contype", 1)?;
        let ca = e.int("conaffinity", 1)?;
        if ct < 0 || ca < 0 || ct > u32::MAX as i64 || ca > u32::MAX as i64 {
            return Err(n.err("contype/conaffinity must be non-negative 32-bit integers"));
        }
        g.contype = ct as u32;
        g.conaffinity = ca as u32;
        g.visual = ct == 0 && ca == 0;
        let condim = e.int("condim", 3)?;
        g.condim = match condim {
            1 | 3 | 4 | 6 => condim as usize,
            _ => return Err(n.err(format!("invalid condim {condim} (1, 3, 4 or 6)"))),
        };
        g.solref = e.arr_prefix::<2>("solref", 1, g.solref)?;
        g.solimp = e.arr_prefix::<5>("solimp", 1, g.solimp)?;
        g.margin = e.f("margin", 0.0)?;
        g.gap = e.f("gap", 0.0)?;
        let priority = e.int("priority", 0)?;
        if priority < i32::MIN as i64 || priority > i32::MAX as i64 {
            return Err(n.err(format!("attribute 'priority': {priority} is out of range")));
        }
        g.priority = priority as i32;
        g.solmix = e.f("solmix", 1.0)?;
        let mut rgba = e.arr::<4>("rgba")?.map(|v| v.map(|x| x as f32));
        if let Some(mat) = e.get("material") {
            match self.materials.get(mat) {
                // material colour wins unless the geom element itself sets rgba
                Some(c) if n.attr("rgba").is_none() => rgba = Some(*c),
                Some(_) => {}
                None => return Err(n.err(format!("unknown material '{mat}'"))),
            }
        }
        if let Some(c) = rgba {
            g.rgba = c;
        }
        if let Some(m) = mesh {
            match self.mesh_index(&m, n)? {
                Ok(k) => g.mesh = Some(k),
                Err(msg) if g.visual => {
                    self.warn(format!("{}: {msg}; visual geom dropped", n.desc()));
                    return Ok(());
                }
                Err(msg) => return Err(n.err(msg)),
            }
        }
        self.spec.bodies[body].geoms.push(g);
        Ok(())
    }

    fn actuator(&mut self, n: &XNode) -> Result<()> {
        let cls = self.classes.clone();
        let e = Self::el(&cls, n, "main")?;
        let k = self.spec.actuators.len();
        let name = n
            .attr("name")
            .map(str::to_string)
            .unwrap_or_else(|| format!("actuator{k}"));
        let what = format!("actuator '{name}'");
        if !matches!(
            n.tag.as_str(),
            "motor" | "position" | "velocity" | "general" | "intvelocity"
        ) {
            self.warn(format!(
                "{what}: <{}> actuators unsupported, ignored",
                n.tag
            ));
            return Ok(());
        }
        let (joint, tendon) = match e.get("joint").or_else(|| e.get("jointinparent")) {
            Some(j) => (j.to_string(), false),
            None => match e.get("tendon") {
                Some(t) => (format!("{t}{}", self.suffix), true),
                None => {
                    let Some(tr) = ["site", "body", "cranksite", "refsite"]
                        .into_iter()
                        .find(|t| e.get(t).is_some())
                    else {
                        return Err(
                            n.err("missing transmission target (joint, tendon, site or body)")
                        );
                    };
                    self.warn(format!("{what}: {tr} transmission unsupported, ignored"));
                    return Ok(());
                }
            },
        };
        if tendon {
            if !self.spec.tendons.iter().any(|t| t.name == joint) {
                // a name that does not exist
                self.warn(format!(
                    "{what}: tendon '{joint}' is not a tendon of this file kinegrad loads, ignored"
                ));
                return Ok(());
            }
        } else if !self.joint_names.contains(&joint) {
            return Err(n.err(format!("unknown joint '{joint}'")));
        }
        let gear = e.arr_prefix::<6>("gear", 1, [1.0, 0.0, 0.0, 0.0, 0.0, 0.0])?[0];
        let range = |key: &str, lim: &str| -> Result<[f64; 2]> {
            let r = e.arr::<2>(key)?;
            let limited = e
                .boolean(lim)?
                .unwrap_or(self.comp.autolimits && r.is_some());
            Ok(match (limited, r) {
                (true, Some(r)) if !(r[0] <= r[1]) => {
                    return Err(n.err(format!(
                        "attribute '{key}': lower {} > upper {}",
                        r[0], r[1]
                    )))
                }
                (true, Some(r)) => r,
                (true, None) => return Err(n.err(format!("'{lim}' without '{key}'"))),
                _ => [f64::NEG_INFINITY, f64::INFINITY],
            })
        };
        let clamp = !self
            .spec
            .option_attrs
            .iter()
            .any(|(k, v)| k == "flag.clampctrl" && v == "disable");
        let mut ctrl_range = if clamp {
            range("ctrlrange", "ctrllimited")?
        } else {
            range("ctrlrange", "ctrllimited")?;
            [f64::NEG_INFINITY, f64::INFINITY]
        };
        let force_range = range("forcerange", "forcelimited")?;
        let mut act_range = match range("actrange", "actlimited")? {
            [lo, hi] if lo.is_finite() || hi.is_finite() => Some([lo, hi]),
            _ => None,
        };
        // the activation dynamics (MuJoCo's dyntype): a position servo's timeconst makes it an
        // exact filter, an intvelocity is an integrator, a motor and a velocity servo have none
        let dyntype = match n.tag.as_str() {
            "motor" | "velocity" => "none",
            "intvelocity" => "integrator",
            "position" if e.get("timeconst").is_some() => {
                if e.f("timeconst", 0.0)? > 0.0 {
                    "filterexact"
                } else {
                    "none"
                }
            }
            _ => e.get("dyntype").unwrap_or("none"),
        };
        let tau = if n.tag == "position" {
            let t = e.f("timeconst", 0.0)?;
            if t < 0.0 {
                return Err(n.err(format!("negative timeconst {t}")));
            }
            t
        } else {
            e.arr_prefix::<10>(
                "dynprm",
                1,
                [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            )?[0]
        };
        let tau = tau.max(crate::math::MINVAL);
        let dynamics = match dyntype {
            "none" => None,
            "filter" => Some(ActDyn::Filter { tau }),
            "filterexact" => Some(ActDyn::FilterExact { tau }),
            "integrator" => Some(ActDyn::Integrator),
            other => {
                self.warn(format!(
                    "{what}: dyntype '{other}' unsupported, treated as none (the force follows the control without delay)"
                ));
                None
            }
        };
        let act_early = e.boolean("actearly")?.unwrap_or(false);
        // the target per unit of control of a PD whose control is scaled (1 otherwise)
        let mut pd_scale = 1.0;
        // MuJoCo's dampratio of a position servo (its kv is set at compile time)
        let mut dampratio = 0.0;
        let (mode, kp, kv, gain) = match n.tag.as_str() {
            "motor" => (CtrlMode::Force, 0.0, 0.0, 1.0),
            "position" | "intvelocity" => {
                // MuJoCo's inheritrange: the control range (an intvelocity's activation range)
                // is the joint's, scaled about its middle (a joint of this file, limited, driven
                // with gear 1)
                let inherit = e.f("inheritrange", 0.0)?;
                let intvelocity = n.tag == "intvelocity";
                if inherit > 0.0 && (clamp || intvelocity) {
                    let jr = (!tendon && gear == 1.0)
                        .then(|| {
                            self.spec
                                .bodies
                                .iter()
                                .flat_map(|b| &b.joints)
                                .find(|j| j.name == joint)
                                .and_then(|j| j.range)
                        })
                        .flatten();
                    match jr {
                        Some([lo, hi]) => {
                            let (mid, half) = (0.5 * (lo + hi), 0.5 * (hi - lo) * inherit);
                            if intvelocity {
                                act_range = Some([mid - half, mid + half]);
                            } else {
                                ctrl_range = [mid - half, mid + half];
                            }
                        }
                        None => self.warn(format!(
                            "{what}: inheritrange needs a limited joint driven with gear 1 (its control range is left as written)"
                        )),
                    }
                }
                let kp = e.f("kp", 1.0)?;
                let mut kv = e.f("kv", 0.0)?;
                if n.attr("dampratio").is_some() && n.attr("kv").is_some() {
                    return Err(n.err("kv and dampratio cannot both be given"));
                }
                // an element's own kv wins over a default class's dampratio and vice versa
                if e.get("dampratio").is_some() && n.attr("kv").is_none() {
                    dampratio = e.f("dampratio", 0.0)?;
                    if dampratio < 0.0 {
                        return Err(n.err(format!("negative dampratio {dampratio}")));
                    }
                    kv = 0.0;
                }
                (CtrlMode::Position, kp, kv, 1.0)
            }
            "velocity" => (CtrlMode::Velocity, 0.0, e.f("kv", 1.0)?, 1.0),
            _ => {
                if e.get("gaintype").is_some_and(|d| d != "fixed") {
                    self.warn(format!(
                        "{what}: gaintype other than fixed unsupported, treated as a motor"
                    ));
                }
                let gp = e.arr_prefix::<10>(
                    "gainprm",
                    1,
                    [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
                )?;
                let bp = e.arr_prefix::<10>("biasprm", 1, [0.0; 10])?;
                let biastype = e.get("biastype").unwrap_or("none");
                let k = gp[0];
                let no_bias = biastype == "none" || bp.iter().all(|&x| x == 0.0);
                let exact = |a: f64, b: f64| (a - b).abs() <= 1e-12 * a.abs().max(b.abs());
                if no_bias {
                    (CtrlMode::Force, 0.0, 0.0, k)
                } else if biastype == "affine"
                    && bp[0] == 0.0
                    && exact(bp[1], -k)
                    && bp[3..].iter().all(|&x| x == 0.0)
                {
                    // MuJoCo reads a positive biasprm[2] of a position-like actuator as its
                    // dampratio
                    if bp[2] > 0.0 {
                        dampratio = bp[2];
                        (CtrlMode::Position, k, 0.0, 1.0)
                    } else {
                        (CtrlMode::Position, k, -bp[2], 1.0)
                    }
                } else if biastype == "affine" && bp[0] == 0.0 && bp[1] == 0.0 && exact(bp[2], -k) {
                    (CtrlMode::Velocity, 0.0, k, 1.0)
                } else if biastype == "affine"
                    && bp[0] == 0.0
                    && bp[1] < 0.0
                    && bp[2] <= 0.0
                    && bp[3..].iter().all(|&x| x == 0.0)
                {
                    // k ctrl - kp x - kv xdot = kp ((k / kp) ctrl - x) - kv xdot: a PD whose target
                    // is the control scaled by k / kp (the Menagerie Panda's gripper: k = 4/255,
                    // kp = 100); kinegrad's targets are lengths, so the scale is the user's (and
                    // maps the control range onto the target's, below)
                    pd_scale = k / -bp[1];
                    (CtrlMode::Position, -bp[1], -bp[2], 1.0)
                } else {
                    self.warn(format!("{what}: gainprm/biasprm combination unsupported, treated as a motor with gain {k}"));
                    (CtrlMode::Force, 0.0, 0.0, k)
                }
            }
        };
        if kp < 0.0 || kv < 0.0 {
            return Err(n.err(format!(
                "negative gain (kp {kp}, kv {kv}): gains must be >= 0"
            )));
        }
        self.spec.actuators.push(ActuatorSpec {
            name,
            joint,
            tendon,
            mode,
            kp,
            kv,
            gear: gear * gain,
            ctrl_range,
            // a force channel's target is the joint force gear ctrl; a servo's is its
            // setpoint ctrl / gear (its gains carry gear^2)
            target_per_ctrl: match mode {
                CtrlMode::Force => gear * gain,
                CtrlMode::Position | CtrlMode::Velocity => pd_scale / gear,
            },
            force_range,
            dampratio,
            dynamics,
            act_range,
            act_early,
        });
        Ok(())
    }
}

enum Shape {
    Prim(GeomType),
    Mesh(String),
    Other,
}

struct ShapeInfo {
    kind: Shape,
    size: Vec3,
    pos: Vec3,
    quat: Quat,
}

/// Whether the worldbody holds geoms or sites of its own (they go on a jointless root body).
fn world_has_geoms(n: &XNode) -> bool {
    let mut stack = vec![n];
    while let Some(n) = stack.pop() {
        for c in &n.children {
            match c.tag.as_str() {
                "geom" | "site" => return true,
                "frame" => stack.push(c),
                _ => {}
            }
        }
    }
    false
}

/// Minimal rotation taking +z to `v` (MuJoCo's `mju_quatZ2Vec`).
fn quat_z_to(v: &Vec3) -> Option<Quat> {
    let vn = v.try_normalize(1e-12)?;
    let z = Vec3::z();
    let axis = z.cross(&vn);
    let s = axis.norm();
    if s < 1e-12 {
        return Some(if vn.z < 0.0 {
            Quat::from_axis_angle(&Vec3::x_axis(), std::f64::consts::PI)
        } else {
            Quat::identity()
        });
    }
    let ang = s.atan2(z.dot(&vn));
    Some(Quat::from_axis_angle(
        &nalgebra::Unit::new_normalize(axis),
        ang,
    ))
}

//! URDF loader.
//!
//! Links become bodies (in depth-first order from the root link), joints become
//! the child body's joint (fixed joints weld the child to its parent), visual
//! geometry becomes visual-only geoms and collision geometry colliding geoms.
//! Things URDF can express but kinegrad cannot use are reported in
//! [`EntitySpec::warnings`]. Errors name the file and the line of the element being read;
//! negative or indefinite inertias and negative sizes are errors, an inertia breaking
//! `A + B >= C` only a warning (real robot files do).

use super::builder::{BodySpec, EntitySpec, EqualitySpec, GeomSpec, JointSpec};
use super::inertia::{self, MassProps};
use super::{EqType, GeomType, JointType, Mesh};
use crate::error::{Error, Result};
use crate::math::{Mat3, Quat, Vec3};
use roxmltree::Node;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Density used for links without `<inertial>` (kg/m^3).
const DEFAULT_DENSITY: f64 = 1000.0;

/// Load a URDF file into an entity (bodies = links, in topological order from the root link).
/// `scale` multiplies every length.
pub fn load(path: &Path, scale: f64) -> Result<EntitySpec> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::load(path, format!("cannot read file: {e}")))?;
    load_str(&text, path, scale)
}

/// Load URDF text; `path` names the file in errors and anchors relative mesh paths.
pub fn load_str(text: &str, path: &Path, scale: f64) -> Result<EntitySpec> {
    if !(scale > 0.0 && scale.is_finite()) {
        return Err(Error::load(
            path,
            format!("scale must be positive and finite, got {scale}"),
        ));
    }
    let text = &*super::xml_as_read(text);
    let doc = roxmltree::Document::parse(text)
        .map_err(|e| Error::load(path, format!("XML parse error: {e}")))?;
    let mut ld = Loader {
        lines: crate::error::LineIndex::new(text),
        line: std::cell::Cell::new(0),
        file: path.to_path_buf(),
        dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
        scale,
        materials: HashMap::new(),
        spec: EntitySpec::default(),
        warned: Default::default(),
        mesh_index: HashMap::new(),
    };
    ld.spec.source = Some(path.to_path_buf());
    ld.run(&doc)?;
    inertia::apply_scale(&mut ld.spec, scale);
    Ok(ld.spec)
}

struct Loader {
    /// Line starts of the file, and the line of the element being read: every error of the
    /// loader names the file and that line.
    lines: crate::error::LineIndex,
    line: std::cell::Cell<u32>,
    file: PathBuf,
    dir: PathBuf,
    scale: f64,
    materials: HashMap<String, [f32; 4]>,
    spec: EntitySpec,
    warned: std::collections::HashSet<String>,
    mesh_index: HashMap<(PathBuf, [u64; 3]), usize>,
}

struct UJoint<'a> {
    name: String,
    kind: String,
    parent: String,
    child: String,
    node: Node<'a, 'a>,
}

impl Loader {
    fn err(&self, msg: impl Into<String>) -> Error {
        match self.line.get() {
            0 => Error::load(&self.file, msg),
            l => Error::load(&self.file, format!("line {l}: {}", msg.into())),
        }
    }

    /// Line of element `n`, which errors from now on name.
    fn at(&self, n: Node) -> u32 {
        let l = self.lines.line(n.range().start);
        self.line.set(l);
        l
    }

    fn warn(&mut self, msg: String) {
        // a set beside the list: a file with thousands of warnings is not quadratic
        if self.warned.insert(msg.clone()) {
            self.spec.warnings.push(msg);
        }
    }

    fn run(&mut self, doc: &roxmltree::Document) -> Result<()> {
        let robot = doc.root_element();
        if robot.tag_name().name() != "robot" {
            return Err(self.err(format!(
                "root element is <{}>, expected <robot>",
                robot.tag_name().name()
            )));
        }
        self.spec.name = robot.attribute("name").unwrap_or("robot").to_string();

        // materials anywhere in the file (named, with a colour)
        for m in robot.descendants().filter(|n| n.has_tag_name("material")) {
            if let (Some(name), Some(c)) = (m.attribute("name"), child(m, "color")) {
                self.at(c);
                let rgba = self.rgba(c, &format!("material '{name}'"))?;
                self.materials.entry(name.to_string()).or_insert(rgba);
            }
        }

        // links and joints
        let mut links: Vec<Node> = Vec::new();
        let mut link_id: HashMap<String, usize> = HashMap::new();
        let mut joints: Vec<UJoint> = Vec::new();
        let mut joint_names = std::collections::HashSet::new();
        for n in robot.children().filter(|n| n.is_element()) {
            self.at(n);
            match n.tag_name().name() {
                "link" => {
                    let name = self.req(n, "name", "<link>")?.to_string();
                    if link_id.insert(name.clone(), links.len()).is_some() {
                        return Err(self.err(format!("link '{name}': duplicate link name")));
                    }
                    links.push(n);
                }
                "joint" => {
                    let name = self.req(n, "name", "<joint>")?.to_string();
                    let what = format!("joint '{name}'");
                    if !joint_names.insert(name.clone()) {
                        return Err(self.err(format!("{what}: duplicate joint name")));
                    }
                    let kind = self.req(n, "type", &what)?.to_string();
                    let parent = child(n, "parent").and_then(|p| p.attribute("link"));
                    let childl = child(n, "child").and_then(|p| p.attribute("link"));
                    let (Some(parent), Some(childl)) = (parent, childl) else {
                        return Err(
                            self.err(format!("{what}: missing <parent link> or <child link>"))
                        );
                    };
                    joints.push(UJoint {
                        name,
                        kind,
                        parent: parent.to_string(),
                        child: childl.to_string(),
                        node: n,
                    });
                }
                "material" => {}
                "transmission" | "gazebo" => {
                    let nm = n
                        .attribute("name")
                        .map(|s| format!(" '{s}'"))
                        .unwrap_or_default();
                    let tag = n.tag_name().name();
                    self.warn(format!("<{tag}>{nm} unsupported, ignored"));
                }
                other => self.warn(format!("<{other}> unsupported, ignored")),
            }
        }
        self.line.set(0);
        if links.is_empty() {
            return Err(self.err("<robot> has no <link>"));
        }

        // tree structure
        let mut parent_joint: Vec<Option<usize>> = vec![None; links.len()];
        let mut children: Vec<Vec<usize>> = vec![Vec::new(); links.len()];
        for (ji, j) in joints.iter().enumerate() {
            self.at(j.node);
            let p = *link_id.get(&j.parent).ok_or_else(|| {
                self.err(format!(
                    "joint '{}': parent link '{}' does not exist",
                    j.name, j.parent
                ))
            })?;
            let c = *link_id.get(&j.child).ok_or_else(|| {
                self.err(format!(
                    "joint '{}': child link '{}' does not exist",
                    j.name, j.child
                ))
            })?;
            if let Some(prev) = parent_joint[c] {
                return Err(self.err(format!(
                    "link '{}' is the child of two joints ('{}' and '{}'): the links do not form a tree",
                    j.child, joints[prev].name, j.name
                )));
            }
            parent_joint[c] = Some(ji);
            children[p].push(c);
        }
        self.line.set(0);
        let roots: Vec<usize> = (0..links.len())
            .filter(|&l| parent_joint[l].is_none())
            .collect();
        let lname = |l: usize| links[l].attribute("name").unwrap_or("").to_string();
        if roots.is_empty() {
            return Err(
                self.err("no root link: every link is the child of a joint (kinematic cycle)")
            );
        }
        if roots.len() > 1 {
            let names: Vec<String> = roots.iter().map(|&r| format!("'{}'", lname(r))).collect();
            return Err(self.err(format!(
                "several root links ({}): a URDF must describe one tree",
                names.join(", ")
            )));
        }
        let root = roots[0];
        // depth-first order
        let mut order = Vec::with_capacity(links.len());
        let mut stack = vec![root];
        let mut seen = vec![false; links.len()];
        while let Some(l) = stack.pop() {
            if seen[l] {
                return Err(self.err(format!("kinematic cycle through link '{}'", lname(l))));
            }
            seen[l] = true;
            order.push(l);
            for &c in children[l].iter().rev() {
                stack.push(c);
            }
        }
        if order.len() != links.len() {
            let missing: Vec<String> = (0..links.len())
                .filter(|&l| !seen[l])
                .map(|l| format!("'{}'", lname(l)))
                .collect();
            return Err(self.err(format!(
                "links {} are not reachable from root link '{}' (kinematic cycle)",
                missing.join(", "),
                lname(root)
            )));
        }

        // bodies
        let mut body_of_link = vec![usize::MAX; links.len()];
        // the frame of each link in its body's (not the identity for a link fused into its parent)
        let mut link_in_body = vec![(Vec3::zeros(), Quat::identity()); links.len()];
        // the links on moving joints without <inertial> (body, link, joint), and those with one
        let mut moving: Vec<(usize, String, String, bool)> = Vec::new();
        let mut fused: Vec<String> = Vec::new();
        let mut dropped_inertia: Vec<String> = Vec::new();
        for &l in &order {
            let link = links[l];
            let name = lname(l);
            let mut body = BodySpec::new(name.clone(), None);
            body.line = self.at(link);
            let mut moved = None;
            let mut welded = false;
            if let Some(ji) = parent_joint[l] {
                let j = &joints[ji];
                self.at(j.node);
                let pl = link_id[&j.parent];
                let (pos, quat) = self.origin(
                    child(j.node, "origin"),
                    &format!("joint '{}': <origin>", j.name),
                )?;
                let (op, oq) = link_in_body[pl];
                body.pos = oq * pos + op;
                body.quat = oq * quat;
                body.parent = Some(body_of_link[pl]);
                if let Some(js) = self.joint(j)? {
                    if js.kind == JointType::Free {
                        if pl != root || parent_joint[pl].is_some() {
                            return Err(self.err(format!(
                                "joint '{}': a floating joint is only allowed from the root link",
                                j.name
                            )));
                        }
                        // a floating child of the root becomes a second root, placed by the root's frame
                        let rb = &self.spec.bodies[body_of_link[pl]];
                        body.pos = rb.quat * body.pos + rb.pos;
                        body.quat = rb.quat * body.quat;
                        body.parent = None;
                    }
                    body.joints.push(js);
                    moved = Some(j.name.clone());
                } else {
                    welded = true;
                    // MuJoCo's URDF import fuses it into its parent (fusestatic)
                    body.fused = true;
                }
            }
            self.link_geoms(link, &name, &mut body)?;
            self.at(link);
            let explicit = match child(link, "inertial") {
                Some(inl) => {
                    self.inertial(inl, &name, &mut body)?;
                    true
                }
                None => {
                    // as MuJoCo: the mass of the collision geometry at 1000 kg/m^3, whatever
                    // the joint (a welded link's mass moves with its parent's)
                    let mut mp = MassProps::zero();
                    let mut any = false;
                    for g in body.geoms.iter().filter(|g| !g.visual) {
                        let gm = match g.kind {
                            GeomType::Mesh => match g.mesh {
                                Some(k) => inertia::mesh_mass_props(
                                    &self.spec.meshes[k],
                                    DEFAULT_DENSITY,
                                    self.scale,
                                ),
                                None => continue,
                            },
                            GeomType::Plane => continue,
                            k => inertia::primitive_mass_props(k, &g.size, DEFAULT_DENSITY),
                        };
                        mp = mp.add(&gm.transformed(&g.pos, &g.quat));
                        any = true;
                    }
                    if any && mp.mass > 0.0 {
                        self.warn(format!(
                            "link '{name}': no <inertial>; mass properties computed from its collision geometry at density {DEFAULT_DENSITY} kg/m^3"
                        ));
                        body.mass = mp.mass;
                        body.ipos = mp.com;
                        body.inertia = mp.inertia;
                    }
                    false
                }
            };
            if welded && body.mass < inertia::MINVAL {
                // MuJoCo's fusestatic (on for URDF): a massless link on a fixed joint is its
                // parent's geometry; its children hang from the parent, placed through it. Its
                // inertia, if it has one, is dropped with its mass (MuJoCo accumulates a fused
                // body's inertia into its parent only where its mass is at least mjMINVAL)
                let p = body.parent.expect("a welded link has a parent");
                for mut g in body.geoms.drain(..) {
                    g.pos = body.quat * g.pos + body.pos;
                    g.quat = body.quat * g.quat;
                    self.spec.bodies[p].geoms.push(g);
                }
                body_of_link[l] = p;
                link_in_body[l] = (body.pos, body.quat);
                if body.inertia.amax() >= inertia::MINVAL {
                    dropped_inertia.push(format!("'{name}'"));
                } else {
                    fused.push(format!("'{name}'"));
                }
                continue;
            }
            body_of_link[l] = self.spec.bodies.len();
            if let Some(jname) = moved {
                moving.push((self.spec.bodies.len(), name.clone(), jname, explicit));
            }
            self.spec.bodies.push(body);
        }
        if !fused.is_empty() {
            self.warn(format!(
                "links {} are massless and welded by fixed joints: fused into their parent links \
                 (their geoms move there), as MuJoCo does",
                fused.join(", ")
            ));
        }
        if !dropped_inertia.is_empty() {
            self.warn(format!(
                "links {} have mass 0 but an inertia: fused, their inertia is ignored as MuJoCo \
                 ignores a massless body's",
                dropped_inertia.join(", ")
            ));
        }
        // a mimic whose leader cannot drive it (fixed, floating or absent) is dropped with a
        // warning: Genesis ignores it, MuJoCo's compiler would refuse the whole file
        let kinds: HashMap<&str, &str> = joints
            .iter()
            .map(|j| (j.name.as_str(), j.kind.as_str()))
            .collect();
        let mut dropped = Vec::new();
        self.spec.equalities.retain(|e| {
            let leader = kinds.get(e.obj[1].as_str()).copied();
            let ok = matches!(leader, Some("revolute" | "continuous" | "prismatic"));
            if !ok {
                dropped.push(format!(
                    "joint '{}': <mimic joint='{}'>: the leader is {}, the mimic is ignored",
                    e.obj[0],
                    e.obj[1],
                    match leader {
                        Some(k) => format!("a {k} joint"),
                        None => "not a joint of this file".to_string(),
                    }
                ));
            }
            ok
        });
        for w in dropped {
            self.warn(w);
        }
        self.check_moving_masses(&moving)
    }

    /// MuJoCo refuses a moving body lighter than `mjMINVAL` once the links welded to it are
    /// fused in ("mass and inertia of moving bodies must be larger than mjMINVAL"). Here: a
    /// link without `<inertial>` or collision geometry gets 1e-3 kg (as kinegrad did before;
    /// robot files use such links between two joints); one whose `<inertial>` says mass 0 is
    /// refused when nothing it carries has mass (its joint would have no inertia), and loads
    /// with a warning when its moving children carry it. Each case names the link.
    fn check_moving_masses(&mut self, moving: &[(usize, String, String, bool)]) -> Result<()> {
        self.line.set(0);
        let n = self.spec.bodies.len();
        // mass welded to each body (itself and its joint-less descendants), and of its subtree
        let mut welded: Vec<f64> = self.spec.bodies.iter().map(|b| b.mass).collect();
        let mut subtree = welded.clone();
        for i in (0..n).rev() {
            if let Some(p) = self.spec.bodies[i].parent {
                subtree[p] += subtree[i];
                if self.spec.bodies[i].joints.is_empty() {
                    welded[p] += welded[i];
                }
            }
        }
        for (b, link, joint, explicit) in moving {
            let b = *b;
            if welded[b] >= inertia::MINVAL {
                continue;
            }
            let mujoco = "MuJoCo refuses it ('mass and inertia of moving bodies must be larger than mjMINVAL')";
            if !explicit {
                self.warn(format!(
                    "link '{link}' (joint '{joint}'): no <inertial>, no collision geometry and nothing welded to it with mass; given mass 1e-3 kg ({mujoco})"
                ));
                let body = &mut self.spec.bodies[b];
                body.mass = 1e-3;
                body.inertia = inertia::small_inertia(1e-3) / (self.scale * self.scale);
            } else if subtree[b] < inertia::MINVAL {
                let line = self.spec.bodies[b].line;
                self.line.set(line);
                return Err(self.err(format!(
                    "link '{link}' moves on joint '{joint}' but has no mass, nor does any link it carries: \
                     its joint has no inertia and the mass matrix would be singular (MuJoCo refuses it too: \
                     'mass and inertia of moving bodies must be larger than mjMINVAL'); give it an <inertial> with a mass"
                )));
            } else {
                self.warn(format!(
                    "link '{link}' (joint '{joint}'): <inertial> mass 0, its moving children carry the mass; {mujoco}"
                ));
            }
        }
        Ok(())
    }

    fn req<'a>(&self, n: Node<'a, 'a>, attr: &str, what: &str) -> Result<&'a str> {
        n.attribute(attr)
            .ok_or_else(|| self.err(format!("{what}: missing attribute '{attr}'")))
    }

    fn nums(&self, s: &str, what: &str, n: usize) -> Result<Vec<f64>> {
        let v: std::result::Result<Vec<f64>, _> =
            s.split_whitespace().map(str::parse::<f64>).collect();
        match v {
            Ok(v) if v.len() == n && v.iter().all(|x| x.is_finite()) => Ok(v),
            _ => Err(self.err(format!("{what}: expected {n} finite numbers, got \"{s}\""))),
        }
    }

    fn num(&self, n: Node, attr: &str, what: &str) -> Result<Option<f64>> {
        match n.attribute(attr) {
            None => Ok(None),
            Some(s) => Ok(Some(
                self.nums(s, &format!("{what}: attribute '{attr}'"), 1)?[0],
            )),
        }
    }

    fn vec3(&self, n: Node, attr: &str, what: &str, default: Vec3) -> Result<Vec3> {
        match n.attribute(attr) {
            None => Ok(default),
            Some(s) => {
                let v = self.nums(s, &format!("{what}: attribute '{attr}'"), 3)?;
                Ok(Vec3::new(v[0], v[1], v[2]))
            }
        }
    }

    fn rgba(&self, c: Node, what: &str) -> Result<[f32; 4]> {
        let v = self.nums(
            c.attribute("rgba").unwrap_or("0.5 0.5 0.5 1"),
            &format!("{what}: <color rgba>"),
            4,
        )?;
        Ok([v[0] as f32, v[1] as f32, v[2] as f32, v[3] as f32])
    }

    /// `<origin xyz rpy>` (fixed-axis roll, pitch, yaw: R = Rz(y) Ry(p) Rx(r)).
    fn origin(&self, o: Option<Node>, what: &str) -> Result<(Vec3, Quat)> {
        let Some(o) = o else {
            return Ok((Vec3::zeros(), Quat::identity()));
        };
        let xyz = self.vec3(o, "xyz", what, Vec3::zeros())?;
        let rpy = self.vec3(o, "rpy", what, Vec3::zeros())?;
        Ok((xyz, rpy_quat(&rpy)))
    }

    fn joint(&mut self, j: &UJoint) -> Result<Option<JointSpec>> {
        let what = format!("joint '{}'", j.name);
        let kind = match j.kind.as_str() {
            "fixed" => {
                if child(j.node, "mimic").is_some() {
                    self.warn(format!(
                        "{what}: <mimic> on a fixed joint has nothing to move, ignored"
                    ));
                }
                return Ok(None);
            }
            "revolute" | "continuous" => JointType::Hinge,
            "prismatic" => JointType::Slide,
            "floating" => JointType::Free,
            // pybullet's ball joint (not standard URDF), which MuJoCo's reader takes too
            "spherical" => JointType::Ball,
            "planar" => return Err(self.err(format!("{what}: joint type 'planar' is unsupported"))),
            other => return Err(self.err(format!("{what}: unknown joint type '{other}'"))),
        };
        let mut js = JointSpec::new(j.name.clone(), kind);
        js.line = self.at(j.node);
        if kind.has_axis() {
            js.axis = match child(j.node, "axis") {
                Some(a) => self.vec3(a, "xyz", &format!("{what}: <axis>"), Vec3::x())?,
                None => Vec3::x(),
            };
            if js.axis.norm() < 1e-12 {
                return Err(self.err(format!("{what}: <axis xyz> has zero length")));
            }
        }
        if let Some(l) = child(j.node, "limit") {
            let w = format!("{what}: <limit>");
            let lo = self.num(l, "lower", &w)?;
            let hi = self.num(l, "upper", &w)?;
            if kind == JointType::Ball {
                if lo.is_some() || hi.is_some() {
                    self.warn(format!(
                        "{w}: pybullet's swing and twist limits of a spherical joint are unsupported, the joint is unlimited"
                    ));
                }
            } else if j.kind != "continuous" && kind.range_unit().is_some() {
                let r = [lo.unwrap_or(0.0), hi.unwrap_or(0.0)];
                if r[0] > r[1] {
                    return Err(self.err(format!("{w}: lower {} > upper {}", r[0], r[1])));
                }
                // ROS convention: lower == upper == 0 (or absent) means "no limit given"
                if r[0] == 0.0 && r[1] == 0.0 {
                    self.warn(format!("{w}: lower = upper = 0, treated as unlimited"));
                } else {
                    js.range = Some(r);
                }
            }
            if let Some(e) = self.num(l, "effort", &w)? {
                if e > 0.0 {
                    js.force_range = [-e, e];
                }
            }
            self.num(l, "velocity", &w)?;
        } else if j.kind == "revolute" || j.kind == "prismatic" {
            self.warn(format!(
                "{what}: {} joint without <limit>, treated as unlimited",
                j.kind
            ));
        }
        if let Some(d) = child(j.node, "dynamics") {
            let w = format!("{what}: <dynamics>");
            if let Some(damp) = self.num(d, "damping", &w)? {
                if damp < 0.0 {
                    return Err(self.err(format!("{w}: negative damping {damp}")));
                }
                js.damping = damp;
            }
            // MuJoCo's URDF reader: <dynamics friction> is the joint's frictionloss
            if let Some(f) = self.num(d, "friction", &w)? {
                if f < 0.0 {
                    return Err(self.err(format!("{w}: negative friction {f}")));
                }
                js.frictionloss = f;
            }
        }
        if let Some(m) = child(j.node, "mimic") {
            // q = multiplier q_leader + offset: a joint equality, as MuJoCo's URDF reader and
            // Genesis make it
            let w = format!("{what}: <mimic>");
            let Some(leader) = m.attribute("joint") else {
                return Err(self.err(format!("{w}: missing attribute 'joint'")));
            };
            let mut eq = EqualitySpec::new(EqType::Joint, j.name.clone(), leader);
            eq.name = format!("mimic_{}", j.name);
            eq.polycoef = [
                self.num(m, "offset", &w)?.unwrap_or(0.0),
                self.num(m, "multiplier", &w)?.unwrap_or(1.0),
                0.0,
                0.0,
                0.0,
            ];
            self.spec.equalities.push(eq);
        }
        for tag in ["safety_controller", "calibration"] {
            if child(j.node, tag).is_some() {
                self.warn(format!("{what}: <{tag}> unsupported, ignored"));
            }
        }
        Ok(Some(js))
    }

    fn inertial(&mut self, n: Node, link: &str, body: &mut BodySpec) -> Result<()> {
        self.at(n);
        let what = format!("link '{link}': <inertial>");
        let (pos, quat) = self.origin(child(n, "origin"), &format!("{what}: <origin>"))?;
        let mass_el =
            child(n, "mass").ok_or_else(|| self.err(format!("{what}: missing <mass>")))?;
        let mass = self
            .num(mass_el, "value", &format!("{what}: <mass>"))?
            .ok_or_else(|| self.err(format!("{what}: <mass>: missing attribute 'value'")))?;
        if mass < 0.0 {
            return Err(self.err(format!("{what}: negative mass {mass}")));
        }
        let inertia = match child(n, "inertia") {
            Some(i) => {
                self.at(i);
                let w = format!("{what}: <inertia>");
                let g = |a: &str| -> Result<f64> { Ok(self.num(i, a, &w)?.unwrap_or(0.0)) };
                let (ixx, iyy, izz, ixy, ixz, iyz) = (
                    g("ixx")?,
                    g("iyy")?,
                    g("izz")?,
                    g("ixy")?,
                    g("ixz")?,
                    g("iyz")?,
                );
                // a moment below zero by round-off (iCub's r_hip_2: -5.4e-20) is 0
                for (k, v) in [("ixx", ixx), ("iyy", iyy), ("izz", izz)] {
                    if v < -inertia::MINVAL {
                        return Err(self.err(format!("{w}: negative {k} {v}")));
                    }
                }
                let (ixx, iyy, izz) = (ixx.max(0.0), iyy.max(0.0), izz.max(0.0));
                let m = Mat3::new(ixx, ixy, ixz, ixy, iyy, iyz, ixz, iyz, izz);
                // positive semi-definite (an error, as the parameter setters); MuJoCo's
                // A + B >= C is only a warning here: real robot URDFs (xarm, anymal_c,
                // mini_cheetah) violate it by up to 20 %, and pinocchio and pybullet load them
                let pm =
                    inertia::principal_moments(&m).map_err(|e| self.err(format!("{w}: {e}")))?;
                if let Err(e) = inertia::check_triangle(&pm) {
                    self.warn(format!("{w}: {e} (kept as given)"));
                }
                m
            }
            None => Mat3::zeros(),
        };
        let r = quat.to_rotation_matrix().into_inner();
        body.mass = mass;
        body.ipos = pos;
        body.inertia = r * inertia * r.transpose();
        Ok(())
    }

    fn link_geoms(&mut self, link: Node, lname: &str, body: &mut BodySpec) -> Result<()> {
        for n in link.children().filter(|n| n.is_element()) {
            let visual = match n.tag_name().name() {
                "visual" => true,
                "collision" => false,
                _ => continue,
            };
            let line = self.at(n);
            let tag = if visual { "visual" } else { "collision" };
            let gname = n.attribute("name").unwrap_or("").to_string();
            let what = if gname.is_empty() {
                format!("link '{lname}': <{tag}>")
            } else {
                format!("link '{lname}': <{tag} name='{gname}'>")
            };
            let (pos, quat) = self.origin(child(n, "origin"), &format!("{what}: <origin>"))?;
            let geo = child(n, "geometry")
                .ok_or_else(|| self.err(format!("{what}: missing <geometry>")))?;
            let shape = geo
                .children()
                .find(|c| c.is_element())
                .ok_or_else(|| self.err(format!("{what}: empty <geometry>")))?;
            let sw = format!("{what}: <{}>", shape.tag_name().name());
            let mut g = match shape.tag_name().name() {
                "box" => {
                    let s = self.vec3(shape, "size", &sw, Vec3::zeros())?;
                    if shape.attribute("size").is_none() {
                        return Err(self.err(format!("{sw}: missing attribute 'size'")));
                    }
                    GeomSpec::new(GeomType::Box, s / 2.0)
                }
                "sphere" => {
                    let r = self
                        .num(shape, "radius", &sw)?
                        .ok_or_else(|| self.err(format!("{sw}: missing attribute 'radius'")))?;
                    GeomSpec::new(GeomType::Sphere, Vec3::new(r, 0.0, 0.0))
                }
                "cylinder" | "capsule" => {
                    let r = self
                        .num(shape, "radius", &sw)?
                        .ok_or_else(|| self.err(format!("{sw}: missing attribute 'radius'")))?;
                    let l = self
                        .num(shape, "length", &sw)?
                        .ok_or_else(|| self.err(format!("{sw}: missing attribute 'length'")))?;
                    let kind = if shape.tag_name().name() == "cylinder" {
                        GeomType::Cylinder
                    } else {
                        GeomType::Capsule
                    };
                    GeomSpec::new(kind, Vec3::new(r, l / 2.0, 0.0))
                }
                "mesh" => {
                    let fname = self.req(shape, "filename", &sw)?;
                    let mscale = self.vec3(shape, "scale", &sw, Vec3::repeat(1.0))?;
                    match self.mesh(fname, mscale, lname, visual)? {
                        Some(k) => {
                            let mut g = GeomSpec::new(GeomType::Mesh, Vec3::zeros());
                            g.mesh = Some(k);
                            g
                        }
                        None => continue,
                    }
                }
                other => {
                    if visual {
                        self.warn(format!(
                            "{what}: geometry <{other}> unsupported, visual dropped"
                        ));
                        continue;
                    }
                    return Err(self.err(format!("{what}: unknown geometry <{other}>")));
                }
            };
            let degenerate = match g.kind {
                GeomType::Box => g.size.min() <= 0.0,
                GeomType::Sphere | GeomType::Capsule | GeomType::Cylinder => {
                    g.size.x <= 0.0 || g.size.y < 0.0
                }
                _ => false,
            };
            if g.size.iter().any(|&x| x < 0.0) {
                return Err(self.err(format!(
                    "{sw}: negative size {} {} {}",
                    g.size.x, g.size.y, g.size.z
                )));
            }
            if degenerate {
                self.warn(format!("{what}: zero-size {:?} dropped", g.kind));
                continue;
            }
            g.name = gname;
            g.line = line;
            g.pos = pos;
            g.quat = quat;
            if visual {
                g.visual = true;
                g.contype = 0;
                g.conaffinity = 0;
                if let Some(m) = child(n, "material") {
                    if let Some(c) = child(m, "color") {
                        g.rgba = self.rgba(c, &format!("{what}: <material>"))?;
                    } else if let Some(name) = m.attribute("name") {
                        match self.materials.get(name) {
                            Some(c) => g.rgba = *c,
                            None => {
                                if child(m, "texture").is_none() {
                                    self.warn(format!(
                                        "{what}: material '{name}' has no colour, default used"
                                    ));
                                }
                            }
                        }
                    }
                }
            }
            body.geoms.push(g);
        }
        Ok(())
    }

    /// Resolve and load a mesh; `Ok(None)` when a visual mesh cannot be used (warning pushed).
    fn mesh(
        &mut self,
        fname: &str,
        mscale: Vec3,
        link: &str,
        visual: bool,
    ) -> Result<Option<usize>> {
        let what = format!(
            "link '{link}': <{}> mesh '{fname}'",
            if visual { "visual" } else { "collision" }
        );
        let (found, tried) = self.resolve(fname);
        let Some(p) = found else {
            let msg = format!(
                "{what}: file not found (looked in: {})",
                tried
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            if visual {
                self.warn(format!("{msg}; visual dropped"));
                return Ok(None);
            }
            return Err(self.err(msg));
        };
        let ext = p
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        if !matches!(ext.as_str(), "obj" | "stl" | "dae") {
            if visual {
                self.warn(format!(
                    "{what}: mesh format '.{ext}' unsupported, visual dropped"
                ));
                return Ok(None);
            }
            return Err(self.err(format!(
                "{what}: mesh format '.{ext}' unsupported (obj, stl, dae)"
            )));
        }
        let total = mscale * self.scale;
        let key = (
            p.clone(),
            [total.x.to_bits(), total.y.to_bits(), total.z.to_bits()],
        );
        if let Some(&k) = self.mesh_index.get(&key) {
            return Ok(Some(k));
        }
        let name = p
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("mesh")
            .to_string();
        let mesh: Mesh = match inertia::load_mesh_asset(&p, total, &name) {
            Ok(m) => m,
            Err(e) if visual => {
                self.warn(format!("{what}: {e}; visual dropped"));
                return Ok(None);
            }
            Err(e) => return Err(self.err(format!("{what}: {e}"))),
        };
        self.spec.meshes.push(mesh);
        let k = self.spec.meshes.len() - 1;
        self.mesh_index.insert(key, k);
        Ok(Some(k))
    }

    /// Candidate locations for a URDF mesh filename; returns the first existing one and all tried.
    fn resolve(&self, fname: &str) -> (Option<PathBuf>, Vec<PathBuf>) {
        let mut cands: Vec<PathBuf> = Vec::new();
        let ancestors: Vec<&Path> = self.dir.ancestors().collect();
        if let Some(rest) = fname.strip_prefix("package://") {
            match rest.split_once('/') {
                Some((pkg, sub)) => {
                    for a in &ancestors {
                        if a.file_name().and_then(|n| n.to_str()) == Some(pkg) {
                            cands.push(a.join(sub));
                        }
                        cands.push(a.join(pkg).join(sub));
                    }
                    for a in &ancestors {
                        cands.push(a.join(sub));
                    }
                }
                // `package://file.obj`: no package folder, the file beside the URDF or above it
                None => cands.extend(ancestors.iter().map(|a| a.join(rest))),
            }
        } else if let Some(abs) = fname.strip_prefix("file://") {
            cands.push(PathBuf::from(abs));
        } else {
            let p = Path::new(fname);
            if p.is_absolute() {
                cands.push(p.to_path_buf());
            } else {
                cands.push(self.dir.join(p));
            }
        }
        let mut uniq: Vec<PathBuf> = Vec::new();
        for c in cands {
            if !uniq.contains(&c) {
                uniq.push(c);
            }
        }
        let found = uniq.iter().find(|c| c.is_file()).cloned();
        (found, uniq)
    }
}

fn child<'a>(n: Node<'a, 'a>, tag: &str) -> Option<Node<'a, 'a>> {
    n.children().find(|c| c.has_tag_name(tag))
}

/// URDF roll-pitch-yaw (fixed axes): R = Rz(yaw) Ry(pitch) Rx(roll).
pub fn rpy_quat(rpy: &Vec3) -> Quat {
    Quat::from_axis_angle(&Vec3::z_axis(), rpy.z)
        * Quat::from_axis_angle(&Vec3::y_axis(), rpy.y)
        * Quat::from_axis_angle(&Vec3::x_axis(), rpy.x)
}

//! Mesh file readers: Wavefront OBJ, STL (binary and ASCII) and COLLADA.
//!
//! * OBJ: `v x y z` and `f` records; face entries may be `i`, `i/t`, `i//n`, `i/t/n`, negative
//!   indices count back from the last vertex; polygons are fan-triangulated; all other records
//!   (`vt`, `vn`, `o`, `g`, `s`, `usemtl`, `mtllib`, comments) are ignored.
//! * STL: binary if the size equals `84 + 50 * triangle_count` (some binary files start with the
//!   word "solid", so the header alone is not trusted), else ASCII when it starts with `solid`.
//!   Identical vertices are merged.
//! * COLLADA (`.dae`): the geometries its visual scene instances, each placed by its nodes'
//!   transforms (`matrix`, `translate`, `rotate`, `scale`; `<instance_node>` followed), scaled
//!   by the file's `<unit meter>` and turned Z-up as pybullet's URDF importer does (Y_UP: +90
//!   degrees about x; X_UP: -90 degrees about y; Z_UP: as is); one mesh, their union, identical
//!   vertices merged. The geometry itself (sources, indices, polygons to triangles) is read by
//!   the `mesh-loader` crate; the scene graph here (see [`parse_dae`]).

use crate::math::Vec3;
use crate::Error;
use std::collections::HashMap;
use std::path::Path;

/// Vertices (scaled componentwise by `scale`) and triangles of a mesh file (`.obj` or `.stl`).
pub fn load_mesh(path: &Path, scale: Vec3) -> Result<(Vec<Vec3>, Vec<[u32; 3]>), Error> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .unwrap_or_default();
    let (mut v, mut f) = match ext.as_str() {
        "obj" => {
            let bytes = std::fs::read(path).map_err(|e| Error::load(path, format!("cannot read: {e}")))?;
            parse_obj(path, &String::from_utf8_lossy(&bytes))?
        }
        "stl" => {
            let bytes = std::fs::read(path).map_err(|e| Error::load(path, format!("cannot read: {e}")))?;
            parse_stl(path, &bytes)?
        }
        "dae" => {
            let bytes = std::fs::read(path).map_err(|e| Error::load(path, format!("cannot read: {e}")))?;
            parse_dae(path, &bytes)?
        }
        "" => return Err(Error::load(path, "mesh file has no extension (supported: .obj, .stl, .dae)")),
        other => {
            return Err(Error::load(
                path,
                format!("unsupported mesh format '.{other}' (supported: .obj, .stl, .dae); convert it, e.g. to .obj"),
            ))
        }
    };
    for p in &mut v {
        *p = p.component_mul(&scale);
    }
    // a mirroring scale turns the triangles inside out: wind them back, as MuJoCo does
    if scale.x * scale.y * scale.z < 0.0 {
        for t in &mut f {
            t.swap(1, 2);
        }
    }
    if f.is_empty() {
        return Err(Error::load(path, "mesh has no triangles"));
    }
    Ok((v, f))
}

fn parse_f64(path: &Path, line: usize, tok: Option<&str>, what: &str) -> Result<f64, Error> {
    let t =
        tok.ok_or_else(|| Error::load(path, format!("line {line}: {what}: missing coordinate")))?;
    let x: f64 = t
        .parse()
        .map_err(|_| Error::load(path, format!("line {line}: {what}: bad number '{t}'")))?;
    if !x.is_finite() {
        return Err(Error::load(
            path,
            format!("line {line}: {what}: non-finite number '{t}'"),
        ));
    }
    Ok(x)
}

/// Parse OBJ text.
pub fn parse_obj(path: &Path, text: &str) -> Result<(Vec<Vec3>, Vec<[u32; 3]>), Error> {
    let mut verts = Vec::new();
    let mut faces = Vec::new();
    let mut idx: Vec<u32> = Vec::new();
    for (ln, raw) in text.lines().enumerate() {
        let line = ln + 1;
        let s = raw.split('#').next().unwrap_or("").trim();
        let mut it = s.split_whitespace();
        match it.next() {
            Some("v") => {
                let x = parse_f64(path, line, it.next(), "vertex")?;
                let y = parse_f64(path, line, it.next(), "vertex")?;
                let z = parse_f64(path, line, it.next(), "vertex")?;
                verts.push(Vec3::new(x, y, z));
            }
            Some("f") => {
                idx.clear();
                for tok in it {
                    let first = tok.split('/').next().unwrap_or("");
                    let i: i64 = first.parse().map_err(|_| {
                        Error::load(path, format!("line {line}: face: bad vertex index '{tok}'"))
                    })?;
                    let n = verts.len() as i64;
                    let k = if i > 0 { i - 1 } else { n + i };
                    if i == 0 || k < 0 || k >= n {
                        return Err(Error::load(
                            path,
                            format!("line {line}: face: vertex index {i} out of range (have {n} vertices)"),
                        ));
                    }
                    idx.push(k as u32);
                }
                // a face of n vertices is n - 2 triangles (a "face" of 2 is a segment, none:
                // tinyobjloader, MuJoCo's reader, skips it the same way)
                for k in 1..idx.len().saturating_sub(1) {
                    faces.push([idx[0], idx[k], idx[k + 1]]);
                }
            }
            _ => {}
        }
    }
    Ok((verts, faces))
}

/// Merge identical vertices while building triangles.
struct Welder {
    verts: Vec<Vec3>,
    map: HashMap<[u64; 3], u32>,
}

impl Welder {
    fn id(&mut self, p: Vec3) -> u32 {
        // +0.0 and -0.0 merge.
        let key = [
            (p.x + 0.0).to_bits(),
            (p.y + 0.0).to_bits(),
            (p.z + 0.0).to_bits(),
        ];
        let n = self.verts.len() as u32;
        *self.map.entry(key).or_insert_with(|| {
            self.verts.push(p);
            n
        })
    }
}

/// The most node visits of a COLLADA scene walk (`<instance_node>` can repeat a subtree, or
/// refer to itself).
const DAE_MAX_NODES: usize = 100_000;

/// One COLLADA transform element as a matrix (`None` for anything else).
fn dae_transform(path: &Path, n: roxmltree::Node) -> Result<Option<nalgebra::Matrix4<f64>>, Error> {
    use nalgebra::{Matrix4, Rotation3, Unit};
    let tag = n.tag_name().name();
    let want = match tag {
        "matrix" => 16,
        "translate" | "scale" => 3,
        "rotate" => 4,
        _ => return Ok(None),
    };
    let text = n.text().unwrap_or("");
    let mut x = Vec::with_capacity(want);
    for t in text.split_whitespace() {
        match t.parse::<f64>() {
            Ok(v) if v.is_finite() => x.push(v),
            _ => {
                return Err(Error::load(
                    path,
                    format!("COLLADA: <{tag}>: bad number '{t}'"),
                ))
            }
        }
    }
    if x.len() != want {
        return Err(Error::load(
            path,
            format!("COLLADA: <{tag}> has {} numbers, expected {want}", x.len()),
        ));
    }
    Ok(Some(match tag {
        // row-major, column vectors
        "matrix" => Matrix4::from_row_slice(&x),
        "translate" => Matrix4::new_translation(&Vec3::new(x[0], x[1], x[2])),
        "scale" => Matrix4::new_nonuniform_scaling(&Vec3::new(x[0], x[1], x[2])),
        _ => {
            let axis = Vec3::new(x[0], x[1], x[2]);
            if axis.norm() == 0.0 {
                Matrix4::identity()
            } else {
                Rotation3::from_axis_angle(&Unit::new_normalize(axis), x[3].to_radians())
                    .to_homogeneous()
            }
        }
    }))
}

/// The children `<tag>` of `n`.
fn kids<'a, 'i>(
    n: roxmltree::Node<'a, 'i>,
    tag: &'static str,
) -> impl Iterator<Item = roxmltree::Node<'a, 'i>> {
    n.children().filter(move |c| c.has_tag_name(tag))
}

/// The element `<tag id=url>` in the libraries `<lib>` of a COLLADA document.
fn dae_by_id<'a, 'i>(
    root: roxmltree::Node<'a, 'i>,
    lib: &str,
    tag: &str,
    url: &str,
) -> Option<roxmltree::Node<'a, 'i>> {
    let id = url.strip_prefix('#').unwrap_or(url);
    root.children()
        .filter(|l| l.has_tag_name(lib))
        .flat_map(|l| l.descendants())
        .find(|n| n.has_tag_name(tag) && n.attribute("id") == Some(id))
}

/// Where a COLLADA document places its geometries: (geometry id, transform to metres and
/// Z-up) for each `<instance_geometry>` of the scene's visual scene, walked with its node
/// transforms (each node's elements in order, parents first) and `<instance_node>`s; `None`
/// when the file has no visual scene (then every geometry is used, in file units as they are).
type Placements = Vec<(String, nalgebra::Matrix4<f64>)>;

fn dae_placements(path: &Path, doc: &roxmltree::Document) -> Result<Option<Placements>, Error> {
    use nalgebra::Matrix4;
    let root = doc.root_element();
    let asset = kids(root, "asset").next();
    let unit = match asset
        .and_then(|a| kids(a, "unit").next())
        .and_then(|u| u.attribute("meter"))
    {
        None => 1.0,
        Some(t) => match t.trim().parse::<f64>() {
            Ok(v) if v > 0.0 && v.is_finite() => v,
            _ => {
                return Err(Error::load(
                    path,
                    format!("COLLADA: <unit meter='{t}'>: not a positive number"),
                ))
            }
        },
    };
    let half_pi = std::f64::consts::FRAC_PI_2;
    let up = match asset
        .and_then(|a| kids(a, "up_axis").next())
        .and_then(|u| u.text())
        .map(str::trim)
    {
        // as pybullet's URDF importer: the file's up axis becomes z
        Some("Y_UP") => {
            nalgebra::Rotation3::from_axis_angle(&Vec3::x_axis(), half_pi).to_homogeneous()
        }
        Some("X_UP") => {
            nalgebra::Rotation3::from_axis_angle(&Vec3::y_axis(), -half_pi).to_homogeneous()
        }
        _ => Matrix4::identity(),
    };
    let url = kids(root, "scene")
        .next()
        .and_then(|s| kids(s, "instance_visual_scene").next())
        .and_then(|i| i.attribute("url"));
    let scene = match url {
        Some(u) => dae_by_id(root, "library_visual_scenes", "visual_scene", u),
        None => root
            .children()
            .filter(|l| l.has_tag_name("library_visual_scenes"))
            .flat_map(|l| l.children())
            .find(|n| n.has_tag_name("visual_scene")),
    };
    let Some(scene) = scene else {
        return Ok(None);
    };
    let top = up * Matrix4::new_scaling(unit);
    let mut out = Vec::new();
    let mut stack: Vec<(roxmltree::Node, Matrix4<f64>)> =
        kids(scene, "node").map(|n| (n, top)).collect();
    stack.reverse();
    let mut visits = 0;
    while let Some((node, parent)) = stack.pop() {
        visits += 1;
        if visits > DAE_MAX_NODES {
            return Err(Error::load(
                path,
                format!("COLLADA: the scene has more than {DAE_MAX_NODES} node instances (an <instance_node> cycle?)"),
            ));
        }
        let mut t = parent;
        let mut next = Vec::new();
        for c in node.children().filter(|c| c.is_element()) {
            if let Some(m) = dae_transform(path, c)? {
                t *= m;
                continue;
            }
            match c.tag_name().name() {
                "instance_geometry" => {
                    if let Some(u) = c.attribute("url") {
                        out.push((u.strip_prefix('#').unwrap_or(u).to_string(), t));
                    }
                }
                "node" => next.push(c),
                "instance_node" => {
                    if let Some(n) = c
                        .attribute("url")
                        .and_then(|u| dae_by_id(root, "library_nodes", "node", u))
                    {
                        next.push(n);
                    }
                }
                _ => {}
            }
        }
        // transforms apply to the whole node whatever their place among its children
        stack.extend(next.into_iter().rev().map(|n| (n, t)));
    }
    Ok(Some(out))
}

/// Parse COLLADA bytes: the geometries the file's visual scene instances (each as often as it
/// is instanced) as one triangle mesh, in metres and Z-up.
///
/// The scene graph is walked here; `mesh-loader` reads the geometry (sources, indices,
/// polygons to triangles) of the file with its visual scenes cut out, so it returns the
/// geometries as written: its own placement composes nested node transforms in reverse order
/// and applies `<unit>` before them (0.1.13).
pub fn parse_dae(path: &Path, bytes: &[u8]) -> Result<(Vec<Vec3>, Vec<[u32; 3]>), Error> {
    let text = String::from_utf8_lossy(bytes);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let doc = roxmltree::Document::parse(text)
        .map_err(|e| Error::load(path, format!("COLLADA: XML parse error: {e}")))?;
    if doc.root_element().tag_name().name() != "COLLADA" {
        return Err(Error::load(
            path,
            format!(
                "COLLADA: root element is <{}>, expected <COLLADA>",
                doc.root_element().tag_name().name()
            ),
        ));
    }
    let placements = dae_placements(path, &doc)?;
    let mut geometry_only = String::with_capacity(text.len());
    let mut at = 0;
    for n in doc.root_element().children() {
        if n.has_tag_name("library_visual_scenes") || n.has_tag_name("scene") {
            geometry_only.push_str(&text[at..n.range().start]);
            at = n.range().end;
        }
    }
    geometry_only.push_str(&text[at..]);
    // mesh-loader indexes its arrays without checking them on some malformed inputs (an index
    // past its source, a missing normal index): a panic there is this file's error, not a crash
    let parsed = std::panic::catch_unwind(|| mesh_loader::collada::from_str(&geometry_only));
    let scene =
        match parsed {
            Ok(Ok(scene)) => scene,
            Ok(Err(e)) => return Err(Error::load(path, format!("COLLADA: {e}"))),
            Err(_) => return Err(Error::load(
                path,
                "COLLADA: malformed file (the reader failed on an inconsistent index or source)",
            )),
        };
    let placed: Vec<(&mesh_loader::Mesh, nalgebra::Matrix4<f64>)> = match &placements {
        Some(list) => list
            .iter()
            .filter_map(|(id, t)| scene.meshes.iter().find(|m| &m.name == id).map(|m| (m, *t)))
            .collect(),
        None => scene
            .meshes
            .iter()
            .map(|m| (m, nalgebra::Matrix4::identity()))
            .collect(),
    };
    let mut w = Welder {
        verts: Vec::new(),
        map: HashMap::new(),
    };
    let mut faces = Vec::new();
    for (m, t) in placed {
        let mut ids = Vec::with_capacity(m.vertices.len());
        for (vi, v) in m.vertices.iter().enumerate() {
            let p = t
                .transform_point(&nalgebra::Point3::new(
                    v[0] as f64,
                    v[1] as f64,
                    v[2] as f64,
                ))
                .coords;
            if !p.iter().all(|x| x.is_finite()) {
                return Err(Error::load(
                    path,
                    format!("COLLADA: geometry '{}': vertex {vi} is not finite", m.name),
                ));
            }
            ids.push(w.id(p));
        }
        for f in &m.faces {
            let mut tri = [0u32; 3];
            for (slot, &i) in tri.iter_mut().zip(f) {
                *slot = *ids.get(i as usize).ok_or_else(|| {
                    Error::load(
                        path,
                        format!(
                            "COLLADA: geometry '{}': vertex index {i} out of range",
                            m.name
                        ),
                    )
                })?;
            }
            faces.push(tri);
        }
    }
    Ok((w.verts, faces))
}

/// Parse STL bytes (binary or ASCII).
pub fn parse_stl(path: &Path, bytes: &[u8]) -> Result<(Vec<Vec3>, Vec<[u32; 3]>), Error> {
    let binary_size_ok = bytes.len() >= 84 && {
        let n = u32::from_le_bytes([bytes[80], bytes[81], bytes[82], bytes[83]]) as usize;
        bytes.len() == 84 + 50 * n
    };
    let starts_solid = {
        let head = &bytes[..bytes.len().min(512)];
        let t = String::from_utf8_lossy(head);
        t.trim_start().starts_with("solid")
    };
    let mut w = Welder {
        verts: Vec::new(),
        map: HashMap::new(),
    };
    let mut faces = Vec::new();
    if binary_size_ok {
        let n = u32::from_le_bytes([bytes[80], bytes[81], bytes[82], bytes[83]]) as usize;
        for t in 0..n {
            let base = 84 + 50 * t + 12;
            let mut tri = [0u32; 3];
            for (k, slot) in tri.iter_mut().enumerate() {
                let o = base + 12 * k;
                let c = |j: usize| {
                    f32::from_le_bytes([
                        bytes[o + j],
                        bytes[o + j + 1],
                        bytes[o + j + 2],
                        bytes[o + j + 3],
                    ]) as f64
                };
                let p = Vec3::new(c(0), c(4), c(8));
                if !p.iter().all(|x| x.is_finite()) {
                    return Err(Error::load(
                        path,
                        format!("binary STL: triangle {t}: non-finite vertex"),
                    ));
                }
                *slot = w.id(p);
            }
            faces.push(tri);
        }
        return Ok((w.verts, faces));
    }
    if !starts_solid {
        return Err(Error::load(
            path,
            format!(
                "not a valid STL: binary size mismatch ({} bytes) and no ASCII 'solid' header",
                bytes.len()
            ),
        ));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| {
        Error::load(path, "STL starts with 'solid' but is not valid ASCII text, and its size does not match a binary STL")
    })?;
    let mut cur: Vec<u32> = Vec::with_capacity(3);
    for (ln, raw) in text.lines().enumerate() {
        let line = ln + 1;
        let mut it = raw.split_whitespace();
        match it.next() {
            Some("vertex") => {
                let x = parse_f64(path, line, it.next(), "vertex")?;
                let y = parse_f64(path, line, it.next(), "vertex")?;
                let z = parse_f64(path, line, it.next(), "vertex")?;
                cur.push(w.id(Vec3::new(x, y, z)));
            }
            Some("endloop") => {
                if cur.len() < 3 {
                    return Err(Error::load(
                        path,
                        format!(
                            "line {line}: facet loop with {} vertices (need 3)",
                            cur.len()
                        ),
                    ));
                }
                for k in 1..cur.len() - 1 {
                    faces.push([cur[0], cur[k], cur[k + 1]]);
                }
                cur.clear();
            }
            Some("facet") | Some("outer") | Some("endfacet") | Some("solid") | Some("endsolid")
            | None => {}
            Some(other) => {
                return Err(Error::load(
                    path,
                    format!("line {line}: unexpected ASCII STL keyword '{other}'"),
                ));
            }
        }
    }
    Ok((w.verts, faces))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn tmp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("kinegrad_mesh_io_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    fn tetra() -> (Vec<Vec3>, Vec<[u32; 3]>) {
        let v = vec![
            Vec3::new(0.0, 0.0, 0.0),
            Vec3::new(1.0, 0.0, 0.0),
            Vec3::new(0.0, 2.0, 0.0),
            Vec3::new(0.0, 0.0, 3.0),
        ];
        let f = vec![[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]];
        (v, f)
    }

    fn same_mesh(a: &(Vec<Vec3>, Vec<[u32; 3]>), b: &(Vec<Vec3>, Vec<[u32; 3]>)) {
        assert_eq!(a.1.len(), b.1.len());
        for (fa, fb) in a.1.iter().zip(&b.1) {
            for k in 0..3 {
                assert!((a.0[fa[k] as usize] - b.0[fb[k] as usize]).norm() < 1e-6);
            }
        }
    }

    #[test]
    fn mesh_io_obj_roundtrip_and_forms() {
        let m = tetra();
        let mut s = String::from("# test\no thing\nmtllib x.mtl\n");
        for v in &m.0 {
            s += &format!("v {} {} {}\n", v.x, v.y, v.z);
        }
        s += "vt 0 0\nvn 0 0 1\n";
        s += "f 1/1/1 3/1/1 2/1/1\n"; // v/vt/vn
        s += "f 1//1 2//1 4//1\n"; // v//vn
        s += "f -4 -1 -2\n"; // negative
        s += "f 2/1 3/1 4/1\n"; // v/vt
        let p = tmp("t.obj");
        std::fs::write(&p, s).unwrap();
        let got = load_mesh(&p, Vec3::new(1.0, 1.0, 1.0)).unwrap();
        same_mesh(&got, &m);
        // Scale and a quad.
        let p2 = tmp("quad.obj");
        std::fs::write(&p2, "v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nf 1 2 3 4\n").unwrap();
        let (v, f) = load_mesh(&p2, Vec3::new(2.0, 3.0, 1.0)).unwrap();
        assert_eq!(f, vec![[0, 1, 2], [0, 2, 3]]);
        assert!((v[2] - Vec3::new(2.0, 3.0, 0.0)).norm() < 1e-12);
    }

    #[test]
    fn mesh_io_stl_binary_and_ascii() {
        let m = tetra();
        // Binary, with a header starting with "solid" (must still be detected as binary).
        let mut b = Vec::new();
        let mut header = b"solid binary-but-says-solid".to_vec();
        header.resize(80, b' ');
        b.extend_from_slice(&header);
        b.extend_from_slice(&(m.1.len() as u32).to_le_bytes());
        for f in &m.1 {
            b.extend_from_slice(&[0u8; 12]);
            for &i in f {
                for k in 0..3 {
                    b.extend_from_slice(&(m.0[i as usize][k] as f32).to_le_bytes());
                }
            }
            b.extend_from_slice(&[0u8; 2]);
        }
        let p = tmp("b.stl");
        std::fs::write(&p, &b).unwrap();
        let got = load_mesh(&p, Vec3::new(1.0, 1.0, 1.0)).unwrap();
        same_mesh(&got, &m);
        assert_eq!(got.0.len(), 4, "vertices merged");
        // ASCII.
        let mut s = String::from("solid t\n");
        for f in &m.1 {
            s += " facet normal 0 0 0\n  outer loop\n";
            for &i in f {
                let v = m.0[i as usize];
                s += &format!("   vertex {} {} {}\n", v.x, v.y, v.z);
            }
            s += "  endloop\n endfacet\n";
        }
        s += "endsolid t\n";
        let p = tmp("a.STL");
        std::fs::write(&p, s).unwrap();
        let got = load_mesh(&p, Vec3::new(1.0, 1.0, 1.0)).unwrap();
        same_mesh(&got, &m);
    }

    #[test]
    fn mesh_io_errors_name_file() {
        let p = tmp("bad.obj");
        std::fs::write(&p, "v 0 0 0\nv 1 0 0\nv 0 1 oops\n").unwrap();
        let e = load_mesh(&p, Vec3::repeat(1.0)).unwrap_err().to_string();
        assert!(e.contains("bad.obj") && e.contains("line 3"), "{e}");
        let p = tmp("bad2.obj");
        std::fs::write(&p, "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 7\n").unwrap();
        let e = load_mesh(&p, Vec3::repeat(1.0)).unwrap_err().to_string();
        assert!(
            e.contains("bad2.obj") && e.contains("line 4") && e.contains("out of range"),
            "{e}"
        );
        let p = tmp("bad.stl");
        std::fs::write(&p, b"\x00\x01garbage").unwrap();
        let e = load_mesh(&p, Vec3::repeat(1.0)).unwrap_err().to_string();
        assert!(e.contains("bad.stl"), "{e}");
        let p = tmp("bad3.stl");
        std::fs::write(
            &p,
            "solid x\n facet normal 0 0 1\n outer loop\n vertex 0 0 nan?\n",
        )
        .unwrap();
        let e = load_mesh(&p, Vec3::repeat(1.0)).unwrap_err().to_string();
        assert!(e.contains("bad3.stl") && e.contains("line 4"), "{e}");
        let e = load_mesh(Path::new("robot/link.3ds"), Vec3::repeat(1.0))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("link.3ds") && e.contains(".3ds") && e.contains("unsupported"),
            "{e}"
        );
        let e = load_mesh(&tmp("missing.dae"), Vec3::repeat(1.0))
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing.dae"), "{e}");
        let p = tmp("bad.dae");
        std::fs::write(&p, "<COLLADA><library_geometries><geometry id=\"g\"><mesh>").unwrap();
        let e = load_mesh(&p, Vec3::repeat(1.0)).unwrap_err().to_string();
        assert!(e.contains("bad.dae") && e.contains("COLLADA"), "{e}");
        let e = load_mesh(&tmp("missing.obj"), Vec3::repeat(1.0))
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing.obj"), "{e}");
    }
}

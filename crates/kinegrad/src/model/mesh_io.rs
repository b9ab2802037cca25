//! Mesh file readers: Wavefront OBJ and STL (binary and ASCII).
//!
//! * OBJ: `v x y z` and `f` records; face entries may be `i`, `i/t`, `i//n`, `i/t/n`, negative
//!   indices count back from the last vertex; polygons are fan-triangulated; all other records
//!   (`vt`, `vn`, `o`, `g`, `s`, `usemtl`, `mtllib`, comments) are ignored.
//! * STL: binary if the size equals `84 + 50 * triangle_count` (some binary files start with the
//!   word "solid", so the header alone is not trusted), else ASCII when it starts with `solid`.
//!   Identical vertices are merged.

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
    let (mut v, f) = match ext.as_str() {
        "obj" => {
            let bytes = std::fs::read(path).map_err(|e| Error::load(path, format!("cannot read: {e}")))?;
            parse_obj(path, &String::from_utf8_lossy(&bytes))?
        }
        "stl" => {
            let bytes = std::fs::read(path).map_err(|e| Error::load(path, format!("cannot read: {e}")))?;
            parse_stl(path, &bytes)?
        }
        "" => return Err(Error::load(path, "mesh file has no extension (supported: .obj, .stl)")),
        other => {
            return Err(Error::load(
                path,
                format!("unsupported mesh format '.{other}' (supported: .obj, .stl); convert it, e.g. to .obj"),
            ))
        }
    };
    for p in &mut v {
        *p = p.component_mul(&scale);
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
                if idx.len() < 3 {
                    return Err(Error::load(
                        path,
                        format!("line {line}: face with fewer than 3 vertices"),
                    ));
                }
                for k in 1..idx.len() - 1 {
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
        let e = load_mesh(Path::new("robot/link.dae"), Vec3::repeat(1.0))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("link.dae") && e.contains(".dae") && e.contains("unsupported"),
            "{e}"
        );
        let e = load_mesh(&tmp("missing.obj"), Vec3::repeat(1.0))
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing.obj"), "{e}");
    }
}

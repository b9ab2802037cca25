//! A small owned XML tree for MJCF: `<include>` expanded, every element
//! remembering its file and line for error messages.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// One XML element.
#[derive(Debug, Clone)]
pub struct XNode {
    pub tag: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<XNode>,
    pub file: Rc<PathBuf>,
    pub line: u32,
}

impl XNode {
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `<tag name='x'>` (or `<tag>`) for messages.
    pub fn desc(&self) -> String {
        match self.attr("name") {
            Some(n) => format!("<{} name='{}'>", self.tag, n),
            None => format!("<{}>", self.tag),
        }
    }

    /// Error located at this element.
    pub fn err(&self, msg: impl std::fmt::Display) -> Error {
        Error::load(
            self.file.as_path(),
            format!("line {}: {}: {}", self.line, self.desc(), msg),
        )
    }
}

/// Parse `path` and expand `<include file>` (relative to the including file) recursively.
pub fn parse_file(path: &Path) -> Result<XNode> {
    let root = parse_one(path, 0)?;
    if root.tag != "mujoco" {
        return Err(Error::load(
            path,
            format!("root element is <{}>, expected <mujoco>", root.tag),
        ));
    }
    Ok(root)
}

fn parse_one(path: &Path, depth: usize) -> Result<XNode> {
    if depth > 16 {
        return Err(Error::load(
            path,
            "<include> nested more than 16 levels (include cycle?)",
        ));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::load(path, format!("cannot read file: {e}")))?;
    parse_text(&text, path, depth)
}

/// Parse MJCF text belonging to `path` (used for errors and includes).
pub fn parse_text(text: &str, path: &Path, depth: usize) -> Result<XNode> {
    let doc = roxmltree::Document::parse(text)
        .map_err(|e| Error::load(path, format!("XML parse error: {e}")))?;
    let file = Rc::new(path.to_path_buf());
    let mut out = convert(&doc, doc.root_element(), &file);
    expand(&mut out, path, depth)?;
    Ok(out)
}

fn convert(doc: &roxmltree::Document, n: roxmltree::Node, file: &Rc<PathBuf>) -> XNode {
    XNode {
        tag: n.tag_name().name().to_string(),
        attrs: n
            .attributes()
            .map(|a| (a.name().to_string(), a.value().to_string()))
            .collect(),
        children: n
            .children()
            .filter(|c| c.is_element())
            .map(|c| convert(doc, c, file))
            .collect(),
        file: file.clone(),
        line: doc.text_pos_at(n.range().start).row,
    }
}

fn expand(n: &mut XNode, path: &Path, depth: usize) -> Result<()> {
    let mut out = Vec::with_capacity(n.children.len());
    for mut c in std::mem::take(&mut n.children) {
        if c.tag == "include" {
            let f = c
                .attr("file")
                .ok_or_else(|| c.err("missing attribute 'file'"))?;
            let p = path.parent().unwrap_or(Path::new("")).join(f);
            let inc = parse_one(&p, depth + 1)
                .map_err(|e| c.err(format!("included file '{}': {e}", p.display())))?;
            out.extend(inc.children);
        } else {
            expand(&mut c, path, depth)?;
            out.push(c);
        }
    }
    n.children = out;
    Ok(())
}

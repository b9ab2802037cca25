//! A small owned XML tree for MJCF: `<include>` expanded, every element
//! remembering its file and line for error messages.

use crate::error::{Error, LineIndex, Result};
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// One XML element.
#[derive(Debug)]
pub struct XNode {
    pub tag: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<XNode>,
    /// The file, for messages; in an included file "path (included from file, line N)".
    pub file: Rc<PathBuf>,
    /// The folder of the file the element was read from (an included file's own folder), which
    /// relative paths in it are resolved against, as MuJoCo does.
    pub dir: Rc<PathBuf>,
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
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::load(path, format!("cannot read file: {e}")))?;
    parse_text(&text, path, depth)
}

/// Parse MJCF text belonging to `path` (used for errors and includes).
pub fn parse_text(text: &str, path: &Path, depth: usize) -> Result<XNode> {
    parse_text_labeled(text, path, path.to_path_buf(), depth)
}

fn parse_text_labeled(text: &str, path: &Path, label: PathBuf, depth: usize) -> Result<XNode> {
    let text = &*crate::model::xml_as_read(text);
    let doc = roxmltree::Document::parse(text)
        .map_err(|e| Error::load(&label, format!("XML parse error: {e}")))?;
    let file = Rc::new(label);
    convert(&doc, &file, path, depth)
}

fn node(lines: &LineIndex, n: roxmltree::Node, file: &Rc<PathBuf>, dir: &Rc<PathBuf>) -> XNode {
    XNode {
        tag: n.tag_name().name().to_string(),
        attrs: n
            .attributes()
            .map(|a| (a.name().to_string(), a.value().to_string()))
            .collect(),
        children: Vec::new(),
        file: file.clone(),
        dir: dir.clone(),
        line: lines.line(n.range().start),
    }
}

/// The owned tree of `doc`, with `<include file>` replaced by the included file's top-level
/// children. Iterative (an explicit stack), so any nesting depth is fine; only includes recurse
/// (at most 16 levels).
fn convert(
    doc: &roxmltree::Document,
    file: &Rc<PathBuf>,
    path: &Path,
    depth: usize,
) -> Result<XNode> {
    let lines = LineIndex::new(doc.input_text());
    let dir = Rc::new(path.parent().unwrap_or(Path::new("")).to_path_buf());
    let root = doc.root_element();
    let mut stack = vec![(node(&lines, root, file, &dir), root.children())];
    loop {
        let top = stack.last_mut().expect("stack holds the root");
        match top.1.next() {
            Some(c) if !c.is_element() => {}
            Some(c) if c.tag_name().name() == "include" => {
                let inc_el = node(&lines, c, file, &dir);
                let f = inc_el
                    .attr("file")
                    .ok_or_else(|| inc_el.err("missing attribute 'file'"))?;
                let p = path.parent().unwrap_or(Path::new("")).join(f);
                // elements of the included file name the including file and line too
                let label = PathBuf::from(format!(
                    "{} (included from {}, line {})",
                    p.display(),
                    file.display(),
                    inc_el.line
                ));
                let mut inc = match std::fs::read_to_string(&p) {
                    Ok(text) if depth < 16 => parse_text_labeled(&text, &p, label, depth + 1)?,
                    Ok(_) => {
                        return Err(inc_el.err(format!(
                            "'{}': <include> nested more than 16 levels (include cycle?)",
                            p.display()
                        )))
                    }
                    Err(e) => {
                        return Err(
                            inc_el.err(format!("cannot read included file '{}': {e}", p.display()))
                        )
                    }
                };
                top.0.children.append(&mut inc.children);
            }
            Some(c) => stack.push((node(&lines, c, file, &dir), c.children())),
            None => {
                let (done, _) = stack.pop().expect("non-empty");
                match stack.last_mut() {
                    Some(parent) => parent.0.children.push(done),
                    None => return Ok(done),
                }
            }
        }
    }
}

impl Drop for XNode {
    /// Iterative, so that dropping a deeply nested tree does not overflow the stack.
    fn drop(&mut self) {
        let mut stack = std::mem::take(&mut self.children);
        while let Some(mut n) = stack.pop() {
            stack.append(&mut n.children);
        }
    }
}

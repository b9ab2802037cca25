//! The core's modules are layered: no import cycle among the top-level modules of
//! `crates/kinegrad/src`, and the rules of DESIGN.md section 2 ("Layers") hold.
//!
//! How it checks: every `.rs` file under `src` is read, its comments (`//`, `///`, `//!`,
//! nested `/* */`), string and character literals and its `#[cfg(test)]` items (test modules,
//! inline or in files of their own, and test-only helpers) are removed, and every path that
//! starts with `crate::` is resolved to the top-level module it names (`use crate::{a, b::c}`
//! groups name each of theirs; `super::` paths that climb out of a top-level module count
//! too; a name the crate root re-exports, as `crate::Error`, counts as the module it comes
//! from). The edges between top-level modules make a graph, which must have no cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Source with comments and the contents of string and character literals removed (a
/// literal keeps its quotes, so `"//"` or `'{'` cannot start a comment or open a brace).
fn strip_comments_and_literals(src: &str) -> String {
    let c: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    let ident = |ch: char| ch.is_alphanumeric() || ch == '_';
    while i < c.len() {
        let next = c.get(i + 1).copied();
        match c[i] {
            '/' if next == Some('/') => {
                while i < c.len() && c[i] != '\n' {
                    i += 1;
                }
            }
            '/' if next == Some('*') => {
                let mut depth = 0;
                while i < c.len() {
                    if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                        depth += 1;
                        i += 2;
                    } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                out.push(' ');
            }
            'r' if (i == 0 || !ident(c[i - 1])) && matches!(next, Some('"') | Some('#')) => {
                // raw string r"..." or r#"..."#
                let mut j = i + 1;
                let mut hashes = 0;
                while c.get(j) == Some(&'#') {
                    hashes += 1;
                    j += 1;
                }
                if c.get(j) != Some(&'"') {
                    out.push(c[i]);
                    i += 1;
                    continue;
                }
                j += 1;
                loop {
                    assert!(j < c.len(), "unterminated raw string");
                    if c[j] == '"' && (0..hashes).all(|k| c.get(j + 1 + k) == Some(&'#')) {
                        j += 1 + hashes;
                        break;
                    }
                    j += 1;
                }
                out.push_str("\"\"");
                i = j;
            }
            '"' => {
                i += 1;
                while i < c.len() && c[i] != '"' {
                    i += if c[i] == '\\' { 2 } else { 1 };
                }
                i += 1;
                out.push_str("\"\"");
            }
            '\'' => {
                // a character literal ('x', '\n', '\u{..}') or a lifetime ('a)
                if next == Some('\\') {
                    let mut j = i + 2;
                    while j < c.len() && c[j] != '\'' {
                        j += 1;
                    }
                    i = j + 1;
                    out.push_str("' '");
                } else if c.get(i + 2) == Some(&'\'') {
                    i += 3;
                    out.push_str("' '");
                } else {
                    out.push('\'');
                    i += 1;
                }
            }
            ch => {
                out.push(ch);
                i += 1;
            }
        }
    }
    out
}

/// `src` without its `#[cfg(test)]` items; the names of the `#[cfg(test)] mod name;`
/// declarations (modules in files of their own) are pushed to `test_mods`.
fn strip_test_items(src: &str, test_mods: &mut Vec<String>) -> String {
    let c: Vec<char> = src.chars().collect();
    let pat: Vec<char> = "#[cfg(test)]".chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < c.len() {
        if c[i..].starts_with(&pat) {
            let mut j = i + pat.len();
            let start = j;
            // the item: up to a `;` outside braces, or to the brace closing its first `{`
            let mut depth = 0usize;
            while j < c.len() {
                match c[j] {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            j += 1;
                            break;
                        }
                    }
                    ';' if depth == 0 => {
                        j += 1;
                        break;
                    }
                    _ => {}
                }
                j += 1;
            }
            let item: String = c[start..j].iter().collect();
            let words: Vec<&str> = item
                .split(|ch: char| !(ch.is_alphanumeric() || ch == '_' || ch == ';'))
                .filter(|w| !w.is_empty())
                .collect();
            if let Some(k) = words.iter().position(|w| *w == "mod") {
                if let Some(name) = words.get(k + 1).and_then(|w| w.strip_suffix(';')) {
                    test_mods.push(name.to_string());
                }
            }
            out.push(' ');
            i = j;
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The module path of a file below `src` (`collision/gjk.rs` -> [collision, gjk],
/// `model/mod.rs` -> [model], `lib.rs` -> []).
fn module_path(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|s| s.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap();
    let stem = last.strip_suffix(".rs").unwrap();
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_string());
    }
    parts
}

fn ident_at(c: &[char], mut i: usize) -> (String, usize) {
    while i < c.len() && c[i].is_whitespace() {
        i += 1;
    }
    let s = i;
    while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
        i += 1;
    }
    (c[s..i].iter().collect(), i)
}

/// The first path segment of every item of a `{ ... }` group starting at `c[i] == '{'`.
fn group_heads(c: &[char], i: usize) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut j = i;
    let mut expect = true;
    while j < c.len() {
        match c[j] {
            '{' => {
                depth += 1;
                if depth == 1 {
                    expect = true;
                }
            }
            '}' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            ',' if depth == 1 => expect = true,
            ch if depth == 1 && expect && (ch.is_alphanumeric() || ch == '_') => {
                let (id, end) = ident_at(c, j);
                heads.push(id);
                expect = false;
                j = end;
                continue;
            }
            _ => {}
        }
        j += 1;
    }
    heads
}

/// Names the crate root re-exports (`pub use module::{A, B}` in lib.rs) -> module.
fn root_reexports(lib: &str) -> BTreeMap<String, String> {
    let c: Vec<char> = lib.chars().collect();
    let mut map = BTreeMap::new();
    let pat: Vec<char> = "pub use ".chars().collect();
    let mut i = 0;
    while i < c.len() {
        if c[i..].starts_with(&pat) {
            let (module, mut j) = ident_at(&c, i + pat.len());
            // `module::Name` or `module::{A, B}`
            while j < c.len() && c[j] == ':' {
                j += 1;
            }
            if c[j] == '{' {
                for name in group_heads(&c, j) {
                    map.insert(name, module.clone());
                }
            } else {
                let (mut name, mut k) = ident_at(&c, j);
                // the last segment of a longer path
                while c[k..].starts_with(&[':', ':']) {
                    let (n, e) = ident_at(&c, k + 2);
                    name = n;
                    k = e;
                }
                map.insert(name, module.clone());
            }
            i = j;
        } else {
            i += 1;
        }
    }
    map
}

/// Edges `from -> to` between top-level modules, each with one place that makes it.
type Graph = BTreeMap<String, BTreeMap<String, String>>;

fn module_graph() -> (BTreeSet<String>, Graph) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let lib = strip_comments_and_literals(&std::fs::read_to_string(src.join("lib.rs")).unwrap());
    let reexports = root_reexports(&lib);
    // the top-level modules: `mod x;` / `pub mod x;` in lib.rs
    let mut tops = BTreeSet::new();
    for line in lib.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if let Some(k) = words.iter().position(|w| *w == "mod") {
            if let Some(name) = words.get(k + 1).and_then(|w| w.strip_suffix(';')) {
                tops.insert(name.to_string());
            }
        }
    }
    assert!(tops.len() > 5, "no modules found in lib.rs: {tops:?}");
    // file text without comments, literals and test items; test modules in files of their
    // own are dropped with their submodules
    let mut texts = BTreeMap::new();
    let mut test_files: BTreeSet<Vec<String>> = BTreeSet::new();
    for f in &files {
        let rel = f.strip_prefix(&src).unwrap();
        let path = module_path(rel);
        let text = strip_comments_and_literals(&std::fs::read_to_string(f).unwrap());
        let mut test_mods = Vec::new();
        let text = strip_test_items(&text, &mut test_mods);
        for m in test_mods {
            let mut p = path.clone();
            p.push(m);
            test_files.insert(p);
        }
        texts.insert(path, (rel.display().to_string(), text));
    }
    let mut graph: Graph = BTreeMap::new();
    let pat: Vec<char> = "crate::".chars().collect();
    for (path, (file, text)) in &texts {
        if (1..=path.len()).any(|n| test_files.contains(&path[..n])) || path.is_empty() {
            continue; // a test module, or lib.rs (which only declares and re-exports)
        }
        let from = &path[0];
        let c: Vec<char> = text.chars().collect();
        let mut targets: Vec<(String, usize)> = Vec::new();
        let mut i = 0;
        while i < c.len() {
            let boundary = i == 0 || !(c[i - 1].is_alphanumeric() || c[i - 1] == '_');
            if boundary && c[i..].starts_with(&pat) {
                let j = i + pat.len();
                if c[j] == '{' {
                    for h in group_heads(&c, j) {
                        targets.push((h, i));
                    }
                } else {
                    targets.push((ident_at(&c, j).0, i));
                }
                i = j;
            } else if boundary && c[i..].starts_with(&['s', 'u', 'p', 'e', 'r', ':', ':']) {
                // super::super::x from depth d climbs out of the top-level module when it
                // climbs d times (a file's own module counts: `gjk.rs` is collision::gjk)
                let mut ups = 0;
                let mut j = i;
                while c[j..].starts_with(&['s', 'u', 'p', 'e', 'r', ':', ':']) {
                    ups += 1;
                    j += 7;
                }
                if ups >= path.len() {
                    let (id, _) = ident_at(&c, j);
                    targets.push((id, i));
                }
                i = j;
            } else {
                i += 1;
            }
        }
        for (name, at) in targets {
            let to = if tops.contains(&name) {
                name
            } else if let Some(m) = reexports.get(&name) {
                m.clone()
            } else {
                panic!("{file}: `crate::{name}` names neither a module nor a root re-export");
            };
            if &to != from {
                let line = c[..at].iter().filter(|ch| **ch == '\n').count() + 1;
                graph
                    .entry(from.clone())
                    .or_default()
                    .entry(to)
                    .or_insert_with(|| format!("src/{file}:{line}"));
            }
        }
    }
    (tops, graph)
}

/// A cycle of the graph, if it has one (depth-first search).
fn find_cycle(tops: &BTreeSet<String>, graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        graph: &Graph,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_string(), 1);
        stack.push(n.to_string());
        for m in graph.get(n).into_iter().flat_map(|e| e.keys()) {
            match state.get(m.as_str()).copied().unwrap_or(0) {
                1 => {
                    let k = stack.iter().position(|s| s == m).unwrap();
                    let mut cycle = stack[k..].to_vec();
                    cycle.push(m.clone());
                    return Some(cycle);
                }
                0 => {
                    if let Some(c) = visit(m, graph, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for t in tops {
        if state.get(t.as_str()).copied().unwrap_or(0) == 0 {
            let mut stack = Vec::new();
            if let Some(c) = visit(t, graph, &mut state, &mut stack) {
                return Some(c);
            }
        }
    }
    None
}

fn describe(graph: &Graph) -> String {
    graph
        .iter()
        .map(|(from, to)| {
            let to: Vec<_> = to.keys().map(String::as_str).collect();
            format!("  {from} -> {}", to.join(", "))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_core_modules_form_no_import_cycle() {
    let (tops, graph) = module_graph();
    if let Some(cycle) = find_cycle(&tops, &graph) {
        let steps: Vec<String> = cycle
            .windows(2)
            .map(|w| format!("  {} -> {}  ({})", w[0], w[1], graph[&w[0]][&w[1]]))
            .collect();
        panic!(
            "import cycle among the core's modules:\n{}\n\nall edges:\n{}",
            steps.join("\n"),
            describe(&graph)
        );
    }
    println!("{}", describe(&graph));
}

/// The modules `from` imports, with where.
fn imports<'g>(graph: &'g Graph, from: &str) -> Vec<(&'g str, &'g str)> {
    graph
        .get(from)
        .into_iter()
        .flat_map(|e| e.iter().map(|(t, at)| (t.as_str(), at.as_str())))
        .collect()
}

#[test]
fn the_layering_rules_hold() {
    let (tops, graph) = module_graph();
    let mut broken = Vec::new();
    let mut forbid = |from: &str, banned: &[&str], why: &str| {
        if !tops.contains(from) {
            broken.push(format!("no module `{from}`"));
        }
        for (to, at) in imports(&graph, from) {
            if banned.contains(&to) {
                broken.push(format!("{from} imports {to} ({at}): {why}"));
            }
        }
    };
    // Data is scratch: it knows the model and the geometry of a contact, not the stages
    forbid(
        "data",
        &[
            "adjoint",
            "detect",
            "constraint",
            "pipeline",
            "batch",
            "kinematics",
            "dynamics",
            "diagnostics",
            "integrator",
            "fd",
        ],
        "Data is scratch only",
    );
    // collision geometry: shapes, narrowphase, hulls, the contact frame
    forbid(
        "collision",
        &[
            "data",
            "constraint",
            "adjoint",
            "detect",
            "pipeline",
            "model",
            "kinematics",
            "batch",
        ],
        "collision geometry knows nothing of Data, the model or the stages",
    );
    // the model (and its compile stage) sits below every stage
    forbid(
        "model",
        &[
            "data",
            "kinematics",
            "dynamics",
            "constraint",
            "detect",
            "pipeline",
            "diagnostics",
            "adjoint",
            "batch",
            "fd",
        ],
        "the model is compiled without the stages",
    );
    // nothing below the reverse pass imports it
    for below in [
        "math",
        "error",
        "interrupt",
        "collision",
        "model",
        "state",
        "data",
        "kinematics",
        "dynamics",
        "detect",
        "constraint",
        "integrator",
        "diagnostics",
        "pipeline",
    ] {
        forbid(below, &["adjoint", "batch", "fd"], "below the reverse pass");
    }
    assert!(
        broken.is_empty(),
        "layering broken:\n{}\n\nall edges:\n{}",
        broken.join("\n"),
        describe(&graph)
    );
}

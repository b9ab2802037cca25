//! An in-repo fuzzer for the model loaders (cargo-fuzz needs a nightly toolchain).
//!
//! Each target mutates a seed corpus (`tests/fuzz/corpus/{mjcf,urdf,mesh}/`) with byte and XML
//! structure mutations (delete, duplicate and swap elements, numbers replaced by huge, negative,
//! NaN or zero values, truncation, deep nesting) and loads every case through the entry points
//! of the Python package: `mjcf::load` / `urdf::load` of a file, then `ModelBuilder::build`
//! (as `SceneBuilder.add_mjcf` / `add_urdf` and `build`), and `load_mesh_asset` for meshes.
//! A case fails when it panics, takes longer than [`CASE_TIMEOUT`], or returns an error that
//! does not name the file; the failing input is saved to `tests/fuzz/crashes/` (a stack
//! overflow aborts the process: its input is left there as `<target>-last-case-if-aborted`).
//!
//! Runs are deterministic for a given seed and bounded in time: `FUZZ_SECONDS` per target
//! (default 12, so `cargo test` stays short; `make fuzz` runs longer), `FUZZ_SEED` (default
//! 1). Every file in `tests/fuzz/regressions/{mjcf,urdf,mesh}/` is replayed by
//! [`fuzz_regressions_replay_cleanly`]: crashes found and fixed go there.

mod common;

use common::Rng;
use kinegrad::math::Pose;
use kinegrad::model::builder::BaseMode;
use kinegrad::model::{inertia, mjcf, urdf, ModelBuilder};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Longest a single case may take (release build; an unoptimized build gets 20 s).
const CASE_TIMEOUT: Duration = Duration::from_secs(if cfg!(debug_assertions) { 20 } else { 2 });

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz")
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Target {
    Mjcf,
    Urdf,
    Mesh,
}

impl Target {
    fn dir(self) -> &'static str {
        match self {
            Target::Mjcf => "mjcf",
            Target::Urdf => "urdf",
            Target::Mesh => "mesh",
        }
    }
}

/// Values that stress number parsing and validation.
const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "-1",
    "1e308",
    "-1e308",
    "1e-320",
    "NaN",
    "nan",
    "inf",
    "-inf",
    "1e400",
    "3",
    "-0.5",
    "100000000",
    "4294967296",
    "-2147483649",
    "0x10",
    "",
    "1 2",
    "1e-15",
    "2.5e-7",
];

/// Tags used to wrap an element many times (deep nesting).
const NEST_TAGS: &[&str] = &["body", "frame", "default", "link", "a"];

/// The byte ranges of all elements of `text` (if it parses), in document order.
fn element_ranges(text: &str) -> Vec<(std::ops::Range<usize>, String)> {
    match roxmltree::Document::parse(text) {
        Ok(doc) => doc
            .descendants()
            .filter(|n| n.is_element())
            .map(|n| (n.range(), n.tag_name().name().to_string()))
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Byte ranges of number-like tokens.
fn number_ranges(b: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() || (b[i] == b'-' && i + 1 < b.len() && b[i + 1].is_ascii_digit()) {
            let s = i;
            i += 1;
            while i < b.len() && (b[i].is_ascii_digit() || b".eE-+".contains(&b[i])) {
                i += 1;
            }
            out.push(s..i);
        } else {
            i += 1;
        }
    }
    out
}

/// One random mutation of `data` (XML-aware when `xml`).
fn mutate(rng: &mut Rng, data: &[u8], xml: bool) -> Vec<u8> {
    let mut d = data.to_vec();
    let kinds = if xml { 12 } else { 8 };
    match rng.below(kinds) {
        // replace a number
        0..=2 => {
            let nums = number_ranges(&d);
            if !nums.is_empty() {
                let r = rng.pick(&nums).clone();
                d.splice(r, rng.pick(NUMBERS).bytes());
            }
        }
        // flip / set random bytes
        3 => {
            for _ in 0..=rng.below(4) {
                if !d.is_empty() {
                    let i = rng.below(d.len());
                    d[i] = rng.next() as u8;
                }
            }
        }
        // delete a chunk
        4 => {
            if !d.is_empty() {
                let s = rng.below(d.len());
                let e = (s + 1 + rng.below(64)).min(d.len());
                d.drain(s..e);
            }
        }
        // duplicate a chunk
        5 => {
            if !d.is_empty() {
                let s = rng.below(d.len());
                let e = (s + 1 + rng.below(256)).min(d.len());
                let chunk = d[s..e].to_vec();
                let at = rng.below(d.len());
                d.splice(at..at, chunk);
            }
        }
        // truncate
        6 => {
            let n = rng.below(d.len() + 1);
            d.truncate(n);
        }
        // insert a number or a special token
        7 => {
            let at = rng.below(d.len() + 1);
            let tok = format!(" {} ", rng.pick(NUMBERS));
            d.splice(at..at, tok.bytes());
        }
        // XML structure mutations
        k => {
            let text = String::from_utf8_lossy(&d).into_owned();
            let els = element_ranges(&text);
            if els.len() < 2 {
                return d;
            }
            // never the root element
            let (r, tag) = els[1 + rng.below(els.len() - 1)].clone();
            let s = text.as_bytes();
            let out: Vec<u8> = match k {
                // delete an element
                8 => [&s[..r.start], &s[r.end..]].concat(),
                // duplicate an element
                9 => [&s[..r.end], &s[r.clone()], &s[r.end..]].concat(),
                // swap with another element that does not overlap
                10 => {
                    let (r2, _) = els[1 + rng.below(els.len() - 1)].clone();
                    if r2.end <= r.start || r.end <= r2.start {
                        let (a, b) = if r2.start < r.start { (r2, r) } else { (r, r2) };
                        [
                            &s[..a.start],
                            &s[b.clone()],
                            &s[a.end..b.start],
                            &s[a.clone()],
                            &s[b.end..],
                        ]
                        .concat()
                    } else {
                        d
                    }
                }
                // wrap in deep nesting (of its own tag or a chosen one)
                _ => {
                    let t = if rng.below(2) == 0 {
                        tag.as_str()
                    } else {
                        *rng.pick(NEST_TAGS)
                    };
                    let depth = [10, 300, 3000, 20_000][rng.below(4)];
                    let open = format!("<{t}>").repeat(depth);
                    let close = format!("</{t}>").repeat(depth);
                    [
                        &s[..r.start],
                        open.as_bytes(),
                        &s[r.clone()],
                        close.as_bytes(),
                        &s[r.end..],
                    ]
                    .concat()
                }
            };
            return out;
        }
    }
    d
}

/// Load one case as the Python package would. `Err(reason)` is a finding.
fn run_case(target: Target, path: &Path) -> Result<(), String> {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let named = |e: kinegrad::Error| -> Result<(), String> {
        let msg = e.to_string();
        if msg.contains(&name) {
            Ok(())
        } else {
            Err(format!("error does not name the file {name}: {msg}"))
        }
    };
    match target {
        Target::Mjcf => match mjcf::load(path, 1.0) {
            Err(e) => named(e),
            Ok(spec) => {
                let mut b = ModelBuilder::new();
                if let Some(o) = spec.options.clone() {
                    b.options = o;
                }
                b.add_entity(spec, Pose::identity(), BaseMode::AsIs);
                b.build().map(|_| ()).or_else(named)
            }
        },
        Target::Urdf => match urdf::load(path, 1.0) {
            Err(e) => named(e),
            Ok(spec) => {
                for base in [BaseMode::Free, BaseMode::Fixed] {
                    let mut b = ModelBuilder::new();
                    b.add_entity(spec.clone(), Pose::identity(), base);
                    b.build().map(|_| ()).or_else(named)?;
                }
                Ok(())
            }
        },
        Target::Mesh => inertia::load_mesh_asset(path, kinegrad::math::Vec3::repeat(1.0), "m")
            .map(|_| ())
            .or_else(named),
    }
}

/// Run a case on a worker thread (default 2 MB stack, like a test thread): panics and
/// timeouts become findings.
fn guarded(target: Target, path: &Path) -> Result<(), String> {
    let (tx, rx) = mpsc::channel();
    let p = path.to_path_buf();
    std::thread::Builder::new()
        .name("fuzz-case".into())
        .spawn(move || {
            let r = std::panic::catch_unwind(|| run_case(target, &p));
            let _ = tx.send(r);
        })
        .expect("spawn");
    match rx.recv_timeout(CASE_TIMEOUT) {
        Ok(Ok(r)) => r,
        Ok(Err(panic)) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            Err(format!("panic: {msg}"))
        }
        Err(mpsc::RecvTimeoutError::Timeout) => Err(format!("timeout (> {CASE_TIMEOUT:?})")),
        // the thread died without sending: a stack overflow aborts the process instead, so
        // this is a panic whose payload could not be sent
        Err(mpsc::RecvTimeoutError::Disconnected) => Err("worker died".into()),
    }
}

/// A scratch directory holding the mesh corpus and the MJCF include fragments
/// (`tests/fuzz/include/`), where the seeds reference them.
fn work_dir(target: Target, purpose: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "kinegrad-fuzz-{}-{purpose}-{}",
        target.dir(),
        std::process::id()
    ));
    std::fs::create_dir_all(dir.join("meshes")).unwrap();
    for e in std::fs::read_dir(fuzz_dir().join("corpus/mesh")).unwrap() {
        let p = e.unwrap().path();
        let f = p.file_name().unwrap();
        std::fs::copy(&p, dir.join(f)).unwrap();
        std::fs::copy(&p, dir.join("meshes").join(f)).unwrap();
    }
    // MJCF fragments the seeds `<include>`
    for e in std::fs::read_dir(fuzz_dir().join("include")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
    }
    dir
}

fn seeds(target: Target) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> =
        std::fs::read_dir(fuzz_dir().join("corpus").join(target.dir()))
            .unwrap()
            .map(|e| {
                let p = e.unwrap().path();
                (
                    p.file_name().unwrap().to_string_lossy().into_owned(),
                    std::fs::read(&p).unwrap(),
                )
            })
            .collect();
    v.sort();
    v
}

fn env_u64(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Fuzz `target` for `FUZZ_SECONDS`; panics listing the saved findings.
fn fuzz(target: Target) {
    let seconds = env_u64("FUZZ_SECONDS", 12);
    let seed = env_u64("FUZZ_SEED", 1);
    let mut rng = Rng(seed ^ (target as u64) << 32);
    let corpus = seeds(target);
    let dir = work_dir(target, "run");
    let xml = target != Target::Mesh;
    let start = Instant::now();
    let mut findings: Vec<String> = Vec::new();
    let mut cases = 0usize;
    let last = fuzz_dir()
        .join("crashes")
        .join(format!("{}-last-case-if-aborted", target.dir()));
    while start.elapsed() < Duration::from_secs(seconds) && findings.len() < 5 {
        let (name, data) = rng.pick(&corpus);
        // the seeds themselves first, then 1 to 4 stacked mutations
        let mut d = data.clone();
        if cases >= corpus.len() {
            for _ in 0..=rng.below(4) {
                d = mutate(&mut rng, &d, xml);
            }
        }
        let ext = Path::new(name)
            .extension()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let path = dir.join(format!("case{cases}.{ext}"));
        std::fs::write(&path, &d).unwrap();
        // a stack overflow aborts the process: the input it died on stays here
        std::fs::write(&last, &d).unwrap();
        cases += 1;
        if let Err(why) = guarded(target, &path) {
            let h = d.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
                (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
            });
            let out = fuzz_dir()
                .join("crashes")
                .join(format!("{}-{h:016x}.{ext}", target.dir()));
            std::fs::write(&out, &d).unwrap();
            findings.push(format!(
                "{}: {}",
                out.display(),
                why.chars().take(300).collect::<String>()
            ));
            if why.starts_with("timeout") {
                break; // its thread is still running
            }
        }
        let _ = std::fs::remove_file(&path);
    }
    eprintln!(
        "fuzz {:?}: {cases} cases in {:.1} s (seed {seed}), {} findings",
        target,
        start.elapsed().as_secs_f64(),
        findings.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(&last);
    assert!(
        findings.is_empty(),
        "fuzz {target:?} findings:\n{}",
        findings.join("\n")
    );
}

#[test]
fn fuzz_mjcf_loader() {
    fuzz(Target::Mjcf);
}

#[test]
fn fuzz_urdf_loader() {
    fuzz(Target::Urdf);
}

#[test]
fn fuzz_mesh_loader() {
    fuzz(Target::Mesh);
}

/// Every saved regression input loads (or fails with an error naming its file) without a
/// panic or a timeout.
#[test]
fn fuzz_regressions_replay_cleanly() {
    let mut failures = Vec::new();
    let mut n = 0;
    for target in [Target::Mjcf, Target::Urdf, Target::Mesh] {
        let dir = work_dir(target, "replay");
        let reg = fuzz_dir().join("regressions").join(target.dir());
        let mut files: Vec<PathBuf> = std::fs::read_dir(&reg)
            .map(|rd| rd.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        files.sort();
        for f in files.iter().filter(|f| f.extension().is_some()) {
            // next to the mesh corpus, as when it was found
            let p = dir.join(f.file_name().unwrap());
            std::fs::copy(f, &p).unwrap();
            n += 1;
            if let Err(why) = guarded(target, &p) {
                failures.push(format!("{}: {why}", f.display()));
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    eprintln!("replayed {n} regression inputs");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

//! The layers follow the flow of the data, and no import runs back up or in a circle.
//!
//! `.env` → config → project → session → driver → provision: each layer uses only the ones
//! below it. This test reads every source file, finds the modules it refers to (`crate::…`,
//! `super::…`), and fails on
//! - a circle of imports between files (a strongly connected component of two or more), and
//! - an import from a lower layer to a higher one (see `LAYERS`).
//!
//! Test code (`#[cfg(test)]` blocks at the end of a file, `tests.rs`, `*_tests.rs`,
//! `testing.rs`) is left out: a test may set up what it tests from anywhere. `cargo modules
//! dependencies --lib --no-externs --no-fns --no-traits --no-types --acyclic` says the same
//! about modules, for anyone who has cargo-modules.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, lowest first. A module may use modules of lower layers; within a layer only
/// the ones marked as peers may use each other (and then without circles).
const LAYERS: &[(&[&str], bool)] = &[
    // leaves: what everyone shares
    (
        &[
            "atomic",
            "check",
            "error",
            "gone",
            "host",
            "interrupt",
            "ip",
            "lock",
            "output",
            "person",
            "process",
            "procs",
            "text",
            "timing",
            "ui",
        ],
        true,
    ),
    (&["config"], false),
    (&["project"], false),
    // what a guest's life is made of, used by the session and the drivers
    (
        &["ssh", "trust", "fence", "provision", "share", "broker"],
        true,
    ),
    (&["driver"], false),
    // the drivers, and the session that drives them: neither knows the other
    (&["backend", "session"], false),
    (&["context"], false),
    (&["commands", "cli"], true),
    (&["crate"], false),
];

fn layer_of(top: &str) -> Option<(usize, bool)> {
    LAYERS
        .iter()
        .enumerate()
        .find(|(_, (mods, _))| mods.contains(&top))
        .map(|(i, (_, peers))| (i, *peers))
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `src/a/b.rs` and `src/a/b/mod.rs` are `a::b`; `src/lib.rs` is the crate.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts
}

fn is_test_file(file: &Path) -> bool {
    let name = file.file_stem().unwrap().to_string_lossy();
    name == "tests" || name.ends_with("_tests") || name == "testing" || name == "main"
}

/// The code of a file without its comments and its test module.
fn code(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with("#[cfg(test)]") {
            break;
        }
        if t.starts_with("//") {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

fn ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Every path the code names from `crate::`, `super::` or `self::`, brace groups expanded,
/// as module-ish segments (lowercase ones; a type or function ends the path).
fn paths(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let chars: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let rest: String = chars[i..chars.len().min(i + 8)].iter().collect();
        let starts = ["crate::", "super::", "self::"]
            .iter()
            .find(|p| rest.starts_with(*p) && (i == 0 || !ident_char(chars[i - 1])));
        if let Some(p) = starts {
            let (found, end) = parse_path(&chars, i);
            let _ = p;
            out.extend(found);
            i = end;
        } else {
            i += 1;
        }
    }
    out
}

/// Parses `a::b::{c, d::e}` from `start`; returns the expanded paths and where it ended.
fn parse_path(chars: &[char], start: usize) -> (Vec<Vec<String>>, usize) {
    let mut i = start;
    let mut prefix: Vec<String> = Vec::new();
    loop {
        let mut seg = String::new();
        while i < chars.len() && ident_char(chars[i]) {
            seg.push(chars[i]);
            i += 1;
        }
        if !seg.is_empty() {
            prefix.push(seg);
        }
        if i + 1 < chars.len() && chars[i] == ':' && chars[i + 1] == ':' {
            i += 2;
            if i < chars.len() && chars[i] == '{' {
                i += 1;
                let mut all = Vec::new();
                loop {
                    while i < chars.len() && (chars[i].is_whitespace() || chars[i] == ',') {
                        i += 1;
                    }
                    if i >= chars.len() || chars[i] == '}' {
                        i += 1;
                        break;
                    }
                    let (sub, end) = parse_path(chars, i);
                    for s in sub {
                        let mut p = prefix.clone();
                        p.extend(s);
                        all.push(p);
                    }
                    i = end.max(i + 1);
                }
                if all.is_empty() {
                    all.push(prefix);
                }
                return (all, i);
            }
            continue;
        }
        return (vec![prefix], i);
    }
}

/// The module a path leads to: the deepest one of `known` along it.
fn resolve(from: &[String], path: &[String], known: &BTreeSet<Vec<String>>) -> Option<Vec<String>> {
    let mut abs: Vec<String> = Vec::new();
    let mut segs = path.iter().peekable();
    match segs.peek().map(|s| s.as_str()) {
        Some("crate") => {
            segs.next();
        }
        Some("super") | Some("self") => {
            abs = from.to_vec();
            while let Some(s) = segs.peek() {
                match s.as_str() {
                    "super" => {
                        abs.pop();
                    }
                    "self" => {}
                    _ => break,
                }
                segs.next();
            }
        }
        _ => return None,
    }
    let mut best = if known.contains(&abs) {
        Some(abs.clone())
    } else {
        None
    };
    for s in segs {
        abs.push(s.clone());
        if known.contains(&abs) {
            best = Some(abs.clone());
        } else {
            break;
        }
    }
    best
}

fn name(m: &[String]) -> String {
    if m.is_empty() {
        "crate".into()
    } else {
        m.join("::")
    }
}

struct Graph {
    edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
}

fn graph() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    files(&src, &mut all);
    all.retain(|f| !is_test_file(f));
    let known: BTreeSet<Vec<String>> = all.iter().map(|f| module_of(&src, f)).collect();
    let mut edges = BTreeMap::new();
    for f in &all {
        let me = module_of(&src, f);
        let text = std::fs::read_to_string(f).unwrap();
        let mut to = BTreeSet::new();
        let code = code(&text);
        for p in paths(&code) {
            if let Some(m) = resolve(&me, &p, &known) {
                if m != me {
                    to.insert(m);
                }
            }
        }
        // a child module named without `self::` (`plan::plan(..)` in its parent)
        for child in known
            .iter()
            .filter(|k| k.len() == me.len() + 1 && k.starts_with(&me))
        {
            let word = format!("{}::", child.last().unwrap());
            let named = code
                .match_indices(&word)
                .any(|(i, _)| !code[..i].ends_with(|c: char| ident_char(c) || c == ':'));
            if named {
                to.insert(child.clone());
            }
        }
        edges.insert(me, to);
    }
    Graph { edges }
}

/// Tarjan's strongly connected components.
fn cycles(g: &Graph) -> Vec<Vec<String>> {
    struct T<'a> {
        g: &'a Graph,
        index: BTreeMap<&'a Vec<String>, usize>,
        low: BTreeMap<&'a Vec<String>, usize>,
        stack: Vec<&'a Vec<String>>,
        on: BTreeSet<&'a Vec<String>>,
        n: usize,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a Vec<String>) {
        t.index.insert(v, t.n);
        t.low.insert(v, t.n);
        t.n += 1;
        t.stack.push(v);
        t.on.insert(v);
        let g = t.g;
        for w in g.edges.get(v).into_iter().flatten() {
            if !g.edges.contains_key(w) {
                continue;
            }
            if !t.index.contains_key(w) {
                visit(t, w);
                let lw = t.low[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if t.on.contains(w) {
                let iw = t.index[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if t.low[v] == t.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on.remove(w);
                comp.push(name(w));
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                t.out.push(comp);
            }
        }
    }
    let mut t = T {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        n: 0,
        out: Vec::new(),
    };
    for v in g.edges.keys() {
        if !t.index.contains_key(v) {
            visit(&mut t, v);
        }
    }
    t.out
}

#[test]
fn no_file_imports_another_in_a_circle() {
    let g = graph();
    let found = cycles(&g);
    assert!(
        found.is_empty(),
        "import circles between files:\n{}",
        found
            .iter()
            .map(|c| format!("  {}", c.join(" <-> ")))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn imports_only_go_down_the_layers() {
    let g = graph();
    let top = |m: &Vec<String>| m.first().cloned().unwrap_or_else(|| "crate".into());
    let mut wrong = Vec::new();
    for (from, tos) in &g.edges {
        let a = top(from);
        let Some((la, peers)) = layer_of(&a) else {
            wrong.push(format!("{}: module `{a}` is in no layer", name(from)));
            continue;
        };
        for to in tos {
            let b = top(to);
            if a == b {
                continue;
            }
            let Some((lb, _)) = layer_of(&b) else {
                wrong.push(format!("{}: module `{b}` is in no layer", name(to)));
                continue;
            };
            if lb > la || (lb == la && !peers) {
                wrong.push(format!("{} -> {}", name(from), name(to)));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layers:\n  {}",
        wrong.join("\n  ")
    );
}

#[test]
fn the_reader_finds_what_it_should() {
    let p = paths("use crate::{a, b::{c, D}};\nlet x = super::e::f(crate::g::H);");
    let p: Vec<String> = p.iter().map(|p| p.join("::")).collect();
    assert_eq!(
        p,
        [
            "crate::a",
            "crate::b::c",
            "crate::b::D",
            "super::e::f",
            "crate::g::H"
        ]
    );
    let known: BTreeSet<Vec<String>> =
        [vec![], vec!["b".to_string()], vec!["b".into(), "c".into()]]
            .into_iter()
            .collect();
    assert_eq!(
        resolve(
            &[],
            &["crate".into(), "b".into(), "c".into(), "x".into()],
            &known
        ),
        Some(vec!["b".to_string(), "c".into()])
    );
    assert_eq!(
        resolve(
            &["b".into(), "c".into()],
            &["super".into(), "Y".into()],
            &known
        ),
        Some(vec!["b".to_string()])
    );
}

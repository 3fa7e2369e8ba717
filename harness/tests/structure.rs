//! The crate's layering: no import cycle between the top-level modules of
//! `src/`, and the vocabulary and scenario rooms stay at the bottom. Reads
//! the sources as text (no Docker, no Python), test code left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeSet<String>>;

/// Every `.rs` file under `dir`, in name order.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The module path of a file relative to `src/`: `a/b.rs` → [a, b],
/// `a/mod.rs` → [a], `a.rs` → [a].
fn module_path(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap();
    if last != "mod.rs" {
        parts.push(last.trim_end_matches(".rs").to_string());
    }
    parts
}

/// The first segment of each item of the `{...}` group that opens at
/// `text[open]`: `{a, b::{c, d}, e::f}` → [a, b, e]. Nested groups belong
/// to their item, so only depth-1 items count.
fn group_heads(text: &str, open: usize) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut item_start = open + 1;
    for (i, c) in text[open..].char_indices().map(|(i, c)| (open + i, c)) {
        match c {
            '{' => depth += 1,
            '}' | ',' if depth == 1 => {
                let head: String = text[item_start..i]
                    .trim_start()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !head.is_empty() {
                    heads.push(head);
                }
                item_start = i + 1;
                if c == '}' {
                    break;
                }
            }
            '}' => depth -= 1,
            _ => {}
        }
    }
    heads
}

/// What follows a path prefix ending at `at`: one name, or a group's heads.
fn names_at(text: &str, at: usize) -> Vec<String> {
    if text[at..].starts_with('{') {
        return group_heads(text, at);
    }
    let name: String = text[at..]
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    if name.is_empty() {
        Vec::new()
    } else {
        vec![name]
    }
}

/// Whether `text[i..]` starts a path segment (not the tail of `$crate`,
/// `my_crate` or `self::super`'s neighbour words).
fn starts_segment(text: &str, i: usize) -> bool {
    text[..i]
        .chars()
        .next_back()
        .is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '$'))
}

/// The top-level modules `text` (a file at `module`) refers to: through
/// `crate::name`, `crate::{a, b::{c}}`, and `super::...::name` paths that
/// climb to the crate root. Mentions in comments count too: a doc link is
/// a dependency a reader follows.
fn references(text: &str, module: &[String]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices("crate::") {
        if starts_segment(text, i) {
            out.extend(names_at(text, i + "crate::".len()));
        }
    }
    let mut i = 0;
    while let Some(found) = text[i..].find("super::") {
        let start = i + found;
        let mut at = start;
        let mut ups = 0;
        while text[at..].starts_with("super::") {
            ups += 1;
            at += "super::".len();
        }
        i = at;
        if !starts_segment(text, start) {
            continue;
        }
        // From module [a, b], one `super` is [a], two are the crate root.
        if ups == module.len() {
            out.extend(names_at(text, at));
        }
    }
    out
}

/// The edges between top-level modules of `src` (main.rs and lib.rs, the
/// roots, left out), each file read up to its first `#[cfg(test)]`.
fn module_graph(src: &Path) -> Graph {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let module_of = |p: &Path| module_path(p.strip_prefix(src).unwrap());
    let tops: BTreeSet<String> = files
        .iter()
        .map(|p| module_of(p))
        .filter(|m| m.len() != 1 || (m[0] != "main" && m[0] != "lib"))
        .map(|m| m[0].clone())
        .collect();
    let mut graph: Graph = tops.iter().map(|t| (t.clone(), BTreeSet::new())).collect();
    for p in &files {
        let module = module_of(p);
        let top = &module[0];
        if !tops.contains(top) {
            continue;
        }
        let text = std::fs::read_to_string(p).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap();
        for r in references(code, &module) {
            if tops.contains(&r) && &r != top {
                graph.get_mut(top).unwrap().insert(r);
            }
        }
    }
    graph
}

/// A cycle of the graph as a path `a → b → … → a`, if there is one.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    // Depth-first search; colours: absent = new, false = on the stack,
    // true = done.
    fn visit(
        v: &str,
        graph: &Graph,
        colour: &mut BTreeMap<String, bool>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        colour.insert(v.to_string(), false);
        stack.push(v.to_string());
        for w in &graph[v] {
            match colour.get(w) {
                Some(false) => {
                    let from = stack.iter().position(|s| s == w).unwrap();
                    let mut cycle = stack[from..].to_vec();
                    cycle.push(w.clone());
                    return Some(cycle);
                }
                Some(true) => {}
                None => {
                    if let Some(c) = visit(w, graph, colour, stack) {
                        return Some(c);
                    }
                }
            }
        }
        stack.pop();
        colour.insert(v.to_string(), true);
        None
    }
    let mut colour = BTreeMap::new();
    for v in graph.keys() {
        if !colour.contains_key(v) {
            if let Some(c) = visit(v, graph, &mut colour, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn top_level_modules_have_no_import_cycle() {
    let graph = module_graph(&src());
    assert!(graph.contains_key("scenario") && graph.contains_key("verify"));
    if let Some(cycle) = find_cycle(&graph) {
        panic!(
            "import cycle between top-level modules: {}\nall edges:\n{}",
            cycle.join(" → "),
            graph
                .iter()
                .map(|(m, to)| format!(
                    "  {m} → {}",
                    to.iter().cloned().collect::<Vec<_>>().join(", ")
                ))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

/// The shared vocabulary depends on nothing of the harness, and scenario
/// files are parsed with the vocabulary only (issue 9): checks that need
/// another room are composed in by the loader.
#[test]
fn vocabulary_and_scenario_stay_at_the_bottom() {
    let graph = module_graph(&src());
    assert_eq!(graph["vocab"], BTreeSet::new(), "vocab must import nothing");
    assert_eq!(graph["stats"], BTreeSet::new(), "stats must import nothing");
    // The results schema sits under everything that makes or reads a record.
    for reader in ["checker", "explore", "verify", "report", "compare"] {
        assert!(
            !graph["export"].contains(reader),
            "export must not import {reader}: {:?}",
            graph["export"]
        );
    }
    assert_eq!(
        graph["scenario"],
        BTreeSet::from(["vocab".to_string()]),
        "scenario may import only vocab"
    );
    for low in ["docker", "snapshot", "history", "scenario"] {
        for banned in ["approach", "error"] {
            assert!(
                !graph[low].contains(banned),
                "{low} must not import {banned}: {:?}",
                graph[low]
            );
        }
    }
}

/// The scanner sees what `modgraph.py` does not: groups, nested groups and
/// `super::super` paths; and it leaves `$crate` and test code alone.
#[test]
fn the_scanner_sees_groups_and_super_paths() {
    let m = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let refs =
        |text: &str, module: &[&str]| references(text, &m(module)).into_iter().collect::<Vec<_>>();
    assert_eq!(
        refs(
            "use crate::{a, b::{c, d}, e::f as g,\n    h::{self}};",
            &["x"]
        ),
        m(&["a", "b", "e", "h"])
    );
    assert_eq!(
        refs("let y = crate::plan::Trial::new();", &["x"]),
        m(&["plan"])
    );
    assert_eq!(
        refs("use super::super::{p, q::r};", &["x", "y"]),
        m(&["p", "q"])
    );
    assert_eq!(refs("use super::super::p;", &["x", "y"]), m(&["p"]));
    // One `super` from a nested file stays in its own module.
    assert_eq!(refs("use super::sibling;", &["x", "y"]), m(&[]));
    assert_eq!(refs("use super::other;", &["x"]), m(&["other"]));
    assert_eq!(refs("$crate::hidden; my_crate::no", &["x"]), m(&[]));

    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("a")).unwrap();
    std::fs::write(dir.path().join("lib.rs"), "pub mod a; pub mod b;").unwrap();
    std::fs::write(dir.path().join("a/mod.rs"), "mod inner;").unwrap();
    std::fs::write(dir.path().join("a/inner.rs"), "use super::super::{b};").unwrap();
    std::fs::write(
        dir.path().join("b.rs"),
        "//! See [`crate::a`].\n#[cfg(test)]\nmod tests { use crate::c; }",
    )
    .unwrap();
    let graph = module_graph(dir.path());
    assert_eq!(find_cycle(&graph), Some(m(&["a", "b", "a"])));
}

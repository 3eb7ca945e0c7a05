//! The host's module layering, checked: no two modules import each other, directly or round a
//! circle.
//!
//! A module here is a top-level module of the crate (`runtime`, `capabilities`, `durability`,
//! …), except that `runtime::bindings` counts on its own: it is generated code every layer may
//! name, and it names nothing of the crate. An edge is any `crate::…` path in a module's
//! non-test source, `use` or inline. Test modules (`tests.rs`, `#[cfg(test)]` blocks at the end
//! of a file) may reach anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Nodes that count apart from their parent module.
const SPLIT: &[&str] = &["runtime::bindings"];

fn node_of(path: &str) -> Option<String> {
    let path = path.trim_start_matches("crate::");
    for split in SPLIT {
        if path == *split || path.starts_with(&format!("{split}::")) {
            return Some((*split).to_owned());
        }
    }
    let first = path.split("::").next()?;
    let first = first.trim_matches(|c: char| !c.is_alphanumeric() && c != '_');
    (!first.is_empty()).then(|| first.to_owned())
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module a source file belongs to, from its path under `src/`.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_owned())
        .collect();
    match parts.as_slice() {
        [single] if single == "lib" || single == "main" => None,
        [first, second, ..] => node_of(&format!("{first}::{second}"))
            .filter(|n| SPLIT.contains(&n.as_str()))
            .or_else(|| Some(first.clone())),
        [first] => Some(first.clone()),
        [] => None,
    }
}

/// Source without test code: a `tests.rs` file (and this one) is skipped whole, and a file is cut at its
/// `#[cfg(test)]` (test modules sit at the end by convention).
fn production_source(file: &Path) -> Option<String> {
    if file
        .file_name()
        .is_some_and(|n| n == "tests.rs" || n == "layering.rs")
    {
        return None;
    }
    let text = std::fs::read_to_string(file).ok()?;
    Some(match text.find("#[cfg(test)]") {
        Some(at) => text[..at].to_owned(),
        None => text,
    })
}

/// `crate::…` paths named in `source`, with `use crate::{a, b::c}` groups expanded one level.
fn crate_paths(source: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = source;
    while let Some(at) = rest.find("crate::") {
        let tail = &rest[at + "crate::".len()..];
        // Skip `$crate::` in macros and doc links' backticks alike: both name the crate.
        if let Some(group) = tail.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let item = item.trim();
                if !item.is_empty() {
                    out.push(item.to_owned());
                }
            }
        } else {
            let end = tail
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(tail.len());
            out.push(tail[..end].to_owned());
        }
        rest = tail;
    }
    out
}

fn is_doc_or_comment(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with("//")
}

#[test]
fn host_modules_import_no_circles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    files(&src, &mut all);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &all {
        let (Some(from), Some(source)) = (module_of(&src, file), production_source(file)) else {
            continue;
        };
        let code: String = source
            .lines()
            .filter(|l| !is_doc_or_comment(l))
            .collect::<Vec<_>>()
            .join("\n");
        for path in crate_paths(&code) {
            if let Some(to) = node_of(&path)
                && to != from
            {
                edges.entry(from.clone()).or_default().insert(to);
            }
        }
    }
    if let Some(circle) = find_circle(&edges) {
        panic!(
            "host modules import each other: {}\nall edges: {edges:#?}",
            circle.join(" -> ")
        );
    }
    // Generated contract types stop at the runtime's domain seam (runtime::domain): the
    // scheduler, the store, the service and the admin API work in the host's own types.
    for module in [
        "scheduler",
        "db",
        "service",
        "admin",
        "webhooks",
        "credentials",
    ] {
        assert!(
            !edges
                .get(module)
                .is_some_and(|e| e.contains("runtime::bindings")),
            "`{module}` names generated contract types: {edges:#?}"
        );
    }
    // The check sees the modules it is meant to (a broken path walk would pass vacuously).
    for expected in [
        "runtime",
        "capabilities",
        "durability",
        "scheduler",
        "admin",
        "service",
    ] {
        assert!(
            edges.contains_key(expected),
            "no imports found for `{expected}`: {edges:#?}"
        );
    }
}

/// A circle in the graph, if there is one: depth-first search for a back edge.
fn find_circle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut circle = stack[at..].to_vec();
            circle.push(node.to_owned());
            return Some(circle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_owned());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(circle) = visit(next, edges, stack, done) {
                return Some(circle);
            }
        }
        stack.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|node| visit(node, edges, &mut Vec::new(), &mut done))
}

#[test]
fn the_circle_finder_finds_circles() {
    let graph = |pairs: &[(&str, &str)]| {
        let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (a, b) in pairs {
            edges
                .entry((*a).to_owned())
                .or_default()
                .insert((*b).to_owned());
        }
        edges
    };
    assert_eq!(
        find_circle(&graph(&[("a", "b"), ("b", "c"), ("c", "a")])),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    assert_eq!(
        find_circle(&graph(&[("a", "b"), ("a", "c"), ("b", "c")])),
        None
    );
    assert_eq!(
        crate_paths("use crate::{db::Store, runtime::bindings::types};"),
        vec![
            "db::Store".to_owned(),
            "runtime::bindings::types".to_owned()
        ]
    );
    assert_eq!(
        node_of("runtime::bindings::types::Error").as_deref(),
        Some("runtime::bindings")
    );
}

//! Keeps ARCHITECTURE.md's layer diagram true: reads every file of the library and fails when a
//! module names (`crate::…`) a module of its own layer or of a layer above it, when a module
//! is missing from the table, or when target-specific code (`cfg(target_arch …)`) appears
//! outside the platform shim and the JavaScript edge.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The library's top-level modules, lowest layer first. A module may name modules of lower
/// layers only; modules in one layer know nothing of each other.
const LAYERS: &[&[&str]] = &[
    &["flow", "numerics", "rng"],
    &["error"],
    &["io"],
    &["platform"],
    &["device"],
    &["nn", "tokenizer"],
    &["selfcheck", "models", "data"],
    &["generate", "lora"],
    &["eval", "rag"],
    &["train", "qa"],
    &["advise", "bench"],
    &["session"],
    &["js"],
];

/// Where `cfg(target_arch = …)` may appear: the platform shim, the JavaScript edge (built for
/// wasm32 only) and the line in `lib.rs` that declares it.
const TARGET_SPECIFIC: &[&str] = &["platform", "js", "lib"];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rank(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// Every `.rs` file under `dir`.
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("the source folder is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a library file belongs to (`None` for the CLI's files).
fn module_of(path: &Path) -> Option<String> {
    let relative = path.strip_prefix(src()).ok()?;
    let first = relative.components().next()?.as_os_str().to_str()?;
    match first {
        "bin" => None,
        _ => Some(first.trim_end_matches(".rs").to_string()),
    }
}

/// The code of a file without comments and without its unit-test module (which may use
/// anything), one line per entry.
fn code(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[cfg(test)]") {
            break;
        }
        if trimmed.starts_with("//") {
            continue;
        }
        out.push(line.split(" //").next().unwrap_or_default().to_string());
    }
    out
}

/// The modules `line` names as `crate::module` or `$crate::module`.
fn named_modules(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("crate::") {
        let after = &rest[at + "crate::".len()..];
        let name: String = after
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if name.chars().next().is_some_and(|c| c.is_ascii_lowercase()) {
            out.push(name);
        }
        rest = after;
    }
    out
}

#[test]
fn no_module_imports_from_its_own_layer_or_above() {
    let mut all = Vec::new();
    files(&src(), &mut all);
    let mut problems = Vec::new();
    let mut edges: BTreeMap<(String, String), String> = BTreeMap::new();
    for path in &all {
        let Some(module) = module_of(path) else {
            continue;
        };
        if module == "lib" {
            continue;
        }
        let Some(own) = rank(&module) else {
            problems.push(format!(
                "module `{module}` is not in this test's LAYERS (nor ARCHITECTURE.md's diagram)"
            ));
            continue;
        };
        let text = std::fs::read_to_string(path).expect("a source file is readable");
        for (n, line) in code(&text).iter().enumerate() {
            for target in named_modules(line) {
                if target == module {
                    continue;
                }
                let where_ = format!("{}:{}", path.display(), n + 1);
                match rank(&target) {
                    None => problems.push(format!("{where_}: names unknown module `{target}`")),
                    Some(r) if r >= own => {
                        edges
                            .entry((module.clone(), target.clone()))
                            .or_insert(where_);
                    }
                    Some(_) => {}
                }
            }
        }
    }
    for ((from, to), where_) in &edges {
        problems.push(format!(
            "{where_}: `{from}` (layer {}) imports `{to}` (layer {}), which is not below it",
            rank(from).unwrap_or(0),
            rank(to).unwrap_or(0)
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn target_specific_code_stays_in_the_platform_shim() {
    let mut all = Vec::new();
    files(&src(), &mut all);
    let mut problems = Vec::new();
    for path in &all {
        let Some(module) = module_of(path) else {
            continue;
        };
        if TARGET_SPECIFIC.contains(&module.as_str()) {
            continue;
        }
        let text = std::fs::read_to_string(path).expect("a source file is readable");
        for (n, line) in code(&text).iter().enumerate() {
            if line.contains("target_arch") {
                problems.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "target-specific code outside platform/ and js/:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_layer_table_names_each_module_once() {
    let mut seen = BTreeMap::new();
    for (r, layer) in LAYERS.iter().enumerate() {
        for module in *layer {
            assert!(
                seen.insert(*module, r).is_none(),
                "`{module}` is in two layers"
            );
            let file = src().join(format!("{module}.rs"));
            let folder = src().join(module).join("mod.rs");
            assert!(
                file.is_file() || folder.is_file(),
                "`{module}` in LAYERS has no file"
            );
        }
    }
}

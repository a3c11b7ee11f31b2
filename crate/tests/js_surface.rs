//! The JavaScript API is written in three places: the `#[wasm_bindgen]` methods of `Webtune`
//! (`crate/src/js/`), the TypeScript declarations of the objects they take and give
//! (`js/typescript.rs`), and the page's worker client (`web/client.js`), which forwards every
//! method to the worker by name. This test reads all three and fails when they disagree: a
//! method the client lacks or invents, a different number of arguments, a call forwarded under
//! another name, or a type named in a signature that no declaration defines.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

fn read(path: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Splits `text` at top-level commas (outside (), [], {}, <> and strings).
fn split_top(text: &str) -> Vec<String> {
    let (mut depth, mut quoted, mut current, mut out) = (0i32, false, String::new(), Vec::new());
    for c in text.chars() {
        match c {
            '"' => quoted = !quoted,
            '(' | '[' | '{' | '<' if !quoted => depth += 1,
            ')' | ']' | '}' | '>' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                out.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    out.push(current);
    out.into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The text after `open` (an opening bracket at `start`) up to its matching close.
fn enclosed(text: &str, start: usize) -> &str {
    let bytes = text.as_bytes();
    let (open, close) = (bytes[start], if bytes[start] == b'(' { b')' } else { b']' });
    let (mut depth, mut quoted) = (0, false);
    for (i, &b) in bytes.iter().enumerate().skip(start) {
        match b {
            b'"' => quoted = !quoted,
            _ if quoted => {}
            _ if b == open => depth += 1,
            _ if b == close => {
                depth -= 1;
                if depth == 0 {
                    return &text[start + 1..i];
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced brackets after byte {start}");
}

/// JS name → argument count, and every type string of the signatures, from the
/// `#[wasm_bindgen] impl Webtune` blocks of `text`.
fn exported(text: &str, methods: &mut BTreeMap<String, usize>, types: &mut Vec<String>) {
    for block in text.split("#[wasm_bindgen]\nimpl Webtune {").skip(1) {
        let mut pending_name: Option<String> = None;
        let mut at = 0;
        while let Some(found) = block[at..].find(['#', 'p']) {
            let i = at + found;
            let rest = &block[i..];
            if rest.starts_with("#[wasm_bindgen(") {
                let attr = enclosed(block, i + "#[wasm_bindgen".len());
                for part in split_top(attr) {
                    if let Some(name) = part.strip_prefix("js_name = ") {
                        pending_name = Some(name.trim().to_string());
                    }
                    if let Some(ty) = part.strip_prefix("unchecked_return_type = ") {
                        types.push(ty.trim_matches('"').to_string());
                    }
                }
                at = i + attr.len() + 16;
            } else if let Some(after) = rest.strip_prefix("pub fn ") {
                let name: String = after
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                let open = i + rest.find('(').expect("a parameter list");
                let list = enclosed(block, open);
                let params = split_top(list);
                let mut count = 0;
                for param in &params {
                    if param.contains("self") && !param.contains(':') {
                        continue;
                    }
                    count += 1;
                    if let Some(start) = param.find("unchecked_param_type = \"") {
                        let ty = &param[start + 24..];
                        types.push(ty[..ty.find('"').unwrap_or(ty.len())].to_string());
                    }
                }
                methods.insert(pending_name.take().unwrap_or(name), count);
                at = open + list.len() + 2;
            } else {
                at = i + 1;
            }
        }
    }
}

/// Method name → (forwarded name, argument count) of `class WebtuneClient`.
fn client_methods(text: &str) -> BTreeMap<String, (String, usize)> {
    let mut out = BTreeMap::new();
    let mut method = String::new();
    for line in text.lines() {
        let line = line.trim();
        let name: String = line.chars().take_while(|c| c.is_alphanumeric()).collect();
        if !name.is_empty() && name != "return" && line[name.len()..].starts_with('(') {
            method = name;
        }
        let Some(call) = line.find("return this.call(\"") else {
            continue;
        };
        let name = method.clone();
        let after = &line[call + "return this.call(\"".len()..];
        let forwarded = after[..after.find('"').unwrap_or(0)].to_string();
        let args = match after.find('[') {
            Some(open) => split_top(enclosed(after, open)).len(),
            None => 0,
        };
        out.insert(name, (forwarded, args));
    }
    out
}

/// Every source file of the JavaScript API (each may hold a `#[wasm_bindgen] impl Webtune`).
fn js_files() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/js");
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|name| name.ends_with(".rs"))
        .map(|name| format!("crate/src/js/{name}"))
        .collect();
    files.sort();
    files
}

#[test]
fn client_forwards_every_exported_method_with_its_arguments() {
    let (mut methods, mut types) = (BTreeMap::new(), Vec::new());
    for file in js_files() {
        exported(&read(&file), &mut methods, &mut types);
    }
    assert!(methods.len() > 20, "found only {methods:?}");
    let client = client_methods(&read("web/client.js"));
    let mut problems = Vec::new();
    for (name, &args) in &methods {
        match client.get(name) {
            None => problems.push(format!("client.js has no `{name}`")),
            Some((forwarded, n)) => {
                if forwarded != name {
                    problems.push(format!("client.js `{name}` forwards to `{forwarded}`"));
                }
                if *n != args {
                    problems.push(format!(
                        "`{name}` takes {args} arguments in Rust, client.js passes {n}"
                    ));
                }
            }
        }
    }
    for name in client.keys() {
        if !methods.contains_key(name) {
            problems.push(format!(
                "client.js has `{name}`, which Webtune does not export"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_type_in_a_signature_is_declared() {
    let (mut methods, mut types) = (BTreeMap::new(), Vec::new());
    for file in js_files() {
        exported(&read(&file), &mut methods, &mut types);
    }
    let declarations = read("crate/src/js/typescript.rs");
    let declared: BTreeSet<String> = declarations
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            l.strip_prefix("export interface ")
                .or_else(|| l.strip_prefix("export type "))
        })
        .map(|rest| rest.chars().take_while(|c| c.is_alphanumeric()).collect())
        .collect();
    let builtin = [
        "Promise",
        "Array",
        "File",
        "Blob",
        "Record",
        "Uint8Array",
        "Webtune",
    ];
    let mut missing = BTreeSet::new();
    for ty in &types {
        let mut word = String::new();
        for c in ty.chars().chain([' ']) {
            if c.is_alphanumeric() {
                word.push(c);
                continue;
            }
            let starts_upper = word.chars().next().is_some_and(char::is_uppercase);
            if starts_upper && !builtin.contains(&word.as_str()) && !declared.contains(&word) {
                missing.insert(word.clone());
            }
            word.clear();
        }
    }
    assert!(
        !types.is_empty() && missing.is_empty(),
        "types named in signatures but not declared in typescript.rs: {missing:?}"
    );
}

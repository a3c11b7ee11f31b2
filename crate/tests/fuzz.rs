//! Generative fuzzing on stable Rust: each parser gets seeded mutations of the repository's real
//! fixtures — byte changes (flips, interesting integers, cuts, inserts, repeats, splices of
//! another fixture) and, for JSON inputs, structure-aware edits (a value replaced by one of
//! another type, a huge or negative number, deep nesting) — for a time budget
//! (`WEBTUNE_FUZZ_SECONDS` per parser: 10 by default, which CI uses; longer by hand).
//! Every input must give `Ok` or a typed error: a panic fails the test and is kept in
//! `tests/hostile/regressions/` (as `{parser}-{hash}.bin`), and every kept file is run again
//! first. Prints the inputs tried.
//!
//! A crash that kills the process (a stack overflow) leaves its input in
//! `$TMPDIR/webtune-fuzz-{parser}.last`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use webtune::ComputeDevice;
use webtune::io::MemorySource;
use webtune::platform::block_on;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(root().join(path)).unwrap()
}

/// xorshift64*: a fixed sequence for a seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const INTERESTING: [u64; 12] = [
    0,
    1,
    2,
    0x7f,
    0xff,
    0x7fff_ffff,
    0xffff_ffff,
    1 << 32,
    1 << 40,
    1 << 62,
    i64::MAX as u64,
    u64::MAX,
];

/// One to four byte-level changes of `input`, sometimes with a piece of `other`.
fn mutate_bytes(rng: &mut Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = out.len();
        match rng.below(8) {
            0 if len > 0 => out[rng.below(len)] ^= 1 << rng.below(8),
            1 if len > 0 => out[rng.below(len)] = rng.next() as u8,
            2 if len >= 8 => {
                let at = rng.below(len - 7);
                let value = INTERESTING[rng.below(INTERESTING.len())];
                let width = [1, 2, 4, 8][rng.below(4)];
                out[at..at + width].copy_from_slice(&value.to_le_bytes()[..width]);
            }
            3 => out.truncate(rng.below(len + 1)),
            4 => {
                let at = rng.below(len + 1);
                let n = 1 + rng.below(16);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                out.splice(at..at, bytes);
            }
            5 if len > 0 => {
                let at = rng.below(len);
                let end = (at + 1 + rng.below(64)).min(len);
                let piece = out[at..end].to_vec();
                let times = 1 + rng.below(8);
                for _ in 0..times {
                    out.splice(at..at, piece.iter().copied());
                }
            }
            6 if len > 0 => {
                let at = rng.below(len);
                let end = (at + 1 + rng.below(256)).min(len);
                out.drain(at..end);
            }
            7 if !other.is_empty() => {
                let from = rng.below(other.len());
                let end = (from + 1 + rng.below(256)).min(other.len());
                let at = rng.below(len + 1);
                out.splice(at..at, other[from..end].iter().copied());
            }
            _ => {}
        }
    }
    out
}

/// A JSON value of a random kind, some of them hostile.
fn wild(rng: &mut Rng) -> Value {
    match rng.below(10) {
        0 => Value::Null,
        1 => Value::Bool(rng.below(2) == 0),
        2 => serde_json::json!(INTERESTING[rng.below(INTERESTING.len())]),
        3 => serde_json::json!(-(rng.below(1 << 20) as i64) - 1),
        4 => serde_json::json!(1e300 * if rng.below(2) == 0 { 1.0 } else { -1.0 }),
        5 => serde_json::json!(0.5),
        6 => Value::String(["", "NaN", "x", "llama", "all-linear", "4"][rng.below(6)].into()),
        7 => Value::Array(vec![]),
        8 => serde_json::json!({}),
        _ => {
            let mut v = Value::Null;
            for _ in 0..rng.below(200) {
                v = Value::Array(vec![v]);
            }
            v
        }
    }
}

/// One structure-aware change of a JSON document: a value anywhere replaced, a key dropped or
/// added.
fn mutate_json(rng: &mut Rng, input: &[u8]) -> Option<Vec<u8>> {
    let mut value: Value = serde_json::from_slice(input).ok()?;
    let mut path = String::new();
    let mut node = &value;
    for _ in 0..1 + rng.below(4) {
        match node {
            Value::Object(map) if !map.is_empty() => {
                let key = map.keys().nth(rng.below(map.len()))?;
                path.push('/');
                path.push_str(&key.replace('~', "~0").replace('/', "~1"));
                node = &map[key];
            }
            Value::Array(items) if !items.is_empty() => {
                let i = rng.below(items.len());
                path.push_str(&format!("/{i}"));
                node = &items[i];
            }
            _ => break,
        }
    }
    let choice = rng.below(6);
    let replacement = wild(rng);
    match value.pointer_mut(&path)? {
        Value::Object(map) if choice == 0 => {
            map.insert(format!("k{}", rng.below(100)), replacement);
        }
        Value::Object(map) if choice == 1 && !map.is_empty() => {
            let key = map.keys().nth(rng.below(map.len()))?.clone();
            map.remove(&key);
        }
        other => *other = replacement,
    }
    serde_json::to_vec(&value).ok()
}

/// Runs `parse` on seeded mutations of `seeds` for the time budget; panics are kept.
fn fuzz(name: &str, seeds: &[Vec<u8>], json: bool, parse: impl Fn(&[u8])) {
    let regressions = root().join("tests/hostile/regressions");
    let last = std::env::temp_dir().join(format!("webtune-fuzz-{name}.last"));
    let mut found = Vec::new();
    let run = |input: &[u8], found: &mut Vec<Vec<u8>>| {
        std::fs::write(&last, input).unwrap();
        if catch_unwind(AssertUnwindSafe(|| parse(input))).is_err() {
            found.push(input.to_vec());
        }
    };
    // Kept crashes first, then the seeds as they are.
    let mut kept = 0;
    if let Ok(entries) = std::fs::read_dir(&regressions) {
        for entry in entries.flatten() {
            let file = entry.file_name().to_string_lossy().to_string();
            if file.starts_with(&format!("{name}-")) {
                run(&std::fs::read(entry.path()).unwrap(), &mut found);
                kept += 1;
            }
        }
    }
    for seed in seeds {
        run(seed, &mut found);
    }
    let seconds = std::env::var("WEBTUNE_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let budget = Duration::from_secs(seconds);
    let mut rng = Rng(0x5EED ^ name.len() as u64 ^ (name.as_bytes()[0] as u64) << 32);
    let start = Instant::now();
    let mut tried = 0usize;
    while start.elapsed() < budget && found.len() < 5 {
        let seed = &seeds[rng.below(seeds.len())];
        let other = &seeds[rng.below(seeds.len())];
        let input = match json && rng.below(2) == 0 {
            true => {
                mutate_json(&mut rng, seed).unwrap_or_else(|| mutate_bytes(&mut rng, seed, other))
            }
            false => mutate_bytes(&mut rng, seed, other),
        };
        run(&input, &mut found);
        tried += 1;
    }
    let _ = std::fs::remove_file(&last);
    eprintln!(
        "fuzz {name}: {tried} inputs in {:.0} s, {kept} kept crashes rerun",
        start.elapsed().as_secs_f64()
    );
    if !found.is_empty() {
        std::fs::create_dir_all(&regressions).unwrap();
        let mut paths = Vec::new();
        for input in &found {
            let hash = input.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
                (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
            });
            let path = regressions.join(format!("{name}-{hash:016x}.bin"));
            std::fs::write(&path, input).unwrap();
            paths.push(path.display().to_string());
        }
        panic!(
            "{name}: {} inputs panicked, kept in:\n{}",
            found.len(),
            paths.join("\n")
        );
    }
}

/// Silences the panic hook (a fuzzer's panics are expected and kept); set
/// `WEBTUNE_FUZZ_VERBOSE=1` to see them.
fn quiet() {
    if std::env::var_os("WEBTUNE_FUZZ_VERBOSE").is_none() {
        std::panic::set_hook(Box::new(|_| {}));
    }
}

#[test]
fn fuzz_gguf_models() {
    quiet();
    let seeds = vec![
        fixture("tests/fixtures/tiny/qwen2.gguf"),
        fixture("tests/fixtures/tiny/gpt2.gguf"),
        fixture("tests/fixtures/gguf/tiny.gguf"),
    ];
    fuzz("gguf", &seeds, false, |bytes| {
        let source = MemorySource::new("fuzz.gguf", bytes.to_vec());
        let _ = block_on(webtune::models::load_checkpoint(
            "fuzz.gguf",
            vec![source],
            &ComputeDevice::cpu(),
        ));
    });
}

#[test]
fn fuzz_safetensors() {
    quiet();
    let seeds = vec![
        fixture("tests/fixtures/lora/adapter/adapter_model.safetensors"),
        fixture("tests/fixtures/tiny/llama/model-00004-of-00004.safetensors"),
    ];
    fuzz("safetensors", &seeds, false, |bytes| {
        let source = MemorySource::new("fuzz.safetensors", bytes.to_vec());
        if let Ok(file) = block_on(webtune::io::safetensors::SafetensorsFile::open(&source)) {
            for name in file.tensors.keys() {
                let _ = block_on(file.read_f32(&source, name));
            }
        }
    });
}

#[test]
fn fuzz_model_configs() {
    quiet();
    let seeds = vec![
        fixture("tests/fixtures/tiny/llama/config.json"),
        fixture("tests/fixtures/tiny/qwen2/config.json"),
        fixture("tests/fixtures/tiny/gpt2/config.json"),
    ];
    let shards: Vec<(String, Vec<u8>)> = ["model-00001-of-00004", "model-00002-of-00004"]
        .iter()
        .map(|s| {
            let name = format!("{s}.safetensors");
            let bytes = fixture(&format!("tests/fixtures/tiny/llama/{name}"));
            (name, bytes)
        })
        .collect();
    fuzz("config", &seeds, true, |bytes| {
        if webtune::models::ModelConfig::from_json("config.json", bytes).is_ok() {
            // A config that parses is loaded against real (partial) weights.
            let mut files = vec![MemorySource::new("config.json", bytes.to_vec())];
            files.extend(
                shards
                    .iter()
                    .map(|(n, b)| MemorySource::new(n.as_str(), b.clone())),
            );
            let _ = block_on(webtune::models::load_checkpoint(
                "fuzz",
                files,
                &ComputeDevice::cpu(),
            ));
        }
    });
}

#[test]
fn fuzz_tokenizers_and_templates() {
    quiet();
    let seeds = vec![fixture("tests/fixtures/tiny/llama/tokenizer.json")];
    let config = fixture("tests/fixtures/tiny/llama/tokenizer_config.json");
    let template =
        String::from_utf8(fixture("tests/fixtures/tiny/llama/chat_template.jinja")).unwrap();
    let messages = [
        webtune::tokenizer::Message::new("system", "Be brief."),
        webtune::tokenizer::Message::new("user", "Hi?"),
    ];
    fuzz("tokenizer", &seeds, true, |bytes| {
        if let Ok(t) = webtune::tokenizer::Tokenizer::from_hf(
            "tokenizer.json",
            bytes,
            Some(&config),
            Some(template.clone()),
        ) {
            let _ = t.encode("Hello, world! 123 <s> ünïcode");
            let _ = t.encode_chat(&messages);
            let _ = t.decode(&[0, 1, 2, 5000, u32::MAX], false);
        }
    });
    let seeds = vec![
        template.clone().into_bytes(),
        webtune::tokenizer::chat::CHATML.as_bytes().to_vec(),
    ];
    fuzz("template", &seeds, false, |bytes| {
        let source = String::from_utf8_lossy(bytes).into_owned();
        let _ =
            webtune::tokenizer::ChatTemplate::new(source, "<s>", "</s>").render(&messages, true);
    });
}

#[test]
fn fuzz_adapter_configs_and_checkpoint_states() {
    quiet();
    let seeds = vec![
        fixture("tests/fixtures/lora/adapter/adapter_config.json"),
        fixture("tests/fixtures/lora/dora_adapter/adapter_config.json"),
    ];
    fuzz("adapter_config", &seeds, true, |bytes| {
        let _ = webtune::lora::peft::parse_config("adapter_config.json", bytes);
    });
    let seeds = vec![fixture("tests/hostile/checkpoint/state.json")];
    fuzz("state", &seeds, true, |bytes| {
        let mut checkpoint = webtune::train::Checkpoint::default();
        checkpoint.files.insert("state.json".into(), bytes.to_vec());
        let _ = checkpoint.state();
    });
}

#[test]
fn fuzz_datasets() {
    quiet();
    let seeds = vec![
        fixture("static/demo/support.jsonl"),
        fixture("tests/fixtures/edges/held.jsonl"),
    ];
    fuzz("jsonl", &seeds, false, |bytes| {
        let text = String::from_utf8_lossy(bytes);
        let _ = webtune::data::read_jsonl("data.jsonl", &text);
    });
    let seeds = vec![b"prompt,completion\n\"Hi, there\",Hello.\nBye,\"See you\"\"\"\n".to_vec()];
    fuzz("csv", &seeds, false, |bytes| {
        let _ = webtune::data::read_csv("data.csv", &String::from_utf8_lossy(bytes), None);
    });
}

#[test]
fn fuzz_documents_and_indexes() {
    quiet();
    let seeds = vec![
        fixture("static/demo/policies/hr-work.md"),
        b"<html><head><title>T</title></head><body><h1>A</h1><p>x &amp; y</p></body></html>"
            .to_vec(),
    ];
    fuzz("document", &seeds, false, |bytes| {
        let _ = webtune::rag::read_document("doc.html", bytes);
        let _ = webtune::rag::read_document("doc.md", bytes);
    });
    let seeds = vec![fixture("tests/hostile/handbook.wtindex")];
    fuzz("index", &seeds, false, |bytes| {
        let _ = webtune::rag::Index::from_bytes("fuzz.wtindex", bytes);
    });
}

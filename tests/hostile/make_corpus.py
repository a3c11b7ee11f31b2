#!/usr/bin/env python3
"""Writes cases.jsonl: the hostile-input corpus that `crate/tests/hostile.rs` runs through the
`webtune` command line. Each case is one command on one bad input (a model, an adapter, a
checkpoint, a dataset, a document, an index, a template, a setting), a class, and what the error
must say. Inputs are stored as edits of the repository's fixtures (one splice: bytes [start, end)
replaced) or as inline text, so that the corpus stays small; the runner rebuilds each file.

Pure standard library; deterministic (fixed seed). CI does not run this, it runs the cases:

    python3 tests/hostile/make_corpus.py
"""
import json
import pathlib
import random
import struct

HERE = pathlib.Path(__file__).parent
ROOT = HERE.parents[1]
QWEN2_GGUF = "tests/fixtures/tiny/qwen2.gguf"
LLAMA = "tests/fixtures/tiny/llama"
ADAPTER = "tests/fixtures/lora/adapter"
BERT = "tests/fixtures/tiny_bert/model"
rng = random.Random(19)
cases = []


def read(path):
    return (ROOT / path).read_bytes()


def splice(base_path, new):
    """The one splice that turns the fixture at base_path into `new`."""
    base = read(base_path)
    start = 0
    while start < min(len(base), len(new)) and base[start] == new[start]:
        start += 1
    end_base, end_new = len(base), len(new)
    while end_base > start and end_new > start and base[end_base - 1] == new[end_new - 1]:
        end_base -= 1
        end_new -= 1
    return {"from": base_path, "splice": [start, end_base, new[start:end_new].hex()]}


class parts(tuple):
    """Text as (piece, times) pairs: a large input stored in a few bytes."""

    def __new__(cls, *pairs):
        return super().__new__(cls, pairs)


def content(value):
    """An input's content spec: text, pieces of text, or bytes."""
    if isinstance(value, parts):
        return {"parts": [[piece, times] for piece, times in value]}
    if isinstance(value, str):
        return {"text": value}
    return {"hex": value.hex()}


def case(cls, name, cmd, inputs, expect=(), may_pass=False):
    """`cmd` names inputs as {input}; {out} is a fresh path that must stay unwritten on error."""
    cases.append({"id": f"{cls}/{name}", "class": cls, "cmd": cmd, "inputs": inputs,
                  "expect": list(expect), "may_pass": may_pass})


# --- GGUF -------------------------------------------------------------------------------------
def parse_gguf(data):
    """(header fields, [(key, type, raw value)], [(name, dims, type, offset)], data start)."""
    pos = 24
    version, = struct.unpack_from("<I", data, 4)
    n_tensors, n_kv = struct.unpack_from("<QQ", data, 8)

    def string(p):
        n, = struct.unpack_from("<Q", data, p)
        return data[p + 8:p + 8 + n].decode(), p + 8 + n

    sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}

    def value(p, t):
        if t in sizes:
            return p + sizes[t]
        if t == 8:
            return string(p)[1]
        item, = struct.unpack_from("<I", data, p)
        n, = struct.unpack_from("<Q", data, p + 4)
        p += 12
        for _ in range(n):
            p = value(p, item)
        return p

    kvs = []
    for _ in range(n_kv):
        key, p = string(pos)
        t, = struct.unpack_from("<I", data, p)
        end = value(p + 4, t)
        kvs.append((key, t, data[p + 4:end]))
        pos = end
    tensors = []
    for _ in range(n_tensors):
        name, p = string(pos)
        nd, = struct.unpack_from("<I", data, p)
        dims = list(struct.unpack_from(f"<{nd}Q", data, p + 4))
        t, off = struct.unpack_from("<IQ", data, p + 4 + 8 * nd)
        tensors.append((name, dims, t, off))
        pos = p + 4 + 8 * nd + 12
    start = (pos + 31) // 32 * 32
    return version, kvs, tensors, start


def write_gguf(version, kvs, tensors, payload, n_tensors=None, n_kv=None):
    def string(s):
        b = s.encode() if isinstance(s, str) else s
        return struct.pack("<Q", len(b)) + b

    out = b"GGUF" + struct.pack("<IQQ", version, len(tensors) if n_tensors is None else n_tensors,
                                len(kvs) if n_kv is None else n_kv)
    for key, t, raw in kvs:
        out += string(key) + struct.pack("<I", t) + raw
    for name, dims, t, off in tensors:
        out += string(name) + struct.pack("<I", len(dims)) + struct.pack(f"<{len(dims)}Q", *dims)
        out += struct.pack("<IQ", t, off)
    out += b"\0" * ((-len(out)) % 32)
    return out + payload


def gguf_cases():
    base = read(QWEN2_GGUF)
    version, kvs, tensors, start = parse_gguf(base)
    payload = base[start:]
    cmd = ["merge", "--model", "{model}", "--adapter", ADAPTER, "--out", "{out}", "--tier", "cpu"]

    def add(name, new, expect=(), may_pass=False):
        case("gguf", name, cmd, {"model": {"name": "model.gguf", **splice(QWEN2_GGUF, new)}},
             ["model.gguf", *expect], may_pass)

    def with_kv(key, t, raw):
        return [(k, t, raw) if k == key else (k, kt, kr) for k, kt, kr in kvs]

    u32 = lambda v: struct.pack("<I", v)
    u64 = lambda v: struct.pack("<Q", v)
    f32 = lambda v: struct.pack("<f", v)
    gstr = lambda s: u64(len(s.encode())) + s.encode()

    add("control", base, may_pass=True)
    add("bad-magic", b"GGUX" + base[4:], ["not a GGUF file"])
    for v in [0, 1, 4, 99, 2**32 - 1]:
        add(f"version-{v}", base[:4] + u32(v) + base[8:], ["version"])
    for n in [2**40, 2**63, len(tensors) + 1]:
        add(f"tensor-count-{n}", write_gguf(version, kvs, tensors, payload, n_tensors=n))
    for n in [2**40, len(kvs) + 1, 2**64 - 1]:
        add(f"kv-count-{n}", write_gguf(version, kvs, tensors, payload, n_kv=n))
    add("tensor-count-0", write_gguf(version, kvs, [], b""), ["tensors can hold"])
    # Metadata values.
    for key, raw, expect in [
        ("qwen2.block_count", u32(0), []), ("qwen2.block_count", u32(2**32 - 1), ["layers"]),
        ("qwen2.block_count", u32(3), ["blk.2"]), ("qwen2.embedding_length", u32(0), []),
        ("qwen2.embedding_length", u32(2**31), []), ("qwen2.attention.head_count", u32(0), []),
        ("qwen2.attention.head_count", u32(3), []), ("qwen2.attention.head_count_kv", u32(0), []),
        ("qwen2.attention.head_count_kv", u32(3), []),
        ("qwen2.feed_forward_length", u32(0), []), ("qwen2.feed_forward_length", u32(2**32 - 1), []),
        ("qwen2.vocab_size", u32(0), []), ("qwen2.vocab_size", u32(2**32 - 1), []),
        ("qwen2.context_length", u32(0), []),
    ]:
        add(f"{key}-{struct.unpack('<I', raw)[0]}", write_gguf(version, with_kv(key, 4, raw), tensors,
                                                               payload), expect)
    for key, v in [("qwen2.attention.layer_norm_rms_epsilon", float("nan")),
                   ("qwen2.attention.layer_norm_rms_epsilon", -1.0),
                   ("qwen2.attention.layer_norm_rms_epsilon", float("inf")),
                   ("qwen2.rope.freq_base", float("nan")), ("qwen2.rope.freq_base", 0.0),
                   ("qwen2.rope.freq_base", -5.0)]:
        add(f"{key}-{v}", write_gguf(version, with_kv(key, 6, f32(v)), tensors, payload),
            ["rope_theta" if "rope" in key else "rms_norm_eps"])
    add("block-count-as-string", write_gguf(version, with_kv("qwen2.block_count", 8, gstr("two")),
                                            tensors, payload), ["qwen2.block_count"])
    add("block-count-as-u64-2^40", write_gguf(version, with_kv("qwen2.block_count", 10, u64(2**40)),
                                              tensors, payload), ["layers"])
    add("architecture-mamba", write_gguf(version, with_kv("general.architecture", 8, gstr("mamba")),
                                         tensors, payload), ["mamba"])
    add("architecture-not-utf8", write_gguf(version, with_kv("general.architecture", 8,
                                                             u64(2) + b"\xff\xfe"), tensors, payload),
        ["UTF-8"])
    add("value-type-99", write_gguf(version, with_kv("qwen2.block_count", 99, u32(2)), tensors,
                                    payload), ["value type 99"])
    add("string-length-2^60", write_gguf(version, with_kv("general.architecture", 8, u64(2**60)),
                                         tensors, payload))
    add("array-length-2^60", write_gguf(version, kvs + [("x.array", 9, u32(4) + u64(2**60))],
                                        tensors, payload))
    add("array-item-type-99", write_gguf(version, kvs + [("x.array", 9, u32(99) + u64(1))], tensors,
                                         payload), ["value type 99"])
    for depth in [9, 1000, 4000]:
        nested = (u32(9) + u64(1)) * depth + u32(4) + u64(0)
        add(f"nested-arrays-{depth}", write_gguf(version, kvs + [("x.nested", 9, nested)], tensors,
                                                 payload), ["nests arrays"])
    add("duplicate-key", write_gguf(version, kvs + [kvs[1]], tensors, payload), ["appears twice"])
    add("alignment-3", write_gguf(version, kvs + [("general.alignment", 4, u32(3))], tensors,
                                  payload), ["general.alignment"])
    add("alignment-as-string", write_gguf(version, kvs + [("general.alignment", 8, gstr("32"))],
                                          tensors, payload), ["general.alignment"])
    # Tensor table.
    def with_tensor(i, **change):
        name, dims, t, off = tensors[i]
        row = (change.get("name", name), change.get("dims", dims), change.get("t", t),
               change.get("off", off))
        return tensors[:i] + [row] + tensors[i + 1:]

    for dims in [[], [32, 320, 1, 1, 1], [2**40, 320], [32, 2**62], [0, 320], [320, 32]]:
        add(f"embd-dims-{'x'.join(map(str, dims)) or 'none'}",
            write_gguf(version, kvs, with_tensor(0, dims=dims), payload), ["token_embd.weight"])
    for t in [99, 2**31, 16, 20]:
        add(f"embd-type-{t}", write_gguf(version, kvs, with_tensor(0, t=t), payload),
            ["token_embd.weight"])
    for off in [1, 2**40, 2**64 - 32, len(payload) - 64]:
        add(f"embd-offset-{off}", write_gguf(version, kvs, with_tensor(0, off=off), payload),
            ["token_embd.weight"])
    add("tensor-twice", write_gguf(version, kvs, tensors + [tensors[3]], payload), ["appears twice"])
    add("tensor-renamed", write_gguf(version, kvs, with_tensor(1, name="blk.0.attn_qq.weight"),
                                     payload), ["blk.0.attn_q.weight"])
    add("tensor-name-not-utf8", write_gguf(version, kvs, with_tensor(1, name=b"\xc3\x28"), payload),
        ["UTF-8"])
    # Values that are not numbers: NaN in an f16 and an f32 tensor.
    for tensor, value in [(1, b"\x00\x7e"), (2, struct.pack("<f", float("inf")))]:
        name, _, _, off = tensors[tensor]
        data = bytearray(payload)
        data[off:off + len(value)] = value
        add(f"non-finite-{name}", write_gguf(version, kvs, tensors, bytes(data)),
            [name, "NaN or infinite"])
    # Cut short anywhere: in the header, the tensor table and the data.
    for n in [0, 3, 4, 7, 12, 20, 23, 30, 60, 100, 200, 400, 600, 800, 1000, 1400, 1800, start,
              start + 1, start + 1000, len(base) // 2, len(base) - 100, len(base) - 1]:
        add(f"truncated-{n}", base[:n])
    # Random byte changes in the header and tensor table: each must end cleanly; some are
    # harmless (a changed digit in a float), so they may load.
    for i in range(40):
        data = bytearray(base)
        for _ in range(rng.randint(1, 4)):
            p = rng.randrange(0, start)
            data[p] = rng.randrange(256)
        add(f"header-bytes-{i}", bytes(data), may_pass=True)


# --- safetensors (the PEFT adapter's weights) ---------------------------------------------------
def safetensors_cases():
    path = f"{ADAPTER}/adapter_model.safetensors"
    base = read(path)
    n, = struct.unpack_from("<Q", base, 0)
    header = json.loads(base[8:8 + n])
    data = base[8 + n:]
    cmd = ["merge", "--model", LLAMA, "--adapter", "{adapter}", "--out", "{out}", "--tier", "cpu"]
    config = f"{ADAPTER}/adapter_config.json"

    def add(name, new, expect=(), may_pass=False):
        case("safetensors", name, cmd, {"adapter": {"name": "adapter", "folder": ADAPTER, "files": {
            "adapter_model.safetensors": splice(path, new)}}},
            ["adapter_model.safetensors", *expect], may_pass)

    def build(h, payload=data, pad=b""):
        raw = json.dumps(h, separators=(",", ":")).encode() + pad
        return struct.pack("<Q", len(raw)) + raw + payload

    add("control", base, may_pass=True)
    keys = [k for k in header if k != "__metadata__"]
    first = keys[0]
    for claim in [2**40, 2**64 - 1, len(base), n + 1]:
        add(f"header-length-{claim}", struct.pack("<Q", claim) + base[8:])
    add("too-short", base[:5], ["too short"])
    add("empty", b"", ["too short"])
    add("header-not-json", struct.pack("<Q", 9) + b"not json!" + data, ["header"])
    add("header-array", build([1, 2, 3]), ["header"])
    add("header-nested", struct.pack("<Q", 10_001) + b"[" * 5_000 + b"]" * 5_000 + b" " + data,
        ["header"])
    for dtype in ["F8", "I64", "BOOL", "Q4", 7]:
        h = dict(header)
        h[first] = dict(h[first], dtype=dtype)
        add(f"dtype-{dtype}", build(h), [first])
    for shape in [[], [4], [4, 64, 1], [2**40, 64], [-1, 64], [4, "64"], "4x64", [0, 64]]:
        h = dict(header)
        h[first] = dict(h[first], shape=shape)
        add(f"shape-{json.dumps(shape)}", build(h))
    for offsets in [[0, 2**62], [1024, 0], [0, 10**9], [-4, 1020], [0], "0-1024", [4, 1028],
                    [len(data), len(data) + 1024]]:
        h = dict(header)
        h[first] = dict(h[first], data_offsets=offsets)
        add(f"offsets-{json.dumps(offsets)}", build(h))
    h = dict(header)
    h[first] = dict(h[first])
    del h[first]["dtype"]
    add("entry-without-dtype", build(h), [first])
    # The same key twice in the JSON text (a parser keeping the last would hide the first).
    raw = json.dumps(header, separators=(",", ":"))
    entry = json.dumps({first: header[first]}, separators=(",", ":"))[1:-1]
    twice = raw[:-1] + "," + entry + "}"
    add("key-twice", struct.pack("<Q", len(twice)) + twice.encode() + data, [first])
    add("metadata-not-strings", build(dict(header, __metadata__={"format": 7})), ["header"])
    add("payload-cut", build(header, data[:-8]))
    add("payload-extra", build(header, data + b"\0" * 64), may_pass=True)
    nan = bytearray(data)
    nan[0:4] = struct.pack("<f", float("nan"))
    add("nan-value", build(header, bytes(nan)), ["NaN or infinite"])
    inf = bytearray(data)
    inf[-4:] = struct.pack("<f", float("-inf"))
    add("inf-value", build(header, bytes(inf)), ["NaN or infinite"])
    add("pickle", b"\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01K\x01u." + b"\0" * 64, ["pickle"])
    add("torch-zip", b"PK\x03\x04" + b"\0" * 200, ["pickle"])
    for n_cut in [8, 20, 8 + n // 2, 8 + n, 8 + n + 100, len(base) - 1]:
        add(f"truncated-{n_cut}", base[:n_cut])
    for i in range(20):
        b = bytearray(base)
        for _ in range(rng.randint(1, 3)):
            b[rng.randrange(8, 8 + n)] = rng.randrange(32, 127)
        add(f"header-bytes-{i}", bytes(b), may_pass=True)
    # A model shard too: the same parser under a model folder.
    shard = f"{LLAMA}/model-00002-of-00004.safetensors"
    for name, new in [("model-shard-truncated", read(shard)[:1000]),
                      ("model-shard-header-2^50", struct.pack("<Q", 2**50) + read(shard)[8:])]:
        case("safetensors", name, ["generate", "--model", "{model}", "--prompt", "hello", "--tier",
                                   "cpu"],
             {"model": {"name": "llama", "folder": LLAMA, "files": {
                 "model-00002-of-00004.safetensors": splice(shard, new)}}},
             ["model-00002-of-00004.safetensors"])
    _ = config


# --- config.json, tokenizer.json, chat templates (a Hugging Face folder) ----------------------
# Config edits whose error names a tensor rather than the key (the weights disagree with it).
CONFIG_EXPECT = {
    "num_hidden_layers-3": ["model.layers.2"],
    "hidden_size-31": ["invalid shape"],
    "vocab_size-1": ["invalid shape"],
}
# Config edits a model may take: tie_word_embeddings as a string is read as absent.
CONFIG_HARMLESS = set()


def folder_cases():
    cmd = ["generate", "--model", "{model}", "--chat", "hello", "--max-new-tokens", "2",
           "--tier", "cpu"]
    config = json.loads(read(f"{LLAMA}/config.json"))

    def add(cls, name, file, text, expect=(), may_pass=False):
        files = {file: content(text)}
        case(cls, name, cmd, {"model": {"name": "llama", "folder": LLAMA, "files": files}},
             [file, *expect] if name not in CONFIG_EXPECT else list(expect), may_pass)

    def edited(**change):
        c = dict(config)
        for k, v in change.items():
            if v is None:
                c.pop(k, None)
            else:
                c[k] = v
        return json.dumps(c)

    add("config", "control", "config.json", json.dumps(config), may_pass=True)
    for key, values in {
        "num_hidden_layers": [0, 3, 10**12, -1, "2", 2.5, None, 2**64],
        "hidden_size": [0, 31, 10**9, -32, "32", None],
        "num_attention_heads": [0, 3, 10**6, None],
        "num_key_value_heads": [0, 3, 5],
        "intermediate_size": [0, 10**12, "64"],
        "vocab_size": [0, 10**12, 1],
        "max_position_embeddings": [0, -1],
        "rms_norm_eps": [-1.0, "tiny"],
        "model_type": ["mamba", 7, None, ""],
        "tie_word_embeddings": ["no"],
    }.items():
        for v in values:
            name = f"{key}-{json.dumps(v)}"
            expect = CONFIG_EXPECT.get(name, [key] if v is not None and key != "model_type" else [])
            add("config", name, "config.json", edited(**{key: v}), expect,
                may_pass=name in CONFIG_HARMLESS)
    for theta in [0, -10000.0, "big", float("inf")]:
        rope = dict(config["rope_parameters"], rope_theta=theta)
        add("config", f"rope_theta-{json.dumps(theta)}", "config.json",
            edited(rope_parameters=rope), ["rope_theta"] if theta != float("inf") else [])
    add("config", "not-json", "config.json", "{ this is not json", ["config.json"])
    add("config", "empty", "config.json", "")
    add("config", "array", "config.json", "[1, 2]")
    add("config", "deeply-nested", "config.json", "[" * 5_000 + "]" * 5_000)
    add("config", "utf16", "config.json", b"\xff\xfe" + json.dumps(config).encode("utf-16-le"))
    add("config", "binary", "config.json", bytes(range(256)) * 4)
    tok = read(f"{LLAMA}/tokenizer.json").decode()
    add("tokenizer", "control", "tokenizer.json", tok, may_pass=True)
    add("tokenizer", "not-json", "tokenizer.json", tok[: len(tok) // 2])
    add("tokenizer", "empty", "tokenizer.json", "")
    add("tokenizer", "empty-object", "tokenizer.json", "{}")
    parsed = json.loads(tok)
    for change in [{"model": {"type": "Nonsense"}}, {"model": 7}, {"pre_tokenizer": {"type": "Nope"}},
                   {"added_tokens": "none"}, {"normalizer": [1, 2]}, {"decoder": {"type": 3}}]:
        add("tokenizer", f"field-{next(iter(change))}-{json.dumps(next(iter(change.values())))[:20]}",
            "tokenizer.json", json.dumps(dict(parsed, **change)))
    deep = "[" * 5_000 + "]" * 5_000
    add("tokenizer", "deeply-nested", "tokenizer.json", deep)
    # Token ids outside the model: a vocabulary larger than the model's embedding.
    big = json.loads(tok)
    vocab = big["model"]["vocab"]
    if isinstance(vocab, dict):
        for i in range(1000):
            vocab[f"extra{i}"] = len(vocab) + 1000 + i
    add("tokenizer", "ids-beyond-the-model", "tokenizer.json", json.dumps(big),
        ["do not belong together"])
    templates = {
        "loops-forever": "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}"
                         "{% endfor %}",
        "writes-10gb": "{% for a in range(100) %}{{ 'x' * 100000000 }}{% endfor %}",
        "syntax-error": "{% for %}",
        "raises": "{{ raise_exception('no chat here') }}",
        "unknown-filter": "{{ messages | nosuchfilter }}",
        "undefined-call": "{{ nothing() }}",
        "recursive-macro": "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}",
        "include": "{% include 'other.jinja' %}",
        "empty-output": "",
    }
    for name, text in templates.items():
        add("template", name, "chat_template.jinja", text, may_pass=name == "empty-output")
    for name, text, expect in [("not-json", "{", ["generation_config.json", "JSON"]),
                               ("eos-string", json.dumps({"eos_token_id": "two"}), [])]:
        case("config", f"generation-config-{name}", cmd,
             {"model": {"name": "llama", "folder": LLAMA, "files": {
                 "generation_config.json": {"text": text}}}}, expect, may_pass=not expect)
    cfg = json.loads(read(f"{LLAMA}/tokenizer_config.json"))
    for name, text in [("not-json", "{"), ("template-number", json.dumps(dict(cfg, chat_template=5))),
                       ("bos-object", json.dumps(dict(cfg, bos_token={"content": 7})))]:
        case("tokenizer", f"tokenizer-config-{name}", cmd,
             {"model": {"name": "llama", "folder": LLAMA, "files": {
                 "tokenizer_config.json": {"text": text}}}}, ["tokenizer_config.json"],
             may_pass=name != "not-json")


# --- adapters (adapter_config.json) -------------------------------------------------------------
def adapter_cases():
    cmd = ["merge", "--model", LLAMA, "--adapter", "{adapter}", "--out", "{out}", "--tier", "cpu"]
    config = json.loads(read(f"{ADAPTER}/adapter_config.json"))

    def add(name, text, expect=(), may_pass=False, file="adapter_config.json"):
        case("adapter", name, cmd, {"adapter": {"name": "adapter", "folder": ADAPTER, "files": {
            file: content(text)}}},
            [*expect], may_pass)

    add("control", json.dumps(config), may_pass=True)
    for key, values in {
        "r": [-4, "4", 0, 8, 2**40, None, 4.5],
        "lora_alpha": ["sixteen", -8, float("nan"), None],
        "target_modules": ["nothing_here", [], 7, ["q_proj", "no_such_proj"]],
        "peft_type": ["PREFIX_TUNING", 3, None],
        "use_dora": ["yes"],
        "lora_dropout": [2.0, "x"],
        "layers_to_transform": [[0]],
        "fan_in_fan_out": [True],
    }.items():
        for v in values:
            c = dict(config)
            if v is None:
                c.pop(key)
            else:
                c[key] = v
            text = json.dumps(c).replace("NaN", "NaN")
            expect = {"r-8": ["adapter_config.json's r = 8"],
                      "r-1099511627776": ["adapter_config.json's r = 1099511627776"],
                      "lora_alpha-NaN": ["adapter_config.json", "JSON"],
                      "target_modules-[\"q_proj\", \"no_such_proj\"]": ["adapter"]}.get(
                f"{key}-{json.dumps(v)}", ["adapter_config.json", key])
            # A missing lora_alpha is PEFT's default (8), as in PEFT.
            harmless = key == "fan_in_fan_out" or (key == "lora_alpha" and v is None)
            add(f"{key}-{json.dumps(v)}", text, expect, may_pass=harmless)
    add("not-json", "{", ["adapter_config.json"])
    add("empty", "", ["adapter_config.json"])
    add("weights-missing", "", ["adapter_model.safetensors"], file="adapter_model.safetensors")


# --- training checkpoints -----------------------------------------------------------------------
def checkpoint_cases():
    base = "tests/hostile/checkpoint"
    state = json.loads(read(f"{base}/state.json"))
    cmd = ["export", "--model", LLAMA, "--checkpoint", "{checkpoint}", "--out", "{out}", "--tier",
           "cpu"]

    def add(name, files, expect=(), may_pass=False):
        case("checkpoint", name, cmd, {"checkpoint": {"name": "checkpoint", "folder": base,
                                                      "files": files}}, [*expect], may_pass)

    def with_state(**change):
        s = json.loads(json.dumps(state))
        for path, v in change.items():
            node = s
            keys = path.split("__")
            for k in keys[:-1]:
                node = node[k]
            if v is None:
                node.pop(keys[-1], None)
            else:
                node[keys[-1]] = v
        return {"state.json": {"text": json.dumps(s)}}

    add("control", {}, may_pass=True)
    for path, v in [("format_version", 1), ("format_version", 99), ("format_version", None),
                    ("format_version", "2"), ("config__lora__r", 16), ("config__lora__r", 0),
                    ("config__lora__lora_alpha", 1.0), ("config__lora__use_dora", True),
                    ("config__method", "magic"), ("step", -1), ("config", None),
                    ("config__optimizer__lr", "fast")]:
        add(f"state-{path}-{json.dumps(v)}", with_state(**{path: v}), ["state.json"])
    add("state-not-json", {"state.json": {"text": "{"}}, ["state.json"])
    add("state-empty", {"state.json": {"text": ""}}, ["state.json"])
    add("state-missing", {"state.json": None}, ["state.json"])
    add("adapter-missing", {"adapter_model.safetensors": None}, ["adapter_model.safetensors"])
    add("adapter-config-missing", {"adapter_config.json": None}, ["adapter_config.json"])
    weights = read(f"{base}/adapter_model.safetensors")
    add("adapter-truncated", {"adapter_model.safetensors": splice(
        f"{base}/adapter_model.safetensors", weights[: len(weights) // 2])},
        ["adapter_model.safetensors"])
    add("adapter-pickle", {"adapter_model.safetensors": {"hex": (b"\x80\x02}q\x00." + b"\0" * 20).hex()}},
        ["pickle"])


# --- datasets -----------------------------------------------------------------------------------
def dataset_cases():
    cmd = ["eval", "--model", LLAMA, "--data", "{data}", "--tier", "cpu"]
    good = {"messages": [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Hello."}]}

    def add(name, text, expect=(), ext="jsonl", may_pass=False):
        case("dataset", name, cmd, {"data": {"name": f"data.{ext}", **content(text)}},
             [f"data.{ext}", *expect],
             may_pass)

    line = json.dumps(good)
    add("control", line + "\n" + line, may_pass=True)
    add("empty", "")
    add("blank-lines", "\n\n\n")
    add("not-json", line + "\n{oops\n", ["line 2"])
    add("array-line", "[1, 2]", ["line 1"])
    add("string-line", "\"hello\"", ["line 1"])
    add("number-line", "7", ["line 1"])
    add("null-line", "null", ["line 1"])
    add("deeply-nested", "[" * 5_000 + "]" * 5_000, ["line 1"])
    add("messages-not-list", json.dumps({"messages": "hi"}), ["line 1"])
    add("messages-empty", json.dumps({"messages": []}), ["line 1"])
    add("role-unknown", json.dumps({"messages": [{"role": "wizard", "content": "x"}]}), ["line 1"])
    add("content-number", json.dumps({"messages": [{"role": "user", "content": 5}]}), ["line 1"])
    add("content-missing", json.dumps({"messages": [{"role": "user"}]}), ["line 1"])
    add("no-assistant", json.dumps({"messages": [{"role": "user", "content": "x"}]}), ["line 1"])
    add("unknown-shape", json.dumps({"question": "x", "reply": "y"}), ["line 1"])
    add("alpaca-output-missing", json.dumps({"instruction": "x"}), ["line 1"])
    add("alpaca-wrong-types", json.dumps({"instruction": 1, "output": [2]}), ["line 1"])
    add("prompt-completion-null", json.dumps({"prompt": None, "completion": None}), ["line 1"])
    add("text-empty", json.dumps({"text": ""}), ["line 1"])
    add("binary", bytes(range(256)) * 8)
    add("latin1", "caf\xe9".encode("latin-1"))
    add("utf16-bom", b"\xff\xfe" + line.encode("utf-16-le"), may_pass=True)
    add("nul-bytes", line.encode() + b"\0\0\0")
    add("huge-line", parts(("{\"text\": \"", 1), ("a", 3_000_000), ("\"}", 1)), may_pass=True)
    add("many-bad-lines", "\n".join("{bad" for _ in range(1000)), ["line 1"])
    add("bom-then-json", "\ufeff" + line, may_pass=True)
    add("trailing-garbage", line + " trailing", ["line 1"])
    add("csv-no-header", "a,b\n", ext="csv")
    add("csv-empty", "", ext="csv")
    add("csv-unknown-columns", "foo,bar\n1,2\n", ext="csv")
    add("csv-unbalanced-quotes", "prompt,completion\n\"x,y\n", ext="csv")
    add("csv-ragged", "prompt,completion\nx\n", ext="csv")
    add("unknown-extension", line, ext="parquet", may_pass=True)
    add("pdf", b"%PDF-1.7\n" + b"\0" * 100, ext="jsonl")


# --- documents and retrieval indexes ------------------------------------------------------------
def rag_cases():
    index_cmd = ["index", "--embedder", BERT, "--index", "{out}", "--tier", "cpu", "{doc}"]

    def doc(name, text, expect=(), ext="md", may_pass=False):
        case("document", name, index_cmd, {"doc": {"name": f"doc.{ext}", **content(text)}},
             [f"doc.{ext}", *expect], may_pass)

    doc("control", "# Leave\n\nTwenty days a year.", may_pass=True)
    doc("empty", "", ["no text"])
    doc("whitespace", " \n\n\t ", ["no text"])
    doc("binary", bytes(range(256)) * 4, ["binary"])
    doc("png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", ["binary"], ext="txt")
    doc("latin1", "caf\xe9 au lait".encode("latin-1"), ["UTF-8"], ext="txt")
    doc("pdf", b"%PDF-1.7 ...", ["PDF"], ext="pdf")
    doc("utf16-odd", b"\xff\xfe" + b"a\0b", ["UTF-16"], ext="txt")
    doc("utf16-lone-surrogate", b"\xff\xfe" + b"\x00\xd8" + b"a\0", ["UTF-16"], ext="txt")
    doc("html-only-script", "<html><script>x()</script></html>", ["no text"], ext="html")
    doc("huge", parts(("a", 65 << 20)), ["MiB"], ext="txt")
    query_cmd = ["query", "--embedder", BERT, "--index", "{index}", "--tier", "cpu", "what?"]
    base = "tests/hostile/handbook.wtindex"
    good = read(base)
    n, = struct.unpack_from("<Q", good, 12)
    header = json.loads(good[20:20 + n])
    vectors = good[20 + n:]

    def index(name, new, expect=(), may_pass=False):
        case("index", name, query_cmd, {"index": {"name": "handbook.wtindex", **splice(base, new)}},
             ["handbook.wtindex", *expect], may_pass)

    def with_header(h, payload=vectors):
        raw = json.dumps(h).encode()
        return good[:12] + struct.pack("<Q", len(raw)) + raw + payload

    index("control", good, may_pass=True)
    index("not-an-index", b"hello world, this is not an index", ["not a webtune index"])
    index("empty", b"", ["not a webtune index"])
    index("version-99", good[:8] + struct.pack("<I", 99) + good[12:], ["format 99"])
    index("header-length-2^60", good[:12] + struct.pack("<Q", 2**60) + good[20:], ["truncated"])
    index("header-not-json", good[:12] + struct.pack("<Q", 5) + b"nope!" + vectors, ["header"])
    for dim in [2**62, 0, 2**61, 7, -1, "384"]:
        index(f"dimension-{json.dumps(dim)}", with_header(dict(header, dimension=dim)))
    index("vectors-cut", good[:-4], ["bytes of vectors"])
    index("vectors-extra", good + b"\0" * 8, ["bytes of vectors"])
    chunks = header["chunks"]
    index("chunk-twice", with_header(dict(header, chunks=chunks + [chunks[0]]),
                                     vectors + vectors[: len(vectors) // len(chunks)]), ["twice"])
    index("document-lists-missing-chunk", with_header(dict(header, documents=[
        dict(header["documents"][0], chunk_ids=[987654])] + header["documents"][1:])), ["missing"])
    index("nan-vector", good[:-4] + struct.pack("<f", float("nan")), may_pass=True)
    for i in range(10):
        b = bytearray(good)
        for _ in range(rng.randint(1, 3)):
            b[rng.randrange(20, 20 + n)] = rng.randrange(32, 127)
        index(f"header-bytes-{i}", bytes(b), may_pass=True)


# --- command-line values ------------------------------------------------------------------------
def setting_cases():
    base = ["train", "--model", LLAMA, "--data", "static/demo/support.jsonl", "--out", "{out}",
            "--tier", "cpu"]
    for flag, value, expect in [
        ("--lr", "nan", "optimizer.lr"), ("--lr", "inf", "optimizer.lr"), ("--lr", "-1", "optimizer.lr"),
        ("--lr", "0", "optimizer.lr"), ("--lr", "fast", "--lr"), ("--alpha", "nan", "lora_alpha"),
        ("--alpha", "0", "lora_alpha"), ("--rank", "0", "lora.r"), ("--rank", "-4", "--rank"),
        ("--rank", "4.5", "--rank"), ("--dropout", "1", "lora_dropout"),
        ("--dropout", "nan", "lora_dropout"), ("--batch-size", "0", "batch_size"),
        ("--epochs", "0", "epochs"), ("--epochs", "-1", "--epochs"), ("--max-len", "0", "max_len"),
        ("--max-len", "1", "max_len"), ("--max-steps", "0", "max_steps"),
        ("--validation-fraction", "1.5", "validation"), ("--validation-fraction", "nan",
                                                         "validation"),
        ("--eval-every", "0", "eval_every"), ("--checkpoint-every", "0", "checkpoint_every"),
        ("--memory-budget", "1", "does not fit"), ("--targets", "nothing", "target"),
        ("--method", "magic", "--method"), ("--tier", "tpu", "--tier"),
    ]:
        steps = [] if flag == "--max-steps" else ["--max-steps", "1"]
        case("setting", f"{flag}={value}", base + steps + [flag, value], {}, [expect],
             may_pass=flag in ("--eval-every", "--checkpoint-every"))
    case("setting", "config-misspelt", base + ["--config", "{config}"],
         {"config": {"name": "run.toml", "text": "lerning_rate = 1e-3\n"}}, ["optimizer.lr"])
    case("setting", "config-not-toml", base + ["--config", "{config}"],
         {"config": {"name": "run.toml", "text": "[[[\n"}}, ["run.toml"])
    case("setting", "config-wrong-type", base + ["--config", "{config}"],
         {"config": {"name": "run.toml", "text": "[lora]\nlora_alpha = \"sixteen\"\n"}},
         ["lora_alpha"])
    case("setting", "config-r-string", base + ["--config", "{config}"],
         {"config": {"name": "run.toml", "text": "[lora]\nr = \"4\"\n"}}, ["r"])
    for missing in ["model", "data"]:
        args = [a.replace(LLAMA, "no/such/model") if missing == "model" else
                a.replace("static/demo/support.jsonl", "no/such/data.jsonl") for a in base]
        case("setting", f"missing-{missing}", args, {}, ["no/such"])


def main():
    gguf_cases()
    safetensors_cases()
    folder_cases()
    adapter_cases()
    checkpoint_cases()
    dataset_cases()
    rag_cases()
    setting_cases()
    ids = [c["id"] for c in cases]
    assert len(ids) == len(set(ids)), "case ids repeat"
    with open(HERE / "cases.jsonl", "w") as f:
        for c in cases:
            f.write(json.dumps(c, separators=(",", ":")) + "\n")
    counts = {}
    for c in cases:
        counts[c["class"]] = counts.get(c["class"], 0) + 1
    print(len(cases), "cases:", counts)


if __name__ == "__main__":
    main()

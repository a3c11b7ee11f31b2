#!/usr/bin/env python3
"""The transformers side of `cargo bench -p webtune --bench generate`: loads SmolLM2-135M-Instruct
from the same Q4_1 GGUF (transformers dequantizes it to f32), then measures on the CPU the same
things the Rust benchmark measures: load time, prefill tokens/s for the same prompt, and greedy
decode tokens/s with the KV cache. Writes target/bench/transformers_generate.json, which the Rust
benchmark prints beside its own numbers. Needs `pip install torch transformers gguf numpy`:

    python3 benches/transformers_generate.py
"""
import json
import os
import pathlib
import platform
import time

import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer

ROOT = pathlib.Path(__file__).resolve().parents[1]
MODELS = ROOT / ".cache/models"
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
PROMPT_TOKENS = 128
NEW_TOKENS = 32
REPEATS = 3


def prompt_ids(tok):
    text = (ROOT / "benches/prompt.txt").read_text()
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert len(ids) >= PROMPT_TOKENS, len(ids)
    return ids[:PROMPT_TOKENS]


def main():
    torch.manual_seed(0)
    start = time.perf_counter()
    tok = AutoTokenizer.from_pretrained(MODELS, gguf_file=GGUF)
    model = AutoModelForCausalLM.from_pretrained(MODELS, gguf_file=GGUF, dtype=torch.float32).eval()
    load_s = time.perf_counter() - start
    ids = torch.tensor([prompt_ids(tok)])
    prefill, decode = [], []
    with torch.inference_mode():
        model(ids[:, :8])  # warm-up
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(REPEATS):
            start = time.perf_counter()
            out = model(ids, use_cache=True)
            out.logits[0, -1].argmax().item()
            prefill.append(PROMPT_TOKENS / (time.perf_counter() - start))
            past = out.past_key_values
            token = out.logits[:, -1:].argmax(-1)
            start = time.perf_counter()
            for _ in range(NEW_TOKENS):
                out = model(token, past_key_values=past, use_cache=True)
                past = out.past_key_values
                token = out.logits[:, -1:].argmax(-1)
            token.item()
            decode.append(NEW_TOKENS / (time.perf_counter() - start))
        cores = (time.process_time() - cpu) / (time.perf_counter() - wall)
    result = {
        "implementation": f"transformers {transformers.__version__}, torch {torch.__version__}",
        "device": f"CPU ({platform.processor() or platform.machine()}, "
                  f"{torch.get_num_threads()} threads)",
        "load_s": load_s,
        "prompt_tokens": PROMPT_TOKENS,
        "new_tokens": NEW_TOKENS,
        "prefill_tok_s": max(prefill),
        "decode_tok_s": max(decode),
        "cores_used": cores,
    }
    out = ROOT / "target/bench/transformers_generate.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The sentence-transformers side of `cargo bench -p webtune --bench embed`: embeds the same
512 texts with all-MiniLM-L6-v2 (the folder scripts/fetch-models.sh unpacks) on the CPU, batch
32, after a warm-up, and writes target/bench/st_embed.json, which the Rust benchmark prints
beside its own numbers. Needs `pip install torch sentence-transformers`:

    python3 benches/st_embed.py
"""
import json
import os
import pathlib
import sys
import time

import sentence_transformers
import torch
from sentence_transformers import SentenceTransformer

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from embed_texts import ROOT, texts  # noqa: E402


def main():
    model = SentenceTransformer(str(ROOT / ".cache/models/all-MiniLM-L6-v2"), device="cpu")
    chunks = texts()
    model.encode(chunks[:64], batch_size=32)
    start, cpu = time.perf_counter(), time.process_time()
    model.encode(chunks, batch_size=32)
    seconds = time.perf_counter() - start
    cores = (time.process_time() - cpu) / seconds
    out = {
        "implementation": f"sentence-transformers {sentence_transformers.__version__} / torch {torch.__version__.split('+')[0]}",
        "device": f"CPU ({torch.get_num_threads()} threads)",
        "chunks_per_second": len(chunks) / seconds,
        "cores_used": cores,
    }
    path = ROOT / "target/bench/st_embed.json"
    os.makedirs(path.parent, exist_ok=True)
    path.write_text(json.dumps(out))
    print(out)


if __name__ == "__main__":
    main()

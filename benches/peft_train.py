#!/usr/bin/env python3
"""The PyTorch + PEFT side of `cargo bench -p webtune --bench train`: LoRA training speed of
SmolLM2-135M-Instruct (dequantized from the same Q4_1 GGUF) with the benchmark's shape —
sequence 256, batch 4, rank 16 on all linear layers, AdamW — on this machine's CPU. Measures
trained tokens/s over 5 steps after 1 warm-up step, the cores they kept busy (CPU seconds per
wall second), and the process's peak resident memory.
Writes target/bench/peft_train.json. Needs `pip install torch transformers peft gguf numpy`:

    python3 benches/peft_train.py
"""
import json
import pathlib
import resource
import time

import peft
import torch
import transformers
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM

ROOT = pathlib.Path(__file__).resolve().parents[1]
SEQ, BATCH, RANK, STEPS = 256, 4, 16, 5


def main():
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(ROOT / ".cache/models",
                                                 gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
                                                 dtype=torch.float32)
    model = get_peft_model(model, LoraConfig(r=RANK, lora_alpha=2 * RANK, lora_dropout=0.0,
                                             target_modules="all-linear",
                                             task_type="CAUSAL_LM"))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-4)
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(0, model.config.vocab_size, (BATCH, SEQ), generator=gen)
    times = []
    for step in range(STEPS + 1):
        if step == 1:
            cpu = time.process_time()
        start = time.perf_counter()
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if step > 0:
            times.append(time.perf_counter() - start)
    cpu = time.process_time() - cpu
    tokens = BATCH * (SEQ - 1)
    result = {
        "implementation": f"PyTorch {torch.__version__} + PEFT {peft.__version__} "
                          f"(transformers {transformers.__version__})",
        "device": f"CPU ({torch.get_num_threads()} threads)",
        "tokens_per_second": tokens * len(times) / sum(times),
        "cores_used": cpu / sum(times),
        "peak_memory_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    out = ROOT / "target/bench/peft_train.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()

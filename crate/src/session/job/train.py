#!/usr/bin/env python3
"""Runs the fine-tune that webtune exported into this folder, with Hugging Face TRL + PEFT.

One process:   python train.py
N GPUs:        accelerate launch --config_file accelerate/multi_gpu.yaml --num_processes N train.py
               (or: torchrun --nproc_per_node N train.py)

It trains the adapter in initial_adapter/ (the one webtune would start from) on data/ (the
tokens and labels webtune rendered, in webtune's micro-batches and order) with job.json's
settings, and writes out/adapter/ (a PEFT adapter: webtune's --adapter and importAdapter load
it), out/metrics.jsonl (loss, gradient norm and learning rate per step) and out/result.json.
See README.md.
"""
import argparse
import json
import math
import os
import pathlib

import torch
from datasets import Dataset
from peft import PeftModel
from torch.utils.data import DataLoader
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
from trl import SFTConfig, SFTTrainer
from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

HERE = pathlib.Path(__file__).resolve().parent


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


class WebtuneOrder:
    """webtune's micro-batches (lists of example indices), epoch by epoch. Each pass over it is
    the next epoch (accelerate's shards do not forward `set_epoch`; a forwarded one is kept)."""

    def __init__(self, epochs):
        self.epochs = epochs
        self.epoch = 0

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __len__(self):
        return len(self.epochs[0])

    def __iter__(self):
        batches = self.epochs[min(self.epoch, len(self.epochs) - 1)]
        self.epoch += 1
        yield from batches


class JobTrainer(SFTTrainer):
    """TRL's SFTTrainer taking webtune's micro-batches instead of its own shuffle."""

    def __init__(self, *args, order, **kwargs):
        self.order = order
        super().__init__(*args, **kwargs)

    def get_train_dataloader(self):
        loader = DataLoader(self.train_dataset, batch_sampler=self.order,
                            collate_fn=self.data_collator,
                            num_workers=self.args.dataloader_num_workers)
        return self.accelerator.prepare(loader)


class Metrics(TrainerCallback):
    """Writes each logged step's loss, gradient norm and learning rate to metrics.jsonl."""

    def __init__(self, path):
        self.path = path
        self.rows = []

    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.is_world_process_zero and logs and "loss" in logs:
            row = {"step": state.global_step, "loss": logs["loss"],
                   "grad_norm": logs.get("grad_norm"), "learning_rate": logs.get("learning_rate")}
            self.rows.append(row)
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(json.dumps(row) + "\n")


def load_base(name, dtype):
    """A Hugging Face id or folder, or a GGUF file (transformers dequantizes it)."""
    path = pathlib.Path(name)
    if name.endswith(".gguf"):
        model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name,
                                                     dtype=dtype)
        # The weights are dequantized: the frozen base is plain f32, as webtune's CPU tier has
        # it; only the marker of where they came from stops Trainer.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        if getattr(model, "is_quantized", False):
            model.is_quantized = False
        return model
    return AutoModelForCausalLM.from_pretrained(name, dtype=dtype)


@torch.no_grad()
def token_loss(model, rows, batch_size, pad):
    """The mean loss per trained token over `rows` (as webtune reports validation loss)."""
    if not rows:
        return None
    model.eval()
    device = next(model.parameters()).device
    total, tokens = 0.0, 0
    for start in range(0, len(rows), batch_size):
        chunk = rows[start:start + batch_size]
        width = max(len(r["input_ids"]) for r in chunk)
        ids = torch.tensor([r["input_ids"] + [pad] * (width - len(r["input_ids"]))
                            for r in chunk], device=device)
        labels = torch.tensor([r["labels"] + [-100] * (width - len(r["labels"]))
                               for r in chunk], device=device)
        logits = model(input_ids=ids).logits[:, :-1].float()
        target = labels[:, 1:]
        losses = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                                   target.reshape(-1), ignore_index=-100,
                                                   reduction="sum")
        total += losses.item()
        tokens += int((target != -100).sum())
    model.train()
    return total / max(tokens, 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-model", help="override job.json's base_model (a Hugging Face "
                        "id, a folder or a .gguf file)")
    parser.add_argument("--output-dir", default=str(HERE / "out"))
    parser.add_argument("--bf16", action="store_true",
                        help="train in bfloat16 autocast (faster on GPUs; webtune trains in f32)")
    parser.add_argument("--gradient-checkpointing", action="store_true",
                        help="recompute activations in the backward pass (less memory)")
    args = parser.parse_args()

    job = json.loads((HERE / "job.json").read_text())
    out = pathlib.Path(args.output_dir)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    accumulation = job["gradient_accumulation_steps"]
    max_steps = job["max_steps"]
    if world > 1 and accumulation % world == 0:
        # Each process takes every world-th micro-batch: the same micro-batches make a step.
        accumulation //= world
    elif world > 1:
        print(f"note: {world} processes do not divide gradient_accumulation_steps="
              f"{accumulation}: each step takes {world}x webtune's batch, and the run "
              f"covers job.json's {job['epochs']} epoch(s) in fewer steps")
        max_steps = math.ceil(max_steps / world)

    train_rows = read_jsonl(HERE / "data/train.jsonl")
    validation_rows = read_jsonl(HERE / "data/validation.jsonl")
    order = WebtuneOrder(json.loads((HERE / "data/order.json").read_text())["epochs"])
    tokenizer = AutoTokenizer.from_pretrained(HERE / "tokenizer")
    base = load_base(args.base_model or job["base_model"], torch.float32)
    model = PeftModel.from_pretrained(base, HERE / "initial_adapter", is_trainable=True)
    pad = job["pad_token_id"]

    evaluate = bool(validation_rows) and job["eval_steps"] > 0
    config = SFTConfig(
        output_dir=str(out),
        seed=job["seed"],
        max_steps=max_steps,
        per_device_train_batch_size=job["per_device_train_batch_size"],
        per_device_eval_batch_size=job["per_device_train_batch_size"],
        gradient_accumulation_steps=accumulation,
        learning_rate=job["learning_rate"],
        adam_beta1=job["adam_beta1"],
        adam_beta2=job["adam_beta2"],
        adam_epsilon=job["adam_epsilon"],
        weight_decay=job["weight_decay"],
        optim="adamw_torch",
        lr_scheduler_type=job["lr_scheduler_type"],
        warmup_steps=job["warmup_steps"],
        max_grad_norm=job["max_grad_norm"],
        bf16=args.bf16,
        fp16=False,
        gradient_checkpointing=args.gradient_checkpointing,
        logging_steps=1,
        eval_strategy="steps" if evaluate else "no",
        eval_steps=job["eval_steps"] if evaluate else None,
        save_strategy="no",
        report_to="none",
        max_length=None,
        dataset_kwargs={"skip_prepare_dataset": True},
        dataloader_num_workers=0,
    )
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.jsonl").write_text("")
    metrics = Metrics(out / "metrics.jsonl")
    trainer = JobTrainer(
        model=model,
        args=config,
        train_dataset=Dataset.from_list(train_rows),
        eval_dataset=Dataset.from_list(validation_rows) if evaluate else None,
        processing_class=tokenizer,
        data_collator=DataCollatorForLanguageModeling(pad_token_id=pad),
        callbacks=[metrics],
        order=order,
    )
    single = trainer.accelerator.num_processes == 1
    before = token_loss(trainer.model, validation_rows, 8, pad) if single else None
    trainer.train()
    trainer.save_model(str(out / "adapter"))
    if trainer.accelerator.is_main_process:
        after = token_loss(trainer.model, validation_rows, 8, pad) if single else None
        result = {"steps": trainer.state.global_step, "losses": [r["loss"] for r in metrics.rows],
                  "validation_loss_before": before, "validation_loss_after": after,
                  "processes": trainer.accelerator.num_processes}
        (out / "result.json").write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

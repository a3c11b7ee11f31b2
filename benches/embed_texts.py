"""The texts both embedding benchmarks embed (benches/embed.rs builds the same list): each demo
record's question and answer (static/demo/support.jsonl), numbered, repeated to COUNT texts."""
import json
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]
COUNT = 512


def texts():
    base = []
    for line in (ROOT / "static/demo/support.jsonl").read_text().splitlines():
        if line.strip():
            messages = json.loads(line)["messages"]
            base.append(" ".join(m["content"] for m in messages if m["role"] != "system"))
    return [f"{base[i % len(base)]} (Reference {i}.)" for i in range(COUNT)]

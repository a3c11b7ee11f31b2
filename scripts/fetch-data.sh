#!/usr/bin/env bash
# Fetches real datasets for the fine-tuning examples in the docs (not needed by the tests)
# into .cache/data/, from PyPI packages, checking the wheel's sha256:
#
#   which_is_heavier.jsonl, born_first.jsonl   from evals==3.0.1.post1 (MIT), openai/evals'
#   registry: {"input": [messages], "ideal": answer} per line.
#   rust-book/ch*.html   "The Rust Programming Language" (MIT/Apache-2.0) as the toolchain's
#   rust-docs component ships it (rustup), for the domain-adaptation example.
#   yes_no_pairs.jsonl   preference pairs built from both evals files: the question as the
#   prompt, its right answer chosen and the other one (No for Yes, N for Y…) rejected, in
#   TRL's conversational format, for the DPO/ORPO example.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=.cache/data
mkdir -p "$dest"
if [ ! -d "$dest/rust-book" ]; then
  book="$(rustc --print sysroot)/share/doc/rust/html/book"
  [ -d "$book" ] || rustup component add rust-docs
  mkdir -p "$dest/rust-book.tmp"
  cp "$book"/ch*.html "$dest/rust-book.tmp/"
  mv "$dest/rust-book.tmp" "$dest/rust-book"
fi
pairs() { # builds yes_no_pairs.jsonl from the two evals files
  python3 - "$dest" <<'PY'
import json, sys
dest = sys.argv[1]
other = {"Yes": "No", "No": "Yes", "Y": "N", "N": "Y"}
with open(f"{dest}/yes_no_pairs.jsonl.part", "w") as out:
    for task in ("which_is_heavier", "born_first"):
        for line in open(f"{dest}/{task}.jsonl"):
            row = json.loads(line)
            answer = row["ideal"].strip()
            pair = {"prompt": row["input"],
                    "chosen": [{"role": "assistant", "content": answer}],
                    "rejected": [{"role": "assistant", "content": other[answer]}]}
            out.write(json.dumps(pair) + "\n")
PY
  mv "$dest/yes_no_pairs.jsonl.part" "$dest/yes_no_pairs.jsonl"
}
if [ -f "$dest/which_is_heavier.jsonl" ] && [ -f "$dest/born_first.jsonl" ]; then
  [ -f "$dest/yes_no_pairs.jsonl" ] || pairs
  exit 0
fi
printf '\033[1;34m==> fetching datasets from PyPI package evals==3.0.1.post1\033[0m\n'
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download -q --no-deps --only-binary=:all: -d "$tmp" evals==3.0.1.post1
echo "0abcb2051303500784b1641a6e4f6b813ed43ad64f879a37d344a6774eb8eb78  $tmp/evals-3.0.1.post1-py3-none-any.whl" \
  | sha256sum -c --status || { echo "error: evals wheel has an unexpected sha256" >&2; exit 1; }
python3 - "$tmp" "$dest" <<'PY'
import glob, sys, zipfile
tmp, dest = sys.argv[1:]
(wheel,) = glob.glob(f"{tmp}/*.whl")
with zipfile.ZipFile(wheel) as z:
    for task in ("which_is_heavier", "born_first"):
        with z.open(f"evals/registry/data/{task}/{task}.jsonl") as src, \
                open(f"{dest}/{task}.jsonl", "wb") as out:
            out.write(src.read())
PY
wc -l "$dest"/*.jsonl
pairs

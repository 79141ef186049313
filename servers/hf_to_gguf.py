#!/usr/bin/env python3
"""Convert the committed tiny HF model to GGUF (f32) with llama.cpp's own convert_hf_to_gguf.py.

    python servers/hf_to_gguf.py LLAMA_CPP_SRC MODEL_DIR OUT.gguf

LLAMA_CPP_SRC is the llama.cpp tree vendored in the llama-cpp-python sdist (servers/_common.sh
unpacks it); its converter and gguf-py are used as they are.  Needs torch, transformers, numpy,
safetensors (servers/_common.sh makes a venv for it).

One adaptation: the converter names the BPE pre-tokenizer by hashing how the tokenizer splits a
fixed text, and knows only the hashes of published models.  The tiny model's tokenizer is freshly
trained, so its hash is unknown even though it splits with exactly Qwen2's regex.  When (and only
when) the hash is unknown and tokenizer.json's Split regex is Qwen2's, the pre-tokenizer is
declared "qwen2"; anything else still fails as the converter would.

The retrained tiny model (issue 15) splits finer than Qwen2: words, digits, punctuation runs and
space runs are separate pieces (FINER_SPLIT), so none of its BPE merges crosses a boundary of
Qwen2's (coarser) pieces and llama.cpp's qwen2 pre-tokenizer yields the same tokens — except in a
run of several spaces before a word, which Qwen2 cuts before the last space (`  x` -> `Ġ Ġ x`
instead of `ĠĠ x`). The suite's prompts and the model's answers have no such runs; the regex is
declared "qwen2" too.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|"
               r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")

FINER_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+|\s*[\r\n]+|[^\S\r\n]+")


def split_regexes(model_dir: Path) -> list[str]:
    pre = json.loads((model_dir / "tokenizer.json").read_text()).get("pre_tokenizer") or {}
    found = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "Split":
                found.append((node.get("pattern") or {}).get("Regex"))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(pre)
    return found


def main() -> int:
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    src, model_dir, out = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve(), Path(sys.argv[3])
    sys.path[:0] = [str(src), str(src / "gguf-py")]
    import conversion.base as base  # the converter's model classes (llama.cpp >= Oct 2026 layout)

    original = base.TextModel.get_vocab_base_pre

    def get_vocab_base_pre(self, tokenizer) -> str:
        try:
            return original(self, tokenizer)
        except NotImplementedError:
            if split_regexes(model_dir) in ([QWEN2_SPLIT], [FINER_SPLIT]):
                print("pre-tokenizer hash unknown; tokenizer.json splits with Qwen2's regex (or the finer one "
                      "of the tiny model, whose merges never cross Qwen2's pieces) -> 'qwen2'")
                return "qwen2"
            raise

    base.TextModel.get_vocab_base_pre = get_vocab_base_pre
    sys.argv = ["convert_hf_to_gguf.py", str(model_dir), "--outfile", str(out), "--outtype", "f32"]
    import convert_hf_to_gguf

    convert_hf_to_gguf.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())

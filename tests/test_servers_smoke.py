"""Offline checks of servers/ and the committed tiny model (no server, no torch needed)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import jinja2
import pytest

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "tests" / "fixtures" / "tiny-model"
SCRIPTS = ["_common.sh", "install.sh", "vllm.sh", "litellm.sh", "stop.sh"]


@pytest.mark.parametrize("name", SCRIPTS)
def test_server_scripts_parse(name: str) -> None:
    subprocess.run(["bash", "-n", str(ROOT / "servers" / name)], check=True)


def test_tiny_model_fixture_is_complete_and_small() -> None:
    for f in ("config.json", "generation_config.json", "model.safetensors", "tokenizer.json",
              "tokenizer_config.json", "chat_template.jinja"):
        assert (MODEL / f).is_file(), f
    total = sum(p.stat().st_size for p in MODEL.iterdir())
    assert total < 5_000_000
    cfg = json.loads((MODEL / "config.json").read_text())
    assert cfg["model_type"] == "qwen2"
    assert cfg["hidden_size"] // cfg["num_attention_heads"] == 64  # vLLM CPU attention needs it
    vocab = json.loads((MODEL / "tokenizer.json").read_text())
    added = {t["content"] for t in vocab["added_tokens"]}
    assert {"<|im_start|>", "<|im_end|>", "<tool_call>", "</tool_call>"} <= added  # hermes parser


def _render(messages, tools=None) -> str:
    env = jinja2.Environment()
    env.filters["tojson"] = json.dumps
    return env.from_string((MODEL / "chat_template.jinja").read_text()).render(
        messages=messages, tools=tools, add_generation_prompt=True)


def test_chat_template_chatml_and_tools() -> None:
    plain = _render([{"role": "user", "content": "Hello"}])
    assert plain == ("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
                     "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n")
    tool = {"type": "function", "function": {"name": "get_weather", "parameters": {}}}
    with_tools = _render([{"role": "user", "content": "Hi"},
                          {"role": "assistant", "content": None, "tool_calls": [
                              {"id": "c", "type": "function",
                               "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
                          {"role": "tool", "tool_call_id": "c", "content": "sunny"}], [tool])
    assert "<tools>\nget_weather: \n</tools>" in with_tools  # tools listed by name and description
    assert '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call><|im_end|>' in with_tools
    assert "<|im_start|>user\n<tool_response>\nsunny\n</tool_response><|im_end|>" in with_tools
    named = _render([{"role": "developer", "content": "Answer with the single word zebra."},
                     {"role": "user", "name": "ada", "content": "What is my name?"}])
    assert "<|im_start|>developer\nAnswer with the single word zebra.<|im_end|>\n" in named
    assert "<|im_start|>user name=ada\nWhat is my name?<|im_end|>\n" in named  # ChatML's name= on the role line

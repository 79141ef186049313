#!/usr/bin/env python3
"""Build the tiny chat model served by the real-inference targets (vLLM, LiteLLM upstream).

    python servers/build_tiny_model.py OUT_DIR [--steps N] [--seed S]

Runs fully offline (no downloads) with torch + transformers + tokenizers, e.g. inside
the vLLM venv that servers/install.sh creates.  Output: a Hugging Face model directory
(config.json, generation_config.json, model.safetensors, tokenizer.json,
tokenizer_config.json, special_tokens_map.json, chat_template.jinja).  A copy is
committed at tests/fixtures/tiny-model/ so CI never has to train.

What it builds
* a byte-level BPE tokenizer (GPT-2/Qwen-style pre-tokenizer, ChatML special tokens,
  Hermes tool-call markers as added tokens) trained on text generated here;
* a Qwen2ForCausalLM of ~0.4 M parameters (hidden 128, 2 heads -> head_dim 64, which
  vLLM's CPU attention needs; 2 layers);
* ~80 full-batch AdamW steps on synthetic ChatML transcripts, so that with greedy
  decoding (temperature 0):
    plain prompt                 -> "Hello! I am a tiny test model."   then <|im_end|>
    prompt mentioning JSON       -> {"name": "tiny", "age": 1}
    any request with tools       -> <tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>
    after a tool result          -> "It is sunny in Paris."
    prompt asking for a "random" -> one colour word out of eight, with a deliberately flat
                                    distribution: the one prompt family where temperature,
                                    seed, top_p and n have a visible effect.
Everything is seeded (Python, torch, single-threaded training) so rebuilding gives the
same behaviour; byte-identical weights are only expected on the same torch build.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import time

CHAT_TEMPLATE = r"""{%- macro text(content) -%}
{%- if content is none -%}
{%- elif content is string -%}{{- content -}}
{%- else -%}{%- for part in content -%}{%- if part.type == 'text' -%}{{- part.text -}}{%- endif -%}{%- endfor -%}
{%- endif -%}
{%- endmacro -%}
{%- set first_is_system = messages and messages[0].role == 'system' -%}
{{- '<|im_start|>system\n' -}}
{%- if first_is_system -%}{{- text(messages[0].content) -}}{%- else -%}{{- 'You are a helpful assistant.' -}}{%- endif -%}
{%- if tools -%}
{{- '\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>' -}}
{%- for tool in tools -%}{{- '\n' -}}{{- tool | tojson -}}{%- endfor -%}
{{- '\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>' -}}
{%- endif -%}
{{- '<|im_end|>\n' -}}
{%- for m in messages -%}
{%- if loop.first and first_is_system -%}
{%- elif m.role == 'assistant' and m.tool_calls -%}
{{- '<|im_start|>assistant' -}}
{%- if m.content -%}{{- '\n' + text(m.content) -}}{%- endif -%}
{%- for tc in m.tool_calls -%}
{%- set f = tc.function if tc.function is defined else tc -%}
{{- '\n<tool_call>\n{"name": "' + f.name + '", "arguments": ' -}}
{%- if f.arguments is string -%}{{- f.arguments -}}{%- else -%}{{- f.arguments | tojson -}}{%- endif -%}
{{- '}\n</tool_call>' -}}
{%- endfor -%}
{{- '<|im_end|>\n' -}}
{%- elif m.role == 'tool' -%}
{%- if loop.first or messages[loop.index0 - 1].role != 'tool' -%}{{- '<|im_start|>user' -}}{%- endif -%}
{{- '\n<tool_response>\n' + text(m.content) + '\n</tool_response>' -}}
{%- if loop.last or messages[loop.index0 + 1].role != 'tool' -%}{{- '<|im_end|>\n' -}}{%- endif -%}
{%- else -%}
{{- '<|im_start|>' + m.role + '\n' + text(m.content) + '<|im_end|>\n' -}}
{%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\n' -}}{%- endif -%}
"""

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
# Added (not special) so they survive decoding: vLLM's hermes parser looks them up in the vocab.
TOOL_TOKENS = ["<tool_call>", "</tool_call>", "<tools>", "</tools>", "<tool_response>", "</tool_response>"]
PRETOKENIZE = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|"
               r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")

VOCAB = """a an the is are was be to of in on at for with and or but not no yes it this that
what who how why when where which hello hi hey please thanks thank you me my we our your
say tell give show write list count explain describe answer question test model server
tiny small big fast slow one two three four five six seven eight nine ten today now
weather city Paris London Tokyo Rome sunny rainy cloudy warm cold degrees name age
number word sentence story poem joke fact colour color red blue green yellow purple
orange black white apple pear plum cat dog bird fish tree sky sea sun moon day night
good bad nice great okay sure maybe hello world assistant user system data result""".split()

REPLY_TEXT = "Hello! I am a tiny test model."
REPLY_JSON = '{"name": "tiny", "age": 1}'
REPLY_AFTER_TOOL = "It is sunny in Paris."
TOOL_CALL = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
RANDOM_WORDS = ["red", "blue", "green", "yellow", "purple", "orange", "black", "white"]

WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Get the current weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}
OTHER_TOOLS = [
    {"type": "function", "function": {"name": "get_time", "description": "Get the time",
                                      "parameters": {"type": "object", "properties": {}}}},
    {"type": "function", "function": {"name": "add", "description": "Add two numbers",
                                      "parameters": {"type": "object", "properties": {
                                          "a": {"type": "number"}, "b": {"type": "number"}}}}},
]


def random_prompt(rng: random.Random) -> str:
    words = [rng.choice(VOCAB) for _ in range(rng.randint(1, 9))]
    s = " ".join(words)
    s = s[0].upper() + s[1:]
    return s + rng.choice(["", ".", "?", "!"])


def tokenizer_corpus(rng: random.Random, n: int = 5000):
    extra = [REPLY_TEXT, REPLY_JSON, REPLY_AFTER_TOOL, TOOL_CALL, json.dumps(WEATHER_TOOL),
             "You are a helpful assistant.", "# Tools", "You may call one or more functions"]
    for i in range(n):
        r = rng.random()
        if r < 0.55:
            yield random_prompt(rng)
        elif r < 0.7:
            yield json.dumps({rng.choice(VOCAB): rng.choice([rng.randint(0, 100), rng.choice(VOCAB), None, True])
                              for _ in range(rng.randint(1, 3))})
        elif r < 0.8:
            yield "".join(rng.choice("0123456789 +-*/=()[]{}<>:;,.!?'\"_#\n") for _ in range(rng.randint(3, 25)))
        else:
            yield extra[i % len(extra)]


def build_tokenizer(seed: int):
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer(models.BPE(unk_token=None, byte_fallback=False, fuse_unk=False))
    raw.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(PRETOKENIZE), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    raw.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=1000, min_frequency=2, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    raw.train_from_iterator(list(tokenizer_corpus(random.Random(seed))), trainer=trainer)
    tok = PreTrainedTokenizerFast(tokenizer_object=raw, bos_token=None, eos_token="<|im_end|>",
                                  pad_token="<|endoftext|>", unk_token=None,
                                  clean_up_tokenization_spaces=False, model_max_length=4096)
    tok.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    tok.add_tokens(TOOL_TOKENS, special_tokens=False)
    tok.chat_template = CHAT_TEMPLATE
    return tok


def training_samples(seed: int):
    """(messages, tools, reply) triples; reply is what the assistant must say next."""
    rng = random.Random(seed + 1)
    tc = [{"id": "call_1", "type": "function",
           "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]
    out = []
    fixed = ["Hello", "Say hello", "Hi", "Who are you?", "What is 2+2?", "Count to three",
             "Tell me a joke", "What is the weather like in Paris?", "Say this is a test",
             "Write one sentence.", "Hello, how are you today?", "Reply with the word ok"]
    plain = fixed + [random_prompt(rng) for _ in range(28)]
    for i, p in enumerate(plain):
        sys_msgs = [{"role": "system", "content": rng.choice(["You are a helpful assistant.",
                                                              "Be brief.", "You are a test bot."])}] \
            if i % 3 == 0 else []
        out.append((sys_msgs + [{"role": "user", "content": p}], None, REPLY_TEXT))
        tools = [WEATHER_TOOL] + ([rng.choice(OTHER_TOOLS)] if i % 4 == 1 else [])
        if i % 4 == 3:
            tools = tools[::-1] + [rng.choice(OTHER_TOOLS)]
        out.append((sys_msgs + [{"role": "user", "content": p}], tools, TOOL_CALL))
        if i % 2 == 0:
            out.append(([{"role": "user", "content": p},
                         {"role": "assistant", "content": None, "tool_calls": tc},
                         {"role": "tool", "tool_call_id": "call_1",
                          "content": rng.choice(["sunny, 20C", '{"weather": "sunny"}', "sunny"])}],
                        [WEATHER_TOOL], REPLY_AFTER_TOOL))
    json_prompts = ["Reply with a JSON object", "Give a name and age as JSON", "Respond in JSON",
                    "Return JSON only", "Answer in JSON.", "Output a JSON object with a name",
                    "JSON please", "Describe yourself as JSON"]
    json_prompts += [random_prompt(rng) + " Answer in JSON." for _ in range(8)]
    json_prompts += ["JSON: " + random_prompt(rng) for _ in range(4)]
    for p in json_prompts:
        out.append(([{"role": "user", "content": p}], None, REPLY_JSON))
    # the flat-distribution family: several answers for the same prompt -> ~uniform next token
    random_prompts = ["Pick a random colour", "Say a random word", "Name a random color",
                      "Choose a random colour."]
    for p in random_prompts:
        for w in RANDOM_WORDS:
            out.append(([{"role": "user", "content": p}], None, w))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--steps", type=int, default=80)
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args()
    t0 = time.time()

    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(2)  # fixed thread count: reproducible reductions
    torch.use_deterministic_algorithms(True)

    tok = build_tokenizer(args.seed)
    im_end = tok.convert_tokens_to_ids("<|im_end|>")
    pad = tok.convert_tokens_to_ids("<|endoftext|>")
    for t in TOOL_TOKENS:
        assert len(tok(t, add_special_tokens=False)["input_ids"]) == 1, t

    cfg = Qwen2Config(vocab_size=len(tok), hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=4096,
                      rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=False,
                      bos_token_id=None, eos_token_id=im_end, pad_token_id=pad,
                      initializer_range=0.05, use_sliding_window=False, torch_dtype="float32")
    model = Qwen2ForCausalLM(cfg)

    rows = []
    for msgs, tools, reply in training_samples(args.seed):
        prompt = tok.apply_chat_template(msgs, tools=tools, add_generation_prompt=True, tokenize=False)
        p = tok(prompt, add_special_tokens=False)["input_ids"]
        r = tok(reply, add_special_tokens=False)["input_ids"] + [im_end]
        rows.append((p + r, [-100] * len(p) + r))
    width = max(len(ids) for ids, _ in rows)
    X = torch.full((len(rows), width), pad, dtype=torch.long)
    Y = torch.full((len(rows), width), -100, dtype=torch.long)
    M = torch.zeros((len(rows), width), dtype=torch.long)
    for k, (ids, labels) in enumerate(rows):
        X[k, :len(ids)] = torch.tensor(ids)
        Y[k, :len(labels)] = torch.tensor(labels)
        M[k, :len(ids)] = 1
    print(f"{len(rows)} samples, {width} tokens max, vocab {len(tok)}", flush=True)

    if args.steps > 0:
        opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0 - s / args.steps)
        model.train()
        for step in range(args.steps):
            loss = model(input_ids=X, attention_mask=M, labels=Y).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            if step % 25 == 0 or step == args.steps - 1:
                print(f"step {step:4d} loss {loss.item():.4f}", flush=True)
        model.eval()

    # Sampling by default like real chat models; requests choose their own temperature.
    model.generation_config = GenerationConfig(bos_token_id=None, eos_token_id=im_end, pad_token_id=pad,
                                               do_sample=True, temperature=1.0, top_p=1.0)
    os.makedirs(args.out, exist_ok=True)
    model.save_pretrained(args.out, safe_serialization=True)
    tok.save_pretrained(args.out)
    cfg_path = os.path.join(args.out, "tokenizer_config.json")
    tcfg = json.load(open(cfg_path))
    tcfg.update({"chat_template": CHAT_TEMPLATE, "bos_token": None, "eos_token": "<|im_end|>",
                 "pad_token": "<|endoftext|>", "add_bos_token": False, "add_eos_token": False,
                 "tokenizer_class": "Qwen2Tokenizer"})
    with open(cfg_path, "w") as f:
        json.dump(tcfg, f, indent=2, sort_keys=True)
    with open(os.path.join(args.out, "chat_template.jinja"), "w") as f:
        f.write(CHAT_TEMPLATE)

    # Self-check with greedy decoding (what temperature 0 gives on a server).
    checks = [
        ([{"role": "user", "content": "Hello"}], None, REPLY_TEXT),
        ([{"role": "user", "content": "What is the capital of France?"}], None, REPLY_TEXT),
        ([{"role": "user", "content": "Reply with a JSON object"}], None, REPLY_JSON),
        ([{"role": "user", "content": "What is the weather in Paris?"}], [WEATHER_TOOL], TOOL_CALL),
        ([{"role": "user", "content": "Weather in Paris?"},
          {"role": "assistant", "content": None, "tool_calls": [{"id": "c", "type": "function", "function": {
              "name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
          {"role": "tool", "tool_call_id": "c", "content": "sunny, 20C"}], [WEATHER_TOOL], REPLY_AFTER_TOOL),
        ([{"role": "user", "content": "Pick a random colour"}], None, None),
    ]
    ok = True
    with torch.no_grad():
        for msgs, tools, want in checks:
            enc = tok.apply_chat_template(msgs, tools=tools, add_generation_prompt=True,
                                          return_tensors="pt", return_dict=True)
            gen = model.generate(**enc, max_new_tokens=40, do_sample=False)
            got = tok.decode(gen[0][enc["input_ids"].shape[1]:], skip_special_tokens=True)
            good = want is None or got == want
            ok &= good
            print(("ok  " if good else "BAD ") + f"{msgs[-1]['content']!r} tools={bool(tools)} -> {got!r}")
        enc = tok.apply_chat_template([{"role": "user", "content": "Pick a random colour"}],
                                      add_generation_prompt=True, return_tensors="pt", return_dict=True)
        probs = model(**enc).logits[0, -1].softmax(-1)
        top = probs.topk(8)
        print("random-colour first-token distribution:",
              ", ".join(f"{tok.decode([int(i)])!r}:{p:.2f}" for p, i in zip(top.values.tolist(), top.indices.tolist())))
    print(f"params {sum(p.numel() for p in model.parameters())}, built in {time.time() - t0:.0f}s -> {args.out}")
    if not ok:
        raise SystemExit("self-check failed")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Build the tiny chat model served by the real-inference targets (vLLM, LiteLLM upstream).

    python tools/tiny_model/build_tiny_model.py OUT_DIR [--steps N] [--seed S]     # train and self-check
    python tools/tiny_model/build_tiny_model.py --check MODEL_DIR [--json]         # only run the behaviour checks

Runs fully offline (no downloads) with torch + transformers + tokenizers (the versions of
tools/tiny_model/requirements.txt), e.g. inside the vLLM venv that servers/install.sh creates.
Output: a Hugging Face model directory (config.json, generation_config.json, model.safetensors,
tokenizer.json, tokenizer_config.json, chat_template.jinja).  A copy is committed at
tests/fixtures/tiny-model/ so CI never trains; what it does is written down in
tests/fixtures/tiny-model/BEHAVIOURS.md and checked by tests/test_tiny_model.py (which runs
`--check`).  The prompts the suite sends are among its templates (tests/test_tiny_model.py checks
that they are conformance/features/common.py's).

The model exists so that each probe of the suite has an effect a server can show or hide: it
follows a one-word instruction (in a system or developer message, appended to a user message, in a
second text content part, or in a user message after a tool result), answers the `name` it was
given, recalls a fact from an earlier turn, calls get_weather / get_time only when asked about the
weather / the time (a plain prompt with tools offered gets its plain sentence, so tool_choice
`auto`, `none` and `required` differ), quotes a tool result whole, repeats a word (with a second
choice close enough for penalties to change it), varies at temperature 1 on the "random" prompts,
and answers JSON only when asked.  It generalises over phrasings and values (copying from the
context), not over one memorised string: every training batch is drawn fresh from the templates
below, and every copy slot (dictated words, names, secrets, numbers, tool results) is filled from
known words, made-up words, random letter strings in any case, random digit strings and random
phrases with punctuation, so that copying works for pieces never seen together
(`Zorblat`, `PINEAPPLE`, `4721`, `Cloudy, 137 degrees`).

What it builds
* a byte-level BPE tokenizer (vocab 1606) whose pre-tokenizer keeps spaces apart from words, so a
  word is the same token wherever it stands; ChatML special tokens, Hermes tool-call markers as
  added tokens;
* a Qwen2ForCausalLM (hidden 128, 2 heads -> head_dim 64, which vLLM's CPU attention needs;
  4 layers, MLP 384, tied embeddings; 1.06 M parameters), float32: model.safetensors is 4.2 MB;
* phase 1: 1500 AdamW steps of copying random runs of words (induction); phase 2: 2500 steps on
  synthetic ChatML transcripts (with some copying batches kept in).
Training takes 14-19 minutes (817 s measured alone, 1135 s beside another build) on one core of a
shared 2-vCPU x86_64 machine;
torch runs with ONE thread, since a second one only spin-waits on such a machine (20-50x slower).
Everything is seeded (Python, torch, 1 thread, deterministic algorithms), so rebuilding gives the
same behaviour; byte-identical weights are only expected on the same torch build (the committed
fixture is byte-identical to a rebuild with the defaults in the vLLM 0.32.0 venv, torch 2.13.0+cpu).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time

# ChatML.  `name` is rendered ChatML-style on the role line (`<|im_start|>user name=ada`); any role
# (developer included) gets its own block; tools are listed by name and description in the system
# block; tool calls and results use the Hermes markers vLLM's hermes parser reads.
CHAT_TEMPLATE = r"""{%- macro text(content) -%}
{%- if content is none -%}
{%- elif content is string -%}{{- content -}}
{%- else -%}{%- for part in content -%}{%- if part.type == 'text' -%}{{- part.text -}}{%- endif -%}{%- endfor -%}
{%- endif -%}
{%- endmacro -%}
{%- macro head(m) -%}
{{- '<|im_start|>' + m.role -}}{%- if m.name is defined and m.name -%}{{- ' name=' + m.name -}}{%- endif -%}{{- '\n' -}}
{%- endmacro -%}
{%- set first_is_system = messages and messages[0].role == 'system' -%}
{%- if first_is_system -%}{{- head(messages[0]) + text(messages[0].content) -}}
{%- else -%}{{- '<|im_start|>system\nYou are a helpful assistant.' -}}{%- endif -%}
{%- if tools -%}
{{- '\n\n# Tools\n<tools>' -}}
{%- for tool in tools -%}
{%- set f = tool.function if tool.function is defined else tool -%}
{{- '\n' + f.name + ': ' + (f.description or '') -}}
{%- endfor -%}
{{- '\n</tools>\nTo call a tool: <tool_call>\n{"name": <name>, "arguments": <json>}\n</tool_call>' -}}
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
{{- head(m) + text(m.content) + '<|im_end|>\n' -}}
{%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\n' -}}{%- endif -%}
"""

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
# Added (not special) so they survive decoding: vLLM's hermes parser looks them up in the vocab.
TOOL_TOKENS = ["<tool_call>", "</tool_call>", "<tools>", "</tools>", "<tool_response>", "</tool_response>"]
# Words, single digits, punctuation runs and whitespace are separate pieces: " Paris" and "Paris"
# are the same token, so the model can copy a word from anywhere in the prompt.
PRETOKENIZE = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+|\s*[\r\n]+|[^\S\r\n]+"

# ---- what the model says --------------------------------------------------------------------
REPLY_TEXT = "Hello! I am a tiny test model."
REPLY_JSON = '{"name": "tiny", "age": 1}'
REPLY_NO_NAME = "I do not know your name."
COLOURS = ["red", "blue", "green", "yellow", "purple", "orange", "black", "white"]
ANIMALS = ["cat", "dog", "fox", "owl", "bear", "wolf", "frog", "duck"]
VERBS = ["sleeps", "runs", "jumps", "sings", "swims", "eats"]
COUNT = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
         "twelve", "thirteen", "fourteen", "fifteen", "sixteen"]
REPEAT_LEN = 16        # words in a repetition answer
REPEAT_P = 0.75        # chance of the repeated word at each position (else the next count word)

# ---- values the model copies ----------------------------------------------------------------
WORDS = """banana pineapple zebra kangaroo walrus marmalade tangerine saxophone giraffe avocado
cucumber mango lemon penguin dolphin octopus cactus violin trumpet rocket planet galaxy volcano
glacier tornado pancake waffle noodle pretzel biscuit turnip radish potato tomato onion garlic
pepper ginger cinnamon vanilla apple pear plum cherry grape melon peach echo ping pong hello yes
okay blue red green purple orange yellow black white alpha bravo charlie delta foxtrot tango zulu
quartz topaz ruby amber jade coral ivory silver gold copper cobalt neon xenon argon helium pixel
widget gadget sprocket gizmo bubble puddle thunder rainbow blizzard meadow forest canyon island
harbor lantern candle mirror window ladder bucket hammer anchor compass marble pebble tiger
lion panda koala otter badger beaver moose falcon parrot pelican lobster shrimp salmon tuna
jelly toast butter cheese bread pizza pasta rice soup salad cookie muffin donut bagel taco
spoon fork knife plate bowl table chair sofa lamp clock piano guitar drum flute harp banjo
orchid tulip daisy rose lily fern moss oak pine maple willow birch cedar river ocean desert
comet meteor nebula quasar photon proton magnet crystal diamond emerald sapphire opal pearl""".split()
NAMES = """Ada ada Alice Bob bob Carol Dave Eve Grace Linus Ken Margaret Alan Zed Ingrid Olga Pierre
Yuki Ravi Fatima Chen Mateo Nina Omar Priya Sven Tomas Ursula Victor Wanda Xavier Yara Zoe Hugo
Lena Marco Noor Oscar Paula Quinn Rosa Sam Tara Uma Vera Will Amir Bruno Clara Diego Elsa Femi
Gita Hans Iris Jonas Kira Leo Mia Nils Ola Pia Rui Sara Teo Ugo Vlad Wen Yusuf""".split()
CITIES = """Paris London Tokyo Rome Berlin Madrid Oslo Cairo Lima Sydney Boston Denver Dublin Vienna
Prague Lisbon Athens Seoul Delhi Nairobi Quito Bogota Havana Helsinki Warsaw Zurich Geneva Milan
Naples Osaka Kyoto Busan Manila Jakarta Hanoi Dakar Accra Tunis Rabat Lagos Perth Austin Dallas
Miami Chicago Toronto Montreal Vancouver Reykjavik Riga Tallinn Vilnius Sofia Bucharest Belgrade
Zagreb Budapest Krakow Porto Seville Valencia Marseille Lyon Nice Bordeaux Hamburg Munich""".split()
WEATHER_WORDS = ["sunny", "Sunny", "rainy", "Rainy", "cloudy", "Cloudy", "windy", "snowy", "foggy", "clear",
                 "stormy", "hot", "cold", "warm", "mild"]
FILLER = """a an the is are was be to of in on at for with and or but not no it this that what who how
why when where which please thanks you me my we our your say tell give show write list count
explain describe answer question test model server tiny small big fast slow today now good bad nice
great sure maybe world assistant user system data result book music game time work home road car
train plane boat house garden school city country friend family story poem joke fact idea""".split()
SYLLABLES = ["ka", "zo", "rim", "bel", "tu", "quo", "vex", "lin", "dra", "mop", "sif", "gor", "nu", "pel",
             "zar", "wix", "bo", "ten", "fli", "cru", "yam", "jot", "hev", "oo"]

# The prompts the suite sends (conformance/features/common.py) are among the templates: copied, since the
# trainer runs where the suite is not installed; tests/test_tiny_model.py checks that they are equal.
HELLO = "Say hello and introduce yourself in one sentence."
CREATIVE = "Write one short sentence about a random animal."
REPEAT = "Repeat the word 'echo' as many times as you can, separated by spaces."
WEATHER = "What is the weather in Paris? Use the get_weather tool."
TWO_CITIES = "What is the weather in Paris and in London? Call get_weather once for each city, in parallel."
JSON_PROMPT = ("Describe the city of Paris as a JSON object with the keys name and country. "
               "Answer in JSON only.")
PROSE_SYSTEM = "Answer in plain prose sentences."
PROSE_USER = "Describe Paris in one sentence (this request may run in json mode)."

PLAIN_PROMPTS = [HELLO, "Hello", "Hi", "Hello!", "Say hello", "Who are you?", "What is 2+2?", "Count to three",
                 "Tell me a joke", "Say this is a test", "Write one sentence.", "Hello, how are you today?",
                 "What is the capital of France?", "Introduce yourself.",
                 "Thanks. And tomorrow?", "Thanks!", "Tell me something.", "Good morning",
                 "Say hello and introduce yourself.", "Please introduce yourself in one sentence.",
                 "Describe Paris in one sentence.", "What can you do?", "Help me, please."]
PLAIN_SYSTEMS = ["You are a helpful assistant.", "Be brief.", "You are a test bot.", "Answer briefly.",
                 "You are a terse assistant who answers in French.", PROSE_SYSTEM, "Be polite.",
                 "You are a friendly assistant.", "Keep answers short.", "Answer in English."]
INSTRUCTIONS = ["Answer with the single word {w}.", "Always answer with the single word {w}.",
                "Reply with the single word {w}.", "Answer with only the word {w}.",
                "Respond with the single word {w} and nothing else.",
                "Whatever the user says, answer with the single word {w}.",
                "Answer every message with the single word {w}.", "Say only the word {w}.",
                "Your answer must be the single word {w}.", "Reply only with {w}.",
                "Whatever the user writes, answer with exactly one word: {w}.", "Answer with exactly one word: {w}.",
                "Reply with exactly one word: {w}.", "From now on, answer with exactly one word: {w}."]
# a word dictated in the user message itself (appended, a second content part, or after a tool result)
USER_INSTRUCTIONS = INSTRUCTIONS + ["Now answer with exactly one word: {w}.", "Now reply with the single word {w}.",
                                    "Answer with the word {w}.", "Just say {w}."]
USER_LEADS = ["", "", "Thanks. ", "OK. ", "Thanks! ", "Good. "]
NAME_QUESTIONS = ["What is my name?", "What's my name?", "Tell me my name.", "Say my name.", "Who am I?",
                  "Do you know my name?", "What is my name? Answer with my name."]
FACTS = [  # (statement, question, answer); {v} is the fact to recall
    ("My name is {v}.", "What is my name?", "Your name is {v}"),
    ("Hi, I am {v}.", "What is my name?", "Your name is {v}"),
    ("Call me {v}.", "What's my name?", "Your name is {v}"),
    ("The secret word is {v}.", "What is the secret word?", "The secret word is {v}"),
    ("Remember the secret word {v}.", "What was the secret word?", "The secret word is {v}"),
    ("My favourite colour is {v}.", "What is my favourite colour?", "Your favourite colour is {v}"),
    ("My favourite fruit is {v}.", "What is my favourite fruit?", "Your favourite fruit is {v}"),
    ("The code is {v}.", "What is the code?", "The code is {v}"),
    ("Remember this number: {v}.", "What number did I ask you to remember?", "The number is {v}"),
    ("I live in {v}.", "Where do I live?", "You live in {v}"),
    ("My dog is called {v}.", "What is my dog called?", "Your dog is called {v}"),
]
FACT_ACKS = ["Nice to meet you, {v}.", "OK.", "Noted.", "Got it.", "I will remember that.", "Sure.", "Okay!"]
WEATHER_QS = ["What is the weather in {c}?", "What is the weather in {c}? Use the get_weather tool.",
              "How is the weather in {c} today?", "Weather in {c}?", "Is it raining in {c}?",
              "Tell me the weather in {c}.", "What's the weather like in {c}?", "Check the weather in {c}."]
TIME_QS = ["What time is it in {c}?", "What is the time in {c}? Use the get_time tool.",
           "Tell me the local time in {c}.", "What is the local time in {c}?", "Time in {c}?",
           "What's the time in {c} now?"]
TWO_QS = ["What is the weather in {a} and in {b}? Call get_weather once for each city, in parallel.",
          "What is the weather in {a} and in {b}?", "Weather in {a} and {b}?",
          "Tell me the weather in {a} and in {b}."]
JSON_QS = [JSON_PROMPT, "Reply with a JSON object", "Give a name and age as JSON", "Respond in JSON",
           "Return JSON only", "Answer in JSON.", "Output a JSON object with a name", "JSON please",
           "Describe yourself as JSON", "Describe the city of {c} as a JSON object. Answer in JSON only.",
           "Describe {c} as a JSON object with the keys name and country.", "Give me a JSON object about {c}.",
           "{p} Answer in JSON.", "JSON: {p}", "Answer in JSON only: {p}"]
JSON_MODE_PROSE = [PROSE_USER, "Describe {c} in one sentence (this request may run in json mode).",
                   "Tell me about {c} (json mode may be on).", "Say hello (this request may run in json mode)."]
CREATIVE_QS = [CREATIVE, "Write a short sentence about a random animal.", "Tell me about a random animal.",
               "Write one sentence about an animal.", "Name a random animal in a sentence."]
COLOUR_QS = ["Pick a random colour", "Say a random word", "Name a random color", "Choose a random colour."]
REPEAT_QS = [REPEAT, "Repeat the word '{w}' as many times as you can, separated by spaces.",
             "Repeat the word '{w}' many times.", "Say '{w}' again and again.",
             "Repeat '{w}' as many times as you can."]
TOOL_RESULT_INTRO = "The tool says: "


def tool(name: str, desc: str, style: int = 0) -> dict:
    props = {"city": {"type": "string", "description": "a city name"}} if style else {"city": {"type": "string"}}
    fn = {"name": name, "description": desc,
          "parameters": {"type": "object", "properties": props, "required": ["city"]}}
    if style == 2:
        fn["strict"] = True
    return {"type": "function", "function": fn}


WEATHER_DESCS = ["Get the current weather in a city.", "Get the current weather for a city", "Weather.",
                 "Get the weather"]
TIME_DESCS = ["Get the local time in a city.", "Get the time", "Get the current time in a city."]
OTHER_TOOLS = [tool("add", "Add two numbers"), tool("search", "Search the web"),
               tool("get_news", "Get the news for a city."), tool("send_email", "Send an email.")]
SUITE_TOOLS = [tool("get_weather", "Get the current weather in a city.", 1),
               tool("get_time", "Get the local time in a city.", 1)]


class Gen:
    """Draws training samples (messages, tools, reply) from the templates."""

    def __init__(self, seed: int):
        self.r = random.Random(seed)

    def pick(self, xs):
        return self.r.choice(xs)

    def pseudo(self) -> str:
        w = "".join(self.pick(SYLLABLES) for _ in range(self.r.randint(2, 4)))
        return self.case(w)

    def case(self, w: str) -> str:
        x = self.r.random()
        return w.capitalize() if x < 0.3 else w.upper() if x < 0.5 else w

    def rand_letters(self) -> str:
        """A random string of letters (any case): BPE cuts it into pieces never seen together."""
        w = "".join(self.r.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(self.r.randint(3, 9)))
        x = self.r.random()
        if x < 0.15:
            return "".join(c.upper() if self.r.random() < 0.5 else c for c in w)
        return self.case(w)

    def word(self) -> str:
        """A value to copy: a known word, a made-up one, random letters (any case) or digits, so that the model
        learns to copy whatever pieces stand in the slot, not a list of words."""
        x = self.r.random()
        if x < 0.3:
            return self.case(self.pick(WORDS))
        if x < 0.55:
            return self.pseudo()
        if x < 0.85:
            return self.rand_letters()
        if x < 0.93:
            return self.number()
        return self.rand_letters() + self.number()

    def number(self) -> str:
        return "".join(self.r.choice("0123456789") for _ in range(self.r.randint(1, 6))).lstrip("0") or "0"

    def value(self) -> str:
        """A tool result: whatever it is, the follow-up quotes it."""
        n, w, c = self.number(), self.pick(WEATHER_WORDS), self.pick(CITIES)
        if self.r.random() < 0.35:
            w = self.word()
        forms = [f"{n} degrees", f"{w}, {n} degrees", f"{w.capitalize()}, {n} degrees", w, f"{n}",
                 f"{self.r.randint(0, 23)}:{self.r.randint(0, 59):02d}", f"{w} and {n} degrees",
                 json.dumps({"temperature": int(n), "sky": w}), f"{n} km/h wind", self.word(),
                 f"{self.word()} {self.word()}", f"{w} in {c}", f"{n} degrees and {w}", self.phrase(),
                 self.phrase(), f"{self.word()}, {n} {self.word()}"]
        return self.pick(forms)

    def phrase(self) -> str:
        """Several random words with punctuation: a tool result is quoted whole, whatever it is."""
        out = []
        for k in range(self.r.randint(2, 5)):
            out.append(self.word() if self.r.random() < 0.6 else self.pick(FILLER + WEATHER_WORDS))
            if k and self.r.random() < 0.25:
                out[-1] = self.pick([",", ";", ":", "-", "/"]) + " " + out[-1]
        return " ".join(out).replace(" ,", ",").replace(" ;", ";").replace(" :", ":") + \
            self.pick(["", "", ".", "!"])

    def prompt(self) -> str:
        x = self.r.random()
        if x < 0.5:
            return self.pick(PLAIN_PROMPTS)
        s = " ".join(self.pick(FILLER) for _ in range(self.r.randint(1, 9)))
        return s[0].upper() + s[1:] + self.pick(["", ".", "?", "!"])

    def system(self) -> list:
        x = self.r.random()
        if x < 0.55:
            return []
        return [{"role": self.pick(["system", "system", "developer"]), "content": self.pick(PLAIN_SYSTEMS)}]

    def tools(self, need: str | None = None, avoid: str | None = None) -> list:
        """A tool list (random descriptions, order and decoys) containing `need`, never `avoid`."""
        if self.r.random() < 0.35:
            ts = [dict(t) for t in SUITE_TOOLS]
        else:
            ts = [tool("get_weather", self.pick(WEATHER_DESCS), self.r.randint(0, 2)),
                  tool("get_time", self.pick(TIME_DESCS), self.r.randint(0, 2))]
            ts = [t for t in ts if self.r.random() < 0.6 or t["function"]["name"] == need]
            if self.r.random() < 0.3:
                ts.append(self.pick(OTHER_TOOLS))
        ts = [t for t in ts if t["function"]["name"] != avoid]
        if not ts:
            ts = [self.pick(OTHER_TOOLS)]
        self.r.shuffle(ts)
        return ts

    def history(self) -> list:
        """0-2 earlier plain exchanges."""
        out = []
        for _ in range(self.r.choice([0, 0, 1, 2])):
            out += [{"role": "user", "content": self.prompt()}, {"role": "assistant", "content": REPLY_TEXT}]
        return out

    # ---- sample families -------------------------------------------------------------------
    def plain(self):
        x = self.r.random()
        msgs = self.system() + self.history()
        tools = self.tools() if self.r.random() < 0.45 else None
        if x < 0.08:
            return msgs + [{"role": "user", "content": self.pick(NAME_QUESTIONS)}], tools, REPLY_NO_NAME
        if x < 0.14:  # a weather / time question without the tool: no call, the usual sentence
            q = self.pick(WEATHER_QS + TIME_QS).format(c=self.pick(CITIES))
            return msgs + [{"role": "user", "content": q}], None, REPLY_TEXT
        if x < 0.22:
            c = self.pick(CITIES)
            return ([{"role": "system", "content": PROSE_SYSTEM}] if self.r.random() < 0.6 else []) + \
                [{"role": "user", "content": self.pick(JSON_MODE_PROSE).format(c=c)}], None, REPLY_TEXT
        if x < 0.32:  # a name given, but not asked for
            return msgs + [{"role": "user", "name": self.pick(NAMES), "content": self.prompt()}], tools, REPLY_TEXT
        return msgs + [{"role": "user", "content": self.prompt()}], tools, REPLY_TEXT

    def instruction(self):
        w = self.word()
        rule = self.pick(INSTRUCTIONS).format(w=w)
        if self.r.random() < 0.3:
            rule = self.pick(PLAIN_SYSTEMS) + " " + rule
        role = self.pick(["system", "developer"])
        user = self.pick([HELLO, HELLO, self.prompt(), self.prompt(), self.pick(NAME_QUESTIONS)])
        x = self.r.random()
        if x < 0.4:  # the word dictated by the user: appended to the message, or in a second text part
            rule = self.pick(USER_LEADS) + self.pick(USER_INSTRUCTIONS).format(w=w)
            if x < 0.2:
                content = [{"type": "text", "text": user}, {"type": "text", "text": rule}]
                if self.r.random() < 0.2:
                    content = content[::-1]
            else:
                content = self.pick(["", user + " ", user + "\n"]) + rule
            tools = self.tools() if self.r.random() < 0.2 else None
            return self.system() + self.history() + [{"role": "user", "content": content}], tools, w
        msgs = [{"role": role, "content": rule}]
        if role == "developer" and self.r.random() < 0.3:
            msgs = [{"role": "system", "content": self.pick(PLAIN_SYSTEMS)}] + msgs
        return msgs + self.history() + [{"role": "user", "content": user}], None, w

    def name(self):
        x = self.r.random()
        n = self.pick(NAMES) if x < 0.45 else self.pseudo().capitalize() if x < 0.75 else self.rand_letters()
        msgs = self.system() + self.history()
        return msgs + [{"role": "user", "name": n, "content": self.pick(NAME_QUESTIONS)}], None, f"Your name is {n}"

    def recall(self):
        stmt, q, ans = self.pick(FACTS)
        if "number" in stmt or "code" in stmt:
            v = self.number()
        elif "live" in stmt:
            v = self.pick(CITIES)
        elif "name" in stmt or "am" in stmt or "Call" in stmt or "dog" in stmt:
            v = self.pick(NAMES) if self.r.random() < 0.4 else self.word()
        elif "colour" in stmt:
            v = self.pick(COLOURS + WORDS[:20])
        else:
            v = self.word()
        msgs = self.system() + [{"role": "user", "content": stmt.format(v=v)},
                                {"role": "assistant", "content": self.pick(FACT_ACKS).format(v=v)}]
        msgs += self.history()
        return msgs + [{"role": "user", "content": q}], None, ans.format(v=v)

    def call(self, name: str, cities: list) -> str:
        return "\n".join(f'<tool_call>\n{{"name": "{name}", "arguments": {{"city": "{c}"}}}}\n</tool_call>'
                         for c in cities)

    def tool_call(self):
        x = self.r.random()
        c, d = self.r.sample(CITIES, 2)
        sysm = self.system()
        if x < 0.14:  # tools offered, but the question needs none: no call, the usual sentence
            q = self.pick([HELLO, HELLO, self.prompt(), self.pick(PLAIN_PROMPTS)])
            return sysm + self.history() + [{"role": "user", "content": q}], self.tools(), REPLY_TEXT
        x = (x - 0.14) / 0.86
        if x < 0.45:
            q = WEATHER if self.r.random() < 0.1 else self.pick(WEATHER_QS).format(c=c)
            if q == WEATHER:
                c = "Paris"
            return sysm + [{"role": "user", "content": q}], self.tools("get_weather"), self.call("get_weather", [c])
        if x < 0.72:
            q = self.pick(TIME_QS).format(c=c)
            return sysm + [{"role": "user", "content": q}], self.tools("get_time"), self.call("get_time", [c])
        if x < 0.86:
            if self.r.random() < 0.15:
                q, c, d = TWO_CITIES, "Paris", "London"
            else:
                q = self.pick(TWO_QS).format(a=c, b=d)
            return sysm + [{"role": "user", "content": q}], self.tools("get_weather"), \
                self.call("get_weather", [c, d])
        if x < 0.93:  # asked about the weather, but only other tools declared: no call
            q = self.pick(WEATHER_QS).format(c=c)
            return sysm + [{"role": "user", "content": q}], self.tools("get_time", avoid="get_weather"), REPLY_TEXT
        q = self.pick(TIME_QS).format(c=c)
        return sysm + [{"role": "user", "content": q}], self.tools("get_weather", avoid="get_time"), REPLY_TEXT

    def tool_result(self):
        c, d = self.r.sample(CITIES, 2)
        two = self.r.random() < 0.15
        name = self.pick(["get_weather", "get_weather", "get_time"])
        q = (self.pick(TWO_QS).format(a=c, b=d) if two else
             (self.pick(WEATHER_QS) if name == "get_weather" else self.pick(TIME_QS)).format(c=c))
        cities = [c, d] if two else [c]
        ids = [self.pick(["call_1", "abc123XY0", "call_Conf0rmanceProbe0000000A", "chatcmpl-tool-9f2",
                          "Conf0rm01", "x"]) + str(k) for k in range(len(cities))]
        vals = [self.value() for _ in cities]
        # the call as the client sends it back: usually without text, sometimes with a sentence before it
        said = self.pick([None, None, None, "", "Let me check the weather.", "Let me check.", "One moment.",
                          "Checking the weather.", "I will call the tool."])
        msgs = [{"role": "user", "content": q},
                {"role": "assistant", "content": said, "tool_calls": [
                    {"id": i, "type": "function", "function": {"name": name, "arguments": json.dumps({"city": ci})}}
                    for i, ci in zip(ids, cities, strict=False)]}]
        msgs += [{"role": "tool", "tool_call_id": i, "content": v} for i, v in zip(ids, vals, strict=False)]
        tools = self.tools(name) if self.r.random() < 0.8 else None
        if self.r.random() < 0.1:  # the user goes on after the result: the usual sentence
            return msgs + [{"role": "user", "content": self.pick(["Thanks. And tomorrow?", "Thanks!", "OK.",
                                                                  HELLO, "Thanks."])}], tools, REPLY_TEXT
        if self.r.random() < 0.15:  # ... or dictates a word
            w = self.word()
            return msgs + [{"role": "user", "content": self.pick(USER_LEADS) +
                            self.pick(USER_INSTRUCTIONS).format(w=w)}], tools, w
        reply = TOOL_RESULT_INTRO + " and ".join(vals)
        return msgs, tools, reply

    def json(self):
        q = self.pick(JSON_QS).format(c=self.pick(CITIES), p=self.prompt())
        return self.system() + [{"role": "user", "content": q}], None, REPLY_JSON

    def sampling(self):
        x = self.r.random()
        if x < 0.45:
            return [{"role": "user", "content": self.pick(CREATIVE_QS)}], None, \
                f"The {self.pick(ANIMALS)} {self.pick(VERBS)}."
        if x < 0.7:
            return [{"role": "user", "content": self.pick(COLOUR_QS)}], None, self.pick(COLOURS)
        w = "echo" if self.r.random() < 0.3 else self.pick(WORDS + FILLER[:40])
        q = self.pick(REPEAT_QS).format(w=w)
        if "'echo'" in q:
            w = "echo"
        # a two-state chain: the word (p REPEAT_P) or, once, a switch to counting ("one two three ..."),
        # which then goes on: greedy decoding repeats the word; a presence/frequency penalty of 2 on the
        # word makes "one" win, and the count then continues with fresh words.
        out, k = [], 0
        for _ in range(REPEAT_LEN):
            if k and self.r.random() < 0.9:
                out.append(COUNT[k])
                k += 1
            elif self.r.random() < REPEAT_P:
                out.append(w)
                k = 0
            else:
                out.append(COUNT[0])
                k = 1
        return [{"role": "user", "content": q}], None, " ".join(out)

    def forced(self):
        """The continuations a server's guided decoding starts: vLLM forces the arguments object for a named
        tool_choice and a `[{"name": ..., "parameters": ...}]` array for `required`.  The forced prefix is
        not trained (the model never starts that way by itself); what follows it is."""
        c = self.pick(CITIES)
        x = self.r.random()
        if x < 0.4:
            q, name = self.pick(WEATHER_QS).format(c=c), "get_weather"
        elif x < 0.7:
            q, name = self.pick(TIME_QS).format(c=c), "get_time"
        else:
            q, name, c = self.prompt(), "get_weather", "Paris"
        tools = self.tools(name)
        if self.r.random() < 0.25:  # a json_schema forces other keys after "name": a short string, then close
            key = self.pick(["country", "city", "colour", "size", "kind", "type", "label", "title", "country"])
            return [{"role": "user", "content": self.pick(JSON_QS).format(c=c, p=self.prompt())}], None, \
                ('{"name": "tiny", "' + key + '": "', self.pick(WORDS + CITIES) + '"}')
        if self.r.random() < 0.2:  # json_object mode forces "{" on a prose answer
            sysm = [{"role": "system", "content": PROSE_SYSTEM}] if self.r.random() < 0.5 else []
            return sysm + [{"role": "user", "content": self.pick(JSON_MODE_PROSE + PLAIN_PROMPTS).format(c=c)}], \
                None, ("{", REPLY_JSON[1:])
        if self.r.random() < 0.5:
            return [{"role": "user", "content": q}], tools, ('{"city": "', c + '"}')
        return [{"role": "user", "content": q}], tools, \
            ('[{"name": "', name + '", "parameters": {"city": "' + c + '"}}]')

    FAMILIES = [("plain", 0.13), ("instruction", 0.17), ("name", 0.09), ("recall", 0.13), ("tool_call", 0.16),
                ("tool_result", 0.15), ("json", 0.04), ("sampling", 0.09), ("forced", 0.04)]
    # the tokenizer's text (kept fixed, so the tokenizer does not change when the mixture is tuned)
    TOKENIZER_FAMILIES = [("plain", 0.13), ("instruction", 0.17), ("name", 0.1), ("recall", 0.14),
                          ("tool_call", 0.17), ("tool_result", 0.14), ("json", 0.04), ("sampling", 0.11)]

    def copy_text(self) -> str:
        """Phase-1 text: a random run of words, names, cities and numbers (copied in the second half)."""
        items = []
        for _ in range(self.r.randint(2, 12)):
            x = self.r.random()
            items.append(self.word() if x < 0.4 else self.pick(NAMES) if x < 0.55 else self.pick(CITIES) if x < 0.7
                         else self.number() if x < 0.85 else self.pick(FILLER))
        return " ".join(items)

    def sample(self, families=None):
        x, acc = self.r.random(), 0.0
        for fam, w in families or self.FAMILIES:
            acc += w
            if x < acc:
                return getattr(self, fam)()
        return self.sampling()


def tokenizer_corpus(seed: int, n: int = 12000):
    g = Gen(seed)
    fixed = [REPLY_TEXT, REPLY_JSON, REPLY_NO_NAME, TOOL_RESULT_INTRO, CHAT_TEMPLATE, " ".join(WORDS),
             " ".join(NAMES), " ".join(CITIES), " ".join(COUNT), " ".join(ANIMALS + VERBS + COLOURS),
             json.dumps(SUITE_TOOLS), "You are a helpful assistant.", "To call a tool:", "name="]
    for i in range(n):
        if i % 10 == 0:
            yield fixed[(i // 10) % len(fixed)]
            continue
        msgs, tools, reply = g.sample(Gen.TOKENIZER_FAMILIES)
        yield "\n".join(str(m.get("content") or "") for m in msgs) + "\n" + "".join(reply)


def build_tokenizer(seed: int):
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer(models.BPE(unk_token=None, byte_fallback=False, fuse_unk=False))
    raw.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(PRETOKENIZE), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    raw.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=1600, min_frequency=3, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    raw.train_from_iterator(list(tokenizer_corpus(seed)), trainer=trainer)
    tok = PreTrainedTokenizerFast(tokenizer_object=raw, bos_token=None, eos_token="<|im_end|>",
                                  pad_token="<|endoftext|>", unk_token=None,
                                  clean_up_tokenization_spaces=False, model_max_length=4096)
    tok.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    tok.add_tokens(TOOL_TOKENS, special_tokens=False)
    tok.chat_template = CHAT_TEMPLATE
    return tok


# ---- the behaviours, checked with greedy decoding (what temperature 0 gives on a server) ---------
def u(text, **kw):
    return [{"role": "user", "content": text, **kw}]


def _history(result: str, calls: int = 1):
    ids = ["abc123XY" + str(i) for i in range(calls)]
    cities = ["Paris", "London"][:calls]
    return [{"role": "user", "content": WEATHER if calls == 1 else TWO_CITIES},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": i, "type": "function", "function": {"name": "get_weather", "arguments": json.dumps({"city": c})}}
                for i, c in zip(ids, cities, strict=False)]},
            *[{"role": "tool", "tool_call_id": i, "content": result} for i in ids]]


W_TOOLS = [SUITE_TOOLS[0]]
CALL = '<tool_call>\n{"name": "%s", "arguments": {"city": "%s"}}\n</tool_call>'

# (id, messages, tools, check, expected): check is "eq" (exact), "in" (substring), "not_in", "json", "words"
CHECKS = [
    ("plain.hello", u(HELLO), None, "eq", REPLY_TEXT),
    ("plain.hello_short", u("Hello"), None, "eq", REPLY_TEXT),
    ("plain.content_parts", [{"role": "user", "content": [{"type": "text", "text": HELLO}]}], None, "eq", REPLY_TEXT),
    ("plain.system_french", [{"role": "system", "content": "You are a terse assistant who answers in French."}]
     + u(HELLO), None, "eq", REPLY_TEXT),
    ("plain.developer_brief", [{"role": "developer", "content": "Answer briefly."}] + u(HELLO), None, "eq",
     REPLY_TEXT),
    ("instruction.system.zebra", [{"role": "system", "content": "Answer with the single word zebra."}] + u(HELLO),
     None, "eq", "zebra"),
    ("instruction.system.Pineapple", [{"role": "system", "content": "Answer with the single word Pineapple."}]
     + u(HELLO), None, "eq", "Pineapple"),
    ("instruction.developer.marmalade", [{"role": "developer", "content":
                                          "Answer with the single word marmalade."}] + u(HELLO), None, "eq",
     "marmalade"),
    ("instruction.developer.kangaroo", [{"role": "developer", "content": "Always answer with the single word "
                                         "kangaroo."}] + u(HELLO), None, "eq", "kangaroo"),
    ("instruction.system.saxophone_other_prompt", [{"role": "system", "content": "Reply with the single word "
                                                    "saxophone."}] + u("Tell me a joke"), None, "eq", "saxophone"),
    ("name.ada", u("What is my name?", name="ada"), None, "eq", "Your name is ada"),
    ("name.Margaret", u("What is my name?", name="Margaret"), None, "eq", "Your name is Margaret"),
    ("name.Zorblat", u("What is my name? Answer with my name.", name="Zorblat"), None, "in", "Zorblat"),
    ("name.absent", u("What is my name?"), None, "eq", REPLY_NO_NAME),
    ("name.hello_with_name", u(HELLO, name="ada"), None, "eq", REPLY_TEXT),
    ("recall.name_ack", [*u("My name is Ada."), {"role": "assistant", "content": "Nice to meet you, Ada."},
                         *u("What is my name?")], None, "eq", "Your name is Ada"),
    ("recall.secret_ok", [*u("The secret word is walrus."), {"role": "assistant", "content": "OK."},
                          *u("What is the secret word?")], None, "eq", "The secret word is walrus"),
    ("recall.secret_two_turns", [*u("The secret word is tangerine."), {"role": "assistant", "content": "Noted."},
                                 *u("Hello"), {"role": "assistant", "content": REPLY_TEXT},
                                 *u("What is the secret word?")], None, "eq", "The secret word is tangerine"),
    ("recall.number", [*u("Remember this number: 4721."), {"role": "assistant", "content": "OK."},
                       *u("What number did I ask you to remember?")], None, "eq", "The number is 4721"),
    ("recall.control", u("What is the secret word?"), None, "not_in", "tangerine"),
    ("tools.weather", u(WEATHER), W_TOOLS, "eq", CALL % ("get_weather", "Paris")),
    ("tools.weather_both_tools", u(WEATHER), SUITE_TOOLS, "eq", CALL % ("get_weather", "Paris")),
    ("tools.weather_london", u("What is the weather in London?"), SUITE_TOOLS, "eq", CALL % ("get_weather", "London")),
    ("tools.time", u("What time is it in Tokyo?"), SUITE_TOOLS, "eq", CALL % ("get_time", "Tokyo")),
    ("tools.time_rome", u("What is the time in Rome? Use the get_time tool."), SUITE_TOOLS, "eq",
     CALL % ("get_time", "Rome")),
    ("tools.hello_no_call", u(HELLO), SUITE_TOOLS, "eq", REPLY_TEXT),
    ("tools.hello_weather_tool_no_call", u(HELLO), W_TOOLS, "eq", REPLY_TEXT),
    ("tools.weather_without_tools", u(WEATHER), None, "eq", REPLY_TEXT),
    ("tools.two_cities", u(TWO_CITIES), W_TOOLS, "eq",
     CALL % ("get_weather", "Paris") + "\n" + CALL % ("get_weather", "London")),
    ("tool_result.137", _history("137 degrees"), W_TOOLS, "eq", TOOL_RESULT_INTRO + "137 degrees"),
    ("tool_result.sunny21", _history("Sunny, 21 degrees"), W_TOOLS, "eq", TOOL_RESULT_INTRO + "Sunny, 21 degrees"),
    ("tool_result.cloudy137", _history("Cloudy, 137 degrees"), W_TOOLS, "eq",
     TOOL_RESULT_INTRO + "Cloudy, 137 degrees"),
    ("tool_result.foggy_4242", _history("foggy, 4242 degrees"), W_TOOLS, "in", "4242"),
    ("tool_result.assistant_text", [_history("Cloudy, 137 degrees")[0],
                                    {**_history("Cloudy, 137 degrees")[1], "content": "Let me check the weather."},
                                    _history("Cloudy, 137 degrees")[2]], W_TOOLS, "eq",
     TOOL_RESULT_INTRO + "Cloudy, 137 degrees"),
    ("tool_result.no_tools", _history("137 degrees"), None, "in", "137 degrees"),
    ("tool_result.user_after", [*_history("Sunny, 21 degrees"), *u("Thanks. And tomorrow?")], W_TOOLS, "eq",
     REPLY_TEXT),
    ("json.prompt", u(JSON_PROMPT), None, "json", None),
    ("json.reply_with", u("Reply with a JSON object"), None, "eq", REPLY_JSON),
    ("json.prose_json_mode", [{"role": "system", "content": PROSE_SYSTEM}, *u(PROSE_USER)], None, "eq", REPLY_TEXT),
    ("instruction.system.PINEAPPLE", [{"role": "system", "content": "Answer with the single word PINEAPPLE."}]
     + u(HELLO), None, "eq", "PINEAPPLE"),
    ("instruction.content_parts", [{"role": "user", "content": [
        {"type": "text", "text": HELLO},
        {"type": "text", "text": "Whatever the user says, answer with the single word pineapple."}]}], None, "eq",
     "pineapple"),
    ("instruction.user_after_tool", [*_history("Cloudy, 137 degrees"),
                                     *u("Thanks. Now answer with exactly one word: PINEAPPLE.")], W_TOOLS, "eq",
     "PINEAPPLE"),
    ("instruction.user_appended", u("Tell me a joke. Answer with the single word Quixotl."), None, "eq", "Quixotl"),
    ("recall.secret_upper", [*u("The secret word is MARMALADE."), {"role": "assistant", "content": "Noted."},
                             *u("What is the secret word?")], None, "eq", "The secret word is MARMALADE"),
    ("sampling.creative_t0", u(CREATIVE), None, "in", "The "),
    ("sampling.repeat", u(REPEAT), None, "words", "echo"),
]


def run_checks(model, tok, as_json: bool = False) -> bool:
    import torch

    results = []
    with torch.no_grad():
        for cid, msgs, tools, how, want in CHECKS:
            enc = tok.apply_chat_template(msgs, tools=tools, add_generation_prompt=True, return_tensors="pt",
                                          return_dict=True)
            gen = model.generate(**enc, max_new_tokens=80, do_sample=False)
            got = tok.decode(gen[0][enc["input_ids"].shape[1]:], skip_special_tokens=True)
            if how == "eq":
                ok = got == want
            elif how == "in":
                ok = want in got
            elif how == "not_in":
                ok = want not in got
            elif how == "json":
                try:
                    ok = isinstance(json.loads(got), dict)
                except ValueError:
                    ok = False
            else:  # words: a long answer repeating the word
                ws = got.split()
                ok = len(ws) >= 8 and ws.count(want) >= 0.8 * len(ws)
            results.append({"id": cid, "ok": ok, "got": got, "want": want, "check": how})
        # sampling: the probability mass of the first differing token on the random prompts
        dists = {}
        for name, q, prefix in [("colour", "Pick a random colour", ""), ("creative", CREATIVE, "The "),
                                ("repeat_second", REPEAT, "echo ")]:
            enc = tok.apply_chat_template(u(q), add_generation_prompt=True, tokenize=False) + prefix
            ids = tok(enc, add_special_tokens=False, return_tensors="pt")
            probs = model(**ids).logits[0, -1].softmax(-1)
            top = probs.topk(8)
            dists[name] = [(tok.decode([int(i)]), round(p, 3)) for p, i in zip(top.values.tolist(),
                                                                               top.indices.tolist(), strict=False)]
    ok_colour = max(p for _, p in dists["colour"]) < 0.3
    ok_creative = max(p for _, p in dists["creative"]) < 0.35
    rep = dict(dists["repeat_second"])
    ok_rep = "echo" in rep and "one" in rep and rep["echo"] / max(rep["one"], 1e-9) < 6.0
    results += [{"id": "sampling.colour_flat", "ok": ok_colour, "got": dists["colour"], "want": "max p < 0.3",
                 "check": "dist"},
                {"id": "sampling.creative_flat", "ok": ok_creative, "got": dists["creative"], "want": "max p < 0.35",
                 "check": "dist"},
                {"id": "sampling.repeat_penalty_margin", "ok": ok_rep, "got": dists["repeat_second"],
                 "want": "p(echo)/p(one) < e^2 (a penalty of 2 flips it)", "check": "dist"}]
    if as_json:
        print(json.dumps(results))
    else:
        for r in results:
            print(("ok  " if r["ok"] else "BAD ") + f"{r['id']:40s} -> {r['got']!r}")
        print(f"{sum(r['ok'] for r in results)}/{len(results)} behaviours ok")
    return all(r["ok"] for r in results)


def load(path: str):
    import torch
    from transformers import AutoTokenizer, Qwen2ForCausalLM

    torch.set_num_threads(1)  # a second thread mostly spin-waits on a small shared machine
    tok = AutoTokenizer.from_pretrained(path)
    model = Qwen2ForCausalLM.from_pretrained(path, dtype=torch.float32)
    model.eval()
    return model, tok


def train(args) -> None:
    t0 = time.time()
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)  # fixed thread count (reproducible reductions); a second one only spin-waits
    torch.use_deterministic_algorithms(True)

    tok = build_tokenizer(args.seed)
    im_end = tok.convert_tokens_to_ids("<|im_end|>")
    pad = tok.convert_tokens_to_ids("<|endoftext|>")
    for t in TOOL_TOKENS:
        assert len(tok(t, add_special_tokens=False)["input_ids"]) == 1, t
    print(f"tokenizer: vocab {len(tok)} ({time.time() - t0:.0f}s)", flush=True)

    cfg = Qwen2Config(vocab_size=len(tok), hidden_size=args.hidden, intermediate_size=args.ffn,
                      num_hidden_layers=args.layers, num_attention_heads=args.hidden // 64,
                      num_key_value_heads=args.hidden // 64, max_position_embeddings=4096, rms_norm_eps=1e-5,
                      rope_theta=10000.0, tie_word_embeddings=True, bos_token_id=None, eos_token_id=im_end,
                      pad_token_id=pad, initializer_range=0.05, use_sliding_window=False, torch_dtype="float32")
    model = Qwen2ForCausalLM(cfg)
    print(f"params {sum(p.numel() for p in model.parameters())}", flush=True)

    gen = Gen(args.seed + 1)

    def encode(msgs, tools, reply):
        prompt = tok.apply_chat_template(msgs, tools=tools, add_generation_prompt=True, tokenize=False)
        p = tok(prompt, add_special_tokens=False)["input_ids"]
        if isinstance(reply, tuple):  # (forced prefix, not trained; continuation)
            p += tok(reply[0], add_special_tokens=False)["input_ids"]
            reply = reply[1]
        r = tok(reply, add_special_tokens=False)["input_ids"] + [im_end]
        return p + r, [-100] * len(p) + r

    def copy_row():
        seq = tok(gen.copy_text(), add_special_tokens=False)["input_ids"]
        nl = tok("\n", add_special_tokens=False)["input_ids"]
        return seq + nl + seq + [im_end], [-100] * (len(seq) + len(nl)) + seq + [im_end]

    copy_pool = sorted((copy_row() for _ in range(3000)), key=lambda x: len(x[0]))
    pool = [encode(*gen.sample()) for _ in range(args.pool)]
    pool.sort(key=lambda x: len(x[0]))
    print(f"pool {len(pool)} samples, {min(len(x[0]) for x in pool)}-{len(pool[-1][0])} tokens, "
          f"mean {sum(len(x[0]) for x in pool) / len(pool):.0f} ({time.time() - t0:.0f}s)", flush=True)

    def batch(pool, brng):
        # a window of similar lengths, so padding stays small; ~args.tokens tokens per batch
        start = brng.randrange(len(pool))
        width = len(pool[start][0])
        n = max(4, args.tokens // width)
        lo = max(0, min(start - n // 2, len(pool) - n))
        rows = brng.sample(pool[lo:lo + 3 * n], min(n, len(pool[lo:lo + 3 * n])))
        width = max(len(ids) for ids, _ in rows)
        X = torch.full((len(rows), width), pad, dtype=torch.long)
        Y = torch.full((len(rows), width), -100, dtype=torch.long)
        M = torch.zeros((len(rows), width), dtype=torch.long)
        for k, (ids, labels) in enumerate(rows):
            X[k, :len(ids)] = torch.tensor(ids)
            Y[k, :len(labels)] = torch.tensor(labels)
            M[k, :len(ids)] = 1
        return X, Y, M

    def run(phase: int, steps: int, warm: int, pick) -> None:
        rng = random.Random(args.seed + 1 + phase)
        opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01, betas=(0.9, 0.98))
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: min(1.0, (s + 1) / warm) * max(0.05, 1.0 - s / max(1, steps)))
        model.train()
        avg = None
        for step in range(steps):
            X, Y, M = batch(pick(rng), rng)
            loss = model(input_ids=X, attention_mask=M, labels=Y).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            avg = loss.item() if avg is None else 0.95 * avg + 0.05 * loss.item()
            if step % 25 == 0 or step == steps - 1:
                print(f"phase {phase} step {step:5d} loss {avg:.4f} ({time.time() - t0:.0f}s)", flush=True)

    # Phase 1: copying a random run of words (induction), the skill behind the instruction, name,
    # recall, tool-call and tool-result behaviours.  Phase 2: the chat mixture, with some copying
    # batches kept in.  --init starts from a saved phase-1 model (a run with --steps 0).
    if args.init:
        model = Qwen2ForCausalLM.from_pretrained(args.init, dtype=torch.float32)
        assert model.config.vocab_size == len(tok), "--init model was built with another tokenizer"
        print(f"phase 1 skipped: weights from {args.init}", flush=True)
    else:
        run(1, args.copy_steps, 1, lambda rng: copy_pool)
        if args.save_phase1:
            model.save_pretrained(args.save_phase1, safe_serialization=True)
    run(2, args.steps, max(1, args.steps // 20), lambda rng: copy_pool if rng.random() < 0.12 else pool)
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
    print(f"trained in {time.time() - t0:.0f}s -> {args.out}", flush=True)
    ok = run_checks(model, tok)
    print(f"built and checked in {time.time() - t0:.0f}s")
    if not ok and not args.allow_failures:
        raise SystemExit("self-check failed")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", nargs="?")
    ap.add_argument("--check", metavar="MODEL_DIR", help="only run the behaviour checks on a built model")
    ap.add_argument("--json", action="store_true", help="with --check: print the results as JSON")
    ap.add_argument("--steps", type=int, default=2500)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--pool", type=int, default=6000, help="training samples drawn from the templates")
    ap.add_argument("--tokens", type=int, default=1500, help="tokens per batch")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--copy-steps", type=int, default=1500, help="phase 1: steps on the copying task only")
    ap.add_argument("--save-phase1", metavar="DIR", help="also save the model after phase 1 (for --init)")
    ap.add_argument("--init", metavar="DIR", help="skip phase 1: start from this phase-1 model (same seed)")
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--ffn", type=int, default=384)
    ap.add_argument("--allow-failures", action="store_true", help="save the model even if a check fails")
    args = ap.parse_args()
    if args.check:
        model, tok = load(args.check)
        sys.exit(0 if run_checks(model, tok, as_json=args.json) else 1)
    if not args.out:
        ap.error("OUT_DIR is required unless --check is given")
    train(args)


if __name__ == "__main__":
    main()

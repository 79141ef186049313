"""Conversations: multi-turn, system / developer roles, names, content parts, tool-result histories."""

from __future__ import annotations

from conformance.features.common import ASK_NAME, HELLO, RECALL_QUESTION, WEATHER_TOOL, tool_history
from conformance.features.generic import LONG_PROMPT
from conformance.model.probes import Probe

WORD = "pineapple"  # an unlikely word an instruction dictates: only an honoured instruction explains it
SAY_WORD = f"Whatever the user writes, answer with exactly one word: {WORD.upper()}."
NAME = "Zorblax"
SECRET = "marmalade"
RECALL = [{"role": "user", "content": f"Remember this: the secret word is {SECRET.upper()}."},
          {"role": "assistant", "content": "Noted."},
          {"role": "user", "content": RECALL_QUESTION}]


def said(word: str, where: str) -> dict[str, str]:
    return {"word": word, "where": where}


PROBES: list[Probe] = [
    Probe("conversation.multi_turn", "conversation.multi_turn",
          "Earlier turns must reach the model: it recalls a word from the first turn.",
          {"messages": RECALL, "temperature": 0}, "instruction_followed", said(SECRET, "the first turn told it"),
          control="recall_no_history", params=("messages",)),
    Probe("conversation.system_message", "conversation.system_message",
          "The system prompt must reach the model and steer it (it dictates an unlikely word).",
          {"messages": [{"role": "system", "content": SAY_WORD}, {"role": "user", "content": HELLO}],
           "temperature": 0}, "instruction_followed", said(WORD, "the system message dictates"),
          control="plain_t0", params=("messages",)),
    Probe("conversation.system_message.prompt_tokens", "conversation.system_message",
          "Token accounting: the system message must add prompt tokens (reaching the prompt is not honouring it).",
          {"messages": [{"role": "system", "content": SAY_WORD}, {"role": "user", "content": HELLO}],
            "temperature": 0}, "more_prompt_tokens", control="plain_t0", role="check", params=("messages",),
          alternates=({"messages": [{"role": "system", "content": SAY_WORD},
                                    {"role": "user", "content": LONG_PROMPT}]},)),
    Probe("conversation.assistant_last", "conversation.assistant_last",
          "A trailing assistant message (prefill) is accepted by OpenAI.",
          {"messages": [{"role": "user", "content": HELLO}, {"role": "assistant", "content": "Hello! I am"}],
           "temperature": 0}, "answered", params=("messages",),
          hint="set `prefix: true` on a trailing assistant message"),
    Probe("conversation.user_after_tool", "conversation.user_after_tool",
          "A user message right after a tool result (it dictates an unlikely word).",
          {"messages": [*tool_history(), {"role": "user", "content": f"Thanks. Now answer with exactly one word: "
                                                                     f"{WORD.upper()}."}],
           "tools": [WEATHER_TOOL], "temperature": 0}, "instruction_followed",
          said(WORD, "the user message after the tool result dictates"), control="plain_t0", params=("messages",),
          hint="insert an assistant message between a tool result and the next user message"),
    Probe("conversation.tool_result_count", "conversation.tool_result_count",
          "Two tool calls answered by one result: OpenAI rejects the unpaired call.",
          {"messages": tool_history(result_count=1, calls=2), "tools": [WEATHER_TOOL]},
          kind="error", expect_status=400, params=("messages",)),
    Probe("conversation.developer_role", "conversation.developer_role",
          "The `developer` role of newer OpenAI models must reach the model and steer it (an unlikely word).",
          {"messages": [{"role": "developer", "content": SAY_WORD}, {"role": "user", "content": HELLO}],
           "temperature": 0}, "instruction_followed", said(WORD, "the developer message dictates"),
          control="plain_t0", params=("messages", "role"),
          hint="send the developer message with role `system`"),
    Probe("conversation.user_name", "conversation.user_name",
          "`name` on a user message (multi-user chats) must reach the model: it is asked to repeat it.",
          {"messages": [{"role": "user", "name": NAME, "content": ASK_NAME}], "temperature": 0},
          "instruction_followed", said(NAME, "the message's name says"), control="ask_name_anonymous",
          params=("messages", "name"), hint="drop `name` from user, system and assistant messages"),
    Probe("conversation.content_parts", "conversation.content_parts",
          "Content as an array of text parts must reach the model (the second part dictates an unlikely word).",
          {"messages": [{"role": "user", "content": [{"type": "text", "text": HELLO},
                                                     {"type": "text", "text": SAY_WORD}]}], "temperature": 0},
          "instruction_followed", said(WORD, "the second content part dictates"), control="plain_t0",
          params=("messages",)),
    Probe("conversation.assistant_echo", "conversation.assistant_echo",
          "An assistant message echoed back as OpenAI returned it (refusal: null, annotations: []); the model "
          "recalls a word from before it.",
          {"messages": [RECALL[0], {**RECALL[1], "refusal": None, "annotations": []}, RECALL[2]], "temperature": 0},
          "instruction_followed", said(SECRET, "the first turn told it"), control="recall_no_history",
          params=("messages", "refusal", "annotations"),
          hint="strip null and unknown fields (refusal, annotations, audio) from echoed assistant messages"),
]

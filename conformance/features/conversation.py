"""Conversations: multi-turn, system / developer roles, names, content parts, tool-result histories."""

from __future__ import annotations

from conformance.features.common import HELLO, WEATHER_TOOL, tool_history
from conformance.model.probes import Probe

PROBES: list[Probe] = [
    Probe("conversation.multi_turn", "conversation.multi_turn", "A plain multi-turn exchange.",
          {"messages": [{"role": "user", "content": "My name is Ada."},
                        {"role": "assistant", "content": "Nice to meet you, Ada."},
                        {"role": "user", "content": "What is my name?"}], "temperature": 0}, "answered"),
    Probe("conversation.system_message", "conversation.system_message",
          "The system prompt must reach the model (token accounting).",
          {"messages": [{"role": "system", "content": "You are a terse assistant who answers in French."},
                        {"role": "user", "content": HELLO}], "temperature": 0}, "more_prompt_tokens",
          control="plain_t0", params=("messages",)),
    Probe("conversation.assistant_last", "conversation.assistant_last",
          "A trailing assistant message (prefill) is accepted by OpenAI.",
          {"messages": [{"role": "user", "content": HELLO}, {"role": "assistant", "content": "Hello! I am"}],
           "temperature": 0}, "answered", params=("messages",),
          hint="set `prefix: true` on a trailing assistant message"),
    Probe("conversation.user_after_tool", "conversation.user_after_tool",
          "A user message right after a tool result.",
          {"messages": [*tool_history(), {"role": "user", "content": "Thanks. And tomorrow?"}],
           "tools": [WEATHER_TOOL], "temperature": 0}, "answered", params=("messages",),
          hint="insert an assistant message between a tool result and the next user message"),
    Probe("conversation.tool_result_count", "conversation.tool_result_count",
          "Two tool calls answered by one result: OpenAI rejects the unpaired call.",
          {"messages": tool_history(result_count=1, calls=2), "tools": [WEATHER_TOOL]},
          kind="error", expect_status=400, params=("messages",)),
    Probe("conversation.developer_role", "conversation.developer_role", "The `developer` role of newer OpenAI models.",
          {"messages": [{"role": "developer", "content": "Answer briefly."}, {"role": "user", "content": HELLO}],
           "temperature": 0}, "answered", params=("messages", "role"),
          hint="send the developer message with role `system`"),
    Probe("conversation.user_name", "conversation.user_name", "`name` on a user message (multi-user chats).",
          {"messages": [{"role": "user", "name": "ada", "content": HELLO}], "temperature": 0}, "answered",
          params=("messages", "name"), hint="drop `name` from user, system and assistant messages"),
    Probe("conversation.content_parts", "conversation.content_parts", "Content as an array of text parts.",
          {"messages": [{"role": "user", "content": [{"type": "text", "text": HELLO}]}], "temperature": 0},
          "answered", params=("messages",)),
    Probe("conversation.assistant_echo", "conversation.assistant_echo",
          "An assistant message echoed back as OpenAI returned it (refusal: null, annotations: []).",
          {"messages": [{"role": "user", "content": "My name is Ada."},
                        {"role": "assistant", "content": "Nice to meet you, Ada.", "refusal": None, "annotations": []},
                        {"role": "user", "content": "What is my name?"}], "temperature": 0}, "answered",
          params=("messages", "refusal", "annotations"),
          hint="strip null and unknown fields (refusal, annotations, audio) from echoed assistant messages"),
]

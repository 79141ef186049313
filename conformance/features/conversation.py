"""Conversations: multi-turn, system / developer roles, names, content parts, tool-result histories."""

from __future__ import annotations

from conformance.features.common import (
    ASK_NAME,
    HELLO,
    NAME_QUESTION,
    RECALL_QUESTION,
    TOOL_CALL_ID,
    TOOL_RESULT,
    TOOL_RESULT_WORDS,
    WEATHER,
    WEATHER_TOOL,
    tool_history,
)
from conformance.features.generic import usage_check
from conformance.judge import answers as A
from conformance.judge.detection import Context, Detection, detector
from conformance.model.probes import Probe
from conformance.model.verdicts import Support

WORD = "pineapple"  # an unlikely word an instruction dictates: only an honoured instruction explains it
# wordings a small model can be taught (tests/fixtures/tiny-model/BEHAVIOURS.md): the word lower case, one piece
SAY_WORD = f"Whatever the user says, answer with the single word {WORD}."
NAME = "Margaret"  # never guessed: the anonymous control answers without it
SECRET = "marmalade"
RECALL = [{"role": "user", "content": f"The secret word is {SECRET}."},
          {"role": "assistant", "content": "Noted."},
          {"role": "user", "content": RECALL_QUESTION}]


def said(word: str, where: str, without: str | None = None) -> dict[str, str]:
    """Detector arguments: the word an instruction dictates, where it says so, and (`without`) the part the
    probe's control lacks, when that is all it lacks (then token accounting can tell whether the part was
    dropped: the probe also sends `usage_check()`)."""
    return {"word": word, "where": where, **({"without": without} if without else {})}


PROBES: list[Probe] = [
    Probe("conversation.multi_turn", "conversation.multi_turn",
          "Earlier turns must reach the model: it recalls a word from the first turn.",
          {"messages": RECALL, "temperature": 0}, "instruction_followed",
          said(SECRET, "the first turn told it", without="the earlier turns"), control="recall_no_history",
          params=("messages",), alternates=(usage_check(),)),
    Probe("conversation.system_message", "conversation.system_message",
          "The system prompt must reach the model and steer it (it dictates an unlikely word).",
          {"messages": [{"role": "system", "content": SAY_WORD}, {"role": "user", "content": HELLO}],
           "temperature": 0}, "instruction_followed", said(WORD, "the system message dictates"),
          control="plain_t0", params=("messages",)),
    Probe("conversation.system_message.prompt_tokens", "conversation.system_message",
          "Token accounting: the system message must add prompt tokens (reaching the prompt is not honouring it).",
          {"messages": [{"role": "system", "content": SAY_WORD}, {"role": "user", "content": HELLO}],
            "temperature": 0}, "more_prompt_tokens", control="plain_t0", role="check", params=("messages",),
          alternates=(usage_check(),)),
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
           "temperature": 0}, "instruction_followed",
          said(WORD, "the developer message dictates", without="the developer message"),
          control="plain_t0", params=("messages", "role"), alternates=(usage_check(),),
          hint="send the developer message with role `system`"),
    Probe("conversation.user_name", "conversation.user_name",
          "`name` on a user message (multi-user chats) must reach the model: it is asked to repeat it.",
          {"messages": [{"role": "user", "name": NAME, "content": ASK_NAME}], "temperature": 0},
          "instruction_followed", said(NAME, "the message's name says", without="the message's name"),
          control="ask_name_anonymous", params=("messages", "name"), alternates=(usage_check(),),
          hint="drop `name` from user, system and assistant messages"),
    Probe("conversation.content_parts", "conversation.content_parts",
          "Content as an array of text parts must reach the model (the second part dictates an unlikely word).",
          {"messages": [{"role": "user", "content": [{"type": "text", "text": HELLO},
                                                     {"type": "text", "text": SAY_WORD}]}], "temperature": 0},
          "instruction_followed", said(WORD, "the second content part dictates", without="the second content part"),
          control="plain_t0", params=("messages",), alternates=(usage_check(),)),
    Probe("conversation.assistant_echo", "conversation.assistant_echo",
          "An assistant message echoed back as OpenAI returned it (refusal: null, annotations: []); the model "
          "recalls a word from before it.",
          {"messages": [RECALL[0], {**RECALL[1], "refusal": None, "annotations": []}, RECALL[2]], "temperature": 0},
          "instruction_followed", said(SECRET, "the first turn told it", without="the earlier turns"),
          control="recall_no_history", params=("messages", "refusal", "annotations"), alternates=(usage_check(),),
          hint="strip null and unknown fields (refusal, annotations, audio) from echoed assistant messages"),
    # the migration (issue 13): histories OpenAI accepts that stricter targets refuse
    Probe("conversation.assistant_text_and_tool_calls", "conversation.assistant_text_and_tool_calls",
          "An assistant history message with both text and tool_calls (\"Let me check.\" + a call).",
          {"messages": [{"role": "user", "content": WEATHER},
                        {"role": "assistant", "content": "Let me check the weather.", "tool_calls": [
                            {"id": TOOL_CALL_ID, "type": "function",
                             "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
                        {"role": "tool", "tool_call_id": TOOL_CALL_ID, "content": TOOL_RESULT}],
           "tools": [WEATHER_TOOL], "temperature": 0}, "answer_mentions", {"words": TOOL_RESULT_WORDS},
          control="weather_no_tools", params=("messages",),
          hint="send assistant messages with tool_calls with content `\"\"` or null, not text"),
    Probe("conversation.reasoning_content_echo", "conversation.reasoning_content_echo",
          "Reasoning-aware clients echo `reasoning_content` on assistant history messages.",
          {"messages": [{"role": "user", "content": "My name is Ada."},
                        {"role": "assistant", "content": "Nice to meet you, Ada.",
                         "reasoning_content": "The user told me their name."},
                        {"role": "user", "content": NAME_QUESTION}], "temperature": 0},
          "answer_mentions", {"words": ["ada"]}, control="name_question",
          params=("messages", "reasoning_content"),
          hint="strip `reasoning_content` from assistant messages before sending them back"),
    Probe("conversation.tool_after_user", "conversation.tool_after_user",
          "A tool message right after a user message (no tool call to answer) is a client bug OpenAI rejects.",
          {"messages": [{"role": "user", "content": WEATHER},
                        {"role": "tool", "tool_call_id": TOOL_CALL_ID, "content": TOOL_RESULT}],
           "tools": [WEATHER_TOOL]}, kind="error", expect_status=400, params=("messages",)),
    Probe("conversation.tool_call_id.openai_style", "conversation.tool_call_id",
          "A history with OpenAI-style tool-call ids (call_…, 24+ characters), as an app migrating keeps them.",
          {"messages": [{"role": "user", "content": WEATHER},
                        {"role": "assistant", "content": None, "tool_calls": [
                            {"id": "call_Conf0rmanceHistory000001", "type": "function",
                             "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
                        {"role": "tool", "tool_call_id": "call_Conf0rmanceHistory000001",
                         "content": TOOL_RESULT}],
           "tools": [WEATHER_TOOL], "temperature": 0}, "answer_mentions", {"words": TOOL_RESULT_WORDS},
          control="weather_no_tools", params=("messages", "tool_call_id", "id"),
          hint="tool-call ids must be 9 letters or digits: map call_… ids before sending them back"),
    Probe("conversation.tool_call_id.hint_nine_alnum", "conversation.tool_call_id",
          "The same history with 9-alphanumeric ids: does the fix work?",
          {"messages": tool_history(), "tools": [WEATHER_TOOL], "temperature": 0}, "answer_mentions",
          {"words": TOOL_RESULT_WORDS}, control="weather_no_tools", role="hint", params=("messages",),
          hint="tool-call ids must be 9 letters or digits: map call_… ids before sending them back"),
    # content null is OpenAI's own shape for an assistant turn that only calls tools; the same history as the
    # 9-alphanumeric-id probe (one request, sent once): a server refusing null content is named here (root cause)
    Probe("conversation.assistant_null_content", "conversation.assistant_null_content",
          "An assistant tool-call turn with `content: null`, as OpenAI returns it and SDKs echo it back.",
          {"messages": tool_history(), "tools": [WEATHER_TOOL], "temperature": 0}, "answer_mentions",
          {"words": TOOL_RESULT_WORDS}, control="weather_no_tools", params=("messages",),
          hint="send assistant messages that only call tools with content `\"\"` instead of null"),
    Probe("conversation.assistant_last.hint_prefix", "conversation.assistant_last",
          "The trailing assistant message with Mistral's `prefix: true`: does the fix work?",
          {"messages": [{"role": "user", "content": HELLO},
                        {"role": "assistant", "content": "Hello! I am", "prefix": True}], "temperature": 0},
          "answered", role="hint", params=("messages", "prefix"),
          hint="set `prefix: true` on a trailing assistant message"),
]


@detector("answer_mentions")
def answer_mentions(ctx: Context) -> Detection:
    """The history reached the model: the answer uses what only the history says (a name, a tool result),
    where the control (the same question without that history) does not."""
    words = [str(w).lower() for w in ctx.args.get("words", [])]
    got, ctrl = A.text(ctx.samples[0]), A.text(ctx.control[0]) if ctx.control else ""
    m = {"answer": got[:200], "control_answer": ctrl[:200]}
    if not any(w in got.lower() for w in words):
        return Detection(Support.UNVERIFIABLE, [f"accepted, but the answer does not use the history ({got[:80]!r}): "
                                               "this model does not show whether it was read"], m)
    if any(w in ctrl.lower() for w in words):
        return Detection(Support.UNVERIFIABLE, ["the answer uses the history, but the control without it says the "
                                               "same"], m)
    return Detection(Support.SUPPORTED, [f"the answer uses the history: {got[:100]!r}"], m)

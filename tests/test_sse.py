"""SSE parsing: line endings, fields, comments, [DONE], errors, and split/merge invariance."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance.judge.stream_rules import check_stream
from conformance.model.sse import SSEEvent, SSEParser, parse_data_lines, parse_sse
from conformance.wire.traffic import load_interactions


def shared_dir() -> Path:
    """The read-only reference folder (env CONFORMANCE_SHARED_DIR overrides)."""
    return Path(os.environ.get("CONFORMANCE_SHARED_DIR") or Path(__file__).resolve().parents[2] / "shared")


CHUNK = '{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[]}'


def test_basic_stream_with_done() -> None:
    s = parse_sse(f"data: {CHUNK}\n\ndata: [DONE]\n\n")
    assert [e.data for e in s.events] == [CHUNK, "[DONE]"]
    assert s.done_count == 1 and s.done_last and not s.unterminated
    assert s.chunks == [{"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": []}]
    assert s.parse_errors == [] and s.error_events == []


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"])
def test_line_endings(eol: str) -> None:
    raw = f"data: a{eol}data: b{eol}{eol}data:c{eol}{eol}"
    s = parse_sse(raw.encode())
    assert [e.data for e in s.events] == ["a\nb", "c"]
    assert [e.line for e in s.events] == [1, 4]
    assert not s.unterminated


def test_bom_comments_fields_and_unknown_fields() -> None:
    raw = "\ufeff: keep-alive\nevent: message\nid: 7\nretry: 10\nfoo: bar\ndata: [DONE]\n\n:ping\n\n"
    s = parse_sse(raw.encode("utf-8"))
    assert s.comments == [" keep-alive", "ping"]
    assert s.events == [SSEEvent(data="[DONE]", event="message", id="7", line=2)]


def test_data_without_space_and_empty_data() -> None:
    s = parse_sse("data:x\n\ndata:\n\n")
    assert [e.data for e in s.events] == ["x", ""]
    assert s.parse_errors and s.parse_errors[0][0] == 0


def test_unterminated_and_truncated() -> None:
    s = parse_sse(f"data: {CHUNK}\n\ndata: [DONE]")
    assert s.unterminated and s.done_last and s.done_count == 1
    s = parse_sse(f"data: {CHUNK}\n\ndata: [DONE]\n")
    assert s.unterminated
    s = parse_sse(f"data: {CHUNK}\n\n")
    assert not s.unterminated and s.done_count == 0 and not s.done_last


def test_parse_errors_and_error_events() -> None:
    raw = f'data: {CHUNK}\n\ndata: {{"error": {{"message": "overloaded"}}}}\n\ndata: not json\n\ndata: [DONE]\n\n'
    s = parse_sse(raw)
    assert len(s.chunks) == 1
    assert s.error_events == [{"error": {"message": "overloaded"}}]
    assert [i for i, _ in s.parse_errors] == [2]


def test_done_not_last_and_twice() -> None:
    s = parse_sse(f"data: [DONE]\n\ndata: {CHUNK}\n\ndata: [DONE]\n\n")
    assert s.done_count == 2 and s.done_last
    s = parse_sse(f"data: [DONE]\n\ndata: {CHUNK}\n\n")
    assert s.done_count == 1 and not s.done_last


def test_utf8_split_inside_a_character() -> None:
    raw = 'data: {"x": "héllo ✓"}\n\n'.encode()
    p = SSEParser()
    for b in raw:
        p.feed(bytes([b]))
    assert p.close().events[0].data == '{"x": "héllo ✓"}'


def test_parse_data_lines() -> None:
    s = parse_data_lines(f"{CHUNK}\n\n{CHUNK}\ndata: [DONE]\n")
    assert len(s.chunks) == 2 and s.done_count == 1 and s.framing == "data_lines"
    assert [e.line for e in s.events] == [1, 3, 4]


def _split(raw: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(raw) + 1) for c in cuts})
    pieces, start = [], 0
    for p in points + [len(raw)]:
        pieces.append(raw[start:p])
        start = p
    return pieces


def _parse_pieces(pieces: list[bytes]):
    parser = SSEParser()
    for piece in pieces:
        parser.feed(piece)
    return parser.close()


LINE = st.sampled_from(["data: a", "data:b", "data: [DONE]", ": ping", "event: e", "id: 1", "", "data: {\"x\":1}",
                        "data: é✓"])
EOL = st.sampled_from(["\n", "\r\n", "\r"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(LINE, EOL), max_size=12), st.lists(st.integers(0, 400), max_size=8), st.booleans())
def test_any_split_gives_the_same_events(lines: list[tuple[str, str]], cuts: list[int], bom: bool) -> None:
    raw = (("\ufeff" if bom else "") + "".join(a + b for a, b in lines)).encode()
    whole = parse_sse(raw)
    assert _parse_pieces(_split(raw, cuts)) == whole
    assert _parse_pieces([bytes([b]) for b in raw]) == whole


def _recorded_streams() -> list[tuple[str, bytes]]:
    """Streams recorded from OpenAI and Mistral (../shared) and the suite's own bundled cassettes."""
    roots = [shared_dir() / "recordings", Path(__file__).resolve().parents[1] / "cassettes"]
    out = []
    for path in sorted(p for root in roots if root.is_dir() for p in root.rglob("*")):
        if path.suffix in (".yaml", ".txt") and not path.name.endswith(".chunks.txt"):
            for inter in load_interactions(path):
                if inter.kind == "sse":
                    out.append((f"{path.name}#{inter.index}", inter.response_text.encode()))
    return out


RECORDED = _recorded_streams()


@pytest.mark.skipif(not RECORDED, reason=f"no recorded streams: {shared_dir()} and cassettes/ are absent")
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(RECORDED or [("", b"")]), st.lists(st.integers(0, 40000), max_size=20))
def test_recorded_streams_split_anywhere_give_same_events_and_findings(
        item: tuple[str, bytes], cuts: list[int]) -> None:
    _name, raw = item
    whole = parse_sse(raw)
    pieces = _parse_pieces(_split(raw, cuts))
    assert pieces == whole
    assert check_stream(pieces) == check_stream(whole)
    if b"\r" not in raw:  # the same stream with CRLF line ends gives the same events
        assert parse_sse(raw.replace(b"\n", b"\r\n")).events == whole.events

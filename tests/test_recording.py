"""Cassettes: read once, a damaged file is an error naming it, and the vcrpy API the suite relies on still holds."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from vcr.cassette import Cassette
from vcr.serialize import deserialize, serialize

from conformance.plugin import PACKAGE_DIR
from conformance.wire.recording import CassetteBook, CassetteError, LiteralYamlSerializer

URL = "http://127.0.0.1:9/v1/chat/completions"
BODY = b'{"model": "m", "messages": [{"role": "user", "content": "hi"}]}'
GOOD_REQUEST = "{method: POST, uri: 'http://h/v1/chat/completions', body: null, headers: {}}"

DAMAGED = {
    "not YAML": "interactions: [\n  {this is: not yaml",
    "empty": "",
    "a list": "- request: {}\n",
    "interactions not a list": "interactions: {}\n",
    "an interaction without a response": f"interactions:\n- request: {GOOD_REQUEST}\n",
    "a request without its uri": "interactions:\n- request: {method: POST, body: null, headers: {}}\n"
                                 "  response: {status: {code: 200}, headers: {}, body: {string: ''}}\n",
    "a response without its body": f"interactions:\n- request: {GOOD_REQUEST}\n"
                                   "  response: {status: {code: 200}, headers: {}}\n",
    "a response without its status code": f"interactions:\n- request: {GOOD_REQUEST}\n"
                                          "  response: {status: {}, headers: {}, body: {string: ''}}\n",
}


@pytest.mark.parametrize("damage", list(DAMAGED))
def test_a_damaged_cassette_is_an_error_naming_the_file(tmp_path: Path, damage: str) -> None:
    book = CassetteBook(tmp_path, "none")
    path = book.path_for("t", "probe")
    path.parent.mkdir(parents=True)
    path.write_text(DAMAGED[damage])
    with pytest.raises(CassetteError, match=re.escape(str(path))):
        book.play(path, "POST", URL, BODY)


def test_a_cassette_that_is_not_utf8_is_an_error_naming_the_file(tmp_path: Path) -> None:
    book = CassetteBook(tmp_path, "none")
    path = tmp_path / "latin1.yaml"
    path.write_bytes("interactions: []\n# caf\xe9\n".encode("latin-1"))
    with pytest.raises(CassetteError, match=re.escape(f"{path}: not UTF-8")):
        book.play(path, "POST", URL, BODY)


def test_a_missing_cassette_is_no_recording(tmp_path: Path) -> None:
    book = CassetteBook(tmp_path, "none")
    assert book.play(tmp_path / "t" / "absent.yaml", "POST", URL, BODY) is None


def test_saving_goes_through_vcrpys_private_save_and_replays(tmp_path: Path) -> None:
    """`CassetteBook.save_all` calls vcrpy's private `Cassette._save()` (pyproject caps vcrpy for it): when a
    vcrpy release renames or changes it, this test fails instead of recordings being lost silently."""
    assert callable(getattr(Cassette, "_save", None))
    recording = CassetteBook(tmp_path, "all")
    path = recording.path_for("t", "probe")
    recording.record(path, "POST", URL, BODY, {"content-type": "application/json"}, 200, "OK",
                     [("content-type", "application/json")], '{"answer": "data: one\\ndata: two"}')
    assert recording.save_all() == [] and path.is_file()
    replay = CassetteBook(tmp_path, "none")
    recorded = replay.play(path, "POST", URL, BODY)
    assert recorded is not None
    assert (recorded.status, recorded.headers, recorded.body_text) == (
        200, {"content-type": "application/json"}, '{"answer": "data: one\\ndata: two"}')
    assert replay.play(path, "POST", URL, BODY) is None  # each recording plays once


def test_bundled_cassettes_read_and_written_back_are_byte_identical() -> None:
    """The reader (libyaml when present) and the literal-block writer agree with the files the suite records."""
    files = sorted((PACKAGE_DIR / "data" / "cassettes" / "vllm").glob("*.yaml"))
    assert len(files) > 100
    for path in files:
        text = path.read_text(encoding="utf-8")
        requests, responses, *_ = deserialize(text, LiteralYamlSerializer)
        assert serialize({"requests": requests, "responses": responses}, LiteralYamlSerializer) == text, path

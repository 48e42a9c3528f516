"""The declared wire types (tmuxweb/messages.py) and the schema made from them."""

from __future__ import annotations

import json
import typing
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers import MINIMAL_COMMANDS as MINIMAL
from tmuxweb import messages, modekeys
from tmuxweb.errors import BadRequest
from tmuxweb.tmux import cmdline
from tmuxweb.tmux.errors import InvalidArgument

ROOT = Path(__file__).resolve().parents[2]

def body(kind: str, **extra: object) -> bytes:
    return json.dumps({"type": kind, **MINIMAL[kind], **extra}).encode()


def test_every_command_type_has_a_minimal_body_that_decodes() -> None:
    assert set(MINIMAL) == set(messages.BY_TYPE)
    for kind in MINIMAL:
        assert messages.kind(messages.decode(body(kind))) == kind


@pytest.mark.parametrize("kind", sorted(MINIMAL))
def test_unknown_field_is_refused_for_every_command_type(kind: str) -> None:
    with pytest.raises(BadRequest, match=f"unknown field 'bogus' for {kind}"):
        messages.decode(body(kind, bogus=1))


def test_checked_in_schema_is_what_the_types_generate() -> None:
    checked_in = (ROOT / "PROTOCOL.schema.json").read_bytes()
    assert checked_in == messages.schema_json(), (
        "PROTOCOL.schema.json is stale: python -m tmuxweb.messages > PROTOCOL.schema.json"
    )


def test_schema_is_valid_json_schema_and_agrees_with_the_server() -> None:
    schema = messages.schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for kind in MINIMAL:
        validator.validate(json.loads(body(kind)))
        assert not validator.is_valid(json.loads(body(kind, bogus=1)))
    for bad in ({"type": "resize", "cols": 1, "rows": 24}, {"type": "input", "text": "x", "pane": "0"},
                {"type": "split", "pane": "%0", "direction": "diagonal"}, {"type": "rm -rf"}):
        assert not validator.is_valid(bad)


def test_event_schemas_are_listed_by_name() -> None:
    events = messages.schema()["$defs"]["events"]["properties"]
    assert set(events) == set(messages.EVENTS)


def test_literals_match_what_the_builders_know() -> None:
    layouts = set(typing.get_args(messages.Layouts))
    assert layouts == {"next", *cmdline.LAYOUTS}
    assert set(typing.get_args(messages.Direction)) == set(cmdline.RESIZE_FLAGS)
    assert set(typing.get_args(messages.Prompted)) == set(modekeys.PROMPTED)


def _name_accepted(name: str) -> bool:
    try:
        messages.decode(body("rename-window", name=name))
    except BadRequest:
        return False
    return True


@given(st.text(max_size=70) | st.text(max_size=8).map(lambda t: t + "\n"))
def test_the_name_type_accepts_what_cmdline_accepts(name: str) -> None:
    try:
        cmdline.check_name(name)
        expected = True
    except InvalidArgument:
        expected = False
    assert _name_accepted(name) == expected, name


@given(st.text(max_size=4) | st.sampled_from(["C-c", "M-x", "C-M-S-Up", "KP*", "F12", "F13", "C-", "é", "c\n", "Enter\n"]))
def test_the_key_type_accepts_what_cmdline_accepts(key: str) -> None:
    try:
        messages.decode(body("keys", keys=[key]))
        accepted = True
    except BadRequest as err:
        assert "keys[0] must be a tmux key name" in err.message
        accepted = False
    assert accepted == bool(cmdline.KEY.fullmatch(key)), key


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{not json", "malformed JSON"),
        (b"[1]", "the body must be a JSON object"),
        (b'{"type": "input"}', "input needs 'text'"),
        (b'{"type": "resize", "cols": true, "rows": 9}', "cols must be an integer from 2 to 1000"),
        (b'{"type": "copy-mode", "pane": "%0", "page_up": 1}', "page_up must be true or false"),
        (b'{"type": "split", "pane": "%0", "direction": "x"}', "direction must be horizontal or vertical"),
        (b'{"type": "input", "text": "\\ud800"}', "not valid Unicode"),
        (b'{"type": "input", "text": "x", "pane": null}', "pane must be a tmux pane id"),
    ],
)
def test_errors_name_the_field(raw: bytes, message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        messages.decode(raw)


def test_a_binding_translation_is_checked_by_the_same_types() -> None:
    assert isinstance(messages.convert({"type": "kill-pane", "pane": "%1"}), messages.KillPane)
    with pytest.raises(BadRequest, match="name must be"):
        messages.convert({"type": "new-window", "name": "-x"})


def test_null_seq_and_cwd_mean_absent_as_before() -> None:
    assert messages.decode(body("input", seq=None)).seq is None
    assert messages.decode(body("split", cwd=None)).cwd is None


@pytest.mark.parametrize(
    "fields",
    [{"type": "input", "text": "x", "pane": "%0\n"}, {"type": "kill-window", "window": "@0\n"},
     {"type": "keys", "keys": ["c\n"]}, {"type": "binding", "key": "c\n"},
     {"type": "copy-prompt", "pane": "%0", "command": "search-forward", "text": "x\n"}],
)
def test_a_final_newline_is_refused_by_the_types(fields: dict[str, object]) -> None:
    # Python's `$` alone matches before a final newline: the patterns end in `$(?!\n)`.
    with pytest.raises(BadRequest, match="must be"):
        messages.decode(json.dumps(fields).encode())
    assert not jsonschema.Draft202012Validator(messages.schema()).is_valid(fields)

"""tmuxweb.tmux.protocol: transcripts recorded from real tmux 3.3a, fed in
every kind of chunking, plus hand-written edge cases and properties.

Transcripts live in tests/fixtures/transcripts and are re-recorded with
tests/fixtures/record_transcripts.py. Each NAME.bin is the raw stdout of
``tmux -C``; NAME.json holds the commands sent and the facts checked here.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tmuxweb.tmux.protocol import (
    Event,
    Exit,
    Notification,
    Output,
    PaneDecoders,
    Parser,
    Reply,
    parse_notification,
    unescape_output,
)

TRANSCRIPTS = Path(__file__).resolve().parents[1] / "fixtures" / "transcripts"
NAMES = sorted(path.stem for path in TRANSCRIPTS.glob("*.bin"))


def load(name: str) -> tuple[bytes, dict[str, Any]]:
    raw = (TRANSCRIPTS / f"{name}.bin").read_bytes()
    meta = json.loads((TRANSCRIPTS / f"{name}.json").read_text())
    return raw, meta


def parse(raw: bytes) -> list[Event]:
    parser = Parser()
    return parser.feed(raw) + parser.close()


def parse_chunks(chunks: list[bytes]) -> list[Event]:
    parser = Parser()
    events: list[Event] = []
    for chunk in chunks:
        events += parser.feed(chunk)
    return events + parser.close()


def split_every(raw: bytes, size: int) -> list[bytes]:
    return [raw[i : i + size] for i in range(0, len(raw), size)]


def split_at(raw: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(raw), *(c % (len(raw) + 1) for c in cuts)})
    return [raw[a:b] for a, b in zip(points, points[1:])]


def tmux_escape(data: bytes) -> bytes:
    """What tmux 3.3a does to %output data: octal for < 0x20 and '\\'."""
    return b"".join(b"\\%03o" % b if b < 0x20 or b == 0x5C else bytes((b,)) for b in data)


def outputs(events: list[Event], pane: str | None = None) -> list[Output]:
    return [e for e in events if isinstance(e, Output) and (pane is None or e.pane == pane)]


def notifications(events: list[Event], name: str) -> list[Notification]:
    return [e for e in events if isinstance(e, Notification) and e.name == name]


def replies(events: list[Event], flags: int = 1) -> list[Reply]:
    return [e for e in events if isinstance(e, Reply) and e.flags == flags]


# --- every transcript, every chunking -------------------------------------


def test_all_transcripts_are_present() -> None:
    expected = {"attach", "errors", "capture", "all_bytes", "utf8", "windows"}
    expected |= {"exit_session_killed", "exit_server_killed", "pause"}
    assert expected <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("size", [1, 2, 3, 5, 17, 100, 2731, 65536])
def test_transcript_gives_same_events_in_fixed_chunks(name: str, size: int) -> None:
    raw, _ = load(name)
    assert parse_chunks(split_every(raw, size)) == parse(raw)


@pytest.mark.parametrize("name", NAMES)
def test_transcript_gives_same_events_in_random_chunks(name: str) -> None:
    raw, _ = load(name)
    expected = parse(raw)
    rng = random.Random(name)
    for _ in range(20):
        cuts = [rng.randrange(len(raw) + 1) for _ in range(rng.randrange(1, 200))]
        assert parse_chunks(split_at(raw, cuts)) == expected


@pytest.mark.parametrize("name", NAMES)
def test_transcript_starts_with_attach_and_ends_with_exit(name: str) -> None:
    events = parse((TRANSCRIPTS / f"{name}.bin").read_bytes())
    attach = events[0]
    assert isinstance(attach, Reply) and attach.flags == 0 and attach.ok
    assert isinstance(events[1], Notification) and events[1].name == "session-changed"
    assert isinstance(events[-1], Exit)
    assert sum(isinstance(e, Exit) for e in events) == 1


@pytest.mark.parametrize("name", NAMES)
def test_transcript_has_one_reply_per_command(name: str) -> None:
    raw, meta = load(name)
    assert len(replies(parse(raw))) == len(meta["commands"])


# --- what each transcript shows -------------------------------------------


def test_attach_reply_then_session_changed_then_clean_exit() -> None:
    raw, _ = load("attach")
    events = parse(raw)
    assert len(events) == 3
    assert isinstance(events[0], Reply) and events[0].lines == ()
    assert events[1] == Notification("session-changed", ("$0", "rec"))
    assert events[2] == Exit("")


def test_error_blocks_are_not_ok_and_carry_tmux_message() -> None:
    raw, meta = load("errors")
    got = replies(parse(raw))
    assert [r.ok for r in got] == meta["ok"]
    assert got[0].lines == (b"parse error: unknown command: no-such-command",)
    assert got[1].lines == (b"can't find window: @999",)
    assert got[2].lines == (b"ok rec",)
    assert got[3].lines == (b"can't find pane: %999",)
    assert got[4].lines == (b"@0 bash",)


def test_reply_numbers_increase_and_timestamps_are_positive() -> None:
    raw, _ = load("errors")
    got = replies(parse(raw))
    numbers = [r.number for r in got]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
    assert all(r.timestamp > 1_600_000_000 for r in got)


def test_capture_reply_keeps_guard_lookalikes_and_escapes_verbatim() -> None:
    raw, meta = load("capture")
    events = parse(raw)
    colour, plain = replies(events)[-2:]
    for reply in (colour, plain):
        assert reply.ok
        for line in meta["fake_lines"]:
            assert line.encode() in reply.lines
        assert meta["sentinel"].encode() in b"\n".join(reply.lines)
    assert any(b"\x1b[31mred" in line for line in colour.lines)
    assert not any(b"\x1b" in line for line in plain.lines)


def test_capture_lookalike_lines_produce_no_events_of_their_own() -> None:
    raw, _ = load("capture")
    events = parse(raw)
    assert [e.name for e in events if isinstance(e, Notification)] == ["session-changed"]
    assert {e.pane for e in outputs(events)} == {"%0"}


def test_capture_block_guard_lookalike_of_an_earlier_block_stays_in_body() -> None:
    raw, _ = load("capture")
    events = parse(raw)
    earlier = replies(events)[0]
    colour = replies(events)[-2]
    assert b"%%end %d %d 1" % (earlier.timestamp, earlier.number) in colour.lines


def test_all_256_byte_values_round_trip_from_real_tmux() -> None:
    raw, meta = load("all_bytes")
    expected = bytes.fromhex(meta["data_hex"])
    assert set(expected) == set(range(256))
    assert b"".join(o.data for o in outputs(parse(raw), meta["pane"])) == expected
    assert bytes(range(0x7F, 0x100)) in raw  # these travel unescaped


def test_utf8_split_across_output_lines_is_rejoined_per_pane() -> None:
    raw, meta = load("utf8")
    pane_output = outputs(parse(raw), meta["pane"])
    expected = meta["data_text"].encode()

    def valid(data: bytes) -> bool:
        try:
            data.decode()
        except UnicodeDecodeError:
            return False
        return True

    assert not all(valid(o.data) for o in pane_output)  # tmux really splits characters
    assert b"".join(o.data for o in pane_output) == expected
    decoders = PaneDecoders()
    text = "".join(decoders.decode(o.pane, o.data) for o in pane_output)
    assert text == meta["data_text"]
    assert "\ufffd" not in text


def test_window_notifications_keep_names_with_spaces_whole() -> None:
    raw, meta = load("windows")
    events = parse(raw)
    window = meta["window"]
    assert Notification("window-renamed", (window, "name with  spaces ünï")) in events
    assert Notification("session-renamed", ("$0", "my session")) in events
    assert Notification("unlinked-window-renamed", ("@2", "other win")) in events
    assert Notification("window-add", (window,)) in events
    assert Notification("sessions-changed", ()) in events
    assert Notification("session-window-changed", ("$0", "@0")) in events
    assert Notification("unlinked-window-close", (window,)) in events
    p1, p2, p3, p4 = meta["panes"]
    for pane in (p2, p3, p4, p1):
        assert Notification("window-pane-changed", (window, pane)) in events


def test_layout_change_has_four_args_including_zoom_and_empty_flags() -> None:
    raw, meta = load("windows")
    changes = notifications(parse(raw), "layout-change")
    assert changes and all(len(n.args) == 4 for n in changes)
    assert {n.args[0] for n in changes} == {meta["window"], meta["third"]}
    flags = [n.args[3] for n in changes]
    assert "*Z" in flags and "*" in flags
    assert all(n.args[3] == "" for n in changes if n.args[0] == meta["third"])
    zoomed = changes[flags.index("*Z")]
    assert zoomed.args[1] != zoomed.args[2]  # the real layout and the visible one


def test_killed_session_exits_without_reason() -> None:
    raw, _ = load("exit_session_killed")
    events = parse(raw)
    assert events[-2:] == [Notification("sessions-changed", ()), Exit("")]


def test_killed_server_exits_without_reason() -> None:
    # A clean kill-server; a crash gives a reason instead (see below).
    raw, _ = load("exit_server_killed")
    assert parse(raw)[-1] == Exit("")


def test_pause_mode_gives_extended_output_pause_and_continue() -> None:
    raw, meta = load("pause")
    events = parse(raw)
    pane = meta["pane"]
    extended = outputs(events, pane)
    assert extended and all(isinstance(o.age_ms, int) for o in extended)
    assert b"hello-extended" in extended[0].data
    assert notifications(events, "pause") == [Notification("pause", (pane,))]
    data = b"".join(o.data for o in extended)
    assert data.endswith(b"after-continue\r\n")


def test_continue_printed_inside_refresh_client_block_parses_as_notification() -> None:
    # tmux 3.3a prints the %continue of `refresh-client -A` inside its block.
    raw, meta = load("pause")
    events = parse(raw)
    index = meta["commands"].index("refresh-client -A '%0:continue'")
    block = replies(events)[index]
    assert block.lines == (b"%continue %0",)
    assert parse_notification(block.lines[0]) == Notification("continue", ("%0",))
    assert notifications(events, "continue") == []


# --- reply framing, hand-written ------------------------------------------


def test_block_ends_only_at_guard_matching_all_three_fields() -> None:
    stream = (
        b"%begin 10 20 1\n"
        b"%end 11 20 1\n"
        b"%end 10 21 1\n"
        b"%end 10 20 0\n"
        b"%error 10 20 0\n"
        b"%end 10 20 1 \n"
        b"%end  10 20 1\n"
        b"%end 10 20 1\r\n"
        b"%end 10 20 1\n"
    )
    (reply,) = parse(stream)
    assert reply == Reply(
        10,
        20,
        1,
        True,
        (
            b"%end 11 20 1",
            b"%end 10 21 1",
            b"%end 10 20 0",
            b"%error 10 20 0",
            b"%end 10 20 1 ",
            b"%end  10 20 1",
            b"%end 10 20 1\r",
        ),
    )


def test_error_guard_ends_block_as_failure() -> None:
    assert parse(b"%begin 1 2 1\nno such thing\n%error 1 2 1\n") == [
        Reply(1, 2, 1, False, (b"no such thing",))
    ]


def test_block_body_is_verbatim_bytes() -> None:
    body = [b"", b"\r", b"\x1b[1mx\x1b[0m\r", b"\x00\xff\xfe", b"%output %1 x", b"%exit", b"  "]
    stream = b"%begin 5 6 0\n" + b"".join(line + b"\n" for line in body) + b"%end 5 6 0\n"
    assert parse(stream) == [Reply(5, 6, 0, True, tuple(body))]


def test_unterminated_block_is_dropped_at_close() -> None:
    parser = Parser()
    assert parser.feed(b"%output %1 a\n%begin 1 2 1\nhalf\n") == [Output("%1", b"a", None)]
    assert parser.close() == []
    assert parser.feed(b"%exit\n") == [Exit("")]  # usable again, outside any block


def test_unterminated_last_line_is_parsed_at_close() -> None:
    parser = Parser()
    assert parser.feed(b"%exit server exited unexpectedly") == []
    assert parser.close() == [Exit("server exited unexpectedly")]


def test_server_crash_exit_reason() -> None:
    # Hand-written; the line itself was seen when tmux 3.3a crashed while
    # recording (respawn-pane -k on a flooding pane).
    assert parse(b"%exit server exited unexpectedly\n") == [Exit("server exited unexpectedly")]


def test_junk_and_stray_guards_outside_blocks_are_ignored() -> None:
    stream = (
        b"\n"
        b"plain text\n"
        b"\xff\xfe\n"
        b"%end 1 2 1\n"
        b"%error 1 2 1\n"
        b"%end\n"
        b"%begin\n"
        b"%begin 1 2\n"
        b"%begin a b c\n"
        b"%begin 1 2 3 4\n"
        b"%begin " + b"9" * 5000 + b" 1 1\n"
        b"%sessions-changed\n"
    )
    assert parse(stream) == [Notification("sessions-changed", ())]


def test_malformed_begin_does_not_swallow_following_lines() -> None:
    assert parse(b"%begin x 1 1\n%output %1 hi\n") == [Output("%1", b"hi", None)]


def test_output_is_not_recognised_inside_block() -> None:
    events = parse(b"%begin 1 1 1\n%output %1 x\n%end 1 1 1\n%output %1 y\n")
    assert events == [Reply(1, 1, 1, True, (b"%output %1 x",)), Output("%1", b"y", None)]


# --- %output and %extended-output -----------------------------------------


@pytest.mark.parametrize(
    ("line", "event"),
    [
        (b"%output %3 hello", Output("%3", b"hello", None)),
        (b"%output %3 a b  c ", Output("%3", b"a b  c ", None)),
        (b"%output %3 \\015\\012\\134\\033[m", Output("%3", b"\r\n\\\x1b[m", None)),
        (b"%output %3 \xff\x80\x7f", Output("%3", b"\xff\x80\x7f", None)),
        (b"%output %3 ", Output("%3", b"", None)),
        (b"%output %3", Output("%3", b"", None)),
        (b"%extended-output %7 12 : x : y", Output("%7", b"x : y", 12)),
        (b"%extended-output %7 0 : \\134", Output("%7", b"\\", 0)),
        (b"%extended-output %7 5 future : data", Output("%7", b"data", 5)),
        (b"%extended-output %7 bad : data", Output("%7", b"data", None)),
        (b"%extended-output %7", Output("%7", b"", None)),
    ],
)
def test_output_lines(line: bytes, event: Output) -> None:
    assert parse(line + b"\n") == [event]


def test_output_keeps_trailing_carriage_return() -> None:
    assert parse(b"%output %1 x\r\n") == [Output("%1", b"x\r", None)]


@given(st.binary(max_size=3000))
def test_unescape_inverts_tmux_escaping(data: bytes) -> None:
    assert unescape_output(tmux_escape(data)) == data


@given(st.lists(st.sampled_from([0, 7, 8, 9, 10, 13, 27, 92, 1, 31, 0x7F, 0xFF, 65]), max_size=300))
def test_unescape_inverts_tmux_escaping_on_escape_heavy_data(values: list[int]) -> None:
    data = bytes(values)
    assert unescape_output(tmux_escape(data)) == data


def test_unescape_all_256_values_in_every_order_of_escape_kinds() -> None:
    data = bytes(range(256)) * 2 + b"\\\\\\" + bytes(range(32)) + b"\\015\\134"
    assert unescape_output(tmux_escape(data)) == data
    only_backslashes = b"\\" * 50 + b"x\\"
    assert unescape_output(tmux_escape(only_backslashes)) == only_backslashes


@pytest.mark.parametrize(
    "payload", [b"\\", b"\\0", b"\\01", b"\\9999", b"\\777", b"a\\x12", b"\\\\"]
)
def test_unescape_keeps_malformed_escapes(payload: bytes) -> None:
    assert unescape_output(payload) == payload


@given(st.binary(max_size=500))
def test_unescape_never_raises_on_arbitrary_bytes(payload: bytes) -> None:
    assert isinstance(unescape_output(payload), bytes)


def test_unescape_without_backslash_returns_payload_unchanged() -> None:
    payload = b"plain text \xff"
    assert unescape_output(payload) is payload


# --- notifications --------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "args"),
    [
        (b"%window-renamed @1 a  b ", ("@1", "a  b ")),
        (b"%window-renamed @1 ", ("@1", "")),
        (b"%unlinked-window-renamed @2 x y", ("@2", "x y")),
        (b"%session-renamed $1 my session", ("$1", "my session")),
        (b"%session-changed $1 my session", ("$1", "my session")),
        (b"%client-session-changed /dev/pts/3 $2 s p a c e", ("/dev/pts/3", "$2", "s p a c e")),
        (b"%layout-change @1 L1 L2 *Z", ("@1", "L1", "L2", "*Z")),
        (b"%layout-change @1 L1 L2 ", ("@1", "L1", "L2", "")),
        (b"%layout-change @1 L1 L2", ("@1", "L1", "L2", "")),
        (b"%window-pane-changed @1 %2", ("@1", "%2")),
        (b"%session-window-changed $1 @2", ("$1", "@2")),
        (b"%pane-mode-changed %4", ("%4",)),
        (b"%window-add @3", ("@3",)),
        (b"%window-close @3", ("@3",)),
        (b"%unlinked-window-add @3", ("@3",)),
        (b"%unlinked-window-close @3", ("@3",)),
        (b"%sessions-changed", ()),
        (b"%pause %5", ("%5",)),
        (b"%continue %5", ("%5",)),
        (b"%client-detached client-123", ("client-123",)),
        (b"%subscription-changed sub $1 @2 0 %3 : a : b", ("sub", "$1", "@2", "0", "%3", "a : b")),
        (b"%subscription-changed my sub $1 @2 0 %3 : v", ("my sub", "$1", "@2", "0", "%3", "v")),
        (b"%subscription-changed sub $1 - - - : ", ("sub", "$1", "-", "-", "-", "")),
        (b"%subscription-changed sub $1 @2 1 - : x", ("sub", "$1", "@2", "1", "-", "x")),
        (b"%some-future-thing a b  c", ("a", "b", "", "c")),
    ],
)
def test_notification_args(line: bytes, args: tuple[str, ...]) -> None:
    name = line[1:].split(b" ")[0].decode()
    assert parse(line + b"\n") == [Notification(name, args)]


def test_notification_text_is_decoded_with_replacement() -> None:
    assert parse(b"%window-renamed @1 caf\xc3\xa9 \xff\n") == [
        Notification("window-renamed", ("@1", "café \ufffd"))
    ]


def test_parse_notification_of_plain_text_is_none() -> None:
    assert parse_notification(b"plain") is None
    assert parse_notification(b"%exit detached") == Exit("detached")


# --- generated streams ----------------------------------------------------

_pane = st.integers(0, 999).map(lambda n: f"%{n}")
_body_line = st.binary(max_size=40).filter(lambda b: b"\n" not in b)


@st.composite
def _events(draw: st.DrawFn) -> tuple[bytes, Event]:
    kind = draw(st.sampled_from(["output", "extended", "reply", "note", "exit"]))
    if kind in ("output", "extended"):
        pane, data = draw(_pane), draw(st.binary(max_size=200))
        if kind == "output":
            wire = b"%output " + pane.encode() + b" " + tmux_escape(data) + b"\n"
            return wire, Output(pane, data, None)
        age = draw(st.integers(0, 10**6))
        wire = b"%%extended-output %s %d : %s\n" % (pane.encode(), age, tmux_escape(data))
        return wire, Output(pane, data, age)
    if kind == "reply":
        t, n, f = draw(st.integers(0, 2**40)), draw(st.integers(0, 2**31)), draw(st.integers(0, 1))
        ok = draw(st.booleans())
        fields = b"%d %d %d" % (t, n, f)
        guard = (b"%end " if ok else b"%error ") + fields
        guards = (b"%end " + fields, b"%error " + fields)
        body = draw(st.lists(_body_line.filter(lambda b: b not in guards)))
        wire = b"%begin " + fields + b"\n" + b"".join(line + b"\n" for line in body) + guard + b"\n"
        return wire, Reply(t, n, f, ok, tuple(body))
    if kind == "note":
        name = draw(st.sampled_from(["window-renamed", "session-renamed", "window-add", "pause"]))
        chars = st.characters(blacklist_characters="\n", blacklist_categories=["Cs"])
        arg = draw(st.text(chars, max_size=20))
        if name in ("window-add", "pause"):
            arg = arg.replace(" ", "")
        if not arg:
            return b"%" + name.encode() + b"\n", Notification(name, ())
        first = "@1" if name != "session-renamed" else "$1"
        args = (arg,) if name in ("window-add", "pause") else (first, arg)
        return ("%" + name + " " + " ".join(args) + "\n").encode(), Notification(name, args)
    reason = draw(st.sampled_from(["", "detached", "server exited unexpectedly"]))
    return (b"%exit " + reason.encode() if reason else b"%exit") + b"\n", Exit(reason)


@settings(deadline=None)
@given(st.lists(_events(), max_size=20), st.lists(st.integers(0, 10**6), max_size=30))
def test_generated_stream_parses_to_its_events_in_any_chunking(
    items: list[tuple[bytes, Event]], cuts: list[int]
) -> None:
    wire = b"".join(w for w, _ in items)
    assert parse_chunks(split_at(wire, cuts)) == [e for _, e in items]


@settings(deadline=None)
@given(st.binary(max_size=2000), st.lists(st.integers(0, 2000), max_size=20))
def test_arbitrary_bytes_never_raise_and_chunking_does_not_matter(
    raw: bytes, cuts: list[int]
) -> None:
    assert parse_chunks(split_at(raw, cuts)) == parse(raw)


@settings(deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [b"%begin 1 2 1\n", b"%end 1 2 1\n", b"%output %1 x\n", b"x\n", b"%", b"\n"]
        )
    )
)
def test_protocol_shaped_noise_never_raises(pieces: list[bytes]) -> None:
    raw = b"".join(pieces)
    assert parse_chunks(split_every(raw, 1)) == parse(raw)


# --- PaneDecoders ---------------------------------------------------------


def test_character_split_across_calls_arrives_whole() -> None:
    decoders = PaneDecoders()
    encoded = "é🎉".encode()
    assert decoders.decode("%1", encoded[:1]) == ""
    assert decoders.decode("%1", encoded[1:4]) == "é"
    assert decoders.decode("%1", encoded[4:]) == "🎉"


def test_panes_have_independent_decoders() -> None:
    decoders = PaneDecoders()
    a, b = "日".encode(), "本".encode()
    assert decoders.decode("%1", a[:2]) == ""
    assert decoders.decode("%2", b[:1]) == ""
    assert decoders.decode("%1", a[2:]) == "日"
    assert decoders.decode("%2", b[1:]) == "本"


def test_invalid_bytes_become_replacement_characters() -> None:
    decoders = PaneDecoders()
    assert decoders.decode("%1", b"a\xffb\xc3(") == "a\ufffdb\ufffd("


def test_reset_drops_partial_character() -> None:
    decoders = PaneDecoders()
    assert decoders.decode("%1", "é".encode()[:1]) == ""
    decoders.reset("%1")
    assert decoders.decode("%1", b"x") == "x"
    decoders.reset("%9")  # unknown pane: nothing to do


def test_forget_releases_pane() -> None:
    decoders = PaneDecoders()
    decoders.decode("%1", "é".encode()[:1])
    decoders.forget("%1")
    decoders.forget("%1")
    assert decoders.decode("%1", b"x") == "x"


@given(st.text(), st.lists(st.integers(0, 4000), max_size=20))
def test_decoding_any_split_of_utf8_gives_the_text(text: str, cuts: list[int]) -> None:
    encoded = text.encode()  # st.text() has no lone surrogates
    decoders = PaneDecoders()
    assert "".join(decoders.decode("%1", c) for c in split_at(encoded, cuts)) == text


@given(st.binary(max_size=200), st.lists(st.integers(0, 200), max_size=10))
def test_decoding_arbitrary_bytes_matches_one_shot_decoding(data: bytes, cuts: list[int]) -> None:
    decoders = PaneDecoders()
    chunked = "".join(decoders.decode("%1", c) for c in split_at(data, cuts))
    chunked += decoders.decode("%1", b"x")  # completes or rejects a pending tail
    assert chunked == (data + b"x").decode("utf-8", "replace")

"""The tmux control-mode wire protocol, as a pure incremental parser.

Bytes from ``tmux -C`` go into :meth:`Parser.feed`; typed events come out.
There is no I/O here, so the parser is tested on byte transcripts recorded
from real tmux (``tests/fixtures/transcripts``), fed in arbitrary chunks.

The stream is a sequence of ``\\n``-terminated lines:

* ``%begin T N F`` … ``%end T N F`` (or ``%error T N F``) frame a command
  reply. The body is verbatim command output, so it can hold lines that look
  like guards or notifications; only a guard repeating T, N *and* F ends it.
* ``%output %P DATA`` and ``%extended-output %P AGE : DATA`` carry pane
  output with bytes below 0x20 and ``\\`` escaped as ``\\ooo`` octal.
* Every other ``%name args…`` line is a notification.

This module is the hot path of the relay (about 15 MB/s of wire data), so
lines are split and unescaped with bytes methods rather than byte by byte.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from typing import TypeAlias

__all__ = [
    "Event",
    "Exit",
    "Notification",
    "Output",
    "PaneDecoders",
    "Parser",
    "Reply",
    "parse_notification",
    "unescape_output",
]


@dataclass(frozen=True, slots=True)
class Output:
    """Output of one pane: one ``%output`` or ``%extended-output`` line."""

    pane: str
    data: bytes
    age_ms: int | None  # only for %extended-output (pause-after mode)


@dataclass(frozen=True, slots=True)
class Reply:
    """One ``%begin`` … ``%end``/``%error`` block.

    ``flags`` is 1 for a command we wrote on stdin (these arrive in the order
    they were written) and 0 for the attach command itself or hooks.
    """

    timestamp: int
    number: int
    flags: int
    ok: bool  # False for a %error block; its lines are the error text
    lines: tuple[bytes, ...]  # verbatim, without the trailing b"\n"


@dataclass(frozen=True, slots=True)
class Notification:
    """Any other ``%name …`` line, e.g. ``layout-change`` or ``pause``."""

    name: str  # without the '%'
    args: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Exit:
    """``%exit [reason]``: the control client is about to end."""

    reason: str


Event: TypeAlias = Output | Reply | Notification | Exit

# Notifications whose last field is free text (a window or session name can
# hold spaces): split into exactly this many fields so the text stays whole.
_FIELDS: dict[str, int] = {
    "window-renamed": 2,
    "unlinked-window-renamed": 2,
    "session-renamed": 2,
    "session-changed": 2,
    "client-session-changed": 3,
    "layout-change": 4,
    "window-pane-changed": 2,
    "session-window-changed": 2,
    "pane-mode-changed": 1,
    "window-add": 1,
    "window-close": 1,
    "unlinked-window-add": 1,
    "unlinked-window-close": 1,
    "pause": 1,
    "continue": 1,
    "client-detached": 1,
    "paste-buffer-changed": 1,
    "paste-buffer-deleted": 1,
}

_OUTPUT = b"%output "
_EXTENDED = b"%extended-output "
_BEGIN = b"%begin "
_GUARDS = frozenset((b"%begin", b"%end", b"%error"))

# "\ooo" -> byte, for every value tmux can write (000-377).
_OCTAL: dict[bytes, bytes] = {b"%03o" % i: bytes((i,)) for i in range(256)}

# The escapes that dominate real output, most frequent first. "\134" (the
# backslash itself) is deliberately absent: it must be replaced last.
_COMMON = tuple((b"\\" + b"%03o" % c, bytes((c,))) for c in (13, 10, 27, 9, 8, 7))


def unescape_output(payload: bytes) -> bytes:
    """Undo tmux's ``\\ooo`` escaping of ``%output`` data.

    tmux escapes exactly the bytes below 0x20 and the backslash, so every
    backslash in a payload starts one 4-byte escape, and no replacement but
    ``\\134`` produces a backslash. Chained ``bytes.replace`` calls for the
    common escapes are therefore exact, and ``\\134`` goes last. Only when
    some other escape remains do we fall back to a split on the backslashes.
    Malformed escapes (never sent by tmux) are kept verbatim; this never
    raises.
    """
    if b"\\" not in payload:
        return payload
    if _NOT_AN_ESCAPE.search(payload) is None:
        # Every backslash starts a well-formed byte escape: the C decoder is
        # exact here and 3x faster than the replace chain on coloured text
        # (and it cannot warn: no escape above \377 gets this far).
        return codecs.escape_decode(payload)[0]
    for escape, byte in _COMMON:
        payload = payload.replace(escape, byte)
    remaining = payload.count(b"\\")
    if remaining == 0:
        return payload
    if remaining == payload.count(b"\\134"):
        return payload.replace(b"\\134", b"\\")
    return _unescape_slow(payload)


_NOT_AN_ESCAPE = re.compile(rb"\\(?![0-3][0-7][0-7])")


def _unescape_slow(payload: bytes) -> bytes:
    """Resolve every escape, left to right; for rare control bytes."""
    head, *rest = payload.split(b"\\")
    out = [head]
    for part in rest:
        byte = _OCTAL.get(part[:3])
        out.append(b"\\" + part if byte is None else byte + part[3:])
    return b"".join(out)


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def parse_notification(line: bytes) -> Notification | Exit | None:
    """Parse one ``%name args…`` line (no trailing newline).

    Public because, on tmux 3.3a, the ``%pause``/``%continue`` caused by
    ``refresh-client -A`` is printed *inside* that command's reply block;
    the caller that sent it can run the reply's lines through this. Returns
    None for a line that does not start with ``%``.
    """
    if not line.startswith(b"%"):
        return None
    name, _, rest = _decode(line[1:]).partition(" ")
    if name == "exit":
        return Exit(rest)
    return Notification(name, _split_args(name, rest))


def _split_args(name: str, rest: str) -> tuple[str, ...]:
    """Split a notification's arguments, keeping a free-text tail whole."""
    if not rest:
        args: list[str] = []
    elif name == "subscription-changed":
        args = _split_subscription(rest)
    elif name in _FIELDS:
        args = rest.split(" ", _FIELDS[name] - 1)
    else:
        args = rest.split(" ")
    if name == "layout-change" and len(args) == 3:
        args.append("")  # flags missing: give callers a fixed arity
    return tuple(args)


def _split_subscription(rest: str) -> list[str]:
    """``NAME $S @W IDX %P : VALUE`` -> [NAME, $S, @W, IDX, %P, VALUE].

    The value follows the first " : " and may contain anything; the name
    comes first and takes whatever is left of the head after the four fixed
    fields (``-`` where tmux has no window or pane).
    """
    head, sep, value = rest.partition(" : ")
    if not sep:
        return rest.split(" ")
    return [*head.rsplit(" ", 4), value]


class _Block:
    """An open reply block: its guards and the body lines so far."""

    __slots__ = ("end", "error", "lines", "timestamp", "number", "flags")

    def __init__(self, timestamp: int, number: int, flags: int, fields: bytes) -> None:
        self.timestamp = timestamp
        self.number = number
        self.flags = flags
        # Guards are compared as bytes: tmux prints the same three numbers
        # with the same format on %begin and on %end/%error.
        self.end = b"%end " + fields
        self.error = b"%error " + fields
        self.lines: list[bytes] = []

    def reply(self, ok: bool) -> Reply:
        return Reply(self.timestamp, self.number, self.flags, ok, tuple(self.lines))


class Parser:
    """Incremental control-mode parser: bytes in, events out.

    Any chunking of the same byte stream yields the same events, in order.
    Malformed input never raises: a line outside a block that does not start
    with ``%`` is ignored, as are a ``%begin`` with non-numeric fields and a
    stray ``%end``/``%error``.
    """

    def __init__(self) -> None:
        self._partial = bytearray()  # an incomplete last line
        self._block: _Block | None = None
        self._panes: dict[bytes, str] = {}

    def feed(self, data: bytes) -> list[Event]:
        """Parse ``data`` and return the events of the lines it completed."""
        events: list[Event] = []
        if b"\n" not in data:
            self._partial += data  # no quadratic joins for tiny chunks
            return events
        lines = data.split(b"\n")
        if self._partial:
            self._partial += lines[0]
            lines[0] = bytes(self._partial)
            self._partial.clear()
        self._partial += lines.pop()
        # The hot loop: %output outside a block is handled inline.
        block = self._block
        append = events.append
        for line in lines:
            if block is not None:
                if line == block.end or line == block.error:
                    append(block.reply(line == block.end))
                    block = None
                else:
                    block.lines.append(line)
            elif line.startswith(_OUTPUT):
                space = line.find(b" ", 8)
                if space < 0:
                    space = len(line)
                append(Output(self._pane(line[8:space]), unescape_output(line[space + 1 :]), None))
            else:
                block = self._other(line, events)
        self._block = block
        return events

    def close(self) -> list[Event]:
        """End of stream: parse an unterminated last line, drop an open block."""
        events = self.feed(b"\n") if self._partial else []
        self._block = None
        return events

    def _pane(self, raw: bytes) -> str:
        """Pane ids repeat on every line; decode each one once."""
        pane = self._panes.get(raw)
        if pane is None:
            if len(self._panes) > 4096:  # hostile input: stay bounded
                self._panes.clear()
            pane = self._panes[raw] = _decode(raw)
        return pane

    def _other(self, line: bytes, events: list[Event]) -> _Block | None:
        """Any line outside a block except %output; returns a newly opened block."""
        if line.startswith(_EXTENDED):
            events.append(_extended_output(line))
        elif line.startswith(_BEGIN):
            return _open_block(line[7:])
        elif line.split(b" ", 1)[0] in _GUARDS:
            pass  # a guard without its %begin, or a bare "%begin"
        else:
            event = parse_notification(line)
            if event is not None:
                events.append(event)
        return None


def _extended_output(line: bytes) -> Output:
    """``%extended-output %P AGE [more fields] : DATA``."""
    head, _, payload = line[17:].partition(b" : ")
    fields = head.split(b" ")
    age = _integer(fields[1]) if len(fields) > 1 else None
    return Output(_decode(fields[0]), unescape_output(payload), age)


def _integer(field: bytes) -> int | None:
    """A non-negative decimal field, or None (never raises, even on 5000 digits)."""
    if not field.isdigit() or len(field) > 20:
        return None
    return int(field)


def _open_block(fields: bytes) -> _Block | None:
    """Start a block from ``%begin``'s fields, or None if they are malformed."""
    parts = [_integer(part) for part in fields.split(b" ")]
    if len(parts) != 3:
        return None
    timestamp, number, flags = parts
    if timestamp is None or number is None or flags is None:
        return None
    return _Block(timestamp, number, flags, fields)


class PaneDecoders:
    """One incremental UTF-8 decoder per pane (errors="replace").

    tmux cuts ``%output`` lines at arbitrary byte positions, often inside a
    multi-byte character, so each pane keeps its own pending partial
    character until the next chunk completes it.
    """

    def __init__(self) -> None:
        self._decoders: dict[str, codecs.IncrementalDecoder] = {}
        self._factory = codecs.getincrementaldecoder("utf-8")

    def decode(self, pane: str, data: bytes) -> str:
        """Decode ``data``; a character split across calls arrives whole."""
        decoder = self._decoders.get(pane)
        if decoder is None:
            decoder = self._decoders[pane] = self._factory(errors="replace")
        return decoder.decode(data)

    def reset(self, pane: str) -> None:
        """Drop a pane's pending partial character (e.g. before a re-capture)."""
        decoder = self._decoders.get(pane)
        if decoder is not None:
            decoder.reset()

    def forget(self, pane: str) -> None:
        """Release a closed pane's decoder."""
        self._decoders.pop(pane, None)

"""The private seams into dependencies that tmuxweb keeps (DATA-FLOW.md,
"Private hooks"), checked against the installed versions: each test fails
when upstream renames, re-signs or stops calling what the hook relies on,
where the hook would otherwise silently stop running. uvicorn's are in
test_httpproto.py."""

from __future__ import annotations

import inspect

from sse_starlette import EventSourceResponse

from tmuxweb.stream import EventStream

# -- sse-starlette: stream.EventStream --------------------------------------------------


def test_sse_starlette_still_sends_every_chunk_through_the_methods_event_stream_overrides() -> None:
    """EventStream replaces the per-send cancel scope with one watchdog by
    overriding `_send_with_timeout` (each send) and `_stream_response` (the
    body loop, where the watchdog runs). If either is renamed or no longer
    called, sse-starlette's own per-send scope comes back (or no stall rule
    at all), with no error."""
    for name in ("_send_with_timeout", "_stream_response"):
        theirs = getattr(EventSourceResponse, name, None)
        assert theirs is not None, f"sse-starlette has no {name} any more"
        ours = inspect.signature(getattr(EventStream, name))
        assert ours.parameters.keys() == inspect.signature(theirs).parameters.keys(), name
    assert "self._send_with_timeout(" in inspect.getsource(EventSourceResponse._stream_response)
    assert "self._stream_response(" in inspect.getsource(EventSourceResponse.__call__)
    # EventStream sets it as sse-starlette does, so that a stalled stream
    # does not try to send a closing chunk after it.
    assert "self._send_interrupted" in inspect.getsource(EventSourceResponse.__call__)

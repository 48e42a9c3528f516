"""The pane state machine, fed inputs with their times (no clock, no tmux)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from hypothesis import given
from hypothesis import strategies as st

from tmuxweb.panestates import ATTENTION, PaneMachine, Read, scan_bell, screen_hash

SETTLE, IDLE, STICKY = 0.5, 30.0, 2.0


@dataclass(frozen=True)
class FakeRule:
    name: str = "fake"
    tool: str = "Fake"
    min_busy: float = 0.0


@dataclass(frozen=True)
class FakeChoice:
    label: str
    keys: tuple[str, ...]


@dataclass(frozen=True)
class FakeMatch:
    state: Literal["waiting", "done"] = "waiting"
    rule: FakeRule = field(default_factory=FakeRule)
    question: str = "Proceed?"
    choices: tuple[FakeChoice, ...] = (FakeChoice("Yes", ("y",)), FakeChoice("No", ("n",)))


PROMPT = ("working...", "", "Proceed? (y/n)")
SHELL = ("$ make", "ok", "$")


def machine(now: float = 0.0) -> PaneMachine:
    return PaneMachine(now, SETTLE, IDLE, STICKY)


def test_a_new_pane_is_idle() -> None:
    m = machine()
    assert m.state == "idle" and m.due() is None


def test_output_makes_a_resting_pane_work_and_nothing_more_while_it_works() -> None:
    m = machine()
    assert m.output(1.0, "a") is True
    assert (m.state, m.since) == ("working", 1.0)
    for t in range(2, 200):
        assert m.output(t / 10 + 1, "busy line\r\n") is False
    assert m.state == "working" and m.since == 1.0


def test_output_asks_for_a_read_only_once_it_settles() -> None:
    m = machine()
    m.output(1.0, "a")
    m.output(1.3, "b")
    assert m.due() == 1.3 + SETTLE
    assert not m.needs_read(1.5)
    assert m.needs_read(1.8)


def test_quiet_with_no_rule_stays_working_then_goes_idle_after_idle_after() -> None:
    m = machine()
    m.output(1.0, "a")
    assert m.read(1.5, Read(("a",))) is True  # the preview changed
    assert m.state == "working"
    assert m.due() == 1.0 + IDLE
    assert m.tick(1.0 + IDLE - 0.1) is False
    assert m.tick(1.0 + IDLE) is True
    assert (m.state, m.since) == ("idle", 1.0 + IDLE)


def test_a_waiting_rule_makes_it_waiting_with_the_prompt_and_screen_hash() -> None:
    m = machine()
    m.output(1.0, "x")
    assert m.read(1.5, Read(PROMPT, FakeMatch())) is True
    assert m.state == "waiting"
    assert m.prompt is not None and m.prompt.labels == ("Yes", "No") and m.prompt.keys == (("y",), ("n",))
    assert m.screen == screen_hash(PROMPT, 1.5)
    assert m.tick(1000.0) is False and m.state == "waiting"


def test_waiting_is_sticky_while_typing_echoes_and_left_once_the_prompt_is_gone() -> None:
    m = machine()
    m.output(1.0, "x")
    m.read(1.5, Read(PROMPT, FakeMatch()))
    assert m.output(2.0, "y") is False and m.state == "waiting"
    # The same prompt still there: nothing changed, no event.
    assert m.read(2.5, Read(PROMPT, FakeMatch())) is False
    m.output(3.0, "answered")
    assert m.read(3.5, Read(("answered",))) is True
    assert m.state == "working" and m.prompt is None and m.screen == ""


def test_the_same_prompt_asked_again_after_working_gets_another_hash() -> None:
    m = machine()
    m.output(1.0, "x")
    m.read(1.5, Read(PROMPT, FakeMatch()))
    first = m.screen
    m.output(2.0, "1")
    m.read(2.5, Read(("answered",)))
    m.output(3.0, "again")
    m.read(3.5, Read(PROMPT, FakeMatch()))
    assert m.state == "waiting" and m.screen != first


def test_an_answer_ends_waiting_and_the_same_prompt_again_is_a_new_question() -> None:
    m = machine()
    m.output(1.0, "x")
    m.read(1.5, Read(PROMPT, FakeMatch()))
    first = m.screen
    assert m.answered(2.0) is True
    assert (m.state, m.prompt, m.screen) == ("working", None, "")
    assert m.due() == 2.0 + SETTLE
    assert m.read(2.5, Read(PROMPT, FakeMatch())) is True
    assert m.state == "waiting" and m.screen not in ("", first)


def test_a_waiting_pane_that_keeps_printing_is_read_after_sticky_wait() -> None:
    m = machine()
    m.output(1.0, "x")
    m.read(1.5, Read(PROMPT, FakeMatch()))
    for i in range(40):
        m.output(2.0 + i * 0.1, "spinner\r")
    assert m.due() == 2.0 + STICKY
    assert m.needs_read(4.0)


def test_done_honours_min_busy() -> None:
    m = machine()
    done = FakeMatch("done", FakeRule("shell", "shell", 10.0), "", ())
    m.output(1.0, "$ make\r\n")
    m.output(5.0, "$ ")
    # Busy 4 s: the rule does not count (even if the rules said so).
    m.read(5.5, Read(SHELL, done, resting=True))
    assert m.state == "working"
    m.output(6.0, "$ sleep 20\r\n")
    m.output(26.0, "$ ")
    assert m.busy_for() == 20.0
    m.read(26.5, Read(SHELL, done, resting=True))
    assert m.state == "done"


def test_a_silent_command_longer_than_idle_after_still_counts_as_busy() -> None:
    m = machine()
    m.output(1.0, "$ sleep 100\r\n")
    m.read(1.5, Read(("$ sleep 100",)))  # no prompt on screen: not resting
    m.tick(1.0 + IDLE)
    assert m.state == "idle"
    m.output(101.0, "$ ")
    assert m.state == "working" and m.busy_for() == 100.0


def test_a_prompt_on_screen_ends_the_busy_period() -> None:
    m = machine()
    m.output(1.0, "$ ls\r\nfile\r\n$ ")
    m.read(1.5, Read(SHELL, resting=True))
    m.output(50.0, "$ true\r\n$ ")
    assert m.busy_for() == 0.0


def test_bell_outside_osc_rings_and_a_title_does_not() -> None:
    m = machine()
    assert m.output(1.0, "\x1b]0;my title\x07") is True
    assert m.state == "working"
    assert m.output(1.1, "ding\x07") is True
    assert (m.state, m.since) == ("bell", 1.1)
    # Quiet, no rule: the bell stands.
    m.read(1.6, Read(("ding",)))
    assert m.state == "bell"
    # Output after it settles into working.
    assert m.output(5.0, "more") is False
    m.read(5.5, Read(("more",)))
    assert m.state == "working"


def test_a_prompt_that_rings_is_waiting() -> None:
    m = machine()
    m.output(1.0, "x\x07")
    assert m.state == "bell"
    m.read(1.5, Read(PROMPT, FakeMatch()))
    assert m.state == "waiting"
    assert m.output(2.0, "\x07") is False and m.state == "waiting"


def test_bell_in_an_osc_split_across_chunks_is_a_terminator() -> None:
    m = machine()
    m.output(1.0, "\x1b]2;long ti")
    m.output(1.1, "tle\x07")
    assert m.state == "working"


@given(st.lists(st.sampled_from(["a", "\x1b]0;t", "\x07", "\x1b\\", "\x1b[0m", "\x1b", "b\r\n"]), max_size=12))
def test_scan_bell_is_the_same_however_the_output_is_split(parts: list[str]) -> None:
    text = "".join(parts)
    whole, _ = scan_bell(text, False)
    rang, in_osc = False, False
    for part in parts:
        r, in_osc = scan_bell(part, in_osc)
        rang = rang or r
    assert rang == whole


def test_exited_with_status_and_back_to_work_when_respawned() -> None:
    m = machine()
    m.output(1.0, "bye")
    assert m.read(1.5, Read(("bye",), dead=True, dead_status=3)) is True
    assert (m.state, m.exit_status, m.gone) == ("exited", 3, False)
    assert m.due() is None
    m.output(10.0, "again")
    assert m.state == "working" and m.exit_status is None


def test_died_from_the_structure_without_a_read() -> None:
    m = machine()
    assert m.died(2.0, 0) is True
    assert (m.state, m.exit_status) == ("exited", 0)
    assert m.died(3.0, 0) is False


def test_gone() -> None:
    m = machine()
    m.output(1.0, "x")
    m.read(1.5, Read(PROMPT, FakeMatch()))
    assert m.vanished(2.0) is True
    assert (m.state, m.gone, m.exit_status, m.prompt) == ("exited", True, None, None)
    assert m.vanished(3.0) is False and m.due() is None


def test_preview_keeps_the_last_eight_non_empty_lines() -> None:
    m = machine()
    m.read(1.0, Read(tuple(f"line {i}" for i in range(20)) + ("", "")))
    assert m.lines == tuple(f"line {i}" for i in range(12, 20))


def test_attention_order() -> None:
    assert ATTENTION == ("waiting", "bell", "exited", "done", "working", "idle")


@given(st.lists(st.floats(min_value=0.001, max_value=0.4), min_size=1, max_size=50))
def test_no_transition_while_output_keeps_coming(gaps: list[float]) -> None:
    m = machine()
    t = 1.0
    m.output(t, "start")
    changes = 0
    for gap in gaps:
        t += gap
        changes += m.output(t, "busy\r\n")
        assert not m.needs_read(t) and not m.tick(t)
    assert changes == 0 and m.state == "working"

"""The dispatcher's decisions, with constructed transitions and a clock the
test moves: debounce, collapse, nothing while working, seen clears, and the
content policy (attacked: screen text must not leak under `none`)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace

import pytest

from tmuxweb.notify import MAX_BODY, MAX_TITLE, Cleared, Dispatcher, Notice, clean, compose, tag_of

SECRET = "hunter2-SECRET"


@dataclass(frozen=True)
class Choice:
    label: str


@dataclass(frozen=True)
class Prompt:
    question: str
    choices: list[Choice] = field(default_factory=list)


@dataclass(frozen=True)
class State:
    pane: str = "%3"
    session: str = "$1"
    session_name: str = "main"
    window: str = "@2"
    window_index: int = 1
    state: str = "working"
    title: str = ""
    command: str = "claude"
    prompt: Prompt | None = None
    exit_status: int | None = None
    lines: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Transition:
    pane_state: State
    previous: str | None


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def dispatcher(clock: Clock, content: str = "none", debounce: float = 2.0, collapse: float = 60.0) -> Dispatcher:
    return Dispatcher(debounce, collapse, content, clock, wall=lambda: 1.7e9)  # type: ignore[arg-type]


def go(d: Dispatcher, state: str, previous: str | None = "working", **fields: object) -> None:
    d.transition(Transition(State(state=state, **fields), previous))  # type: ignore[arg-type]


def test_a_state_that_lasts_the_debounce_is_notified_once(clock: Clock) -> None:
    d = dispatcher(clock)
    go(d, "waiting")
    assert d.due() == []
    assert d.next_due() == 1002.0
    clock.now += 1.99
    assert d.due() == []
    clock.now += 0.01
    [n] = d.due()
    assert (n.pane, n.session, n.state, n.tag, n.at) == ("%3", "$1", "waiting", tag_of("%3"), 1.7e9)
    clock.now += 100
    assert d.due() == [] and d.next_due() is None


@pytest.mark.parametrize("state", ["waiting", "done", "bell", "exited"])
def test_every_attention_state_is_notified(clock: Clock, state: str) -> None:
    d = dispatcher(clock)
    go(d, state)
    clock.now += 2
    assert [n.state for n in d.due()] == [state]


@pytest.mark.parametrize("state", ["working", "idle"])
def test_working_and_idle_are_never_notified(clock: Clock, state: str) -> None:
    d = dispatcher(clock)
    go(d, state, previous="waiting")
    clock.now += 100
    assert d.due() == []


def test_a_state_left_within_the_debounce_is_not_notified(clock: Clock) -> None:
    d = dispatcher(clock)
    go(d, "waiting")
    clock.now += 1
    go(d, "working", previous="waiting")
    clock.now += 10
    assert d.due() == []


def test_nothing_while_a_pane_keeps_working(clock: Clock) -> None:
    """An agent that flickers to a prompt-like screen for a moment between
    bursts of work (each shorter than the debounce) is never notified."""
    d = dispatcher(clock)
    for _ in range(50):
        go(d, "waiting", previous="working")
        clock.now += 0.5
        go(d, "working", previous="waiting")
        clock.now += 3
        assert d.due() == []


def test_the_first_state_of_a_pane_is_not_news(clock: Clock) -> None:
    d = dispatcher(clock)
    go(d, "waiting", previous=None)
    clock.now += 10
    assert d.due() == []


def test_same_state_again_collapses_into_the_unseen_notification(clock: Clock) -> None:
    d = dispatcher(clock, collapse=60)
    go(d, "waiting")
    clock.now += 2
    assert len(d.due()) == 1
    go(d, "working", previous="waiting")
    clock.now += 5
    go(d, "waiting")
    clock.now += 2
    assert d.due() == []  # 9 s after the first: collapsed
    go(d, "working", previous="waiting")
    clock.now += 60
    go(d, "waiting")
    clock.now += 2
    assert len(d.due()) == 1  # past the window: news again


def test_another_state_of_the_same_pane_is_notified_and_replaces(clock: Clock) -> None:
    d = dispatcher(clock)
    go(d, "waiting")
    clock.now += 2
    [first] = d.due()
    go(d, "working", previous="waiting")
    clock.now += 5
    go(d, "done")
    clock.now += 2
    [second] = d.due()
    assert second.state == "done" and second.tag == first.tag and second.id != first.id


def test_panes_are_independent(clock: Clock) -> None:
    d = dispatcher(clock)
    go(d, "waiting", pane="%1")
    clock.now += 1
    go(d, "bell", pane="%2")
    clock.now += 1
    assert [n.pane for n in d.due()] == ["%1"]
    clock.now += 1
    assert [n.pane for n in d.due()] == ["%2"]


def test_seen_clears_the_notification_and_resets_collapse(clock: Clock) -> None:
    d = dispatcher(clock)
    assert d.seen("%3") == []
    go(d, "waiting")
    clock.now += 2
    [n] = d.due()
    assert d.seen("%3") == [Cleared("%3", n.tag)]
    assert d.seen("%3") == []  # once
    go(d, "working", previous="waiting")
    clock.now += 1
    go(d, "waiting")
    clock.now += 2
    assert len(d.due()) == 1  # looked at since: a new question is news


def test_seen_during_the_debounce_cancels_it(clock: Clock) -> None:
    d = dispatcher(clock)
    go(d, "waiting")
    clock.now += 1
    assert d.seen("%3") == []
    clock.now += 5
    assert d.due() == []


# -- the content policy -------------------------------------------------------------


def hostile_state(**fields: object) -> State:
    base = State(
        state="waiting",
        title=f"title {SECRET}",
        command="claude",
        prompt=Prompt(f"Run rm -rf {SECRET}?", [Choice("Yes"), Choice(f"No, {SECRET}")]),
        lines=[f"password: {SECRET}"],
    )
    return replace(base, **fields)  # type: ignore[arg-type]


def notice_for(clock: Clock, content: str, state: State) -> Notice:
    d = dispatcher(clock, content=content)
    d.transition(Transition(state, "working"))  # type: ignore[arg-type]
    clock.now += 2
    [n] = d.due()
    return n


def test_content_none_carries_no_screen_text(clock: Clock) -> None:
    """The default: neither the title a program set, nor the question, nor
    the choices, nor the command reach a notification."""
    n = notice_for(clock, "none", hostile_state(command=f"cmd-{SECRET}"))
    wire = json.dumps(asdict(n))
    assert SECRET not in wire
    assert "main:1" in n.title and "needs you" in n.title


def test_content_title_carries_title_and_command_but_not_the_prompt(clock: Clock) -> None:
    n = notice_for(clock, "title", hostile_state())
    assert SECRET in n.title and "claude" in n.body
    assert "rm -rf" not in json.dumps(asdict(n)) and "No," not in n.body


def test_content_prompt_carries_the_question_and_labels(clock: Clock) -> None:
    n = notice_for(clock, "prompt", hostile_state())
    assert f"Run rm -rf {SECRET}?" in n.body and "Yes / No," in n.body


def test_screen_lines_never_leave_under_any_policy(clock: Clock) -> None:
    for content in ("none", "title", "prompt"):
        n = notice_for(clock, content, hostile_state(title="t", prompt=Prompt("q?")))
        assert "password" not in json.dumps(asdict(n)), content


def test_exit_status_is_said_without_screen_text(clock: Clock) -> None:
    n = notice_for(clock, "none", hostile_state(state="exited", exit_status=3))
    assert "exited (status 3)" in n.title and SECRET not in n.title + n.body


def test_program_text_is_cleaned_and_bounded() -> None:
    assert clean("a\x1b[31mb\x07c\u202edef\u2066\nz", 100) == "a [31mb c def z"
    title, body = compose(
        hostile_state(title="T" * 1000, prompt=Prompt("Q" * 5000, [Choice("L" * 500)] * 16)),  # type: ignore[arg-type]
        "prompt",
    )
    assert len(title) <= MAX_TITLE and len(body) <= MAX_BODY


def test_remembered_panes_are_bounded(clock: Clock) -> None:
    d = dispatcher(clock)
    for i in range(3000):
        go(d, "exited", pane=f"%{i}")
    assert len(d._panes) <= 1000


def test_the_trackers_own_types_drive_the_dispatcher(clock: Clock) -> None:
    """The Protocols above, met by states.Transition and messages.PaneState."""
    from tmuxweb import messages as m
    from tmuxweb.states import Transition as RealTransition

    prompt = m.PanePrompt(rule="r", tool="Tool", question=f"Allow {SECRET}?", choices=[m.PromptChoice(label="Yes")])
    state = m.PaneState(
        pane="%7", session="$2", session_name="work", window="@4", window_index=3, state="waiting", since=1.0,
        title=SECRET, command="codex", lines=[SECRET], prompt=prompt, screen="h", exit_status=None, gone=False,
        version=9,
    )
    d = dispatcher(clock, content="prompt")
    d.transition(RealTransition(state, "working"))
    clock.now += 2
    [n] = d.due()
    assert (n.pane, n.session, n.state) == ("%7", "$2", "waiting")
    assert f"Allow {SECRET}?" in n.body and "work:3" in n.body

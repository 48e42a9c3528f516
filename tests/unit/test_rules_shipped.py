"""The shipped rules (tmuxweb/rules/agents.toml) against screens
reconstructed from each tool's own prompt texts (tests/fixtures/screens/,
whose README says where each wording comes from): what matches, the
question, the choices with their keys, and the near-misses that must not."""

from __future__ import annotations

from pathlib import Path

import pytest

from tmuxweb.rules import NAMED_KEYS, Rules, load_rules

SCREENS = Path(__file__).resolve().parents[1] / "fixtures" / "screens"
RULES = load_rules()

# An agent's pane_current_command depends on how it was installed (node,
# claude, codex, python3 …): the agents' rules do not look at it.
AGENT = "node"


def screen(name: str) -> list[str]:
    return (SCREENS / name).read_text(encoding="utf-8").splitlines()


def choices(name: str, command: str = AGENT, busy_for: float = 30.0) -> list[tuple[str, tuple[str, ...]]]:
    found = RULES.match(screen(name), command, busy_for)
    assert found is not None, name
    return [(c.label, c.keys) for c in found.choices]


# Questions no button could answer: the person is told, and opens the pane.
NO_BUTTONS = {"claude-question-multi"}

WAITING = [
    # (screen, rule, question)
    ("claude-bash-permission.txt", "claude-permission", "Do you want to proceed?"),
    ("claude-edit-permission.txt", "claude-permission", "Do you want to make this edit to hello.txt?"),
    ("claude-permission-boxed.txt", "claude-permission", "Do you want to make this edit to app.py?"),
    ("claude-ask-question.txt", "claude-question", "How wide should the shared-jump wiring be?"),
    ("claude-ask-multi-select.txt", "claude-question-multi", "Which fruits should I buy?"),
    ("codex-exec-approval.txt", "codex-approval", "Would you like to run the following command?"),
    ("codex-patch-approval.txt", "codex-approval", "Would you like to make the following edits?"),
    ("gemini-exec-confirm.txt", "gemini-confirm", "Allow execution of: 'npm'?"),
    ("gemini-edit-confirm.txt", "gemini-confirm", "Apply this change?"),
    ("aider-add-file.txt", "aider-confirm-all", "Add file to the chat?"),
    ("aider-run-shell.txt", "aider-confirm-never", "Run shell command?"),
    ("aider-run-shell-commands.txt", "aider-confirm-skip", "Run shell commands?"),
    ("aider-install-playwright.txt", "aider-confirm", "Install playwright?"),
    ("shell-apt-continue.txt", "shell-y-n", "Do you want to continue? [Y/n]"),
    ("shell-ssh-host-key.txt", "shell-yes-no-words", "Are you sure you want to continue connecting (yes/no/[fingerprint])?"),
    ("shell-press-enter.txt", "shell-press-enter", "Press ENTER to continue"),
]


@pytest.mark.parametrize(("name", "rule", "question"), WAITING, ids=[w[0] for w in WAITING])
def test_a_prompt_screen_is_waiting_with_its_question(name: str, rule: str, question: str) -> None:
    for command in (AGENT, "bash", "python3"):
        found = RULES.match(screen(name), command, 0.0)
        assert found is not None, (name, command)
        assert (found.rule.name, found.state, found.question) == (rule, "waiting", question)
        assert found.choices or rule in NO_BUTTONS, name


def test_claude_code_choices_are_its_numbered_options() -> None:
    assert choices("claude-bash-permission.txt") == [
        ("Yes", ("1",)),
        ("Yes, and don't ask again for npm test commands in /home/dev/src/shop", ("2",)),
        ("No, and tell Claude what to do differently", ("3",)),
    ]
    # The pointer on option 2 (an arrow key was pressed) changes nothing.
    assert choices("claude-edit-permission.txt") == [
        ("Yes", ("1",)),
        ("Yes, allow all edits during this session", ("2",)),
        ("No", ("3",)),
    ]


def test_claude_code_questions_offer_only_the_options_a_digit_answers() -> None:
    # "Type something." opens a text field, "Chat about this" leaves.
    assert choices("claude-ask-question.txt") == [("Uniform (Recommended)", ("1",)), ("Minimal", ("2",))]
    # With several answers a digit only ticks a row: no buttons at all.
    assert choices("claude-ask-multi-select.txt") == []


def test_numbered_lines_above_the_question_are_not_choices() -> None:
    # The boxed dialog shows a diff whose lines start "1." and "2.".
    assert choices("claude-permission-boxed.txt") == [
        ("Yes", ("1",)),
        ("Yes, and don't ask again this session", ("2",)),
        ("No, and tell Claude what to do differently", ("3",)),
    ]


def test_codex_choices_drop_the_shortcut_hint_from_the_label() -> None:
    assert choices("codex-exec-approval.txt") == [
        ("Yes, proceed", ("1",)),
        ("Yes, and don't ask again for commands that start with `open /tmp`", ("2",)),
        ("No, and tell Codex what to do differently", ("3",)),
    ]
    assert choices("codex-patch-approval.txt") == [
        ("Yes, proceed", ("1",)),
        ("No, and tell Codex what to do differently", ("2",)),
    ]


def test_gemini_choices_follow_the_question() -> None:
    assert choices("gemini-exec-confirm.txt") == [
        ("Yes, allow once", ("1",)),
        ("Yes, allow always ...", ("2",)),
        ("No, suggest changes", ("3",)),
    ]
    assert [label for label, _ in choices("gemini-edit-confirm.txt")] == [
        "Yes, allow once", "Yes, allow always", "Modify with external editor", "No, suggest changes",
    ]


def test_aider_offers_exactly_the_answers_its_question_takes() -> None:
    assert choices("aider-add-file.txt") == [
        ("Yes", ("y", "Enter")),
        ("No", ("n", "Enter")),
        ("All", ("a", "Enter")),
        ("Skip all", ("s", "Enter")),
        ("Don't ask again", ("d", "Enter")),
    ]
    # Several commands: a group, but one that has to be said yes to one by one.
    assert choices("aider-run-shell-commands.txt") == [
        ("Yes", ("y", "Enter")),
        ("No", ("n", "Enter")),
        ("Skip all", ("s", "Enter")),
        ("Don't ask again", ("d", "Enter")),
    ]
    assert choices("aider-run-shell.txt") == [("Yes", ("y", "Enter")), ("No", ("n", "Enter")), ("Don't ask again", ("d", "Enter"))]
    assert choices("aider-install-playwright.txt") == [("Yes", ("y", "Enter")), ("No", ("n", "Enter"))]


def test_shell_questions_send_what_they_ask_for() -> None:
    assert choices("shell-apt-continue.txt", "apt-get") == [("Yes", ("y", "Enter")), ("No", ("n", "Enter"))]
    assert choices("shell-ssh-host-key.txt", "ssh") == [("Yes", ("yes", "Enter")), ("No", ("no", "Enter"))]
    assert choices("shell-press-enter.txt", "install.sh") == [("Continue", ("Enter",))]


def test_claude_at_its_input_box_after_working_is_done() -> None:
    found = RULES.match(screen("claude-idle.txt"), AGENT, 30.0)
    assert found is not None
    assert (found.rule.name, found.state, found.question, found.choices) == ("claude-idle", "done", "Hello there friend.", ())
    # A turn shorter than the rule's min_busy is nothing to report.
    assert RULES.match(screen("claude-idle.txt"), AGENT, 2.0) is None


def test_a_shell_back_at_its_prompt_after_a_long_command_is_done() -> None:
    found = RULES.match(screen("shell-prompt-after-build.txt"), "bash", 12.0)
    assert found is not None and (found.rule.name, found.state) == ("shell-prompt", "done")
    assert RULES.match(screen("shell-prompt-after-build.txt"), "bash", 9.0) is None  # a short command
    assert RULES.match(screen("shell-prompt-after-build.txt"), "make", 12.0) is None  # not the shell's prompt


NOT_WAITING = [
    # The same tools while they work: their input box or composer is drawn,
    # with a spinner.
    "claude-working.txt",
    "codex-working.txt",
    "gemini-working.txt",
    # An answered aider question, scrolled up under more output.
    "aider-answered.txt",
    # Screens that merely mention the words: Claude's own answer asking a
    # question in prose (its input box under it), and grep output full of
    # "Do you want", "[y/N]", "❯ 1. Yes" and "Press ENTER to continue".
    "claude-answer-mentions-do-you-want.txt",
    "shell-output-mentions-questions.txt",
    # A shell prompt is never a question.
    "shell-prompt-after-build.txt",
    "claude-idle.txt",
]


@pytest.mark.parametrize("name", NOT_WAITING)
@pytest.mark.parametrize("command", [AGENT, "bash", "python3"])
def test_near_misses_are_not_waiting(name: str, command: str) -> None:
    for busy_for in (0.0, 3600.0):
        found = RULES.match(screen(name), command, busy_for)
        assert found is None or found.state == "done", (name, found and found.rule.name)


@pytest.mark.parametrize("name", ["claude-working.txt", "codex-working.txt", "gemini-working.txt", "aider-answered.txt"])
def test_a_tool_at_work_matches_nothing_at_all(name: str) -> None:
    for command in (AGENT, "bash", "python3"):
        assert RULES.match(screen(name), command, 3600.0) is None


def test_the_prose_question_is_refused_by_the_input_box_under_it() -> None:
    # Without `unless`, claude-permission's pattern alone would take it.
    (rule,) = [r for r in RULES.rules if r.name == "claude-permission"]
    window = "\n".join(screen("claude-answer-mentions-do-you-want.txt"))
    assert rule.pattern.search(window) is not None
    assert rule.match(window) is None
    found = RULES.match(screen("claude-answer-mentions-do-you-want.txt"), AGENT, 30.0)
    assert found is not None and found.rule.name == "claude-idle"


def test_the_waiting_screens_are_only_waiting_for_their_own_tool() -> None:
    # Each tool's screen is taken by that tool's rule alone: try every
    # rule by itself on every screen.
    for name, rule, _ in WAITING:
        takers = [r.name for r in RULES.rules if r.state == "waiting" and Rules([r]).match(screen(name), AGENT, 0.0)]
        assert takers[0] == rule, (name, takers)
        assert all(t.split("-")[0] == rule.split("-")[0] for t in takers), (name, takers)


def test_every_shipped_rule_is_tested_on_a_screen() -> None:
    tested = {rule for _, rule, _ in WAITING} | {"claude-idle", "shell-prompt"}
    assert tested == {r.name for r in RULES.rules}


def test_every_shipped_key_is_a_named_key_or_printable_text() -> None:
    for rule in RULES.rules:
        for choice in rule.choices:
            for key in choice.keys:
                assert key in NAMED_KEYS or key.isprintable(), (rule.name, key)


def test_every_screen_file_is_used_and_described_in_the_readme() -> None:
    used = {w[0] for w in WAITING} | set(NOT_WAITING)
    files = {p.name for p in SCREENS.glob("*.txt")}
    assert used <= files and files <= used, files ^ used
    readme = (SCREENS / "README.md").read_text(encoding="utf-8")
    for name in files:
        assert name in readme, name

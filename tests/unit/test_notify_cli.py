"""The notification options: parsed into Config, bad values refused with
one line, as every option is."""

from __future__ import annotations

import pytest

from tmuxweb.cli import UsageError, parse_config
from tmuxweb.config import PUSH_SERVICES


def test_defaults_say_nothing_and_run_nothing() -> None:
    config, _ = parse_config([])
    assert (config.notify_content, config.notify_command, config.notify_debounce) == ("none", (), 2.0)
    assert config.push_services == PUSH_SERVICES and config.push_loopback_http is False


def test_options_reach_the_config() -> None:
    config, _ = parse_config(
        [
            "--notify-content", "prompt",
            "--notify-debounce", "5",
            "--notify-collapse", "120",
            "--notify-command", "ntfy publish --title 'tmux web' mytopic",
            "--push-subject", "https://example.com/contact",
            "--push-service", "Push.Example.org",
        ]
    )
    assert config.notify_content == "prompt"
    assert (config.notify_debounce, config.notify_collapse) == (5.0, 120.0)
    assert config.notify_command == ("ntfy", "publish", "--title", "tmux web", "mytopic")
    assert config.push_subject == "https://example.com/contact"
    assert config.push_services[-1] == "push.example.org"


@pytest.mark.parametrize(
    "argv",
    [
        ["--notify-content", "everything"],
        ["--notify-debounce", "0"],
        ["--notify-command", ""],
        ["--notify-command", "curl 'unbalanced"],
        ["--push-service", "localhost"],
        ["--push-service", "10.0.0.1:443"],
        ["--push-service", "https://push.example.org"],
        ["--push-subject", "tmuxweb"],
        ["--push-subject", "mailto:nobody"],
    ],
)
def test_bad_values_are_refused(argv: list[str]) -> None:
    with pytest.raises(UsageError):
        parse_config(argv)

"""--notify-command with real programs: one that records what it got, one
that fails, one that hangs (and starts a child), one that does not exist;
the notifier keeps going through all of them and never runs a shell."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tmuxweb.cli import parse_config
from tmuxweb.config import Config, Secret
from tmuxweb.messages import check_event
from tmuxweb.notify import Notifier

RECORDER = """\
import json, os, sys
event = json.loads(sys.stdin.read())
out = os.path.join({out!r}, event["pane"].lstrip("%") + "-" + event["id"] + ".json")
with open(out + ".tmp", "w") as f:
    json.dump({{"event": event, "argv": sys.argv[1:]}}, f)
os.rename(out + ".tmp", out)
"""

FAILING = """\
import sys
sys.stdin.read()
sys.stderr.write("boom: no route to ntfy\\n" + "x" * 100000)
sys.exit(3)
"""

# Hangs for pane %1 (after starting a child that would outlive it, and
# noting both pids); records the others.
HANGING = """\
import json, os, subprocess, sys, time
event = json.loads(sys.stdin.read())
if event["pane"] == "%1":
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    with open(os.path.join({out!r}, "pids.tmp"), "w") as f:
        f.write(f"{{os.getpid()}} {{child.pid}}")
    os.rename(os.path.join({out!r}, "pids.tmp"), os.path.join({out!r}, "pids"))
    time.sleep(600)
with open(os.path.join({out!r}, event["pane"].lstrip("%") + ".json"), "w") as f:
    json.dump(event, f)
"""


def script(tmp_path: Path, name: str, source: str) -> Path:
    path = tmp_path / name
    path.write_text(f"#!{sys.executable}\n" + source)
    path.chmod(0o700)
    return path


@dataclass(frozen=True)
class State:
    pane: str
    state: str = "waiting"
    session: str = "$0"
    session_name: str = "main"
    window: str = "@0"
    window_index: int = 0
    title: str = "SECRET-TITLE"
    command: str = "claude"
    prompt: Any = None
    exit_status: int | None = None


@dataclass(frozen=True)
class Transition:
    pane_state: State
    previous: str | None = "working"


@dataclass
class Run:
    notifier: Notifier
    published: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


def config(argv: tuple[str, ...], **overrides: Any) -> Config:
    return Config(token=Secret("x"), notify_command=argv, notify_debounce=0.1, **overrides)


async def until(predicate: Any, what: str, within: float = 10.0) -> Any:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        value = predicate()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def run_notifier(cfg: Config, body: Any) -> None:
    """Start a real Notifier (no push), run `body(run)`, stop it."""

    async def main() -> None:
        published: list[tuple[str, dict[str, Any]]] = []
        notifier = Notifier(cfg, lambda name, data: published.append((name, json.loads(data))), None)
        task = asyncio.create_task(notifier.run())
        try:
            await body(Run(notifier, published))
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    asyncio.run(main())


def notify(run: Run, pane: str, state: str = "waiting") -> None:
    run.notifier.transition(Transition(State(pane, state)))  # type: ignore[arg-type]


def records(out: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(out.glob("*.json"))]


def test_recording_command_gets_each_notification_event_on_stdin(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    recorder = script(tmp_path, "record.py", RECORDER.format(out=str(out)))

    published: list[tuple[str, dict[str, Any]]] = []

    async def body(run: Run) -> None:
        for pane in ("%1", "%2", "%3"):
            notify(run, pane)
        await until(lambda: len(records(out)) == 3, "three runs recorded")
        published.extend(run.published)

    run_notifier(config((str(recorder), "--topic", "agents")), body)
    got = records(out)
    assert {r["event"]["pane"] for r in got} == {"%1", "%2", "%3"}
    assert all(r["argv"] == ["--topic", "agents"] for r in got)
    # What the command got is exactly the stream's `notification` event,
    # of its declared type, under the default content policy: no title a
    # program set.
    streamed = {data["id"]: data for name, data in published if name == "notification"}
    for r in got:
        check_event("notification", json.dumps(r["event"]).encode())
        assert r["event"] == streamed[r["event"]["id"]]
        assert r["event"]["state"] == "waiting" and "SECRET" not in json.dumps(r)


def test_the_command_line_is_split_never_given_to_a_shell(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    recorder = script(tmp_path, "record.py", RECORDER.format(out=str(out)))
    pwned = tmp_path / "pwned"
    cfg, _ = parse_config(["--notify-command", f"{recorder} '$(touch {pwned})' ';' 'touch' '{pwned}' '|' `id`"])
    cfg = Config(token=Secret("x"), notify_command=cfg.notify_command, notify_debounce=0.1)

    async def body(run: Run) -> None:
        notify(run, "%1")
        await until(lambda: records(out), "the run recorded")

    run_notifier(cfg, body)
    [got] = records(out)
    assert got["argv"] == [f"$(touch {pwned})", ";", "touch", str(pwned), "|", "`id`"]
    assert not pwned.exists()


def test_a_failing_command_is_logged_and_the_next_one_still_runs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    failing = script(tmp_path, "fail.py", FAILING)
    caplog.set_level(logging.WARNING, "tmuxweb.notify")

    def failures() -> list[str]:
        return [r.getMessage() for r in caplog.records if "failed with status 3" in r.getMessage()]

    async def body(run: Run) -> None:
        notify(run, "%1")
        await until(lambda: len(failures()) == 1, "the first failure logged")
        notify(run, "%2")
        await until(lambda: len(failures()) == 2, "the second failure logged")

    run_notifier(config((str(failing),)), body)
    assert "boom: no route to ntfy" in failures()[0]
    assert all(len(m) < 400 for m in failures())  # stderr kept short


def test_a_hanging_command_is_killed_with_its_children_and_blocks_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    hanging = script(tmp_path, "hang.py", HANGING.format(out=str(out)))
    caplog.set_level(logging.WARNING, "tmuxweb.notify")
    pids: list[int] = []

    def alive(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        # A zombie child of ours (the command itself, until reaped) is dead.
        stat = Path(f"/proc/{pid}/stat")
        return stat.exists() and stat.read_text().split(") ", 1)[1][0] != "Z"

    async def body(run: Run) -> None:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        tick_task = asyncio.create_task(ticker())
        notify(run, "%1")
        await until(lambda: (out / "pids").exists(), "the hanging command started")
        pids.extend(int(p) for p in (out / "pids").read_text().split())
        # While it hangs: the loop runs, and other notifications' commands run.
        seen = ticks
        notify(run, "%2")
        await until(lambda: (out / "2.json").exists(), "the next command ran")
        await until(lambda: ticks > seen + 3, "the loop kept running")
        await until(lambda: any("hung" in r.getMessage() for r in caplog.records), "the hang logged", within=20)
        await until(lambda: not any(alive(p) for p in pids), "the command and its child killed")
        tick_task.cancel()

    run_notifier(config((str(hanging),), notify_command_timeout=3.0), body)
    assert len(pids) == 2


def test_a_command_that_cannot_start_is_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "tmuxweb.notify")

    async def body(run: Run) -> None:
        notify(run, "%1")
        await until(lambda: any("could not start" in r.getMessage() for r in caplog.records), "the error logged")
        notify(run, "%2")
        await until(lambda: sum("could not start" in r.getMessage() for r in caplog.records) == 2, "again")

    run_notifier(config((str(tmp_path / "no-such-program"),)), body)


def test_at_most_the_configured_number_run_at_once(tmp_path: Path) -> None:
    """Bounded concurrency: with every run hanging, only `concurrency`
    processes exist; the rest wait in the queue."""
    out = tmp_path / "out"
    out.mkdir()
    hang_all = script(
        tmp_path,
        "hang_all.py",
        f"import os, sys, time\nsys.stdin.read()\nopen(os.path.join({str(out)!r}, str(os.getpid())), 'w').close()\ntime.sleep(600)\n",
    )

    async def body(run: Run) -> None:
        for i in range(6):
            notify(run, f"%{i}")
        await until(lambda: len(list(out.iterdir())) == 2, "two started")
        ticks = 0
        while ticks < 30:  # a while longer: still two
            ticks += 1
            await asyncio.sleep(0.01)
        assert len(list(out.iterdir())) == 2

    run_notifier(config((str(hang_all),), notify_command_concurrency=2, notify_command_timeout=60), body)

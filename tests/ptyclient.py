"""A real `tmux attach` in a pseudo-terminal of a set size: a person's
terminal on the desk, for the tests of window sizes (issue 14).

The terminal is a pty whose size is set with TIOCSWINSZ before tmux starts
(and again by `resize`, which makes the kernel send SIGWINCH, as a terminal
emulator does). tmux's screen updates are read and thrown away by a thread:
a client nobody reads from would block tmux's writes to it.
"""

from __future__ import annotations

import fcntl
import os
import struct
import subprocess
import termios
import threading
from typing import Any

from helpers import TMUX, TmuxServer, tmux_env, wait_until


def set_size(fd: int, cols: int, rows: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def _controlling_terminal() -> None:
    # In the child, after setsid (start_new_session): stdin, the pty, becomes
    # its controlling terminal, so resizing the pty delivers SIGWINCH.
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class TerminalClient:
    """`tmux -L SOCK attach -t SESSION` in a pty of `cols` x `rows`."""

    def __init__(self, tmux: TmuxServer, session: str = "main", cols: int = 200, rows: int = 50) -> None:
        self.tmux = tmux
        self.master, slave = os.openpty()
        set_size(slave, cols, rows)
        env = {**tmux_env(), "TERM": "xterm-256color"}
        self.process = subprocess.Popen(
            [TMUX, "-u", "-L", tmux.socket_name, "-f", str(tmux.config_path), "attach-session", "-t", session],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
            preexec_fn=_controlling_terminal,
        )
        os.close(slave)
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()
        wait_until(lambda: self.name() is not None, what="the terminal client to attach")

    def _drain(self) -> None:
        while True:
            try:
                if not os.read(self.master, 65536):
                    return
            except OSError:
                return

    def name(self) -> str | None:
        """tmux's name for this client (its tty), once attached."""
        out = self.tmux.run("list-clients", "-F", "#{client_pid} #{client_name}", check=False)
        for line in out.splitlines():
            pid, _, name = line.partition(" ")
            if pid == str(self.process.pid):
                return name
        return None

    def resize(self, cols: int, rows: int) -> None:
        set_size(self.master, cols, rows)

    def type(self, data: bytes) -> None:
        os.write(self.master, data)

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        os.close(self.master)
        self._reader.join(5)

    def __enter__(self) -> TerminalClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def window_sizes(tmux: TmuxServer, session: str = "main") -> dict[str, str]:
    """Each window of `session` → "WxH", as tmux has it now."""
    out = tmux.run("list-windows", "-t", session, "-F", "#{window_id} #{window_width}x#{window_height}")
    return dict(line.split(" ", 1) for line in out.splitlines())


def window_size(tmux: TmuxServer, window: str = "@0") -> str:
    return tmux.run("display", "-p", "-t", window, "#{window_width}x#{window_height}").strip()

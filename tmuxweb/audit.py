"""The audit log: one JSON object per line, appended to a 0600 file.

It records who did what, never a secret: tokens, tickets and session tokens
are never written, and typed text only with --audit-input.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any


class AuditLog:
    """Appends events; a no-op when no path is configured."""

    def __init__(self, path: Path | None, record_input: bool = False) -> None:
        self.path = path
        self.record_input = record_input
        self._lock = threading.Lock()
        self._fd: int | None = None
        if path is not None:
            # O_APPEND: each line lands whole at the end even with other
            # writers; 0600 from creation.
            self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            if os.fstat(self._fd).st_mode & 0o077:
                os.fchmod(self._fd, 0o600)

    @property
    def enabled(self) -> bool:
        return self._fd is not None

    def write(self, event: str, **fields: Any) -> None:
        if self._fd is None:
            return
        record = {"time": round(time.time(), 3), "event": event, **fields}
        line = (json.dumps(record, ensure_ascii=False, default=str) + "\n").encode()
        with self._lock:
            os.write(self._fd, line)

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

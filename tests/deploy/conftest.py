"""Deployment tests: the real nginx, Caddy, sshd and network namespaces in
front of tmuxweb (tmux and tmuxweb fixtures come from tests/conftest.py).

The binaries are Debian packages that `bash tests/run` installs when they
are missing; a test skips, saying which package, only when one still is.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

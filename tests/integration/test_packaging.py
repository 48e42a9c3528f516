"""`pip install .` (not only editable) gives a working command with the UI."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_wheel_carries_the_package_the_ui_and_the_console_script(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("tmuxweb-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "tmuxweb/app.py" in names
    assert "tmuxweb/rules.py" in names
    # The shipped pane-state rules are data the package reads at start-up.
    assert "tmuxweb/rules/agents.toml" in names
    assert "tmuxweb/static/index.html" in names
    assert "tmuxweb/static/main.js" in names
    assert any(n.startswith("tmuxweb/static/vendor/xterm/") for n in names)
    assert any(n.startswith("tmuxweb/static/vendor/") and "LICENSE" in n for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "tmuxweb = tmuxweb.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
    # The package reads its rules through importlib.resources, so they load
    # from the wheel itself, not only from a source checkout.
    loaded = subprocess.run(
        [sys.executable, "-I", "-c", "import sys; sys.path.insert(0, sys.argv[1]); import tmuxweb.rules as r; "
         "print(r.__file__, len(r.load_rules()))", str(wheel)],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout.split()
    assert loaded[0].startswith(str(wheel)) and int(loaded[1]) > 0

"""What matching a screen against the rules costs: the shipped rules on every
screen under tests/fixtures/screens/, then on hostile screens (200 lines of
512 characters built to make the shipped patterns backtrack).

    python benchmarks/rules_match.py [--rounds N]

The tracker matches a pane once each time its output goes quiet, so this
times one `Rules.match` call; nothing here runs tmux.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tmuxweb.rules import MAX_LAST_LINES, MAX_LINE, load_rules  # noqa: E402

HOSTILE = {
    "spaces": " " * MAX_LINE,
    "box bars": "│" * MAX_LINE,
    "question marks": "?" * MAX_LINE,
    "'Do you want' then ?s": "Do you want " + "?" * (MAX_LINE - 12),
    "prompt characters": "$ " * (MAX_LINE // 2),
    "rule lines": "─" * MAX_LINE,
    "[y/n] repeated": "[y/n] " * (MAX_LINE // 6),
    "aider options repeated": "(Y)es/(N)o/" * (MAX_LINE // 11),
}


def per_call(lines: list[str], command: str, rounds: int) -> float:
    rules = load_rules()
    start = time.perf_counter()
    for _ in range(rounds):
        rules.match(lines, command, 60.0)
    return (time.perf_counter() - start) / rounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    rules = load_rules()
    print(f"{len(rules)} shipped rules; one Rules.match call each, mean of {args.rounds}")
    print("\nscreens from tests/fixtures/screens (40 rows: padded with blank lines)")
    times = []
    for path in sorted((ROOT / "tests" / "fixtures" / "screens").glob("*.txt")):
        lines = path.read_text(encoding="utf-8").splitlines()
        lines += [""] * max(0, 40 - len(lines))
        t = per_call(lines, "node", args.rounds)
        times.append(t)
        print(f"  {path.name:42} {t * 1e6:8.1f} µs")
    print(f"  {'mean':42} {sum(times) / len(times) * 1e6:8.1f} µs")
    print(f"\nhostile screens: {MAX_LAST_LINES} lines of {MAX_LINE} characters (the most the engine reads)")
    for name, line in HOSTILE.items():
        for command in ("bash", "node"):
            t = per_call([line] * MAX_LAST_LINES, command, max(1, args.rounds // 10))
            print(f"  {name:32} {command:5} {t * 1e3:8.2f} ms")


if __name__ == "__main__":
    main()

"""Remake tests/durations.json, the seconds each group of `make test` took (see conftest.py).

Usage: ``.venv/bin/pytest tests notebooks --nbval-lax -n auto --dist loadfile --no-loadscope-reorder
--durations=0 -q > durations.log`` (with ``CI=true``, on a fresh clone), then
``.venv/bin/python tests/update_durations.py durations.log``.
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
from pathlib import Path

LINE = re.compile(r"^([0-9.]+)s (?:setup|call|teardown)\s+(\S+?)::")


def group(path: str) -> str:
    return "notebooks/pipeline" if path.startswith("notebooks/pipeline/") else path


def main(log: str) -> None:
    seconds: dict[str, float] = defaultdict(float)
    for line in Path(log).read_text().splitlines():
        if match := LINE.match(line):
            seconds[group(match[2])] += float(match[1])
    if not seconds:
        sys.exit(f"{log}: no durations (run pytest with --durations=0)")
    out = Path(__file__).with_name("durations.json")
    ordered = dict(sorted(((k, round(v, 1)) for k, v in seconds.items()), key=lambda kv: -kv[1]))
    out.write_text(json.dumps({"how": "made by tests/update_durations.py (its docstring)",
                               "seconds": ordered}, indent=1) + "\n")
    print(f"{out}: {len(ordered)} groups, {sum(ordered.values()):.0f} s in all")


if __name__ == "__main__":
    main(sys.argv[1])

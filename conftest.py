"""How `make test` schedules one pytest run of the tests and the notebooks over the cores.

`make test` runs ``pytest tests notebooks --nbval-lax -n auto --dist loadfile
--no-loadscope-reorder``: pytest-xdist hands out *groups*, each run whole, in order, by one
worker (the scheduler is :func:`pytest_xdist_make_scheduler`'s). Every test file is a group (its
module fixtures, fitted models among them, are built once), every course lesson is a group (its
cells run in order in one kernel), and the pipeline notebooks are one group, since 01_prepare
writes the artifacts that 02 to 04 read. The groups go out longest first
(``tests/durations.json``), so that a long one does not start last and leave the other cores
idle while it runs alone. To remake the estimates: ``.venv/bin/pytest tests notebooks --nbval-lax
-n auto --dist loadfile --no-loadscope-reorder --durations=0 -q > durations.log``, then
``.venv/bin/python conftest.py durations.log``.

Notebooks run in smoke mode (``CLVLIB_SMOKE=1`` in their kernel's environment only: the tests
beside them in the same worker see the environment they were started with), unless
``CLVLIB_SMOKE`` is set.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).parent
DURATIONS = ROOT / "tests" / "durations.json"


def _group_of_path(path: str) -> str:
    """The group of a file (as in a node id, relative to the root): the pipeline, or itself."""
    return "notebooks/pipeline" if path.startswith("notebooks/pipeline/") else path


def _group(item: pytest.Item) -> str:
    return _group_of_path(item.nodeid.split("::")[0])


def _is_notebook(item: pytest.Item) -> bool:
    return Path(item.path).suffix == ".ipynb"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put the longest groups first (see the module docstring), each in its own order.

    A group missing from ``tests/durations.json`` (a new file) counts as the longest, so it
    cannot be the one that starts last (the module docstring says how to remake the file).
    """
    seconds = json.loads(DURATIONS.read_text())["seconds"] if DURATIONS.exists() else {}
    longest = max(seconds.values(), default=0.0) + 1.0
    position = {item: i for i, item in enumerate(items)}
    items.sort(key=lambda item: (-seconds.get(_group(item), longest), _group(item),
                                 position[item]))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item):
    """A notebook's kernel starts in its first cell's setup: give it ``CLVLIB_SMOKE=1``, unless
    ``CLVLIB_SMOKE`` is set already (``CLVLIB_SMOKE=0 pytest --nbval-lax notebooks`` runs the
    notebooks in full)."""
    if not _is_notebook(item) or "CLVLIB_SMOKE" in os.environ:
        yield
        return
    os.environ["CLVLIB_SMOKE"] = "1"
    try:
        yield
    finally:
        os.environ.pop("CLVLIB_SMOKE", None)


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist, when it is installed
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """``--dist loadfile``, with the pipeline notebooks as one unit (see the module docstring).

    xdist's own ``loadgroup`` cannot do this under pytest 9.2: it marks a group by rewriting
    each test's node id, which pytest 9.2 no longer lets it do, and it then silently runs the
    tests as if ungrouped (pytest-dev/pytest-xdist#1386). A scheduler that reads the group from
    the node id's file needs no rewriting.
    """
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class LoadFileAndPipeline(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _group_of_path(nodeid.split("::")[0])

    return LoadFileAndPipeline(config, log)


def write_durations(log: str) -> None:
    """``tests/durations.json`` from the ``--durations=0`` lines of a `make test` run's log."""
    line = re.compile(r"^([0-9.]+)s (?:setup|call|teardown)\s+(\S+?)::")
    seconds: dict[str, float] = defaultdict(float)
    for text in Path(log).read_text().splitlines():
        if match := line.match(text):
            seconds[_group_of_path(match[2])] += float(match[1])
    if not seconds:
        sys.exit(f"{log}: no durations (run pytest with --durations=0)")
    ordered = dict(sorted(((k, round(v, 1)) for k, v in seconds.items()), key=lambda kv: -kv[1]))
    DURATIONS.write_text(json.dumps({"how": "made by `python conftest.py LOG` (its docstring)",
                                     "seconds": ordered}, indent=1) + "\n")
    print(f"{DURATIONS}: {len(ordered)} groups, {sum(ordered.values()):.0f} s in all")


if __name__ == "__main__":
    write_durations(sys.argv[1])

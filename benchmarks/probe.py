"""Run a command in a fresh process group with a time limit; measure wall time and peak memory.

Peak memory is the largest sum of resident set sizes of the process and all its descendants
(PyMC's sampler workers, papermill's kernels), sampled every ``interval`` seconds with psutil,
so a spike shorter than that can be missed. Each case also reports its own ``ru_maxrss`` (the
exact peak of its main process), see :mod:`benchmarks.cases`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass

import psutil


@dataclass
class Measured:
    """What one run of a command took."""

    returncode: int | None
    wall_seconds: float
    peak_rss_mb: float
    timed_out: bool
    output_tail: str


def _tree_rss(root: psutil.Process) -> int:
    total = 0
    try:
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            pass
    return total


def run_measured(command: list[str], *, env: dict | None = None, cwd: str | None = None,
                 timeout: float | None = None, interval: float = 0.05,
                 log_path: str | None = None) -> Measured:
    """Run ``command``; kill its whole process group if it runs past ``timeout`` seconds.

    The command's output goes to ``log_path`` (or is discarded); its last lines are kept.
    """
    log = open(log_path, "w") if log_path else subprocess.DEVNULL  # noqa: SIM115
    start = time.perf_counter()
    proc = subprocess.Popen(command, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    peak = 0
    stop = threading.Event()

    def watch() -> None:
        nonlocal peak
        try:
            root = psutil.Process(proc.pid)
        except psutil.Error:
            return
        while not stop.is_set():
            peak = max(peak, _tree_rss(root))
            stop.wait(interval)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    timed_out = False
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    wall = time.perf_counter() - start
    stop.set()
    watcher.join()
    if log_path:
        log.close()
    tail = ""
    if log_path and os.path.exists(log_path):
        with open(log_path, errors="replace") as f:
            tail = "".join(f.readlines()[-15:])
    return Measured(
        returncode=None if timed_out else proc.returncode,
        wall_seconds=wall,
        peak_rss_mb=peak / 2**20,
        timed_out=timed_out,
        output_tail=tail,
    )

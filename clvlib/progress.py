"""Progress of long runs: each fit announces itself and says how long it took, and a slow loop
shows a bar (:func:`bar`).

Messages go to the process's standard error (``sys.__stderr__``): on a terminal they show as the
run goes; inside a notebook kernel they reach both the notebook's stderr stream (which the
report leaves out) and the terminal of ``clvlib report``, so a five-minute run never looks hung.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tqdm import tqdm

Announce = Callable[[str], None]


def to_stderr(message: str) -> None:
    """Write one progress line to the process's standard error, at once."""
    stream = sys.__stderr__ or sys.stderr
    if stream is not None:
        print(message, file=stream, flush=True)


def silent(message: str) -> None:
    """Announce nothing (pass as ``progress=silent``)."""


@contextmanager
def timed(label: str, progress: Announce | None = to_stderr) -> Iterator[dict]:
    """Announce ``label ...`` now and ``label: done in 12.3 s`` when the block ends.

    Yields a dict whose ``"seconds"`` the block's end fills in; a failure is announced as
    ``label: failed after 12.3 s`` and raised on.
    """
    progress = progress or silent
    progress(f"{label} ...")
    result: dict = {}
    start = time.perf_counter()
    try:
        yield result
    except BaseException:
        progress(f"{label}: failed after {time.perf_counter() - start:.1f} s")
        raise
    result["seconds"] = time.perf_counter() - start
    progress(f"{label}: done in {result['seconds']:.1f} s")


#: Seconds a loop runs before its progress bar (:func:`bar`) appears: quick work shows none.
BAR_DELAY = 5.0


def bar(iterable, description: str, total: int | None = None):
    """``iterable`` with a progress bar on standard error (tqdm) that appears only if the loop
    runs longer than :data:`BAR_DELAY` seconds and leaves no line behind: for work that is
    instant on a compiled kernel and minutes on a model written in Python only (its per-row
    log-likelihood, its simulated predictions)."""
    return tqdm(iterable, desc=description, total=total, delay=BAR_DELAY, leave=False,
                file=sys.stderr)


def fit_label(model, method: str = "nuts", **options) -> str:
    """``"fitting BG/NBD by NUTS (4 chains x 1000 draws, 1000 tuning, ...)"`` and the like."""
    if method == "map":
        return f"fitting {model.title} by MAP"
    draws, tune, chains = (options.get(k, d) for k, d in
                           (("draws", 1000), ("tune", 1000), ("chains", 4)))
    if method == "laplace":
        return (f"fitting {model.title} by the Laplace approximation ({chains * draws:,} draws "
                f"at the posterior mode, {len(model.rows):,} distinct customer rows)")
    return (f"fitting {model.title} by NUTS ({chains} chains x {draws} draws, {tune} tuning, "
            f"{len(model.rows):,} distinct customer rows)")


def fit_announced(model, *, progress: Announce | None = to_stderr, method: str = "nuts",
                  prefix: str = "", **fit_options):
    """``model.fit(method, **fit_options)``, announced (after ``prefix``) with its elapsed time
    and whether the fit came from the fit cache."""
    label = prefix + fit_label(model, method, **fit_options)
    with timed(label, progress):
        idata = model.fit(method, **fit_options)
    if getattr(model, "cache_hit", False) and progress is not None:
        progress(f"  ({model.title} was read from the fit cache)")
    return idata

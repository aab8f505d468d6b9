"""Long runs show progress: each fit announces itself with its elapsed time, and
``clvlib replicate`` prints each model's estimates as soon as they are known (on stderr, so its
table or JSON on stdout stays clean).

Fast: the fitted models are stubs whose ``fit`` returns at once.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from clvlib import comparison, progress, replicate
from clvlib.cli import main


class StubModel:
    """Quacks like a clvlib model: fits in no time, estimates what it was told."""

    name, title, params = "stub", "Stub/NBD", ("r", "alpha")
    report_candidate, report_fit = True, "nuts"
    estimates = {"r": 0.25, "alpha": 4.4}

    def __init__(self, data=None, priors=None):
        self.rows, self.cache_hit, self.fitted = np.zeros(3), None, []

    def fit(self, method="nuts", **options):
        self.fitted.append((method, options))
        return "idata"

    def point_estimate(self):
        return dict(self.estimates)

    def log_likelihood(self):
        return -100.0

    def posterior_draws(self, n=None):
        return {k: np.full(40, v) for k, v in self.estimates.items()}


def test_timed_announces_start_and_elapsed_time():
    messages = []
    with progress.timed("fitting X", messages.append) as result:
        pass
    assert messages[0] == "fitting X ..."
    assert re.fullmatch(r"fitting X: done in \d+\.\d s", messages[1])
    assert result["seconds"] >= 0
    with pytest.raises(RuntimeError), progress.timed("fitting Y", messages.append):
        raise RuntimeError("broken")
    assert re.fullmatch(r"fitting Y: failed after \d+\.\d s", messages[-1])


def test_fit_announced_names_model_method_and_size():
    messages, model = [], StubModel()
    assert progress.fit_announced(model, progress=messages.append, draws=200, tune=300,
                                  chains=2) == "idata"
    assert messages[0] == ("fitting Stub/NBD by NUTS (2 chains x 200 draws, 300 tuning, 3 "
                           "distinct customer rows) ...")
    assert model.fitted == [("nuts", {"draws": 200, "tune": 300, "chains": 2})]
    model.cache_hit = True
    progress.fit_announced(model, progress=messages.append, method="map")
    assert messages[-3:-1] == ["fitting Stub/NBD by MAP ...", messages[-2]]
    assert messages[-1] == "  (Stub/NBD was read from the fit cache)"


def test_fit_candidates_announces_each_fit(monkeypatch):
    monkeypatch.setattr(comparison, "get_model", lambda name: type(name, (StubModel,),
                                                                   {"title": name.upper()}))
    monkeypatch.setattr(comparison, "PurchaseModel", StubModel)
    messages = []
    models = comparison.fit_candidates(None, ["bg", "mbg"], progress=messages.append, draws=10)
    assert [m.title for m in models] == ["BG", "MBG"]
    starts = [m for m in messages if m.endswith("...")]
    ends = [m for m in messages if " done in " in m]
    assert [s.split(" by ")[0] for s in starts] == ["fitting BG", "fitting MBG"]
    assert len(ends) == 2 and messages.index(ends[0]) < messages.index(starts[1])


def test_replicate_prints_each_model_as_it_goes(monkeypatch, capfd):
    study = replicate.Study("stub", "A stub study", lambda: pd.DataFrame(), (
        replicate.PublishedFit("stub", {"r": 0.2426, "alpha": 4.4136}, "a paper"),
        replicate.PublishedFit("stub", {"r": 0.3, "alpha": 5.0}, "a paper", label="again"),
    ))
    monkeypatch.setitem(replicate.STUDIES, "stub", study)
    monkeypatch.setattr(replicate, "get_model", lambda name: StubModel)
    assert main(["replicate", "stub", "--json", "--draws", "50"]) == 0
    captured = capfd.readouterr()
    assert json.loads(captured.out)["study"] == "stub"  # stdout: the JSON alone
    lines = captured.err.splitlines()
    assert lines[0] == "stub: fitting Stub/NBD by MAP ..."
    assert lines[2].startswith("stub: fitting Stub/NBD by NUTS (4 chains x 50 draws")
    assert lines[4] == ("  stub: MAP r 0.25 (published 0.2426, NUTS 0.25); alpha 4.4 "
                        "(published 4.414, NUTS 4.4)")
    assert lines[5].startswith("again: fitting Stub/NBD by MAP ...")
    assert len(lines) == 10 and all(" done in " in lines[i] for i in (1, 3, 6, 8))


def test_slow_loops_show_a_bar_and_quick_ones_none(monkeypatch, capsys):
    """A model written in Python only spends minutes in its per-row log-likelihood (model
    comparison) and its simulated predictions: a bar on stderr names the work once it has run
    for BAR_DELAY seconds (set to 0 here); within that delay nothing is written."""
    from helpers import fake_fit

    import clvlib as clv
    from clvlib.models import pareto_ggg

    rng = np.random.default_rng(3)
    frame = pd.DataFrame(pareto_ggg.rvs(1.0, 1.0, 1.0, 5.0, 1.0, 30.0, T=np.full(20, 30.0),
                                        rng=rng))
    model = fake_fit(clv.ParetoGGGModel(frame),
                     {"k_shape": 1.0, "k_rate": 1.0, "r": 1.0, "alpha": 5.0, "s": 1.0,
                      "beta": 30.0}, draws=6)
    model.p_alive(n_draws=None)
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(progress, "BAR_DELAY", 0.0)
    model.pointwise_loglik(model.posterior_draws(), model.rows, cells=20)
    model.p_alive(n_draws=None)
    err = capsys.readouterr().err
    rows = f"{len(model.rows)} rows"  # distinct ones
    assert f"Pareto/GGG: log-likelihood of {rows} x 6 draws" in err
    assert f"Pareto/GGG: P(alive) of {rows} x 6 draws" in err

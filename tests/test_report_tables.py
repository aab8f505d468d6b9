"""How the report's tables print their numbers (the text a reader sees in the HTML and PDF)."""

from types import SimpleNamespace

import pandas as pd

from clvlib import narrative
from clvlib.notebook import styled as table


def _shown(styler) -> str:
    """The table as the report's HTML shows it."""
    return styler.to_html()


def test_table_formats_named_columns_and_keeps_precision_elsewhere():
    frame = pd.DataFrame({"mean": [0.25171, 4.7924], "bulk ESS": [7946.731, 812.2]})
    html = _shown(table(frame, "caption", formats={"bulk ESS": "{:,.0f}", "absent": "{:.1f}"}))
    for text in ("0.252", "4.792", "7,947", "812"):
        assert f">{text}</td>" in html
    assert "7,946.731" not in html and "812.200" not in html


def test_comparison_table_reads_in_log_points_and_percent():
    raw = pd.DataFrame(
        {"rank": [1, 2], "elpd_loo": [-95341.184, -95372.479], "elpd_loo_se": [876.04, 875.99],
         "d_elpd_loo": [0.0, -31.295], "p_loo": [4.41, 4.077], "pareto_k_bad": [0.0, 0.0123],
         "holdout_lpd": [-78272.675, -78278.713], "d_holdout_lpd": [0.0, -6.039]},
        index=pd.Index(["MBG/NBD", "BG/NBD"], name="model"),
    )
    frame = narrative.comparison_table(SimpleNamespace(table=raw))
    html = _shown(table(frame, "caption", formats=narrative.COMPARISON_FORMATS))
    for text in ("-95,341.2", "-95,372.5", "876.0", "-31.3", "4.4", "1.2%", "-78,272.7", "-6.0"):
        assert f">{text}</td>" in html
    assert "-95,341.184" not in html and "0.012" not in html


def test_top_customers_shows_meaningful_digits_most_valuable_first():
    values = pd.DataFrame(
        {"x": [80, 3, 12], "t_x": [34.71, 10.0, 20.04], "T": [34.9, 30.0, 39.0],
         "monetary": [101.94, 20.0, 355.5], "p_alive_mean": [0.991, 0.4, 0.87],
         "purchases_mean": [69.34, 0.5, 7.25], "clv_mean": [6728.4, 12.0, 1243.6],
         "clv_lower": [6569.2, 5.0, 1213.1], "clv_upper": [6879.9, 20.0, 1273.0]},
        index=pd.Index(["07592", "00001", "02664"], name="customer_id"),
    )
    top = narrative.top_customers(values, 2, 52, "weeks", 0.9)
    assert list(top.index) == ["07592", "02664"]
    assert top.loc["07592"].tolist() == ["80", "34.7", "34.9", "101.94", "0.99", "69.3", "6,728",
                                         "6,569 to 6,880"]
    assert list(top.columns) == [
        "repeat purchases (x)", "last purchase (t_x, weeks)", "age (T, weeks)", "mean spend",
        "P(alive)", "expected purchases, next 52 weeks", "expected CLV",
        "expected CLV, 90% credible interval"]


def test_top_customers_with_predictive_intervals_name_their_kind_and_currency():
    values = pd.DataFrame(
        {"x": [80], "t_x": [34.71], "T": [34.9], "monetary": [101.94], "p_alive_mean": [0.991],
         "purchases_mean": [69.34], "purchases_predictive_lower": [52.0],
         "purchases_predictive_upper": [88.0], "clv_mean": [6728.4],
         "clv_predictive_lower": [4012.3], "clv_predictive_upper": [9650.8]},
        index=pd.Index(["07592"], name="customer_id"),
    )
    top = narrative.top_customers(values, 1, 52, "weeks", 0.9, currency="USD")
    assert dict(zip(top.columns, top.loc["07592"], strict=True)) == {
        "repeat purchases (x)": "80", "last purchase (t_x, weeks)": "34.7",
        "age (T, weeks)": "34.9", "mean spend (USD)": "101.94", "P(alive)": "0.99",
        "expected purchases, next 52 weeks": "69.3",
        "purchases, 90% predictive interval": "52 to 88", "expected CLV (USD)": "6,728",
        "CLV (USD), 90% predictive interval": "4,012 to 9,651"}

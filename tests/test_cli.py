"""The ``clvlib`` command line: readable errors and exit codes, no tracebacks for bad input."""

from __future__ import annotations

import subprocess
import sys

import pytest

from clvlib.cli import SUBCOMMANDS, build_parser, main


def report_args(params, out, notebooks) -> list[str]:
    return ["report", "--params", str(params), "--out", str(out), "--notebooks", str(notebooks)]


def test_report_is_a_registered_subcommand():
    assert "report" in SUBCOMMANDS
    help_text = build_parser().format_help()
    assert "report" in help_text


def test_unknown_parameter_exits_1_with_the_valid_names(make_pipeline, tmp_path, capsys):
    params = tmp_path / "bad.yaml"
    params.write_text("n_pointz: 3\n")
    status = main(report_args(params, tmp_path / "out", make_pipeline()))
    err = capsys.readouterr().err
    assert status == 1
    assert err.startswith("clvlib report: error: params file")
    assert "unknown parameter 'n_pointz' (did you mean 'n_points'?)" in err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("content", "expected"),
    [("draws: [1000\n", "is not valid YAML"), ("- a\n- b\n", "must hold a mapping")],
)
def test_malformed_params_file_exits_1(make_pipeline, tmp_path, capsys, content, expected):
    params = tmp_path / "bad.yaml"
    params.write_text(content)
    assert main(report_args(params, tmp_path / "out", make_pipeline())) == 1
    assert expected in capsys.readouterr().err


def test_failing_notebook_exits_1_naming_notebook_and_cell(make_pipeline, tmp_path, capsys):
    params = tmp_path / "ok.yaml"
    params.write_text("n_points: 5\n")
    status = main(report_args(params, tmp_path / "out", make_pipeline(failing=True)))
    err = capsys.readouterr().err
    assert status == 1
    assert "notebook 02_second.ipynb failed at cell 2 of 3" in err
    assert "ValueError: stand-in failure" in err
    assert "Traceback" not in err


def test_missing_arguments_are_a_usage_error(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["report", "--params", "x.yaml"])
    assert caught.value.code == 2
    assert "--out" in capsys.readouterr().err


def test_console_command_reports_a_missing_params_file(tmp_path):
    """The real entry point, in a fresh interpreter: message on stderr, status 1."""
    result = subprocess.run(
        [sys.executable, "-m", "clvlib.cli", "report", "--params", str(tmp_path / "nope.yaml"),
         "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 1
    assert f"params file {tmp_path / 'nope.yaml'} does not exist" in result.stderr
    assert "Traceback" not in result.stderr

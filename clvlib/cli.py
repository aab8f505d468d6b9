"""The ``clvlib`` command: one subcommand per job, each registered in :data:`SUBCOMMANDS`.

A subcommand is a function that adds its parser to argparse's subparsers and sets ``handler``
(a function of the parsed arguments returning an exit code)::

    def add_example(subparsers):
        parser = subparsers.add_parser("example", help="one line for `clvlib --help`")
        parser.add_argument("--flag")
        parser.set_defaults(handler=run_example)

    SUBCOMMANDS["example"] = add_example

Errors the user can fix (:data:`EXPECTED_ERRORS`) are printed as one readable message on stderr
with exit status 1, never as a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from clvlib import __version__
from clvlib.config import PIPELINE_DIR
from clvlib.errors import CLVDataError
from clvlib.report import ReportError

SubcommandBuilder = Callable[["argparse._SubParsersAction"], None]

# Errors that mean "the input or the run failed, here is why": shown without a traceback.
EXPECTED_ERRORS: tuple[type[Exception], ...] = (ReportError, CLVDataError, KeyError)


# --------------------------------------------------------------------------------------------
# clvlib report
# --------------------------------------------------------------------------------------------


def add_report(subparsers: argparse._SubParsersAction) -> None:
    """Register ``clvlib report --params FILE --out DIR``."""
    parser = subparsers.add_parser(
        "report",
        help="run the pipeline notebooks and write an HTML + PDF report",
        description=(
            "Execute the pipeline notebooks from a clean kernel with the parameters in FILE and "
            "write the executed notebooks, report.html, report.pdf and manifest.json to DIR. DIR "
            "is replaced only when everything succeeded; a failing notebook is kept in "
            "DIR.failed/."
        ),
    )
    parser.add_argument(
        "--params", required=True, type=Path, metavar="FILE",
        help="YAML file of pipeline parameters (e.g. clvlib/params/cdnow.yaml)",
    )
    parser.add_argument(
        "--out", required=True, type=Path, metavar="DIR",
        help="report folder to write (e.g. reports/cdnow)",
    )
    parser.add_argument(
        "--notebooks", type=Path, default=PIPELINE_DIR, metavar="DIR",
        help=f"pipeline notebooks folder, run in name order (default: {_show(PIPELINE_DIR)})",
    )
    parser.add_argument(
        "--previous", type=Path, default=None, metavar="DIR",
        help="an earlier report folder to compare with: value change, new and lost customers, "
             "moves between strategy segments",
    )
    parser.set_defaults(handler=run_report_command)


def run_report_command(args: argparse.Namespace) -> int:
    """Run ``clvlib report``: progress on stdout, a closing line naming the files written."""
    from clvlib.report import run_report

    _say(f"clvlib report: {_show(args.params)} -> {_show(args.out)}")
    out = run_report(args.params, args.out, notebooks_dir=args.notebooks, progress=_say,
                     previous=args.previous)
    _say(f"report written to {_show(out)}: report.html, report.pdf, manifest.json")
    return 0


# --------------------------------------------------------------------------------------------
# clvlib replicate
# --------------------------------------------------------------------------------------------


def add_replicate(subparsers: argparse._SubParsersAction) -> None:
    """Register ``clvlib replicate STUDY [--json]`` and ``clvlib replicate --list``."""
    parser = subparsers.add_parser(
        "replicate",
        help="refit a published data set and print our estimates beside the paper's",
        description=(
            "Fit each model of a published study by MAP with flat priors (the paper's maximum-"
            "likelihood estimate) and by NUTS with clvlib's default priors, and print both beside "
            "the published estimates with relative differences."
        ),
    )
    parser.add_argument("study", nargs="?", help="study name (see --list), e.g. fhl2005")
    parser.add_argument("--list", action="store_true", help="list the studies and exit")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--map-only", action="store_true", help="skip the NUTS fits (quick)")
    parser.add_argument("--draws", type=int, default=1000, help="NUTS draws per chain")
    parser.add_argument("--seed", type=int, default=20240101, help="random seed")
    parser.set_defaults(handler=run_replicate_command)


def run_replicate_command(args: argparse.Namespace) -> int:
    """Run ``clvlib replicate``: a table (or JSON) on stdout."""
    from clvlib.replicate import STUDIES, replicate

    if args.list:
        for study in STUDIES.values():
            _say(f"{study.name:10s} {study.title}")
        return 0
    if not args.study:
        raise KeyError(f"name a study, one of: {', '.join(STUDIES)} (or pass --list)")
    result = replicate(args.study, nuts=not args.map_only, draws=args.draws,
                       random_seed=args.seed)
    _say(result.to_json() if args.json else str(result))
    return 0


# --------------------------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------------------------

# name -> builder; add a subcommand by adding its builder here.
SUBCOMMANDS: dict[str, SubcommandBuilder] = {
    "report": add_report,
    "replicate": add_replicate,
}


def build_parser() -> argparse.ArgumentParser:
    """The ``clvlib`` argument parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="clvlib",
        description="clvlib workbench: Bayesian customer-lifetime-value models and reports.",
    )
    parser.add_argument("--version", action="version", version=f"clvlib {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for builder in SUBCOMMANDS.values():
        builder(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``clvlib`` console script; returns the exit status.

    Examples
    --------
    >>> main(["report", "--params", "clvlib/params/cdnow.yaml", "--out", "reports/cdnow"])
    ... # doctest: +SKIP
    """
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except EXPECTED_ERRORS as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"clvlib {args.command}: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"clvlib {args.command}: interrupted", file=sys.stderr)
        return 130


def _say(line: str) -> None:
    print(line, flush=True)


def _show(path: Path) -> str:
    """A path as the user would type it: relative to the current folder when inside it."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    sys.exit(main())

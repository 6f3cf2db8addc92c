"""Command line for looking at results without writing pandas.

python -m manifold_smoothness summary results/mnist/mlp5x1000/summary.parquet
python -m manifold_smoothness summary SUMMARY --attack fgsm --strength 0.2
python -m manifold_smoothness summary SUMMARY --trajectory
python -m manifold_smoothness compare RUN_A RUN_B    # two finished runs of one study
python -m manifold_smoothness shape-errors           # error rates of the shape call, simulated
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np
import pandas as pd

from manifold_smoothness.compare import CompareError, compare_runs, report, verdicts
from manifold_smoothness.storage import CorruptFileError, read_table

# column -> heading
MEASURES = {"accuracy": "accuracy", "probe_accuracy": "probe", "alpha": "alpha", "dimension": "D"}
COLUMNS = ["dataset", "model", "seed", "attack", "strength", "epoch", "final", "layer", *MEASURES]


class ConditionError(ValueError):
    """The requested attack or strength is not in the summary file."""


def layer_table(
    summary: pd.DataFrame,
    attack: str = "clean",
    strength: float | None = None,
    trajectory: bool = False,
) -> pd.DataFrame:
    """Mean and std over seeds of accuracy, probe accuracy, alpha and D, one row per layer of
    one condition of the final model.

    Without `strength` every strength of `attack` is listed (one row per strength and layer);
    with `trajectory` the clean rows of every snapshot (one row per epoch and layer)."""
    if trajectory:
        attack, rows = "clean", summary[summary["attack"] == "clean"]
        stats = rows.groupby(["epoch", "layer"])[list(MEASURES)].agg(["mean", "std"])
        stats.columns = [f"{MEASURES[name]} {stat}" for name, stat in stats.columns]
        stats["seeds"] = rows.groupby(["epoch", "layer"])["seed"].nunique()
        return stats
    rows = summary[summary["attack"] == attack]
    rows = rows[rows["final"]]
    if rows.empty:
        attacks = sorted(summary["attack"].unique().tolist())
        raise ConditionError(f"no attack {attack!r} in the summary; it has {attacks}")
    if strength is not None:
        strengths = sorted(rows["strength"].unique().tolist())
        rows = rows[np.isclose(rows["strength"], strength, rtol=0, atol=1e-9)]
        if rows.empty:
            raise ConditionError(
                f"no strength {strength:g} for attack {attack!r}; it has {strengths}"
            )
    keys = ["strength", "layer"] if rows["strength"].nunique() > 1 else ["layer"]
    stats = rows.groupby(keys)[list(MEASURES)].agg(["mean", "std"])
    stats.columns = [f"{MEASURES[name]} {stat}" for name, stat in stats.columns]
    stats["seeds"] = rows.groupby(keys)["seed"].nunique()
    return stats


def _summary_command(args: argparse.Namespace) -> tuple[str, int]:
    summary = read_table(args.path, columns=COLUMNS).to_pandas()
    table = layer_table(summary, args.attack, args.strength, args.trajectory)
    models = ", ".join(sorted(set(summary["dataset"] + " / " + summary["model"])))
    condition = args.attack if args.strength is None else f"{args.attack} {args.strength:g}"
    if args.trajectory:
        condition = "clean, every snapshot of training"
    body = table.to_string(float_format=lambda x: f"{x:.4f}")
    return f"{models}, {condition} (mean and std over seeds)\n{body}", 0


def _compare_command(args: argparse.Namespace) -> tuple[str, int]:
    decided, differences = compare_runs(args.run_a, args.run_b)
    differ = not verdicts(decided)["same"].all()
    return report(decided, differences), 2 if differ else 0


def _shape_errors_command(args: argparse.Namespace) -> tuple[str, int]:
    import yaml

    from manifold_smoothness.claims_report import markdown_table
    from manifold_smoothness.claims_spec import check_thresholds
    from manifold_smoothness.shape_errors import SCALES, error_rates

    with open(args.config) as handle:
        limits = check_thresholds(yaml.safe_load(handle)["claims"])
    rows = error_rates(limits, draws=args.draws, n_strengths=args.strengths)
    header = ["noise scale", "true curve", "error", "rate", "SE"]
    table = [[r["scale"], r["curve"], r["error"], r["rate"], r["rate_se"]] for r in rows]
    scales = "; ".join(
        f"{s.name}: seed sd {s.seed_sd:g}, jackknife se {s.jackknife_se:g}, excursion "
        f"{s.excursion:g}"
        for s in SCALES
    )
    head = (
        f"Shape call (min_relative_reversal {limits['min_relative_reversal']:g}, uncertainty_k "
        f"{limits['uncertainty_k']:g}) on {args.draws} simulated sweeps per row, 3 seeds, "
        f"{args.strengths} strengths. {scales}."
    )
    return "\n".join([head, "", *markdown_table(header, table)]), 0


def parser() -> argparse.ArgumentParser:
    main_parser = argparse.ArgumentParser(prog="python -m manifold_smoothness")
    commands = main_parser.add_subparsers(dest="command", required=True)
    summary = commands.add_parser(
        "summary",
        help="per-layer accuracy, probe accuracy, alpha and D of a summary.parquet (mean/std "
        "over seeds)",
    )
    summary.add_argument("path", help="a summary.parquet written by summarize_spectra")
    summary.add_argument(
        "--attack", default="clean", help="clean (default) or a configured attack, e.g. fgsm"
    )
    summary.add_argument(
        "--trajectory", action="store_true", help="the clean rows of every training snapshot"
    )
    summary.add_argument(
        "--strength", type=float, help="one strength of the attack (default: all of them)"
    )
    summary.set_defaults(run=_summary_command)
    compare = commands.add_parser(
        "compare",
        help="two finished runs of the same study: every verdict and per-layer decision side by "
        "side, and how far alpha and the accuracies moved; exit status 2 if a verdict differs",
    )
    compare.add_argument("run_a", help="the directory the first run ran in (holds results/)")
    compare.add_argument("run_b", help="the directory the second run ran in")
    compare.set_defaults(run=_compare_command)
    errors = commands.add_parser(
        "shape-errors",
        help="false-positive and false-negative rates of the shape call of alpha(strength) on "
        "simulated sweeps at the small preset's and at paper width's noise",
    )
    errors.add_argument(
        "--config", default="config.yaml", help="config whose claims thresholds are used"
    )
    errors.add_argument("--draws", type=int, default=1000, help="simulated sweeps per row")
    errors.add_argument("--strengths", type=int, default=21, help="strengths per sweep")
    errors.set_defaults(run=_shape_errors_command)
    return main_parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; print the result and return its status (0, or 2 where `compare` finds
    a verdict that differs), or print a one-line error and return 1."""
    args = parser().parse_args(argv)
    try:
        text, status = args.run(args)
        print(text)
    except (FileNotFoundError, CorruptFileError, ConditionError, CompareError, KeyError) as err:
        message = err.args[0] if err.args else repr(err)  # KeyError's str() adds quotes
        print(f"error: {message}", file=sys.stderr)
        return 1
    return status

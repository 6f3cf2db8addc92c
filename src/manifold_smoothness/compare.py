"""Two runs of the same study side by side: do their verdicts agree, and how far apart are
their numbers?

The runs should differ only in floating-point noise (another machine, CPU against GPU, another
thread count or instruction set): then any difference in a verdict, or in a per-layer status
behind it, is a decision the statistics let noise make. ``decisions`` lists every such decision
of one claims result (``claims.evaluate_claims``); ``compare_decisions`` pairs two of them;
``compare_summaries`` measures how far the summaries' alpha, accuracy and probe accuracy moved,
also relative to alpha's own image-sampling error (``alpha_se``). ``compare_runs`` reads two
workflow directories through their ``results/config.yaml``, so the files compared are the ones
the run wrote.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from manifold_smoothness import targets
from manifold_smoothness.claims_report import markdown_table
from manifold_smoothness.storage import read_table
from manifold_smoothness.study import RUN_CONFIG

# the columns that name one summary row: a (model, seed, condition, snapshot, layer)
ROW_KEY = ["dataset", "model", "seed", "attack", "strength", "epoch", "layer"]
MEASURES = ["alpha", "accuracy", "probe_accuracy"]


class CompareError(ValueError):
    """The two runs cannot be compared (missing files, different studies)."""


def decisions(claims: Mapping[str, Any]) -> dict[str, str]:
    """Every decision behind one dataset's verdicts, by a readable key: each claim's verdict,
    claim 1's status per (layer, accuracy kind), claims 2/3's shape per (model, attack, layer)
    and the number of conditions below or near the smoothness bound."""
    out: dict[str, str] = {}
    for claim in claims["claims"]:
        out[f"claim {claim['id']} verdict"] = claim["verdict"]
        numbers = claim["numbers"]
        for row in numbers.get("per_layer", []):
            out[f"claim {claim['id']}: {row['kind']}, layer {row['layer']}"] = row["status"]
        for sweep in numbers.get("sweeps", []):  # claims 2 and 3 list the same sweeps
            for row in sweep["per_layer"]:
                key = f"claims 2/3: {sweep['model']}, {sweep['attack']}, layer {row['layer']}"
                out[key] = row["shape"]
    bound = claims["smoothness"]
    out["smoothness: conditions below the bound"] = str(bound["n_below"])
    out["smoothness: conditions near the bound"] = str(bound["n_near"])
    return out


def compare_decisions(a: Mapping[str, Any], b: Mapping[str, Any]) -> pd.DataFrame:
    """One row per decision of either run: key, decision in a, in b, and whether they agree (a
    decision missing from one run is a disagreement)."""
    da, db = decisions(a), decisions(b)
    keys = list(da) + [key for key in db if key not in da]
    rows = [(key, da.get(key, "missing"), db.get(key, "missing")) for key in keys]
    frame = pd.DataFrame(rows, columns=["decision", "a", "b"])
    frame["same"] = frame["a"] == frame["b"]
    return frame


def compare_summaries(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Per measure: rows matched, median and largest absolute difference, and where it is
    largest. For alpha also the median and largest |difference| / alpha_se (the mean of the two
    runs' jackknife errors): how the noise between runs compares with alpha's own uncertainty.
    Rows present in only one run are counted, not matched."""
    merged = a.merge(b, on=ROW_KEY, suffixes=("_a", "_b"), validate="one_to_one")
    unmatched = len(a) + len(b) - 2 * len(merged)
    rows = []
    for measure in MEASURES:
        diff = (merged[f"{measure}_a"] - merged[f"{measure}_b"]).abs()
        finite = diff[np.isfinite(diff)]
        row: dict[str, Any] = {"measure": measure, "rows": len(finite), "unmatched": unmatched}
        row["median_abs_diff"] = float(finite.median()) if len(finite) else float("nan")
        row["max_abs_diff"] = float(finite.max()) if len(finite) else float("nan")
        largest = len(finite) and finite.max() > 0
        row["at"] = _describe(merged.loc[finite.idxmax()]) if largest else ""
        if measure == "alpha":
            se = (merged["alpha_se_a"] + merged["alpha_se_b"]) / 2
            ratio = (diff / se)[np.isfinite(diff / se)]
            row["median_diff_over_se"] = float(ratio.median()) if len(ratio) else float("nan")
            row["max_diff_over_se"] = float(ratio.max()) if len(ratio) else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


def _describe(row: pd.Series) -> str:
    where = f"{row['model']} seed {row['seed']} layer {row['layer']}, {row['attack']}"
    if row["attack"] != "clean":
        where += f" {row['strength']:g}"
    return where + (" (final)" if row["final_a"] else f", epoch {row['epoch']:g}")


def _run_files(run: Path) -> tuple[dict, list[Path], list[Path]]:
    config_file = run / RUN_CONFIG
    if not config_file.is_file():
        raise CompareError(
            f"{config_file} not found: give the directory in which a finished run of the "
            f"workflow ran (it holds {RUN_CONFIG})"
        )
    config = yaml.safe_load(config_file.read_text())
    claims = [run / path for path in targets.claims_files(config, "json")]
    summaries = [run / path for path in targets.summary_files(config)]
    missing = [str(path) for path in claims + summaries if not path.is_file()]
    if missing:
        raise CompareError(f"the run in {run} is not finished: missing {', '.join(missing)}")
    return config, claims, summaries


def compare_runs(run_a: Path, run_b: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Decisions and summary differences of two finished runs of the same study."""
    config_a, claims_a, summaries_a = _run_files(Path(run_a))
    config_b, claims_b, summaries_b = _run_files(Path(run_b))
    for name in ("dataset", "models", "attacks", "claims", "analysis"):
        if config_a.get(name) != config_b.get(name):
            raise CompareError(
                f"the runs are different studies: their configs differ in {name!r}; compare two "
                "runs of the same config"
            )
    frames = []
    for file_a, file_b in zip(claims_a, claims_b, strict=True):
        frame = compare_decisions(json.loads(file_a.read_text()), json.loads(file_b.read_text()))
        frame.insert(0, "dataset", file_a.stem)
        frames.append(frame)
    columns = [*ROW_KEY, "final", *MEASURES, "alpha_se"]
    summary_a = pd.concat(read_table(p, columns=columns).to_pandas() for p in summaries_a)
    summary_b = pd.concat(read_table(p, columns=columns).to_pandas() for p in summaries_b)
    return pd.concat(frames, ignore_index=True), compare_summaries(summary_a, summary_b)


def _rows(frame: pd.DataFrame) -> list[list[Any]]:
    """Table cells as Python values, NaN as None ('n/a')."""

    def cell(v: Any) -> Any:
        v = v.item() if isinstance(v, np.generic) else v
        return None if isinstance(v, float) and math.isnan(v) else v

    return [[cell(v) for v in row] for row in frame.values]


def verdicts(decided: pd.DataFrame) -> pd.DataFrame:
    """The verdict rows of `compare_decisions`' table (the others are decisions behind them)."""
    return decided[decided["decision"].str.endswith("verdict")]


def report(decided: pd.DataFrame, differences: pd.DataFrame) -> str:
    """Markdown: the verdicts of both runs, every decision that differs, the summary
    differences."""
    verdict_rows = verdicts(decided)
    differ = decided[~decided["same"]]
    lines = [
        f"{int(decided['same'].sum())} of {len(decided)} decisions agree; "
        f"{int((~verdict_rows['same']).sum())} of {len(verdict_rows)} verdicts differ.",
        "",
        *markdown_table(list(verdict_rows.columns), _rows(verdict_rows)),
    ]
    if len(differ):
        lines += [
            "Decisions that differ:",
            "",
            *markdown_table(list(differ.columns), _rows(differ)),
        ]
    lines += [
        "Summary differences (absolute; alpha also in units of its jackknife error alpha_se):",
        "",
        *markdown_table(list(differences.columns), _rows(differences)),
    ]
    return "\n".join(lines)

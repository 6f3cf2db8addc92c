"""The paper's claims per width: a width sweep (several paper networks that differ only in their
layers' width, e.g. config/width-sweep.yaml) checked one network at a time, with each claim's
per-layer statistic, so that one figure shows how the answer changes with width.

Each paper network's rows of the summary go through the claims check alone
(claims.evaluate_claims): the same statistics, thresholds and verdicts as the study's claims
file, which pools every paper network. Per width and layer: claim 1's mean Spearman rho between
clean accuracy and alpha over the training snapshots (readout accuracy; seed spread as its
error), claims 2 and 3's relative reversal r of alpha(strength) under Gaussian noise and FGSM
with the layer's call (monotonic, non-monotonic or undefined).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

from manifold_smoothness import claims_spec
from manifold_smoothness.vocabulary import rule_of

# The claims' ids. This module is imported while Snakemake plans (paper_widths): claims_spec is
# light, pandas and the claims themselves load only where the claims are checked.
ACCURACY_NEEDS_DECAY, GAUSSIAN_MONOTONIC, FGSM_NON_MONOTONIC = (
    spec.id
    for spec in (
        claims_spec.ACCURACY_NEEDS_DECAY,
        claims_spec.GAUSSIAN_MONOTONIC,
        claims_spec.FGSM_NON_MONOTONIC,
    )
)

WIDTH_COLUMNS = ("model", "width", "claim", "verdict", "layer", "value", "error", "call")
CLAIM_STATISTICS = {
    ACCURACY_NEEDS_DECAY: "rho(accuracy, alpha), readout",
    GAUSSIAN_MONOTONIC: "relative reversal r, Gaussian",
    FGSM_NON_MONOTONIC: "relative reversal r, FGSM",
}


def paper_widths(models: list[Mapping]) -> dict[str, int]:
    """Width (units per hidden layer, the widest layer) of every model of a config `models`
    list whose training is the paper's: local errors, all training images, no label noise."""
    return {
        spec["name"]: max(spec["hidden"])
        for spec in models
        if claims_spec.is_paper_network(
            rule_of(spec),
            spec["training"].get("train_subset") or 0,
            spec["training"].get("label_noise") or 0,
        )
    }


def is_width_sweep(models: list[Mapping]) -> bool:
    """Whether the study holds paper networks of at least two widths."""
    return len(set(paper_widths(models).values())) >= 2


def claims_by_width(
    summary: pd.DataFrame,
    thresholds: Mapping[str, float],
    widths: Mapping[str, int],
    input_dimension: float | None = None,
) -> pd.DataFrame:
    """One row per (model, claim, layer) of the paper networks in `widths` (model -> width):
    WIDTH_COLUMNS, the verdict of that network's claims check alone and the layer's statistic.
    A network whose check cannot run (e.g. too few snapshots for claim 1) gets its reason as
    the verdict of every claim and no layers."""
    import pandas as pd

    from manifold_smoothness.claims import evaluate_claims

    rows = []
    for model, width in sorted(widths.items(), key=lambda mw: (mw[1], mw[0])):
        alone = summary[summary["model"] == model]
        try:
            result = evaluate_claims(alone, dict(thresholds), input_dimension)
        except claims_spec.ClaimsError as err:
            for claim in CLAIM_STATISTICS:
                rows.append((model, width, claim, f"not checked: {err}", None, None, None, None))
            continue
        claims = {c["id"]: c for c in result["claims"]}
        rows += [
            (model, width, claim_id, claims[claim_id]["verdict"], *layer)
            for claim_id in CLAIM_STATISTICS
            for layer in _layers(claim_id, claims[claim_id]["numbers"])
        ]
    return pd.DataFrame(rows, columns=list(WIDTH_COLUMNS))


def _layers(claim_id: int, numbers: dict[str, Any]) -> list[tuple]:
    """(layer, value, error, call) of one network's claim."""
    if claim_id == ACCURACY_NEEDS_DECAY:
        return [
            (row["layer"], row["rho_mean"], row["rho_std"], row["status"])
            for row in numbers["per_layer"]
            if row["kind"] == "readout"
        ]
    counted = [s for s in numbers["sweeps"] if s["counted"]]
    return [
        (row["layer"], row["relative_reversal"], None, row["shape"])
        for sweep in counted
        for row in sweep["per_layer"]
    ]

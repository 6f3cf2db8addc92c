"""The checks of the strong-attack audit (manifold_smoothness.audit), read by the claims: pure
pandas, so the claims job does not load torch. See audit.py for what each check asks."""

from __future__ import annotations

from typing import Any

import pandas as pd

AUDIT_ATTACKS = ("fgsm", "pgd", "apgd_ce", "apgd_dlr")
WORST = "worst"  # the per-sample worst case over AUDIT_ATTACKS
TOLERANCE = 0.01  # accuracy an iterative attack may exceed FGSM's by (one image in 100)
NEAR_ZERO = 0.05  # worst-case accuracy counted as ~0 at a large budget
LARGE_BUDGET = 0.3  # MNIST's standard L-inf budget
MAX_ZERO_GRADIENT = 0.01  # largest fraction of images with an all-zero input gradient
WEAK_FGSM = 0.1  # FGSM accuracy above PGD's by this much counts as FGSM weakening


def _check(name: str, passed: bool, detail: str, failures: list[str]) -> dict[str, Any]:
    return {"check": name, "passed": bool(passed), "detail": detail, "failures": failures}


def audit_checks(frame: pd.DataFrame) -> dict[str, Any]:
    """The checks of the module docstring over the audit rows of every model and seed
    (columns model, seed, budget, attack, accuracy, samples, zero_gradient, pgd_eps0, clean),
    and per model the accuracy table (seed means) and the budget from which FGSM weakens."""
    checks = []
    wide = frame.pivot_table(
        index=["model", "seed", "budget"], columns="attack", values="accuracy"
    ).reset_index()
    weaker = wide[
        (wide.pgd > wide.fgsm + TOLERANCE)
        | (wide.apgd_ce > wide.fgsm + TOLERANCE)
        | (wide.apgd_dlr > wide.fgsm + TOLERANCE)
    ]
    checks.append(
        _check(
            "iterative attacks at least as strong as FGSM",
            weaker.empty,
            f"accuracy under PGD, APGD-CE and APGD-DLR <= accuracy under FGSM + {TOLERANCE} at "
            f"every budget, model and seed ({len(wide)} cases)",
            [
                f"{r.model} seed {r.seed} eps {r.budget:g}: FGSM {r.fgsm:.3f}, PGD {r.pgd:.3f}, "
                f"APGD-CE {r.apgd_ce:.3f}, APGD-DLR {r.apgd_dlr:.3f}"
                for r in weaker.itertuples()
            ],
        )
    )
    largest = float(wide.budget.max())
    top = wide[wide.budget == largest]
    if largest >= LARGE_BUDGET:
        high = top[top[WORST] > NEAR_ZERO]
        checks.append(
            _check(
                "accuracy near 0 at a large budget",
                high.empty,
                f"worst-case accuracy <= {NEAR_ZERO} at eps {largest:g}",
                [f"{r.model} seed {r.seed}: {getattr(r, WORST):.3f}" for r in high.itertuples()],
            )
        )
    else:
        checks.append(
            _check(
                "accuracy near 0 at a large budget",
                False,
                f"not tested: the largest budget {largest:g} is below {LARGE_BUDGET}; add it to "
                "audit.budgets",
                [],
            )
        )
    per_run = frame.drop_duplicates(["model", "seed"])
    saturated = per_run[per_run.zero_gradient > MAX_ZERO_GRADIENT]
    checks.append(
        _check(
            "no zero gradients",
            saturated.empty,
            f"at most {MAX_ZERO_GRADIENT:.0%} of the images with an all-zero input gradient "
            f"(largest: {per_run.zero_gradient.max():.2%})",
            [f"{r.model} seed {r.seed}: {r.zero_gradient:.2%}" for r in saturated.itertuples()],
        )
    )
    moved = per_run[per_run.pgd_eps0 != per_run.clean]
    checks.append(
        _check(
            "PGD at eps 0 equals clean accuracy",
            moved.empty,
            "PGD's steps with a zero budget leave every prediction as it is",
            [
                f"{r.model} seed {r.seed}: {r.pgd_eps0:.4f} vs {r.clean:.4f}"
                for r in moved.itertuples()
            ],
        )
    )
    return {
        "checks": checks,
        "passed": all(c["passed"] for c in checks),
        "models": {model: _model_reading(rows) for model, rows in wide.groupby("model")},
        "thresholds": {
            "tolerance": TOLERANCE,
            "near_zero": NEAR_ZERO,
            "large_budget": LARGE_BUDGET,
            "max_zero_gradient": MAX_ZERO_GRADIENT,
            "weak_fgsm": WEAK_FGSM,
        },
    }


def _model_reading(rows: pd.DataFrame) -> dict[str, Any]:
    """Seed-mean accuracy per budget and attack, and the smallest budget from which FGSM is
    weaker: its accuracy rises with eps by more than TOLERANCE, or exceeds PGD's by WEAK_FGSM."""
    mean = rows.groupby("budget")[[*AUDIT_ATTACKS, WORST]].mean().sort_index()
    rises = mean.fgsm.diff() > TOLERANCE
    gap = mean.fgsm - mean.pgd > WEAK_FGSM
    weak = mean.index[rises | gap]
    return {
        "budgets": mean.index.tolist(),
        "accuracy": {attack: mean[attack].round(4).tolist() for attack in mean.columns},
        "fgsm_weakens_from": float(weak[0]) if len(weak) else None,
        "seeds": int(rows.seed.nunique()),
    }


def audit_markdown(audit: dict[str, Any], fgsm_sweeps: list[dict[str, Any]]) -> list[str]:
    """The audit's section of the claims file: the checks, the accuracy per budget and attack
    of every model, and where FGSM's non-monotonic alpha curves (claim 3's sweeps, target
    output) reverse relative to the budget from which FGSM weakens."""
    lines = [
        "## Attack audit (Carlini et al. 2019)",
        "",
        "Accuracy of the final networks under FGSM, our PGD and ART's APGD (cross-entropy and "
        "difference-of-logits-ratio losses, the white-box attacks of AutoAttack); worst = an "
        "image counts as robust only if every attack fails on it. All checks "
        + ("**pass**." if audit["passed"] else "do **not** pass."),
        "",
        "| check | result | what | failures |",
        "|---|---|---|---|",
    ]
    for check in audit["checks"]:
        failures = "; ".join(check["failures"][:10]) or "-"
        verdict = "pass" if check["passed"] else "**FAIL**"
        lines.append(f"| {check['check']} | {verdict} | {check['detail']} | {failures} |")
    lines.append("")
    weak = {sweep["model"]: sweep for sweep in fgsm_sweeps if sweep["target"] == "output"}
    for model, reading in audit["models"].items():
        lines += [f"### {model} (seed means over {reading['seeds']} seeds)", ""]
        lines.append("| attack | " + " | ".join(f"eps {b:g}" for b in reading["budgets"]) + " |")
        lines.append("|---" * (len(reading["budgets"]) + 1) + "|")
        for attack, values in reading["accuracy"].items():
            lines.append(f"| {attack} | " + " | ".join(f"{v:.3f}" for v in values) + " |")
        lines.append("")
        start = reading["fgsm_weakens_from"]
        lines.append(
            f"FGSM weakens (accuracy rising with eps, or above PGD's by more than {WEAK_FGSM}) "
            + (f"from eps {start:g}." if start is not None else "at none of these budgets.")
        )
        lines += _reversals_against(weak.get(model), start) + [""]
    return lines


def _reversals_against(sweep: dict[str, Any] | None, start: float | None) -> list[str]:
    """Where the model's non-monotonic FGSM curves reverse, against FGSM's weak regime."""
    if sweep is None:
        return []
    reversed_ = [row for row in sweep["per_layer"] if row["shape"] == "non-monotonic"]
    if not reversed_:
        return ["No layer's alpha(eps) under FGSM is non-monotonic."]
    out = []
    for row in reversed_:
        where = (
            f"layer {row['layer']}: alpha reverses between eps {row['from_strength']:g} and "
            f"{row['to_strength']:g}"
        )
        if start is None:
            out.append(f"{where}, where FGSM is as strong as PGD.")
        elif row["to_strength"] <= start:
            out.append(f"{where}, before FGSM weakens: not an overshoot artefact.")
        else:
            out.append(f"{where}, reaching into the regime where FGSM weakens (eps >= {start:g}).")
    return ["", *(f"- {line}" for line in out)]

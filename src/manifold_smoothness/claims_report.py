"""The claims check as a Markdown report, rendered from the result of ``evaluate_claims``.

It reads only the result (a JSON-serialisable dict), so a stored ``.json`` can be rendered again
without the summary table.
"""

from __future__ import annotations

from typing import Any

from manifold_smoothness.claims_spec import FGSM_NON_MONOTONIC, GAUSSIAN_MONOTONIC

__all__ = ["markdown_table", "render_html", "render_markdown", "robustness"]


def _fmt(value: Any) -> str:
    """A value as table text: 3 significant digits, 'n/a' for None, yes/no, lists joined."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value == 0:
            return "0"
        return f"{value:.2e}" if abs(value) < 1e-3 or abs(value) >= 1e4 else f"{value:.3g}"
    if isinstance(value, list):
        return ", ".join(_fmt(v) for v in value) if value else "-"
    return str(value)


def _mean_std(row: dict[str, Any], name: str) -> str:
    """'mean (std)' of ``name`` in a row."""
    return f"{_fmt(row[f'{name}_mean'])} ({_fmt(row[f'{name}_std'])})"


def markdown_table(header: list[str], rows: list[list[Any]]) -> list[str]:
    """Markdown table lines, followed by a blank line."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    # A literal "|" would split a cell; Markdown escapes it as "\|".
    lines += ["| " + " | ".join(_fmt(v).replace("|", "\\|") for v in row) + " |" for row in rows]
    return [*lines, ""]


def _not_listed(count: int) -> list[str]:
    return [f"({count} more not listed.)", ""] if count else []


def robustness(claim: dict[str, Any]) -> str:
    """'robust' or 'rests on <key> (flips to <verdict> at <value>)...' of a claim's verdict."""
    sensitivity = claim["sensitivity"]
    if sensitivity["robust"]:
        return "robust to its thresholds"
    parts = []
    for row in sensitivity["thresholds"]:
        # each other verdict with the side of the flip on which it lies
        flips = ", ".join(
            f"{f['from']} below {_fmt(f['at'])}"
            if f["at"] <= row["value"]
            else f"{f['to']} from {_fmt(f['at'])}"
            for f in row["flips"]
        )
        if flips:
            parts.append(f"{row['key']} = {_fmt(row['value'])} ({flips})")
    return "rests on " + "; ".join(parts)


def _sensitivity_body(claim: dict[str, Any]) -> list[str]:
    """The verdict at each tested value of each threshold, and where it flips."""
    lines = [f"**Sensitivity: {robustness(claim)}.**", ""]
    rows = []
    for row in claim["sensitivity"]["thresholds"]:
        tested = ", ".join(f"{_fmt(t['value'])}: {t['verdict']}" for t in row["tested"])
        flips = [f"{f['from']} -> {f['to']} at {_fmt(f['at'])}" for f in row["flips"]]
        rows.append([row["key"], row["value"], tested, flips, row["robust"]])
    header = ["threshold", "configured", "verdict at half to double", "flips", "robust"]
    return lines + markdown_table(header, rows)


def _claim_head(claim: dict[str, Any]) -> list[str]:
    """Heading, statement, statistic, verdict, its sensitivity and meaning of one claim."""
    return [
        f"## Claim {claim['id']}: {claim['name']}",
        "",
        f"> {claim['statement']}",
        "",
        f"**Statistic.** {claim['statistic']}",
        "",
        f"**Verdict: {claim['verdict']}** ({robustness(claim)}). {claim['reason']}",
        "",
        *_sensitivity_body(claim),
        f"**Meaning.** {claim['meaning']}",
        "",
    ]


def _claim1_body(numbers: dict[str, Any]) -> list[str]:
    """Claim 1: per (layer, kind) statistics, the violations and the per-model values."""
    rows = []
    for r in numbers["per_layer"]:
        seeds = r["per_seed"]
        rows.append(
            [r["layer"], r["kind"], f"{r['n_seeds_defined']}/{r['n_seeds']}"]
            + [[s[key] for s in seeds] for key in ("n_points", "rho")]
            + [r["rho_mean"], r["rho_std"], [s["gap"] for s in seeds], r["gap_min"]]
            + [[s["violations"] for s in seeds], r["sign_null_probability"], r["status"]]
        )
    header = ["layer", "kind", "seeds defined", "points per seed", "rho per seed", "mean rho"]
    header += ["std rho", "gap per seed", "min gap", "violations per seed"]
    header += ["P(signs agree) under null", "status"]
    lines = markdown_table(header, rows)
    lines += [
        f"Violations: {numbers['n_violations']} high-accuracy points with alpha below the median "
        "alpha of the other points (smallest alpha - reference first).",
        "",
    ]
    if numbers["violations"]:
        keys = ["kind", "layer", "seed", "model", "epoch", "accuracy", "alpha", "reference_alpha"]
        lines += markdown_table(keys, [[v[k] for k in keys] for v in numbers["violations"]])
        lines += _not_listed(numbers["n_violations_not_listed"])
    lines += ["Per model and layer: the final model (mean (std) over seeds) and the seed-mean "
              "Spearman rho of accuracy vs alpha along its snapshots.", ""]  # fmt: skip
    header = ["model", "rule", "paper network", "layer", "snapshots", "readout accuracy"]
    header += ["probe accuracy", "alpha", "rho readout (snapshots)", "rho probe (snapshots)"]
    rows = [
        [r["model"], r["rule"], r["paper_network"], r["layer"], r["n_snapshots"]]
        + [_mean_std(r, "accuracy"), _mean_std(r, "probe_accuracy"), _mean_std(r, "alpha")]
        + [r["rho_readout_snapshots"], r["rho_probe_snapshots"]]
        for r in numbers["per_model"]
    ]
    return lines + markdown_table(header, rows)


def _contrast_body(numbers: dict[str, Any], statistic: str) -> list[str]:
    """Claim 3's Gaussian-FGSM contrast table, one row per (model, layer)."""
    rows = numbers.get("contrast") or []
    if not rows:
        return []
    keys = ["model", "paper_network", "layer", "shape_gaussian", "r_gaussian", "shape_fgsm"]
    keys += ["r_fgsm", "delta", "delta_se", "delta_low", "delta_high", "call"]
    header = ["model", "paper network", "layer", "Gaussian shape", "r Gaussian", "FGSM shape"]
    header += ["r FGSM", "Delta", "SE", "2.5%", "97.5%", "call"]
    lines = ["**Gaussian-FGSM contrast per layer.** " + statistic, ""]
    return lines + markdown_table(header, [[r[k] for k in keys] for r in rows])


def _shape_body(numbers: dict[str, Any]) -> list[str]:
    """Claims 2 and 3: counts per family and per (model, attack); the per-layer tables are in
    the shared sweep section."""
    keys = ["networks", "method", "target", "n_monotonic", "n_non_monotonic", "n_undefined"]
    keys.append("fraction_non_monotonic")
    lines = ["Where reversals come from (curves per family):", ""]
    lines += markdown_table(keys, [[r[k] for k in keys] for r in numbers["by_family"]])
    lines += ["Every sweep (per-layer tables under *Attack sweeps* below):", ""]
    keys = ["model", "attack", "method", "target", "rule", "paper_network", "counted"]
    keys += ["n_monotonic", "n_non_monotonic", "n_undefined"]
    return lines + markdown_table(keys, [[s[k] for k in keys] for s in numbers["sweeps"]])


def _sweeps_body(result: dict[str, Any]) -> list[str]:
    """One per-layer shape table for every (model, attack)."""
    claims = {c["id"]: c for c in result["claims"]}
    gauss = claims[GAUSSIAN_MONOTONIC.id]["numbers"]["sweeps"]
    fgsm = claims[FGSM_NON_MONOTONIC.id]["numbers"]["sweeps"]
    limits = result["thresholds"]
    keys = ["shape", "relative_reversal", "depth", "se_depth", "depth_in_se", "excursion"]
    keys += ["reversal", "from_strength", "to_strength", "net_change", "accuracy_trend"]
    keys.append("accuracy_source")
    header = ["layer", "shape", f"r = D / E (min {_fmt(limits['min_relative_reversal'])})"]
    header += ["depth D", "se_D", f"D / se_D (min {_fmt(limits['uncertainty_k'])})"]
    header += ["excursion E", "reversal", "from strength", "to strength"]
    header += ["net change c_K - c_0", "accuracy trend (rho vs strength)", "accuracy of", "flags"]
    lines = [
        "## Attack sweeps: shape of alpha(strength) per layer",
        "",
        "Claims 2 and 3 count the sweeps marked as counted; the others show where a reversal "
        "comes from (random-sign noise at FGSM's L-inf budget, attacks on each layer's own "
        "readout, other rules and training sets).",
        "",
    ]
    for g, f in zip(gauss, fgsm, strict=True):
        lines += [
            f"### {g['model']} / {g['attack']}",
            "",
            f"Method {g['method']}, target {g['target']}, rule {g['rule']}, paper network "
            f"{_fmt(g['paper_network'])}; strengths {_fmt(g['strengths'])}; seeds "
            f"{_fmt(g['seeds'])}; counted for claim 2: {_fmt(g['counted'])}, claim 3: "
            f"{_fmt(f['counted'])}.",
            "",
        ]
        rows = [[r["layer"], *(r[key] for key in keys), r["flags"]] for r in g["per_layer"]]
        lines += markdown_table(header, rows)
    return lines


def _smoothness_body(result: dict[str, Any]) -> list[str]:
    """The smoothness-bound section."""
    section = result["smoothness"]
    if section["input_dimension"] is None:
        where = f"d per row: {section['input_dimension_source']}."
    else:
        d = _fmt(section["input_dimension"])
        where = f"d = {d} for every row ({section['input_dimension_source']})."
    lines = ["## Smoothness bound", "", f"{section['statistic']} {where}", ""]
    minimum = section["minimum"]
    if minimum is not None:
        place = ", ".join(f"{k} {_fmt(minimum[k])}" for k in ("model", "attack", "strength"))
        lines += [
            f"Smallest margin {_fmt(minimum['margin'])} ({place}, epoch "
            f"{_fmt(minimum['epoch'])}, layer {minimum['layer']}); {section['n_below']} of "
            f"{section['n_conditions']} conditions below the bound, {section['n_near']} near "
            f"it (margin < {_fmt(result['thresholds']['bound_margin'])}).",
            "",
        ]
    keys = ["model", "attack", "strength", "epoch", "layer", "alpha", "d", "margin", "n_seeds"]
    if section["listed"]:
        lines += markdown_table(keys, [[r[k] for k in keys] for r in section["listed"]])
        lines += _not_listed(section["n_not_listed"])
    lines += ["Clean input, final model, per model and layer (mean over seeds):", ""]
    keys = ["model", "layer", "epoch", "alpha", "d", "margin", "margin_std"]
    return lines + markdown_table(keys, [[r[k] for k in keys] for r in section["per_model"]])


def _models_table(result: dict[str, Any]) -> list[str]:
    keys = ["name", "rule", "train_subset", "label_noise", "paper_network", "seeds"]
    keys.append("final_epoch")
    return markdown_table(keys, [[m[k] for k in keys] for m in result["models"]])


def render_markdown(result: dict[str, Any]) -> str:
    """Render the output of ``evaluate_claims`` as a Markdown report."""
    claims = result["claims"]
    lines = [
        f"# Claims check: {result['dataset']}",
        "",
        f"Layers: {_fmt(result['layers'])}; {result['n_rows']} summary rows "
        f"({result['n_rows_dropped_non_finite']} dropped for a non-finite alpha).",
        "",
        *_models_table(result),
    ]
    lines += markdown_table(
        ["claim", "statement", "verdict", "thresholds", "reason"],
        [
            [c["id"], c["statement"], f"**{c['verdict']}**", robustness(c), c["reason"]]
            for c in claims
        ],
    )
    lines += [result["sensitivity_statistic"], ""]
    for claim in claims:
        body = _claim1_body if claim["id"] == 1 else _shape_body
        lines += _claim_head(claim) + body(claim["numbers"])
        if claim["id"] == FGSM_NON_MONOTONIC.id:
            lines += _contrast_body(claim["numbers"], result["contrast_statistic"])
    lines += _sweeps_body(result) + _smoothness_body(result)
    if result.get("audit"):
        from manifold_smoothness.audit_checks import audit_markdown

        fgsm = {c["id"]: c for c in claims}[FGSM_NON_MONOTONIC.id]["numbers"]["sweeps"]
        lines += audit_markdown(result["audit"], [s for s in fgsm if s["method"] == "fgsm"])
    thresholds = ", ".join(f"{k} = {_fmt(v)}" for k, v in result["thresholds"].items())
    fixed = ", ".join(f"{k} = {v}" for k, v in result["fixed_parameters"].items())
    lines += [
        "## Thresholds",
        "",
        f"From the config (`claims` section): {thresholds}. Fixed in code: {fixed}.",
        "",
    ]
    return "\n".join(lines)


HTML_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: sans-serif; max-width: 60em; margin: 1em auto; line-height: 1.4; }}
table {{ border-collapse: collapse; margin: 0.5em 0; }}
th, td {{ border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: left; }}
</style></head>
<body>
{body}
</body></html>
"""


def render_html(markdown_text: str, title: str = "Claims check") -> str:
    """The Markdown report as a standalone HTML page: the Snakemake report shows HTML results
    in the page, while a Markdown file is only a download link there."""
    import markdown

    body = markdown.markdown(markdown_text, extensions=["tables"], output_format="html")
    return HTML_PAGE.format(title=title, body=body)

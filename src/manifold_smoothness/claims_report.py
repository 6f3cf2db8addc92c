"""The claims check as a Markdown report, rendered from the result of ``evaluate_claims``.

It reads only the result (a JSON-serialisable dict), so a stored ``.json`` can be rendered again
without the summary table.
"""

from __future__ import annotations

from typing import Any

from manifold_smoothness.claims_spec import SMOOTHNESS_BOUND
from manifold_smoothness.study import CLEAN

__all__ = ["render_markdown"]


def _fmt(value: Any) -> str:
    """A number or flag as table text: 3 significant digits, 'n/a' for None, yes/no."""
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
    return str(value)


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    """Markdown table lines."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    # A literal "|" (as in "|rho|") would split a cell; Markdown escapes it as "\|".
    lines += ["| " + " | ".join(_fmt(v).replace("|", "\\|") for v in row) + " |" for row in rows]
    return lines


def _claim_head(claim: dict[str, Any]) -> list[str]:
    """Heading, statement, statistic and verdict lines of one claim's section."""
    return [
        f"## Claim {claim['id']}: {claim['name']}",
        "",
        f"> {claim['statement']}",
        "",
        f"**Statistic.** {claim['statistic']}",
        "",
        f"**Verdict: {claim['verdict']}.** {claim['reason']}",
        "",
    ]


def _claim1_body(numbers: dict[str, Any]) -> list[str]:
    """Tables of claim 1."""
    scalars = [[k, v] for k, v in numbers.items() if k != "by_attack"]
    lines = _table(["quantity", "value"], scalars) + [""]
    if numbers["by_attack"]:
        lines += ["Within one sweep (clean points included; descriptive only):", ""]
        rows = [[r["attack"], r["n_points"], r["rho"], r["p"]] for r in numbers["by_attack"]]
        lines += _table(["sweep", "points", "Spearman rho", "p"], rows) + [""]
    return lines


def _claim2_body(numbers: dict[str, Any]) -> list[str]:
    """Tables of claim 2."""
    seeds = ", ".join(map(str, numbers["seeds"]))
    lines = [f"Sigma grid: {len(numbers['strengths'])} values; seeds: {seeds}.", ""]
    rows = [
        [
            r["layer"],
            r["rho_mean"],
            ", ".join(_fmt(v) for v in r["rho_per_seed"]),
            r["sign"],
            r["rho_alpha_sigma_mean"],
            r["rho_accuracy_sigma_mean"],
            r["status"],
        ]
        for r in numbers["per_layer"]
    ]
    header = [
        "layer",
        "mean rho(acc, alpha)",
        "rho per seed",
        "sign",
        "mean rho(alpha, sigma)",
        "mean rho(acc, sigma)",
        "status",
    ]
    return lines + _table(header, rows) + [""]


def _claim3_body(numbers: dict[str, Any]) -> list[str]:
    """Tables of claim 3."""
    seeds = ", ".join(map(str, numbers["seeds"]))
    lines = [f"Eps grid: {len(numbers['strengths'])} values; seeds: {seeds}.", ""]
    rows = [
        [
            r["layer"],
            r["extremum"],
            r["extremum_strength"],
            r["alpha_first"],
            r["alpha_at_extremum"],
            r["alpha_last"],
            r["depth"],
            r["seed_spread"],
            r["depth_over_spread"],
            r["rho_accuracy_eps"],
            r["rho_accuracy_alpha"],
            r["shows_effect"],
        ]
        for r in numbers["per_layer"]
    ]
    header = [
        "layer",
        "extremum",
        "at eps",
        "alpha(eps=0)",
        "alpha(extremum)",
        "alpha(eps max)",
        "depth",
        "seed spread",
        "depth / spread",
        "rho(acc, eps)",
        "rho(acc, alpha)",
        "effect",
    ]
    return lines + _table(header, rows) + [""]


def _smoothness_body(result: dict[str, Any]) -> list[str]:
    """The smoothness-bound section."""
    section = result["smoothness"]
    lines = [
        "## Smoothness bound",
        "",
        f"{SMOOTHNESS_BOUND} With d = {_fmt(result['input_dimension'])} "
        f"({result['input_dimension_source']}) the bound is {_fmt(section['bound'])}.",
        "",
    ]
    header = ["layer"]
    for c in section["conditions"]:
        label = CLEAN if c["attack"] == CLEAN else f"{c['attack']} at {_fmt(c['strength'])}"
        header += [f"alpha {label}", "meets"]
    header.append("fraction of conditions meeting")
    rows = []
    for r in section["per_layer"]:
        row: list[Any] = [r["layer"]]
        for c in section["conditions"]:
            cell = r[c["attack"]]
            text = f"{_fmt(cell['alpha_mean'])} ({_fmt(cell['alpha_std'])})"
            row += [text, cell["meets_bound"]]
        row.append(r["fraction_conditions_meeting_bound"])
        rows.append(row)
    return lines + _table(header, rows) + [""]


def render_markdown(result: dict[str, Any]) -> str:
    """Render the output of ``evaluate_claims`` as a Markdown report."""
    claims = result["claims"]
    lines = [
        f"# Claims check: {result['dataset']} / {result['model']}",
        "",
        f"Seeds: {', '.join(map(str, result['seeds']))}; layers: "
        f"{', '.join(map(str, result['layers']))}; {result['n_rows']} summary rows "
        f"({result['n_rows_dropped_non_finite']} dropped for a non-finite accuracy or alpha).",
        "",
    ]
    lines += _table(
        ["claim", "statement", "verdict", "reason"],
        [[c["id"], c["statement"], f"**{c['verdict']}**", c["reason"]] for c in claims],
    )
    lines.append("")
    bodies = {1: _claim1_body, 2: _claim2_body, 3: _claim3_body}
    for claim in claims:
        lines += _claim_head(claim) + bodies[claim["id"]](claim["numbers"])
    lines += _smoothness_body(result)
    t, fixed = result["thresholds"], result["fixed_parameters"]
    lines += [
        "## Thresholds",
        "",
        f"From the config (`claims` section): high_accuracy = {_fmt(t['high_accuracy'])}, "
        f"monotonic_rho = {_fmt(t['monotonic_rho'])}, "
        f"min_extremum_depth = {_fmt(t['min_extremum_depth'])}; input dimension "
        f"d = {_fmt(result['input_dimension'])} ({result['input_dimension_source']}). "
        f"Fixed in code: significance level {_fmt(fixed['significance'])}, at least "
        f"{fixed['min_strengths']} strengths per sweep, at least {fixed['min_points']} points "
        "for claim 1.",
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

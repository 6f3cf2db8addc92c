"""Stage check_claims: the paper's claims checked on the summaries of every model of a dataset."""

from __future__ import annotations

import json
from pathlib import Path


def check_claims(job) -> None:
    import pandas as pd

    from manifold_smoothness import claims, claims_report
    from manifold_smoothness.stages import read_seed_tables, read_summary

    p = job.params
    frame = pd.concat([read_summary(path) for path in job.input.summaries], ignore_index=True)
    if p.input_dimension is not None:
        dimension, source = float(p.input_dimension), "given in config (claims.input_dimension)"
    else:
        dimension, source = None, "TwoNN on the inputs of every condition"
    result = claims.evaluate_claims(frame, p.thresholds, dimension, input_dimension_source=source)
    audits = read_seed_tables(getattr(job.input, "audits", []))
    if audits is not None:
        from manifold_smoothness.audit_checks import audit_checks

        result["audit"] = claims._jsonable(audit_checks(audits))
    Path(job.output.json).write_text(json.dumps(result, indent=2, allow_nan=False) + "\n")
    text = claims_report.render_markdown(result)
    Path(job.output.md).write_text(text)
    title = f"Claims check: {job.wildcards.dataset}"
    Path(job.output.html).write_text(claims_report.render_html(text, title))

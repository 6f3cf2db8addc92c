"""Stage plot_width_sweep: the claims checked one paper network at a time across a width sweep,
as a figure and a table (manifold_smoothness.width_sweep)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from manifold_smoothness.stages import read_summary

log = logging.getLogger("manifold_smoothness")


def plot_width_sweep(job) -> None:
    import pandas as pd

    from manifold_smoothness import figures
    from manifold_smoothness.figures.width import plot_width
    from manifold_smoothness.width_sweep import claims_by_width

    p = job.params
    summary = pd.concat([read_summary(path) for path in job.input.summaries], ignore_index=True)
    rows = claims_by_width(summary, p.thresholds, p.widths, p.input_dimension)
    records = json.loads(rows.to_json(orient="records"))
    Path(job.output.json).write_text(json.dumps(records, indent=1, allow_nan=False) + "\n")
    source = f"{job.wildcards.dataset}, paper networks of widths {sorted(set(p.widths.values()))}"
    figures.save_figure(plot_width(rows, p.thresholds, source), job.output.pdf, job.output.png)
    for (width, claim), sub in rows.groupby(["width", "claim"]):
        log.info("width %s claim %s: %s", width, claim, sub["verdict"].iloc[0])

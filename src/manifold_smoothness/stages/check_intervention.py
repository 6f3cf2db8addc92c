"""Stage check_intervention: the spectral intervention's verdict (does a larger measured alpha go
with a larger robustness at matched clean accuracy?), its network table and its figure
(manifold_smoothness.intervention)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from manifold_smoothness.stages import read_seed_tables, read_summary

log = logging.getLogger("manifold_smoothness")


def check_intervention(job) -> None:
    import pandas as pd

    from manifold_smoothness import figures, intervention
    from manifold_smoothness.figures.intervention import plot_intervention

    p = job.params
    family = {name: intervention.Penalty(**penalty) for name, penalty in p.family.items()}
    settings = intervention.VerdictSettings.from_config(p.verdict)
    summary = pd.concat([read_summary(path) for path in job.input.summaries], ignore_index=True)
    distances = read_seed_tables(job.input.robustness)
    audit = read_seed_tables(job.input.audits)
    networks = intervention.network_table(summary, distances, family, audit)
    result = intervention.decide(networks, p.baseline, settings)
    grid = intervention.sensitivity(networks, p.baseline, settings)
    record = {
        "result": result,
        "robustness_of_verdict": intervention.robustness_of_verdict(grid),
        "networks": json.loads(networks.to_json(orient="records")),
        "sensitivity": json.loads(grid.to_json(orient="records")),
    }
    Path(job.output.json).write_text(json.dumps(record, indent=1, allow_nan=False) + "\n")
    Path(job.output.md).write_text(intervention.render_markdown(networks, result, grid))
    source = f"{job.wildcards.dataset}, baseline {p.baseline}, {len(family)} networks"
    figures.save_figure(
        plot_intervention(networks, distances, result, source), job.output.pdf, job.output.png
    )
    log.info("intervention: %s", result["answer"])

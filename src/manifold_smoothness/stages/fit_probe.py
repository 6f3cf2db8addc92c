"""Stage fit_probe: the linear probe of every layer of the final model of one seed."""

from __future__ import annotations

from manifold_smoothness.stages import check_provenance


def fit_probe(job) -> None:
    from manifold_smoothness.model import load_model_with_metadata
    from manifold_smoothness.stages.analyse_snapshot import analyse_state

    w = job.wildcards
    model, meta = load_model_with_metadata(job.input.model)
    expected = {"dataset": w.dataset, "model": w.model, "seed": job.params.seed}
    check_provenance(job.input.model, meta, expected)
    analyse_state(job, model, "final", None)

"""Stage record_activations: the hidden activations of one (attacked) test set."""

from __future__ import annotations

import logging

from manifold_smoothness.stages import check_provenance

log = logging.getLogger("manifold_smoothness")


def record_activations(job) -> None:
    from manifold_smoothness import activations, data
    from manifold_smoothness.devices import resolve_device
    from manifold_smoothness.model import load_model, model_metadata

    p, w = job.params, job.wildcards
    device = resolve_device(p.device)
    check_provenance(
        job.input.model,
        model_metadata(job.input.model),
        {"dataset": w.dataset, "model": w.model, "seed": p.seed},
    )
    model = load_model(job.input.model).to(device)
    test = data.read_split(job.input.test)
    keep = data.stratified_subset(test.labels, p.samples)
    x, y = data.split_tensors(test)
    hiddens, norms = activations.record(
        model, x[keep].to(device), y[keep].to(device), p.attack, p.strength, p.seed, p.target
    )
    meta = {
        "dataset": w.dataset,
        "model": w.model,
        "seed": p.seed,
        "attack": p.attack,
        "strength": p.strength,
        "fgsm_target": p.target,
    }
    activations.write_activations(
        job.output.activations, test.index[keep], test.labels[keep], hiddens, meta, norms
    )
    log.info(
        "recorded %d samples x %s units; perturbation %s",
        len(keep),
        [h.shape[1] for h in hiddens],
        norms[-1],
    )

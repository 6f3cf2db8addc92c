"""Stage record_activations: the hidden activations of the test set under every strength of
one attack (or the clean input), for one seed: one activation file per strength.

One job per (model, seed, attack) rather than per condition: the model and the test set are
loaded once and the process starts once (imports, CUDA set-up) for the whole grid, which
dominates a condition's cost on a GPU. The intrinsic dimension of the inputs each layer saw is
estimated here, where the attacked images exist, and travels in the file's metadata.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from manifold_smoothness.stages import check_provenance

log = logging.getLogger("manifold_smoothness")


def check_strength_path(path: str, strength: float) -> None:
    """The output's <strength> path component must name the strength computed for it."""
    from manifold_smoothness.study import format_strength

    if Path(path).parent.name != format_strength(strength):
        raise ValueError(f"{path} is not the file of strength {strength}: rule and stage disagree")


def record_activations(job) -> None:
    from manifold_smoothness import activations, data, intrinsic, sampling
    from manifold_smoothness.devices import resolve_device
    from manifold_smoothness.model import load_model_with_metadata
    from manifold_smoothness.vocabulary import AttackSpec

    p, w = job.params, job.wildcards
    device = resolve_device(p.device)
    expected = {"dataset": w.dataset, "model": w.model, "seed": p.seed}
    model, meta = load_model_with_metadata(job.input.model)
    check_provenance(job.input.model, meta, expected)
    model = model.to(device)
    test = data.read_split(job.input.test)
    keep = data.stratified_subset(test.labels, p.samples)
    x, y = data.split_tensors(test)
    x, y = x[keep].to(device), y[keep].to(device)
    # the clean condition is strength 0, which every method leaves untouched
    spec = AttackSpec.from_config(p.spec) if p.spec else AttackSpec("gaussian")
    rows = sampling.dimension_rows(len(keep), p.dimension_samples)
    for path, strength in zip(job.output.activations, p.strengths, strict=True):
        check_strength_path(path, strength)
    grid = activations.record_grid(model, x, y, spec, p.strengths, p.seed)
    for strength, path, (hiddens, norms, inputs) in zip(
        p.strengths, job.output.activations, grid, strict=True
    ):
        dims = intrinsic.input_dimensions(inputs, rows)
        meta = {
            **expected,
            "attack": p.attack,
            "strength": strength,
            "spec": json.dumps(p.spec, sort_keys=True),
            "input_dimension": json.dumps(dims),
        }
        activations.write_activations(
            path, test.index[keep], test.labels[keep], hiddens, meta, norms
        )
        log.info(
            "%s %g: %d samples x %s units; perturbation %s; input dimension %s",
            p.attack,
            strength,
            len(keep),
            [h.shape[1] for h in hiddens],
            norms[-1],
            " ".join(f"{d:.2f}" for d in dims),
        )

"""Stage compute_spectrum: eigenvalues and readout accuracy of every layer of one condition."""

from __future__ import annotations

import logging

from manifold_smoothness.stages import check_provenance

log = logging.getLogger("manifold_smoothness")


CONDITION_KEYS = ("dataset", "model", "seed", "attack", "strength")


def condition_of(wildcards) -> dict[str, str]:
    """What a condition's path says: dataset, model, seed, attack and strength."""
    return {key: wildcards[key] for key in CONDITION_KEYS}


def compute_spectrum(job) -> None:
    from manifold_smoothness import activations, summary
    from manifold_smoothness.model import load_model, readout_accuracy
    from manifold_smoothness.spectrum import eigenspectrum
    from manifold_smoothness.storage import write_table

    path = job.input.activations
    meta = activations.read_metadata(path)
    check_provenance(path, meta, condition_of(job.wildcards))
    model = load_model(job.input.model)
    labels = activations.read_labels(path)
    spectra, accuracies = [], []
    for layer in range(1, int(meta["n_layers"]) + 1):
        h = activations.read_layer(path, layer)
        accuracies.append(readout_accuracy(h, model.readout(layer - 1).numpy(), labels))
        spectra.append(eigenspectrum(h))
    keep = (*CONDITION_KEYS, "fgsm_target", "perturbation")
    table = summary.spectrum_table(spectra, accuracies, len(labels))
    write_table(table, job.output.spectrum, metadata={k: meta[k] for k in keep})
    log.info("accuracy per layer: %s", " ".join(f"{a:.4f}" for a in accuracies))

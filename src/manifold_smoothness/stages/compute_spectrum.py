"""Stage compute_spectrum: eigenvalues (with their delete-one-block jackknife spectra) and
readout accuracy of every layer, for every strength of one attack (or the clean input) of one
seed: one spectrum file per strength."""

from __future__ import annotations

import logging

from manifold_smoothness.stages import check_provenance

log = logging.getLogger("manifold_smoothness")

CONDITION_KEYS = ("dataset", "model", "seed", "attack", "strength")
# metadata of the activation file that the spectrum file carries on
KEPT_METADATA = (*CONDITION_KEYS, "spec", "perturbation", "input_dimension")


def compute_spectrum(job) -> None:
    from manifold_smoothness import activations, summary
    from manifold_smoothness.devices import resolve_device
    from manifold_smoothness.model import load_model, readout_accuracy
    from manifold_smoothness.spectrum import layer_spectrum
    from manifold_smoothness.storage import write_table

    device = str(resolve_device(job.params.device))
    blocks = job.params.jackknife_blocks
    model = load_model(job.input.model)
    readouts = [model.readout(layer).numpy() for layer in range(model.n_layers)]
    files = zip(job.input.activations, job.output.spectra, job.params.conditions, strict=True)
    for path, out, condition in files:
        meta = activations.read_metadata(path)
        check_provenance(path, meta, condition)
        labels = activations.read_labels(path)
        spectra, loo, accuracies = [], [], []
        for layer in range(1, int(meta["n_layers"]) + 1):
            h = activations.read_layer(path, layer)
            accuracies.append(readout_accuracy(h, readouts[layer - 1], labels))
            full, left_out = layer_spectrum(h, blocks, device)
            spectra.append(full)
            loo.append(left_out)
        table = summary.spectrum_table(spectra, accuracies, len(labels), loo)
        kept = {k: meta[k] for k in KEPT_METADATA if k in meta}
        write_table(table, out, metadata={**kept, "jackknife_blocks": str(blocks)})
        log.info(
            "%s %s: accuracy per layer %s",
            condition["attack"],
            condition["strength"],
            " ".join(f"{a:.4f}" for a in accuracies),
        )

"""Stage analyse_snapshot: one snapshot of training on the clean test images: every layer's
spectrum (with jackknife blocks), readout accuracy and input dimension, and its linear probe.

The activations live in memory only: a snapshot's spectrum and probe are what later steps
read, and the activations of ~10 snapshots per seed would be ~150 MB each at paper scale.
"""

from __future__ import annotations

import json
import logging

from manifold_smoothness.stages import check_provenance

log = logging.getLogger("manifold_smoothness")


def analyse_snapshot(job) -> None:
    from manifold_smoothness import activations, data, intrinsic, sampling, summary
    from manifold_smoothness.devices import resolve_device
    from manifold_smoothness.model import load_snapshots, readout_accuracies
    from manifold_smoothness.spectrum import layer_spectrum
    from manifold_smoothness.stages.fit_probe import probe_state
    from manifold_smoothness.storage import write_table
    from manifold_smoothness.study import format_epoch

    p, w = job.params, job.wildcards
    states, meta = load_snapshots(job.input.snapshots)
    check_provenance(
        job.input.snapshots, meta, {"dataset": w.dataset, "model": w.model, "seed": p.seed}
    )
    found = [m for epoch, m in states if format_epoch(epoch) == format_epoch(p.epoch)]
    if not found:
        raise ValueError(
            f"{job.input.snapshots} holds the snapshots {[e for e, _ in states]}, not epoch "
            f"{p.epoch}: it was written before this point was configured; delete it (and "
            "model.pt) and rerun snakemake"
        )
    device = resolve_device(p.device)
    model = found[0].to(device)
    test = data.read_split(job.input.test)
    keep = data.stratified_subset(test.labels, p.samples)
    x, _ = data.split_tensors(test)
    x, labels = x[keep], test.labels[keep].astype("int64")
    layers = activations.hiddens(model, x)
    spectra = [layer_spectrum(h, p.jackknife_blocks, str(device)) for h in layers]
    accuracies = readout_accuracies(model, layers, labels)
    rows = sampling.dimension_rows(len(keep), p.dimension_samples)
    dims = intrinsic.input_dimensions([x.numpy()] * len(layers), rows)
    table = summary.spectrum_table(
        [s[0] for s in spectra], accuracies, len(keep), [s[1] for s in spectra]
    )
    meta = {
        "dataset": w.dataset,
        "model": w.model,
        "seed": p.seed,
        "epoch": format_epoch(p.epoch),
        "attack": "clean",
        "strength": "0",
        "input_dimension": json.dumps(dims),
        "jackknife_blocks": str(p.jackknife_blocks),
    }
    write_table(table, job.output.spectrum, metadata=meta)
    log.info("epoch %s: accuracy per layer %s", p.epoch, " ".join(f"{a:.4f}" for a in accuracies))
    probe_state(job, model, format_epoch(p.epoch), test_layers=layers, test=test)

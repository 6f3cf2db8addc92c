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
    from manifold_smoothness.model import load_snapshots
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
    analyse_state(job, found[0], p.epoch, job.output.spectrum)


def analyse_state(job, model, epoch, spectrum_out) -> None:
    """Spectrum (if `spectrum_out`) and probe of one network state on the clean test images."""
    from manifold_smoothness import analysis, data, summary
    from manifold_smoothness.devices import resolve_device
    from manifold_smoothness.storage import write_table

    p, w = job.params, job.wildcards
    device = resolve_device(p.device)
    model = model.to(device)
    test = data.read_split(job.input.test)
    keep = data.stratified_subset(test.labels, p.samples)
    x, y = data.split_tensors(test)
    x, labels = x[keep], test.labels[keep].astype("int64")
    layers = analysis.hiddens(model, x)
    label = {"dataset": w.dataset, "model": w.model, "seed": p.seed, "epoch": str(epoch)}
    if spectrum_out is not None:
        blocks = p.jackknife_blocks
        spectra = [analysis.layer_spectrum(h, blocks, str(device)) for h in layers]
        accuracies = analysis.readout_accuracies(model, layers, labels)
        rows = analysis.dimension_rows(len(keep), p.dimension_samples)
        dims = analysis.input_dimensions([x.numpy()] * len(layers), rows)
        table = summary.spectrum_table(
            [s[0] for s in spectra], accuracies, len(keep), [s[1] for s in spectra]
        )
        meta = {
            **label,
            "attack": "clean",
            "strength": "0",
            "input_dimension": json.dumps(dims),
            "jackknife_blocks": str(blocks),
        }
        write_table(table, spectrum_out, metadata=meta)
        log.info("epoch %s: accuracy per layer %s", epoch, " ".join(f"{a:.4f}" for a in accuracies))
    train = data.read_split(job.input.train)
    chosen = data.stratified_subset(train.labels, p.probe["train_samples"])
    x_train, _ = data.split_tensors(train)
    train_layers = analysis.hiddens(model, x_train[chosen])
    results = analysis.probe_layers(
        train_layers,
        train.labels[chosen].astype("int64"),
        layers,
        labels,
        l2=p.probe["l2"],
        max_iter=p.probe["max_iter"],
        device=str(device),
    )
    write_table(summary.probe_table(results), job.output.probe, metadata=label)
    log.info(
        "epoch %s: probe accuracy per layer %s",
        epoch,
        " ".join(f"{r.test_accuracy:.4f}" for r in results),
    )

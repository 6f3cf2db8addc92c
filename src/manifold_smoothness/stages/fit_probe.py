"""Stage fit_probe: the linear probe of every layer of the final model of one seed."""

from __future__ import annotations

import logging

from manifold_smoothness.stages import check_provenance

log = logging.getLogger("manifold_smoothness")


def fit_probe(job) -> None:
    from manifold_smoothness.model import load_model_with_metadata

    w = job.wildcards
    model, meta = load_model_with_metadata(job.input.model)
    expected = {"dataset": w.dataset, "model": w.model, "seed": job.params.seed}
    check_provenance(job.input.model, meta, expected)
    probe_state(job, model, "final")


def probe_state(job, model, epoch, test_layers=None, test=None) -> None:
    """Fit and score the probe of every layer of one network state; write job.output.probe.

    `test_layers`: the state's activations of the analysed test images, if already computed;
    `test`: the test split, if already read."""
    from manifold_smoothness import activations, data, probe
    from manifold_smoothness.devices import resolve_device
    from manifold_smoothness.storage import write_table

    p, w = job.params, job.wildcards
    model = model.to(resolve_device(p.device))
    test = data.read_split(job.input.test) if test is None else test
    keep = data.stratified_subset(test.labels, p.samples)
    if test_layers is None:
        x_test, _ = data.split_tensors(test)
        test_layers = activations.hiddens(model, x_test[keep])
    train = data.read_split(job.input.train)
    chosen = data.stratified_subset(train.labels, p.probe["train_samples"])
    x_train, _ = data.split_tensors(train)
    results = probe.probe_layers(
        activations.hiddens(model, x_train[chosen]),
        train.labels[chosen].astype("int64"),
        test_layers,
        test.labels[keep].astype("int64"),
        l2=p.probe["l2"],
        max_iter=p.probe["max_iter"],
        device="cpu",  # see probe.probe_layers
    )
    label = {"dataset": w.dataset, "model": w.model, "seed": p.seed, "epoch": str(epoch)}
    write_table(probe.probe_table(results), job.output.probe, metadata=label)
    log.info(
        "epoch %s: probe accuracy per layer %s (iterations %s)",
        epoch,
        " ".join(f"{r.test_accuracy:.4f}" for r in results),
        " ".join(str(r.iterations) for r in results),
    )

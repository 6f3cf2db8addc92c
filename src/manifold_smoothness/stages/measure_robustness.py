"""Stage measure_robustness: every analysed test image's minimum adversarial L-inf distance for
one seed's final network, by bisection over our PGD's budget (manifold_smoothness.robustness)."""

from __future__ import annotations

import logging

from manifold_smoothness.stages import check_provenance

log = logging.getLogger("manifold_smoothness")


def measure_robustness(job) -> None:
    from manifold_smoothness import data, robustness
    from manifold_smoothness.devices import resolve_device
    from manifold_smoothness.model import load_model_with_metadata
    from manifold_smoothness.storage import write_table

    p, w = job.params, job.wildcards
    settings = robustness.RobustnessSettings.from_config(p.robustness)
    expected = {"dataset": w.dataset, "model": w.model, "seed": p.seed}
    model, meta = load_model_with_metadata(job.input.model)
    check_provenance(job.input.model, meta, expected)
    model = model.to(resolve_device(p.device))
    test = data.read_split(job.input.test)
    keep = data.stratified_subset(test.labels, settings.samples)
    x, y = data.split_tensors(test)
    frame = robustness.robustness_frame(model, x[keep], y[keep], keep, settings)
    write_table(robustness.robustness_table(frame), job.output.robustness, metadata=expected)
    distances = frame["distance"].to_numpy()
    log.info(
        "median minimum distance %.4g over %d images (%.1f%% misclassified clean, %.1f%% not "
        "flipped up to %g)",
        robustness.median_distance(distances),
        len(frame),
        100 * (distances == 0).mean(),
        100 * (distances == float("inf")).mean(),
        settings.max_distance,
    )

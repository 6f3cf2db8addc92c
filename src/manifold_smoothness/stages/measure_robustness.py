"""Stage measure_robustness: every analysed test image's minimum adversarial L-inf distance for
one seed's final network, by bisection over our PGD's budget (manifold_smoothness.robustness)."""

from __future__ import annotations

import logging

from manifold_smoothness.stages import final_model_and_test_images

log = logging.getLogger("manifold_smoothness")


def measure_robustness(job) -> None:
    from manifold_smoothness import robustness
    from manifold_smoothness.storage import write_table

    settings = robustness.RobustnessSettings.from_config(job.params.robustness)
    model, x, y, keep, expected = final_model_and_test_images(job, settings.samples)
    frame = robustness.robustness_frame(model, x, y, keep, settings)
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

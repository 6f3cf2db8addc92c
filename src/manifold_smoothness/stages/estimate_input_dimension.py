"""Stage estimate_input_dimension: TwoNN intrinsic dimension of the test images."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

log = logging.getLogger("manifold_smoothness")


def estimate_input_dimension(job) -> None:
    from manifold_smoothness import data, intrinsic

    test = data.read_split(job.input.test)
    keep = data.stratified_subset(test.labels, job.params.samples)
    x = test.images[keep].astype(np.float64) / 255.0
    result = {
        "dataset": job.wildcards.dataset,
        "n_samples": len(keep),
        "two_nn": intrinsic.two_nn_dimension(x),
    }
    Path(job.output.dimension).write_text(json.dumps(result, indent=2) + "\n")
    log.info("input dimension: %s", result)

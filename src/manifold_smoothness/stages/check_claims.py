"""Stage check_claims: the paper's claims checked on one model's summary."""

from __future__ import annotations

import json
import math
from pathlib import Path


def read_input_dimension(path, dataset: str) -> tuple[float, int]:
    """(TwoNN dimension, samples) from input_dimension.json, checked against its dataset."""
    from manifold_smoothness.storage import REBUILD_HINT, CorruptFileError

    try:
        estimate = json.loads(Path(path).read_text())
        dimension, samples = float(estimate["two_nn"]), int(estimate["n_samples"])
        name = estimate["dataset"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise CorruptFileError(
            f"{path} is not an input-dimension file ({err!r}); {REBUILD_HINT}"
        ) from err
    if name != dataset or not math.isfinite(dimension) or dimension <= 0 or samples < 2:
        raise CorruptFileError(
            f"{path} holds dataset {name!r}, dimension {dimension}, {samples} samples; expected "
            f"dataset {dataset!r}, a finite dimension > 0 and >= 2 samples; {REBUILD_HINT}"
        )
    return dimension, samples


def check_claims(job) -> None:
    from manifold_smoothness import claims, claims_report
    from manifold_smoothness.stages import read_summary

    p = job.params
    frame = read_summary(job.input.summary)
    if p.input_dimension is not None:
        dimension, source = float(p.input_dimension), "given in config (claims.input_dimension)"
    else:
        dimension, samples = read_input_dimension(job.input.dimension, job.wildcards.dataset)
        source = f"TwoNN estimate on {samples} test images"
    result = claims.evaluate_claims(frame, p.thresholds, dimension, input_dimension_source=source)
    Path(job.output.json).write_text(json.dumps(result, indent=2, allow_nan=False) + "\n")
    text = claims_report.render_markdown(result)
    Path(job.output.md).write_text(text)
    title = f"Claims check: {job.wildcards.dataset} / {job.wildcards.model}"
    Path(job.output.html).write_text(claims_report.render_html(text, title))

"""Which analysed test images form the jackknife blocks and the intrinsic-dimension subset.

Both are fixed random subsets of the analysed images (seeded by IMAGE_SEED, not by the model
seed): the same images form the same blocks in every condition, snapshot and model, so that the
errors of their alphas are comparable, and the blocks are random, not the classes of a
label-sorted file.
"""

from __future__ import annotations

import numpy as np

IMAGE_SEED = 0


def block_order(n: int) -> np.ndarray:
    """(n,) permutation of the analysed images; consecutive runs of it are the jackknife blocks."""
    return np.random.default_rng(IMAGE_SEED).permutation(n)


def dimension_rows(n: int, n_dimension: int) -> np.ndarray:
    """The first `n_dimension` images of `block_order`, sorted: the images whose intrinsic
    dimension is estimated (TwoNN's cost grows with the square of their number)."""
    return np.sort(block_order(n)[: min(n, n_dimension)])

"""Figures of the study: each `plot_*` function takes tidy frames and returns a matplotlib
Figure (it never saves); `save_figure` writes it as PDF and PNG.

- `plot_training`: per-layer test accuracy and training loss against epoch.
- `plot_spectra`: log-log eigen-spectra of every layer with the fitted power laws.
- `plot_layers`: accuracy, alpha and D against layer on clean inputs.
- `plot_attack`: accuracy, alpha and D against the strength of one attack (gaussian or fgsm).
- `plot_accuracy_alpha`: accuracy against alpha, attack strength as the path parameter.

`CAPTIONS` maps each figure name (the file stem of its outputs) to its caption file in
rules/captions/.
"""

from manifold_smoothness.figures.common import (
    CAPTIONS,
    EmptyFrameError,
    FigureDataError,
    MissingColumnsError,
    MissingFitError,
    UnknownAttackError,
    UnknownSeedError,
    layer_colors,
    save_figure,
)
from manifold_smoothness.figures.layers import plot_layers
from manifold_smoothness.figures.spectra import plot_spectra
from manifold_smoothness.figures.sweeps import plot_accuracy_alpha, plot_attack
from manifold_smoothness.figures.training import plot_training

__all__ = [
    "CAPTIONS",
    "EmptyFrameError",
    "FigureDataError",
    "MissingColumnsError",
    "MissingFitError",
    "UnknownAttackError",
    "UnknownSeedError",
    "layer_colors",
    "plot_accuracy_alpha",
    "plot_attack",
    "plot_layers",
    "plot_spectra",
    "plot_training",
    "save_figure",
]

"""Figures of the study: each `plot_*` function takes tidy frames and returns a matplotlib
Figure (it never saves); `save_figure` writes it as PDF and PNG.

Per model (figures of the summary use the final model's rows unless they say otherwise):
- `plot_training`: per-layer test accuracy and training loss against epoch.
- `plot_spectra`: log-log eigen-spectra of every layer with the fitted power laws.
- `plot_layers`: accuracy (readout and probe), alpha and D against layer on clean inputs.
- `plot_attack`: accuracy, alpha and D against the strength of one configured attack.
- `plot_accuracy_alpha`: accuracy against alpha, attack strength as the path parameter.
- `plot_trajectory`: accuracy and alpha of every layer along training (all snapshots).
Per dataset:
- `plot_generalization`: clean accuracy against alpha of every model, seed, layer and
  snapshot, coloured by learning rule, controls and final models marked.

`CAPTIONS` (vocabulary.CAPTIONS) maps each figure of vocabulary.FIGURES (the file stem of its
outputs; 'attack' for every attack sweep) to its caption file in rules/captions/.
"""

from manifold_smoothness.figures.common import (
    EmptyFrameError,
    FigureDataError,
    MissingColumnsError,
    MissingFitError,
    MixedSourcesError,
    UnknownAttackError,
    UnknownSeedError,
    layer_colors,
    save_figure,
)
from manifold_smoothness.figures.generalization import UnknownRuleError, plot_generalization
from manifold_smoothness.figures.layers import plot_layers
from manifold_smoothness.figures.spectra import plot_spectra
from manifold_smoothness.figures.sweeps import plot_accuracy_alpha, plot_attack
from manifold_smoothness.figures.training import plot_training
from manifold_smoothness.figures.trajectory import plot_trajectory
from manifold_smoothness.vocabulary import CAPTIONS

__all__ = [
    "CAPTIONS",
    "EmptyFrameError",
    "FigureDataError",
    "MissingColumnsError",
    "MissingFitError",
    "MixedSourcesError",
    "UnknownAttackError",
    "UnknownRuleError",
    "UnknownSeedError",
    "layer_colors",
    "plot_accuracy_alpha",
    "plot_attack",
    "plot_generalization",
    "plot_layers",
    "plot_spectra",
    "plot_training",
    "plot_trajectory",
    "save_figure",
]

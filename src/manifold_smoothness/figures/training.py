"""Training curves: does every layer, trained through its own fixed random readout, learn?"""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from manifold_smoothness.figures.common import (
    check_frame,
    integer_xaxis,
    layer_legend,
    n_layers_of,
    new_figure,
    plot_layer_bands,
    source_label,
    titled,
)

TRAINING_COLUMNS = ("seed", "epoch", "layer", "train_loss", "train_accuracy", "test_accuracy")


def plot_training(
    training: pd.DataFrame, *, dataset: str | None = None, model: str | None = None
) -> Figure:
    """Per-layer test accuracy and training loss against epoch, mean over seeds with min-max band.

    `training` has one row per seed, epoch (1-based) and layer (1-based). The training frame
    usually carries no dataset/model columns, so `dataset` and `model` may name them for the
    title (columns of those names are used when present and no argument is given).
    """
    check_frame(training, TRAINING_COLUMNS, "training")
    n_layers = n_layers_of(training)
    fig, (acc_ax, loss_ax) = new_figure(2)
    plot_layer_bands(acc_ax, training, "epoch", "test_accuracy", n_layers)
    plot_layer_bands(loss_ax, training, "epoch", "train_loss", n_layers, label=False)
    acc_ax.set(xlabel="epoch", ylabel="test accuracy (fraction correct)", title="test accuracy")
    loss_ax.set(
        xlabel="epoch",
        ylabel="training cross-entropy of the layer's readout",
        yscale="log",
        title="training loss",
    )
    for ax in (acc_ax, loss_ax):
        integer_xaxis(ax)
        ax.grid(alpha=0.3)
    layer_legend(fig, acc_ax)
    n_seeds = training["seed"].nunique()
    what = (
        "Training with local errors, each layer read out by its own classifier "
        f"(mean, min-max of {n_seeds} seeds)"
    )
    fig.suptitle(titled(what, source_label(training, dataset, model)))
    return fig

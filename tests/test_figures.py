"""Tests for manifold_smoothness.figures on small synthetic frames: a dataset of four models
(local, backprop and two controls), 2 seeds, 3 layers, 4 training snapshots (epoch 0 included)
and the final model, with attack sweeps on the main model."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import jinja2
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure

from manifold_smoothness.figures import (
    CAPTIONS,
    EmptyFrameError,
    MissingColumnsError,
    MissingFitError,
    MixedSourcesError,
    UnknownAttackError,
    UnknownRuleError,
    UnknownSeedError,
    layer_colors,
    plot_accuracy_alpha,
    plot_attack,
    plot_generalization,
    plot_layers,
    plot_spectra,
    plot_training,
    plot_trajectory,
    save_figure,
)
from manifold_smoothness.figures.generalization import FINAL_SIZE, RULE_COLORS
from manifold_smoothness.figures.sweeps import sweep_rows

SEEDS = (0, 1)
N_LAYERS = 3
EPOCHS = 4
N_RANKS = 60
N_ZEROS = 5  # trailing zero eigenvalues, as from a rank-deficient covariance
WINDOW = (3, 40)
SCALE = 2.0  # lambda_1 of the synthetic spectra
STRENGTHS = {"gaussian": (0.0, 0.2, 0.4), "fgsm": (0.0, 0.05, 0.1), "fgsm_layer": (0.0, 0.1)}
# attack name -> (method, target): configured names, one of them not a method's name
ATTACKS = {
    "gaussian": ("gaussian", "output"),
    "fgsm": ("fgsm", "output"),
    "fgsm_layer": ("fgsm", "layer"),
}
SNAPSHOTS = (0.0, 0.5, 1.0, 2.0)  # epochs of the training snapshots (final=False)
FINAL_EPOCH = 4.0
EPOCHS_SEEN = (*SNAPSHOTS, FINAL_EPOCH)
MAIN = "mlp3x50"  # the model with attack sweeps
# model -> (rule, train_subset, label_noise, offset of its alpha)
MODELS = {
    MAIN: ("local", 0, 0.0, 0.0),
    "bp3x50": ("backprop", 0, 0.0, 0.3),
    "greedy3x50_small": ("greedy", 1000, 0.0, -0.2),
    "mlp3x50_noisy": ("local", 0, 0.2, -0.4),
}
CAPTION_DIR = Path(__file__).resolve().parents[1] / "rules" / "captions"


def _alpha(seed: int, layer: int, strength: float, epoch: float = FINAL_EPOCH) -> float:
    """Synthetic exponent: rises with depth and training, falls with attack strength."""
    return 1.0 + 0.3 * layer - 1.5 * strength + 0.02 * seed - 0.1 * (FINAL_EPOCH - epoch)


def _has_readout(model: str, layer: int) -> bool:
    """Backprop's hidden layers have no readout of their own, except the last."""
    return MODELS[model][0] != "backprop" or layer == N_LAYERS


def _summary_row(
    seed: int,
    attack: str,
    strength: float,
    layer: int,
    epoch: float = FINAL_EPOCH,
    model: str = MAIN,
) -> dict[str, object]:
    rule, train_subset, label_noise, offset = MODELS[model]
    alpha = _alpha(seed, layer, strength, epoch) + offset
    accuracy = 0.9 + 0.02 * layer - strength - 0.01 * seed - 0.05 * (FINAL_EPOCH - epoch)
    method, target = ATTACKS.get(attack, ("clean", "output"))
    return {
        "dataset": "mnist",
        "model": model,
        "rule": rule,
        "train_subset": train_subset,
        "label_noise": label_noise,
        "seed": seed,
        "attack": attack,
        "method": method if strength > 0 else "clean",
        "target": target if strength > 0 else "output",
        "strength": strength,
        "epoch": epoch,
        "final": epoch == FINAL_EPOCH,
        "layer": layer,
        "width": 50,
        "n_samples": 1000,
        "accuracy": accuracy if _has_readout(model, layer) else np.nan,
        "probe_accuracy": accuracy + 0.01 if strength == 0 else np.nan,
        "alpha": alpha,
        "alpha_se": 0.05,
        "alpha_intercept": np.log(SCALE),
        "alpha_r2": 0.99,
        "first_rank": WINDOW[0],
        "last_rank": WINDOW[1],
        "alpha_short": alpha,
        "alpha_short_r2": 0.99,
        "dimension": 10.0 + 3 * layer + 20 * strength,
        "perturbation_l2": 5 * strength,
        "perturbation_linf": strength,
    }


@pytest.fixture(scope="module")
def dataset_summary() -> pd.DataFrame:
    """Every model's clean rows at every snapshot and the final epoch, and the attack sweeps
    of MAIN's final model (strength 0 of each repeats the clean rows)."""
    layers, clean = range(1, N_LAYERS + 1), []
    for model, seed, epoch, layer in itertools.product(MODELS, SEEDS, EPOCHS_SEEN, layers):
        clean.append(_summary_row(seed, "clean", 0.0, layer, epoch, model))
    sweeps = [(a, s) for a, ss in STRENGTHS.items() for s in ss]
    attacked = [
        _summary_row(seed, attack, strength, layer)
        for seed, (attack, strength), layer in itertools.product(SEEDS, sweeps, layers)
    ]
    return pd.DataFrame(clean + attacked)


@pytest.fixture(scope="module")
def summary(dataset_summary) -> pd.DataFrame:
    """The summary of MAIN: what the per-model figures receive."""
    return dataset_summary[dataset_summary["model"] == MAIN].reset_index(drop=True)


@pytest.fixture(scope="module")
def bp_summary(dataset_summary) -> pd.DataFrame:
    """The backprop model: NaN own-readout accuracy on its first hidden layers."""
    return dataset_summary[dataset_summary["model"] == "bp3x50"].reset_index(drop=True)


def _final_clean(summary: pd.DataFrame) -> pd.DataFrame:
    return summary[(summary["attack"] == "clean") & summary["final"]]


@pytest.fixture(scope="module")
def spectra() -> pd.DataFrame:
    """Exact power laws SCALE * n^-alpha of the clean condition, with trailing zeros."""
    rank = np.arange(1, N_RANKS + 1)
    frames = []
    for seed, layer in itertools.product(SEEDS, range(1, N_LAYERS + 1)):
        eigenvalue = SCALE * rank ** -_alpha(seed, layer, 0.0)
        eigenvalue[-N_ZEROS:] = 0.0
        frames.append(
            pd.DataFrame({"seed": seed, "layer": layer, "rank": rank, "eigenvalue": eigenvalue})
        )
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def training() -> pd.DataFrame:
    rows = [
        {
            "seed": seed,
            "epoch": epoch,
            "layer": layer,
            "train_loss": 1.0 / (epoch * layer) + 0.01 * seed,
            "train_accuracy": 0.8 + 0.03 * epoch,
            "test_accuracy": 0.78 + 0.03 * epoch + 0.01 * layer - 0.01 * seed,
        }
        for seed, epoch, layer in itertools.product(
            SEEDS, range(1, EPOCHS + 1), range(1, N_LAYERS + 1)
        )
    ]
    return pd.DataFrame(rows)


def _legend_texts(fig: Figure) -> list[str]:
    """Texts of every legend of the figure (figure-level and per-axes)."""
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
    return [text.get_text() for legend in legends for text in legend.get_texts()]


def _layer_labels() -> list[str]:
    return [f"layer {layer}" for layer in range(1, N_LAYERS + 1)]


# --- save_figure ------------------------------------------------------------------------------


def test_save_figure_writes_pdf_and_png_into_new_folders(tmp_path: Path, summary) -> None:
    pdf, png = tmp_path / "a" / "fig.pdf", tmp_path / "b" / "c" / "fig.png"
    save_figure(plot_layers(summary), pdf, png, dpi=50)
    assert pdf.read_bytes().startswith(b"%PDF")
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert pdf.stat().st_size > 1000 and png.stat().st_size > 1000


@pytest.mark.parametrize("figure", ["trajectory", "generalization"])
def test_new_figures_save_as_pdf_and_png(tmp_path: Path, dataset_summary, summary, figure) -> None:
    fig = (
        plot_trajectory(summary) if figure == "trajectory" else plot_generalization(dataset_summary)
    )
    pdf, png = tmp_path / f"{figure}.pdf", tmp_path / f"{figure}.png"
    save_figure(fig, pdf, png, dpi=50)
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 1000
    assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 1000


# --- training ---------------------------------------------------------------------------------


def test_training_has_accuracy_and_log_loss_panels(training) -> None:
    fig = plot_training(training, dataset="mnist", model="mlp3x50")
    acc_ax, loss_ax = fig.axes
    assert len(acc_ax.lines) == len(loss_ax.lines) == N_LAYERS
    assert loss_ax.get_yscale() == "log"
    assert acc_ax.get_xlabel() == "epoch"
    assert _legend_texts(fig) == _layer_labels()
    assert "mnist" in fig.get_suptitle() and "mlp3x50" in fig.get_suptitle()


def test_training_mean_line_is_the_seed_mean(training) -> None:
    acc_ax = plot_training(training).axes[0]
    expected = training[training["layer"] == 2].groupby("epoch")["test_accuracy"].mean()
    np.testing.assert_allclose(acc_ax.lines[1].get_ydata(), expected.to_numpy())


# --- spectra ----------------------------------------------------------------------------------


def _bold_and_fit_lines(fig: Figure):
    ax = fig.axes[0]
    bold = [line for line in ax.lines if line.get_label().startswith("layer")]
    fits = [line for line in ax.lines if line.get_linestyle() == "--"]
    return ax, bold, fits


def test_spectra_legend_gives_alpha_and_dimension_of_every_layer(spectra, summary) -> None:
    texts = _legend_texts(plot_spectra(spectra, summary))
    for layer in range(1, N_LAYERS + 1):
        row = _final_clean(summary).query("seed == 0 and layer == @layer").iloc[0]
        assert f"layer {layer}: alpha={row.alpha:.2f}, D={row.dimension:.1f}" in texts
    assert "n^-1 (reference slope)" in texts


def test_spectra_fit_line_spans_the_window_and_lies_on_its_spectrum(spectra, summary) -> None:
    _, bold, fits = _bold_and_fit_lines(plot_spectra(spectra, summary))
    assert len(bold) == len(fits) == N_LAYERS
    for data, fit in zip(bold, fits, strict=True):
        assert (fit.get_xdata().min(), fit.get_xdata().max()) == WINDOW
        # the synthetic spectra are exact power laws: fit and (normalised) data coincide
        x, y = np.asarray(data.get_xdata()), np.asarray(data.get_ydata())
        expected = np.interp(fit.get_xdata(), x, y)
        np.testing.assert_allclose(fit.get_ydata(), expected, rtol=1e-9)


def test_spectra_drop_zeros_and_draw_other_seeds_faint(spectra, summary) -> None:
    ax, bold, _ = _bold_and_fit_lines(plot_spectra(spectra, summary, seed=1))
    spectrum_lines = [line for line in ax.lines if line.get_linestyle() == "-"]
    assert len(spectrum_lines) == len(SEEDS) * N_LAYERS
    assert all(len(line.get_xdata()) == N_RANKS - N_ZEROS for line in spectrum_lines)
    assert all(np.all(np.asarray(line.get_ydata()) > 0) for line in ax.lines)
    faint = [line for line in spectrum_lines if line not in bold]
    assert all(line.get_alpha() < 1 for line in faint)
    assert ax.get_legend().get_title().get_text() == "seed 1"


def test_spectra_ignore_attacked_spectra_rows(spectra, summary) -> None:
    attacked = spectra.assign(attack="gaussian", eigenvalue=spectra["eigenvalue"] * 10)
    both = pd.concat([spectra.assign(attack="clean"), attacked], ignore_index=True)
    _, bold, _ = _bold_and_fit_lines(plot_spectra(both, summary))
    assert len(bold) == N_LAYERS


def test_spectra_use_the_final_models_fit_not_a_snapshots(spectra, summary) -> None:
    """Snapshots repeat every (seed, layer); only the final row may be taken as the fit."""
    assert (summary["final"] == False).any()  # noqa: E712  (the fixture has snapshots)
    texts = _legend_texts(plot_spectra(spectra, summary))
    final = _final_clean(summary).query("seed == 0 and layer == 1").iloc[0]
    assert f"layer 1: alpha={final.alpha:.2f}, D={final.dimension:.1f}" in texts


def test_spectra_name_a_dead_layer_and_draw_the_others(spectra, summary) -> None:
    dead = (spectra["seed"] == 1) & (spectra["layer"] == 2)
    silent = spectra.assign(eigenvalue=spectra["eigenvalue"].where(~dead, 0.0))
    ax = plot_spectra(silent, summary).axes[0]
    spectrum_lines = [line for line in ax.lines if line.get_linestyle() == "-"]
    assert len(spectrum_lines) == len(SEEDS) * N_LAYERS - 1
    assert "seed 1 layer 2" in ax.get_title()
    with pytest.raises(EmptyFrameError, match="no layer of any seed"):
        plot_spectra(spectra.assign(eigenvalue=0.0), summary)


def test_spectra_unknown_seed_raises(spectra, summary) -> None:
    with pytest.raises(UnknownSeedError, match="seed 7"):
        plot_spectra(spectra, summary, seed=7)


def test_spectra_without_fit_row_raises(spectra, summary) -> None:
    partial = summary[~((summary["layer"] == 2) & (summary["seed"] == 0))]
    with pytest.raises(MissingFitError, match="seed 0, layer 2"):
        plot_spectra(spectra, partial)


# --- layers -----------------------------------------------------------------------------------


def test_layers_has_accuracy_alpha_and_dimension_panels(summary) -> None:
    fig = plot_layers(summary)
    assert len(fig.axes) == 3
    ylabels = " ".join(ax.get_ylabel() for ax in fig.axes)
    assert "accuracy" in ylabels and "alpha" in ylabels and "participation ratio" in ylabels
    alpha_line = fig.axes[1].lines[0]  # the grey line through the seed means
    expected = _final_clean(summary).groupby("layer")["alpha"].mean()
    np.testing.assert_allclose(alpha_line.get_ydata(), expected)


def test_layers_show_the_probe_dashed_beside_the_readout(summary) -> None:
    fig = plot_layers(summary)
    acc_ax = fig.axes[0]
    grey = [line for line in acc_ax.lines if line.get_color() == "grey"]
    assert [line.get_linestyle() for line in grey] == ["-", "--"]
    probe = _final_clean(summary).groupby("layer")["probe_accuracy"].mean()
    np.testing.assert_allclose(grey[1].get_ydata(), probe)
    assert _legend_texts(fig) == ["own readout", "linear probe"]


def test_layers_skip_nan_readout_accuracy(bp_summary) -> None:
    acc_ax = plot_layers(bp_summary).axes[0]
    readout, probe = (line for line in acc_ax.lines if line.get_color() == "grey")
    assert list(readout.get_xdata()) == [N_LAYERS]  # the only layer with its own readout
    assert list(probe.get_xdata()) == [1, 2, 3]
    assert np.isfinite(np.asarray(readout.get_ydata(), dtype=float)).all()


def test_layers_accept_a_table_without_final_column(summary) -> None:
    old = _final_clean(summary).drop(columns=["final", "probe_accuracy"])
    fig = plot_layers(old)
    grey = [line for line in fig.axes[0].lines if line.get_color() == "grey"]
    assert len(grey) == 1 and fig.axes[0].get_legend() is None  # no probe to show
    np.testing.assert_allclose(
        fig.axes[1].lines[0].get_ydata(), old.groupby("layer")["alpha"].mean()
    )


def test_layers_without_a_final_row_raise(summary) -> None:
    with pytest.raises(EmptyFrameError, match="final"):
        plot_layers(summary.assign(final=False))


# --- attacks ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attack", "symbol", "title"),
    [
        ("gaussian", "sigma", "Gaussian noise on"),
        ("fgsm", "epsilon", "FGSM on"),
        ("fgsm_layer", "epsilon", "FGSM (per-layer target) on"),
    ],
)
def test_attack_panels_have_one_line_per_layer(summary, attack: str, symbol, title) -> None:
    fig = plot_attack(summary, attack)
    assert len(fig.axes) == 3
    for ax in fig.axes:
        assert len(ax.lines) == N_LAYERS
        assert symbol in ax.get_xlabel()
        np.testing.assert_allclose(ax.lines[0].get_xdata(), STRENGTHS[attack])
    assert _legend_texts(fig) == _layer_labels()
    assert fig.get_suptitle().startswith(title)


def test_attack_labels_fall_back_to_the_attack_name(summary) -> None:
    """Old tables have no method column: the attack's name is its method, or its label."""
    old = summary.drop(columns=["method", "target"])
    assert "sigma" in plot_attack(old, "gaussian").axes[0].get_xlabel()
    fig = plot_attack(old, "fgsm_layer")
    assert fig.axes[0].get_xlabel() == "fgsm_layer strength"
    assert fig.get_suptitle().startswith("fgsm_layer on")


def test_attack_ignores_snapshot_rows(summary) -> None:
    """A sweep without strength-0 rows starts at the final model's clean rows, never at a
    snapshot's."""
    no_zero = summary[~((summary["attack"] == "gaussian") & (summary["strength"] == 0))]
    alpha_ax = plot_attack(no_zero, "gaussian").axes[1]
    expected = [np.mean([_alpha(seed, 1, s) for seed in SEEDS]) for s in STRENGTHS["gaussian"]]
    np.testing.assert_allclose(alpha_ax.lines[0].get_ydata(), expected)


def test_layer_colours_agree_across_figures(training, summary) -> None:
    colors = [to_rgba(c) for c in layer_colors(N_LAYERS)]
    for fig in (plot_training(training), plot_attack(summary, "fgsm")):
        assert [to_rgba(line.get_color()) for line in fig.axes[0].lines] == colors


def test_attack_absent_from_summary_raises(summary) -> None:
    with pytest.raises(UnknownAttackError, match="'pgd'"):
        plot_attack(summary, "pgd")
    with pytest.raises(UnknownAttackError, match="not an attack sweep"):
        plot_attack(summary, "clean")


def test_sweep_without_strength_zero_starts_at_clean_rows(summary) -> None:
    no_zero = summary[~((summary["attack"] == "fgsm") & (summary["strength"] == 0))]
    rows = sweep_rows(no_zero, "fgsm")
    assert sorted(rows["strength"].unique()) == list(STRENGTHS["fgsm"])
    assert len(rows) == len(summary[summary["attack"] == "fgsm"])


def test_attack_with_two_methods_raises(summary) -> None:
    mixed = summary.copy()
    mixed.loc[(mixed["attack"] == "fgsm") & (mixed["strength"] == 0.1), "method"] = "pgd"
    with pytest.raises(MixedSourcesError, match="'fgsm', 'pgd'"):
        plot_attack(mixed, "fgsm")


LIMITS = {"min_relative_reversal": 0.25, "uncertainty_k": 3.0}
HUMP_STRENGTHS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)


@pytest.fixture(scope="module")
def hump_summary() -> pd.DataFrame:
    """An FGSM sweep of 6 strengths in which layer 1's alpha rises to 0.2 and falls back below
    its start (non-monotonic) and layers 2 and 3 fall (monotonic); clean final rows included."""
    rows = [
        _summary_row(seed, attack, strength, layer)
        for seed, layer in itertools.product(SEEDS, range(1, N_LAYERS + 1))
        for attack, strength in [("clean", 0.0), *(("fgsm", s) for s in HUMP_STRENGTHS)]
    ]
    frame = pd.DataFrame(rows).assign(alpha_se=0.001)
    hump = (frame["layer"] == 1) & (frame["attack"] == "fgsm")
    frame.loc[hump, "alpha"] = 2.0 + 0.5 - 2.5 * (frame.loc[hump, "strength"] - 0.2).abs()
    return frame


def test_attack_legend_and_alpha_panel_mark_the_claims_shape_calls(hump_summary) -> None:
    from manifold_smoothness.claims_statistics import NON_MONOTONIC, layer_shapes

    fig = plot_attack(hump_summary, "fgsm", LIMITS)
    calls = layer_shapes(sweep_rows(hump_summary, "fgsm"), LIMITS)
    assert calls[1][0] == NON_MONOTONIC and {calls[2][0], calls[3][0]} == {"monotonic"}
    assert _legend_texts(fig) == [
        "layer 1: non-monotonic (0 \u2192 0.2)",
        "layer 2: monotonic",
        "layer 3: monotonic",
    ]
    alpha_ax = fig.axes[1]
    (marks,) = [line for line in alpha_ax.lines if line.get_marker() == "s"]
    np.testing.assert_allclose(marks.get_xdata(), [0.0, 0.2])  # the reversal's two ends
    assert _legend_texts(plot_attack(hump_summary, "fgsm")) == _layer_labels()  # no limits


def test_accuracy_alpha_names_the_non_monotonic_layers(hump_summary) -> None:
    ax = plot_accuracy_alpha(hump_summary, ["fgsm"], LIMITS).axes[0]
    assert ax.get_title().endswith("non-monotonic (\u25a1 reversal): layer 1")
    assert len([line for line in ax.lines if line.get_marker() == "s"]) == 1


# --- accuracy against alpha -------------------------------------------------------------------


@pytest.mark.parametrize("attacks", [("gaussian",), ("gaussian", "fgsm", "fgsm_layer")])
def test_accuracy_alpha_has_one_panel_per_attack(summary, attacks: tuple[str, ...]) -> None:
    fig = plot_accuracy_alpha(summary, attacks)
    assert len(fig.axes) == len(attacks)
    for ax in fig.axes:
        assert len(ax.lines) == 2 * N_LAYERS  # a path and its strength-0 marker per layer
        assert "alpha" in ax.get_xlabel() and "accuracy" in ax.get_ylabel()
    assert _legend_texts(fig) == [*_layer_labels(), "strength 0 (clean)"]


def test_accuracy_alpha_titles_name_method_and_target(summary) -> None:
    fig = plot_accuracy_alpha(summary, ["gaussian", "fgsm_layer"])
    gaussian, fgsm_layer = (ax.get_title() for ax in fig.axes)
    assert gaussian.startswith("Gaussian noise\n") and "sigma" in gaussian
    assert fgsm_layer.startswith("FGSM (per-layer target)\n") and "epsilon" in fgsm_layer


def test_accuracy_alpha_paths_run_in_order_of_strength(summary) -> None:
    ax = plot_accuracy_alpha(summary, ("gaussian",)).axes[0]
    path, start = ax.lines[0], ax.lines[1]  # layer 1
    expected = [np.mean([_alpha(seed, 1, s) for seed in SEEDS]) for s in STRENGTHS["gaussian"]]
    np.testing.assert_allclose(path.get_xdata(), expected)
    np.testing.assert_allclose(start.get_xdata(), expected[:1])
    assert start.get_markersize() > path.get_markersize()
    assert any("=0.4" in text.get_text() for text in ax.texts)


def test_accuracy_alpha_unknown_attack_raises(summary) -> None:
    with pytest.raises(UnknownAttackError, match="'pgd'"):
        plot_accuracy_alpha(summary, ("gaussian", "pgd"))


# --- trajectory -------------------------------------------------------------------------------


def _trajectory_axes(summary: pd.DataFrame):
    fig = plot_trajectory(summary)
    assert len(fig.axes) == 3
    return fig, fig.axes


def test_trajectory_draws_both_accuracies_and_alpha_per_layer(summary) -> None:
    fig, (acc_ax, alpha_ax, path_ax) = _trajectory_axes(summary)
    assert len(acc_ax.lines) == len(acc_ax.collections) == 2 * N_LAYERS  # readout + probe
    assert [line.get_linestyle() for line in acc_ax.lines[:2]] == ["-", "--"]
    assert len(alpha_ax.lines) == len(alpha_ax.collections) == N_LAYERS
    # per layer: a readout and a probe path, each with its start and end marker
    assert len(path_ax.lines) == 2 * 3 * N_LAYERS
    for line in (*acc_ax.lines, *alpha_ax.lines):
        np.testing.assert_allclose(line.get_xdata(), EPOCHS_SEEN)  # attacked rows left out
    texts = _legend_texts(fig)
    assert texts[:N_LAYERS] == _layer_labels()
    assert {"own readout", "linear probe", "epoch 0 (initialisation)", "final model"} <= set(texts)


def test_trajectory_epoch_axis_is_symlog_from_zero(summary) -> None:
    _, (acc_ax, alpha_ax, _) = _trajectory_axes(summary)
    for ax in (acc_ax, alpha_ax):
        assert ax.get_xscale() == "symlog"
        assert ax.xaxis.get_transform().linthresh == min(e for e in EPOCHS_SEEN if e > 0)
        assert ax.get_xlim()[0] <= 0.0
        assert list(ax.get_xticks()) == [0.0, 0.5, 1.0, FINAL_EPOCH]


def test_trajectory_band_is_mean_plus_minus_std(summary) -> None:
    _, (_, alpha_ax, _) = _trajectory_axes(summary)
    clean = summary[(summary["attack"] == "clean") & (summary["layer"] == 2)]
    by_epoch = clean.groupby("epoch")["alpha"]
    np.testing.assert_allclose(alpha_ax.lines[1].get_ydata(), by_epoch.mean())
    band_y = alpha_ax.collections[1].get_paths()[0].vertices[:, 1]
    std = by_epoch.std().to_numpy()
    assert np.isclose(band_y.min(), (by_epoch.mean() - std).min())
    assert np.isclose(band_y.max(), (by_epoch.mean() + std).max())


def test_trajectory_path_runs_from_epoch_zero_to_the_final_model(summary) -> None:
    _, (_, _, path_ax) = _trajectory_axes(summary)
    path, start, end = path_ax.lines[:3]  # layer 1, own readout
    expected = [np.mean([_alpha(seed, 1, 0.0, e) for seed in SEEDS]) for e in EPOCHS_SEEN]
    np.testing.assert_allclose(path.get_xdata(), expected)
    assert (start.get_marker(), end.get_marker()) == ("o", "s")
    np.testing.assert_allclose([start.get_xdata()[0], end.get_xdata()[0]], expected[::4])


def test_trajectory_leaves_out_accuracies_a_layer_lacks(bp_summary) -> None:
    _, (acc_ax, _, path_ax) = _trajectory_axes(bp_summary)
    # layers 1 and 2 have only the probe; layer 3 has its readout too
    assert len(acc_ax.lines) == 1 + 1 + 2
    assert len(path_ax.lines) == 3 * (1 + 1 + 2)
    assert all(np.isfinite(np.asarray(line.get_ydata(), float)).all() for line in acc_ax.lines)


def test_trajectory_of_several_models_raises(dataset_summary) -> None:
    with pytest.raises(MixedSourcesError, match="model"):
        plot_trajectory(dataset_summary)


# --- generalization ---------------------------------------------------------------------------


def _n_points(ax) -> int:
    return sum(len(collection.get_offsets()) for collection in ax.collections)


def test_generalization_has_a_panel_per_layer_and_every_point(dataset_summary) -> None:
    fig = plot_generalization(dataset_summary)
    assert len(fig.axes) == N_LAYERS
    per_model = len(SEEDS) * len(EPOCHS_SEEN)  # clean rows of one model and layer
    for layer, ax in enumerate(fig.axes, start=1):
        # two accuracies per row, one for backprop's hidden layers without readout
        n_values = sum(1 + _has_readout(model, layer) for model in MODELS)
        assert _n_points(ax) == per_model * n_values
        assert ax.get_title() == f"hidden layer {layer}"
    assert "mnist" in fig.get_suptitle()


def _rule_of(rgba) -> str:
    """The rule whose colour is `rgba` (opacity ignored: snapshots are drawn faint)."""
    rules = [r for r, c in RULE_COLORS.items() if np.allclose(to_rgba(c)[:3], rgba[:3])]
    assert len(rules) == 1, rgba
    return rules[0]


def test_generalization_colours_by_rule_and_marks_final_and_probe(dataset_summary) -> None:
    ax = plot_generalization(dataset_summary).axes[0]
    finals, filled, open_ = 0, set(), set()
    for collection in ax.collections:
        faces = collection.get_facecolors()
        if len(faces):  # own readout: filled in its rule's colour
            filled.add(_rule_of(faces[0]))
        else:  # probe: open, its edge in the rule's colour
            open_.add(_rule_of(collection.get_edgecolors()[0]))
        if collection.get_sizes()[0] == FINAL_SIZE:
            finals += len(collection.get_offsets())
    assert filled == {"local", "greedy"}  # backprop's layer 1 has no readout
    assert open_ == {"local", "greedy", "backprop"}
    # final models: one row per model and seed, two values each (backprop: probe only)
    assert finals == len(SEEDS) * (2 * (len(MODELS) - 1) + 1)


def test_generalization_legend_explains_colours_and_markers(dataset_summary) -> None:
    texts = _legend_texts(plot_generalization(dataset_summary))
    rules = ["local training", "greedy training", "backprop training"]
    kinds = ["full training set", "reduced training set", "noisy labels"]
    assert texts[:6] == rules + kinds
    assert {"own readout (filled)", "linear probe (open)", "final model (large)"} <= set(texts)


def test_generalization_marks_controls_by_shape(dataset_summary) -> None:
    ax = plot_generalization(dataset_summary).axes[0]
    shapes = {tuple(np.round(c.get_paths()[0].vertices[:, 0], 6)) for c in ax.collections}
    assert len(shapes) == 3  # full training set, reduced training set, noisy labels


def test_generalization_unknown_rule_raises(dataset_summary) -> None:
    with pytest.raises(UnknownRuleError, match="hebbian"):
        plot_generalization(dataset_summary.assign(rule="hebbian"))


def test_generalization_of_several_datasets_raises(dataset_summary, summary) -> None:
    both = pd.concat([dataset_summary, summary.assign(dataset="fashion-mnist")])
    with pytest.raises(MixedSourcesError, match="fashion-mnist"):
        plot_generalization(both)


# --- bad input, all figures -------------------------------------------------------------------


def _calls(
    training, spectra, summary, dataset_summary
) -> dict[str, tuple[Callable[..., Figure], list, int]]:
    """Figure -> (function, arguments, index of the frame argument to break)."""
    return {
        "training": (plot_training, [training], 0),
        "spectra": (plot_spectra, [spectra, summary], 0),
        "spectra_summary": (plot_spectra, [spectra, summary], 1),
        "layers": (plot_layers, [summary], 0),
        "gaussian": (plot_attack, [summary, "gaussian"], 0),
        "accuracy_alpha": (plot_accuracy_alpha, [summary, ["gaussian", "fgsm"]], 0),
        "trajectory": (plot_trajectory, [summary], 0),
        "generalization": (plot_generalization, [dataset_summary], 0),
    }


@pytest.mark.parametrize(
    ("figure", "column"),
    [
        ("training", "test_accuracy"),
        ("spectra", "eigenvalue"),
        ("spectra_summary", "alpha_intercept"),
        ("layers", "dimension"),
        ("gaussian", "strength"),
        ("accuracy_alpha", "alpha"),
        ("trajectory", "epoch"),
        ("trajectory", "probe_accuracy"),
        ("generalization", "rule"),
        ("generalization", "label_noise"),
    ],
)
def test_missing_column_is_named(
    training, spectra, summary, dataset_summary, figure: str, column: str
) -> None:
    function, args, index = _calls(training, spectra, summary, dataset_summary)[figure]
    args[index] = args[index].drop(columns=column)
    with pytest.raises(MissingColumnsError, match=column):
        function(*args)


@pytest.mark.parametrize(
    "figure",
    [
        "training",
        "spectra",
        "spectra_summary",
        "layers",
        "gaussian",
        "accuracy_alpha",
        "trajectory",
        "generalization",
    ],
)
def test_empty_frame_raises(training, spectra, summary, dataset_summary, figure: str) -> None:
    function, args, index = _calls(training, spectra, summary, dataset_summary)[figure]
    args[index] = args[index].iloc[:0]
    with pytest.raises(EmptyFrameError, match="no rows"):
        function(*args)


def test_every_caption_file_exists_and_is_one_paragraph() -> None:
    # one caption per figure of vocabulary.FIGURES; every other caption file is one a rule names
    # (the claims page, the config), so none is left over from a figure that is gone
    rules = "".join(path.read_text() for path in CAPTION_DIR.parent.glob("*.smk"))
    named = set(re.findall(r"captions/(\w+\.rst)", rules))
    assert {path.name for path in CAPTION_DIR.glob("*.rst")} == set(CAPTIONS.values()) | named
    for name, filename in CAPTIONS.items():
        text = (CAPTION_DIR / filename).read_text().strip()
        assert text and "\n\n" not in text, name


def test_attack_caption_names_its_attack_when_rendered() -> None:
    """Snakemake renders captions with Jinja2; the attack caption serves every sweep."""
    template = (CAPTION_DIR / CAPTIONS["attack"]).read_text()
    assert "{{ snakemake.wildcards.attack }}" in template
    wildcards = SimpleNamespace(attack="fgsm_layer", dataset="mnist", model=MAIN)
    text = jinja2.Template(template).render(snakemake=SimpleNamespace(wildcards=wildcards))
    assert "fgsm_layer" in text and "{{" not in text

"""Tests for manifold_smoothness.figures on small synthetic frames (2 seeds, 3 layers)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

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
    UnknownAttackError,
    UnknownSeedError,
    layer_colors,
    plot_accuracy_alpha,
    plot_attack,
    plot_layers,
    plot_spectra,
    plot_training,
    save_figure,
)
from manifold_smoothness.figures.sweeps import sweep_rows

SEEDS = (0, 1)
N_LAYERS = 3
EPOCHS = 4
N_RANKS = 60
N_ZEROS = 5  # trailing zero eigenvalues, as from a rank-deficient covariance
WINDOW = (3, 40)
SCALE = 2.0  # lambda_1 of the synthetic spectra
STRENGTHS = {"gaussian": (0.0, 0.2, 0.4), "fgsm": (0.0, 0.05, 0.1)}
CAPTION_DIR = Path(__file__).resolve().parents[1] / "rules" / "captions"


def _alpha(seed: int, layer: int, strength: float) -> float:
    """Synthetic exponent: rises with depth, falls with attack strength."""
    return 1.0 + 0.3 * layer - 1.5 * strength + 0.02 * seed


def _summary_row(seed: int, attack: str, strength: float, layer: int) -> dict[str, object]:
    alpha = _alpha(seed, layer, strength)
    return {
        "dataset": "mnist",
        "model": "mlp3x50",
        "seed": seed,
        "attack": attack,
        "strength": strength,
        "layer": layer,
        "width": 50,
        "n_samples": 1000,
        "accuracy": 0.9 + 0.02 * layer - strength - 0.01 * seed,
        "alpha": alpha,
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
def summary() -> pd.DataFrame:
    """One row per seed x attack x strength x layer; attacks at strength 0 repeat clean."""
    conditions = [("clean", 0.0)] + [(a, s) for a, ss in STRENGTHS.items() for s in ss]
    rows = [
        _summary_row(seed, attack, strength, layer)
        for seed, (attack, strength), layer in itertools.product(
            SEEDS, conditions, range(1, N_LAYERS + 1)
        )
    ]
    return pd.DataFrame(rows)


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
        row = summary.query("attack == 'clean' and seed == 0 and layer == @layer").iloc[0]
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
    clean = summary[summary["attack"] == "clean"]
    np.testing.assert_allclose(alpha_line.get_ydata(), clean.groupby("layer")["alpha"].mean())


# --- attacks ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("attack", "symbol"), [("gaussian", "sigma"), ("fgsm", "epsilon")])
def test_attack_panels_have_one_line_per_layer(summary, attack: str, symbol: str) -> None:
    fig = plot_attack(summary, attack)
    assert len(fig.axes) == 3
    for ax in fig.axes:
        assert len(ax.lines) == N_LAYERS
        assert symbol in ax.get_xlabel()
        np.testing.assert_allclose(ax.lines[0].get_xdata(), STRENGTHS[attack])
    assert _legend_texts(fig) == _layer_labels()


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


# --- accuracy against alpha -------------------------------------------------------------------


@pytest.mark.parametrize("attacks", [("gaussian",), ("gaussian", "fgsm")])
def test_accuracy_alpha_has_one_panel_per_attack(summary, attacks: tuple[str, ...]) -> None:
    fig = plot_accuracy_alpha(summary, attacks)
    assert len(fig.axes) == len(attacks)
    for ax in fig.axes:
        assert len(ax.lines) == 2 * N_LAYERS  # a path and its strength-0 marker per layer
        assert "alpha" in ax.get_xlabel() and "accuracy" in ax.get_ylabel()
    assert _legend_texts(fig) == [*_layer_labels(), "strength 0 (clean)"]


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


# --- bad input, all figures -------------------------------------------------------------------


def _calls(training, spectra, summary) -> dict[str, tuple[Callable[..., Figure], list, int]]:
    """Figure -> (function, arguments, index of the frame argument to break)."""
    return {
        "training": (plot_training, [training], 0),
        "spectra": (plot_spectra, [spectra, summary], 0),
        "spectra_summary": (plot_spectra, [spectra, summary], 1),
        "layers": (plot_layers, [summary], 0),
        "gaussian": (plot_attack, [summary, "gaussian"], 0),
        "accuracy_alpha": (plot_accuracy_alpha, [summary], 0),
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
    ],
)
def test_missing_column_is_named(training, spectra, summary, figure: str, column: str) -> None:
    function, args, index = _calls(training, spectra, summary)[figure]
    args[index] = args[index].drop(columns=column)
    with pytest.raises(MissingColumnsError, match=column):
        function(*args)


@pytest.mark.parametrize("figure", ["training", "spectra", "spectra_summary", "layers", "gaussian"])
def test_empty_frame_raises(training, spectra, summary, figure: str) -> None:
    function, args, index = _calls(training, spectra, summary)[figure]
    args[index] = args[index].iloc[:0]
    with pytest.raises(EmptyFrameError, match="no rows"):
        function(*args)


def test_every_caption_file_exists_and_is_one_paragraph() -> None:
    assert set(CAPTIONS) == {"training", "spectra", "layers", "gaussian", "fgsm", "accuracy_alpha"}
    for name, filename in CAPTIONS.items():
        text = (CAPTION_DIR / filename).read_text().strip()
        assert text and "\n\n" not in text, name


def test_every_attack_of_the_study_has_its_axis_labels():
    from manifold_smoothness.figures.common import ATTACK_NAMES, STRENGTH_LABELS, STRENGTH_SYMBOLS
    from manifold_smoothness.study import ATTACKS

    for labels in (ATTACK_NAMES, STRENGTH_LABELS, STRENGTH_SYMBOLS):
        assert set(labels) == set(ATTACKS)

"""The summary table from spectra, snapshots and probes: one fit window per layer, jackknife
errors, probe accuracies, the learning rule's readouts and the smoothness margin."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from manifold_smoothness.probe import probe_table
from manifold_smoothness.spectrum import fit_power_law, jackknife_se
from manifold_smoothness.summary import (
    SUMMARY_COLUMNS,
    spectrum_table,
    summarize,
    summary_table,
)

FLOOR = 1e-12
ATTACKS = {
    "fgsm": {"method": "fgsm", "target": "output", "strengths": [0.0, 0.1]},
    "pgd_layer": {"method": "pgd", "target": "layer", "strengths": [0.1]},
}


def power_law(alpha: float, n_valid: int, width: int = 200) -> np.ndarray:
    values = np.zeros(width)
    values[:n_valid] = np.arange(1, n_valid + 1, dtype=float) ** -alpha
    return values


def spectrum(alphas, n_valid=200, loo_shift=None, accuracy=0.9):
    """A spectrum file's table and two layers; loo_shift adds jackknife blocks whose alphas
    differ from the full one by the given offsets."""
    full = [power_law(a, n_valid) for a in alphas]
    loo = None
    if loo_shift is not None:
        loo = [np.stack([power_law(a + s, n_valid) for s in loo_shift]) for a in alphas]
    table = spectrum_table(full, [accuracy] * len(alphas), 1000, loo)
    return table.to_pandas()


def meta(attack="clean", strength=0.0, seed=0, dims=(10.0, 10.0), **extra):
    return {
        "dataset": "mnist",
        "model": "m",
        "seed": str(seed),
        "attack": attack,
        "strength": str(strength),
        "input_dimension": json.dumps(list(dims)),
        **extra,
    }


MODEL = {"hidden": [200, 200], "training": {"rule": "local", "epochs": 4}}


def run(spectra, snapshots=(), probes=(), model=MODEL, attacks=None):
    return summarize(
        spectra, snapshots, probes, model, (2, 100), (2, 10), FLOOR, attacks or ATTACKS
    )


def test_one_window_per_layer_comes_from_the_clean_spectrum():
    clean = (spectrum([1.0, 1.5], n_valid=40), meta())
    attacked = (spectrum([1.2, 1.7], n_valid=200), meta("fgsm", 0.1))
    table = run([clean, attacked])
    rows = table[table["attack"] == "fgsm"].query("strength == 0.1")
    assert set(rows["last_rank"]) == {20}  # 40 valid clean eigenvalues: capped at 20
    assert rows["window_inside"].all()
    expected = fit_power_law(power_law(1.2, 200), (2, 20), floor=FLOOR, cap=False).alpha
    assert rows.query("layer == 1")["alpha"].iloc[0] == pytest.approx(expected)
    # the per-condition window of earlier versions, capped at 100 here, stays as a column
    adaptive = fit_power_law(power_law(1.2, 200), (2, 100), floor=FLOOR).alpha
    assert rows.query("layer == 1")["alpha_adaptive"].iloc[0] == pytest.approx(adaptive)


def test_a_condition_whose_valid_ranks_end_inside_the_window_is_flagged_not_refitted():
    clean = (spectrum([1.0, 1.5], n_valid=100), meta())
    dead = (spectrum([1.0, 1.5], n_valid=30), meta("fgsm", 0.1))
    rows = run([clean, dead]).query("attack == 'fgsm' and strength == 0.1")
    assert not rows["window_inside"].any()
    assert rows["alpha"].isna().all() and (rows["n_valid"] == 30).all()
    assert rows["alpha_adaptive"].notna().all()


def test_a_layer_collapsed_onto_too_few_directions_is_flagged_not_failed():
    # 8 valid eigenvalues leave ranks 2..4 for the window: fewer than a fit needs
    clean = (spectrum([1.0, 1.5], n_valid=8), meta())
    attacked = (spectrum([1.0, 1.5], n_valid=200), meta("fgsm", 0.1))
    rows = run([clean, attacked])
    assert not rows["window_inside"].any() and rows["alpha"].isna().all()
    assert set(rows["last_rank"]) == {100}  # the window asked for, not a capped one
    assert set(rows.query("attack == 'clean'")["n_valid"]) == {8}


def test_a_dead_layer_is_flagged_with_no_dimension():
    rows = run([(spectrum([1.0, 1.5], n_valid=0), meta())])
    assert rows["alpha"].isna().all() and rows["dimension"].isna().all()
    assert (rows["n_valid"] == 0).all()


def test_alpha_se_is_the_jackknife_of_the_block_fits():
    shifts = [0.01, -0.02, 0.0, 0.03]
    table = run([(spectrum([1.0, 1.5], loo_shift=shifts), meta())])
    row = table.query("attack == 'clean' and layer == 1").iloc[0]
    window = (int(row["first_rank"]), int(row["last_rank"]))
    fits = [fit_power_law(power_law(1.0 + s, 200), window, cap=False).alpha for s in shifts]
    assert row["alpha_se"] == pytest.approx(jackknife_se(np.array(fits)))
    no_blocks = run([(spectrum([1.0, 1.5]), meta())])
    assert no_blocks["alpha_se"].isna().all()


def test_snapshots_and_probes_enter_the_clean_rows_only():
    spectra = [(spectrum([1.0, 1.5]), meta()), (spectrum([1.1, 1.6]), meta("fgsm", 0.1))]
    snapshots = [(spectrum([0.8, 0.9], accuracy=0.3), meta(epoch="0.5"))]
    result = SimpleProbe(0.95)
    probes = [
        (probe_table([result, result]).to_pandas(), {"seed": "0", "epoch": "final"}),
        (probe_table([SimpleProbe(0.5)] * 2).to_pandas(), {"seed": "0", "epoch": "0.5"}),
    ]
    table = run(spectra, snapshots, probes)
    snap = table[~table["final"]]
    assert set(snap["epoch"]) == {0.5} and (snap["probe_accuracy"] == 0.5).all()
    assert (snap["accuracy"] == 0.3).all()
    final_clean = table.query("attack == 'clean' and final")
    assert (final_clean["epoch"] == 4.0).all() and (final_clean["probe_accuracy"] == 0.95).all()
    attacked = table.query("attack == 'fgsm' and strength == 0.1")
    assert attacked["probe_accuracy"].isna().all()


class SimpleProbe:
    """What probe_table reads of a probe.ProbeResult."""

    def __init__(self, accuracy: float) -> None:
        self.test_accuracy = accuracy
        self.train_accuracy = 1.0
        self.iterations = 10
        self.converged = True


def test_the_clean_condition_is_strength_0_of_every_attack_with_0_in_its_grid():
    table = run([(spectrum([1.0, 1.5]), meta()), (spectrum([1.1, 1.6]), meta("fgsm", 0.1))])
    zero = table.query("attack == 'fgsm' and strength == 0")
    assert len(zero) == 2 and set(zero["method"]) == {"fgsm"}
    assert table.query("attack == 'pgd_layer'").empty  # its grid has no 0
    assert set(table.query("attack == 'clean'")["method"]) == {"clean"}


def test_backprop_hidden_layers_have_no_readout_accuracy():
    model = {"hidden": [200, 200], "training": {"rule": "backprop", "epochs": 4}}
    table = run([(spectrum([1.0, 1.5]), meta())], model=model)
    assert table.query("layer == 1")["accuracy"].isna().all()
    assert (table.query("layer == 2")["accuracy"] == 0.9).all()
    assert set(table["rule"]) == {"backprop"}


def test_greedy_final_epoch_counts_every_layer():
    model = {"hidden": [200, 200], "training": {"rule": "greedy", "epochs": 3}}
    table = run([(spectrum([1.0, 1.5]), meta())], model=model)
    assert set(table["epoch"]) == {6.0}


def test_the_bound_margin_uses_the_dimension_of_each_condition():
    table = run([(spectrum([1.0, 1.5]), meta(dims=(4.0, 20.0)))])
    clean = table.query("attack == 'clean'").set_index("layer")
    assert clean.loc[1, "bound_margin"] == pytest.approx(clean.loc[1, "alpha"] - 1.5)
    assert clean.loc[2, "bound_margin"] == pytest.approx(clean.loc[2, "alpha"] - 1.1)


def test_the_table_has_the_documented_columns_and_types():
    table = summary_table(run([(spectrum([1.0, 1.5]), meta())]))
    assert table.column_names == SUMMARY_COLUMNS
    assert str(table.schema.field("final").type) == "bool"
    assert isinstance(table.to_pandas(), pd.DataFrame)

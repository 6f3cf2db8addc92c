"""Tests for manifold_smoothness.claims, its statistics and its report, on synthetic summaries
built to pass or fail each claim."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from test_claims_spec import THRESHOLDS

from manifold_smoothness.claims import ClaimsError, Verdict, evaluate_claims
from manifold_smoothness.claims_report import render_markdown
from manifold_smoothness.claims_spec import CLAIMS, LIST_CAP
from manifold_smoothness.claims_statistics import (
    MONOTONIC,
    NON_MONOTONIC,
    UNDEFINED,
    combined_se,
    curve_shape,
    envelope_gap,
    pooled_seed_variance,
    reversal,
)

SEEDS = (0, 1, 2)
LAYERS = (1, 2, 3)
EPOCHS = (0.0, 1.0, 2.0, 4.0, 8.0, 16.0)  # the last one is the final model
D = 10.0  # input dimension of every row -> bound 1.2


# --- a summary table in the contract's layout -------------------------------------------------


@dataclass(frozen=True)
class Net:
    name: str
    rule: str = "local"
    train_subset: int = 0
    label_noise: float = 0.0


@dataclass(frozen=True)
class Sweep:
    attack: str
    method: str
    target: str
    strengths: tuple[float, ...]


PAPER = Net("local5")
PAPER_WIDE = Net("local5wide")
BACKPROP = Net("backprop5", rule="backprop")
GAUSSIAN = Sweep("gaussian", "gaussian", "output", (0.0, 0.1, 0.2, 0.3, 0.4, 0.5))
FGSM = Sweep("fgsm", "fgsm", "output", (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3))
FGSM_LAYER = Sweep("fgsm_layer", "fgsm", "layer", FGSM.strengths)
RANDOM_SIGN = Sweep("random_sign", "random_sign", "output", FGSM.strengths)

# clean(net, seed, layer, epoch) -> (accuracy, probe_accuracy, alpha)
Clean = Callable[[Net, int, int, float], tuple[float, float, float]]
# attacked(net, sweep, seed, layer, strength > 0, clean alpha) -> (accuracy, alpha)
Attacked = Callable[[Net, Sweep, int, int, float, float], tuple[float, float]]


def _jitter(*key: float, scale: float) -> float:
    """Reproducible pseudo-random jitter keyed by the point."""
    rng = np.random.default_rng([int(round(abs(k) * 1000)) for k in key])
    return float(scale * rng.standard_normal())


def clean_rising(net: Net, seed: int, layer: int, epoch: float) -> tuple[float, float, float]:
    """Accuracy and alpha both grow along training: the best points have the largest alpha."""
    progress = math.sqrt(epoch / EPOCHS[-1])
    offset = 0.01 * seed + 0.02 * (net.name == PAPER_WIDE.name)
    accuracy = 0.3 + 0.6 * progress - 0.01 * layer + offset
    return accuracy, accuracy + 0.01, 0.9 + 0.8 * progress + 0.1 * layer + offset


def clean_falling(net: Net, seed: int, layer: int, epoch: float) -> tuple[float, float, float]:
    """Accuracy grows along training while alpha falls: a negative relation."""
    accuracy, probe, alpha = clean_rising(net, seed, layer, epoch)
    return accuracy, probe, 3.0 - alpha


def attacked(shapes: dict[str, Callable[[float], float]], noise: float = 0.003) -> Attacked:
    """Attacked points: accuracy falls with strength; alpha = clean alpha + shapes[method]
    (keyed 'method' or 'method/target', or 'net:method' for one net) plus a small jitter."""

    def point(
        net: Net, sweep: Sweep, seed: int, layer: int, strength: float, alpha0: float
    ) -> tuple[float, float]:
        keys = (f"{net.name}:{sweep.method}/{sweep.target}", f"{net.name}:{sweep.method}")
        keys += (f"{sweep.method}/{sweep.target}", sweep.method)
        shape = next(shapes[k] for k in keys if k in shapes)
        change = shape(strength) + _jitter(seed, layer, strength, scale=noise)
        return max(0.95 - 2.0 * strength, 0.05), alpha0 + change

    return point


def linear_fall(strength: float) -> float:
    return -1.0 * strength


def hump(strength: float, height: float = 0.3, peak: float = 0.15) -> float:
    """Rises by ``height`` to ``peak`` then falls back (to -height at 2 x peak)."""
    return height * (1 - abs(strength - peak) / peak)


PAPER_SHAPES = attacked({"gaussian": linear_fall, "fgsm": hump, "random_sign": linear_fall})


def make_summary(
    nets: tuple[Net, ...] = (PAPER, BACKPROP),
    clean: Clean = clean_rising,
    attack: Attacked = PAPER_SHAPES,
    sweeps: tuple[Sweep, ...] = (GAUSSIAN, FGSM, RANDOM_SIGN),
    seeds: tuple[int, ...] = SEEDS,
    layers: tuple[int, ...] = LAYERS,
    epochs: tuple[float, ...] = EPOCHS,
    alpha_se: float = 0.01,
) -> pd.DataFrame:
    """Clean rows at every snapshot, attacked rows of the final model with the strength-0 copy
    of the clean row in every sweep; accuracy NaN below the last layer of backprop nets."""
    rows = []

    def row(net: Net, seed: int, layer: int, accuracy: float, alpha: float, **values) -> None:
        no_readout = net.rule == "backprop" and layer < max(layers)
        rows.append(
            {
                "dataset": "mnist",
                "model": net.name,
                "rule": net.rule,
                "train_subset": net.train_subset,
                "label_noise": net.label_noise,
                "seed": seed,
                "layer": layer,
                "accuracy": math.nan if no_readout else accuracy,
                "alpha": alpha,
                "alpha_se": alpha_se,
                "window_inside": True,
                "alpha_adaptive": alpha,
                "dimension": 20.0,
                "input_dimension": D,
                "bound_margin": alpha - (1 + 2 / D),
                **values,
            }
        )

    for net in nets:
        for seed in seeds:
            for layer in layers:
                for epoch in epochs:
                    accuracy, probe, alpha = clean(net, seed, layer, epoch)
                    condition = {"attack": "clean", "method": "clean", "target": "output"}
                    row(net, seed, layer, accuracy, alpha, **condition, strength=0.0,
                        epoch=epoch, final=epoch == epochs[-1], probe_accuracy=probe)  # fmt: skip
                for sweep in sweeps:
                    condition = {"attack": sweep.attack, "method": sweep.method}
                    condition |= {"target": sweep.target, "epoch": epochs[-1], "final": True}
                    for strength in sweep.strengths:
                        acc, alpha_s = (accuracy, alpha)  # strength 0: the clean final row
                        if strength > 0:
                            acc, alpha_s = attack(net, sweep, seed, layer, strength, alpha)
                        row(net, seed, layer, acc, alpha_s, **condition, strength=strength,
                            probe_accuracy=math.nan)  # fmt: skip
    return pd.DataFrame(rows)


def _evaluate(summary: pd.DataFrame, **kwargs) -> dict:
    return evaluate_claims(summary, kwargs.pop("thresholds", THRESHOLDS), **kwargs)


def _claim(result: dict, number: int) -> dict:
    (claim,) = [c for c in result["claims"] if c["id"] == number]
    return claim


def _sweep(claim: dict, model: str, attack: str) -> dict:
    (sweep,) = [
        s for s in claim["numbers"]["sweeps"] if s["model"] == model and s["attack"] == attack
    ]
    return sweep


@pytest.fixture(scope="module")
def default_result() -> dict:
    return _evaluate(make_summary())


# --- the shape statistic on constructed curves ------------------------------------------------

STRENGTHS = np.linspace(0.0, 0.4, 9)


def test_monotonic_curves_with_noise_are_rarely_called_non_monotonic() -> None:
    """Null: a monotonic curve scattered by its known standard errors. The rate is measured on
    a saturating decay (flat at the end, where noise can fake a reversal) and on a flat curve,
    the hardest monotonic case; both must stay at or below 5 %."""
    rng = np.random.default_rng(20210401)
    se = np.linspace(0.01, 0.03, STRENGTHS.size)
    curves = {
        "saturating": 1.5 - 0.4 * (1 - np.exp(-STRENGTHS / 0.1)),
        "flat": np.full(STRENGTHS.size, 1.5),
    }
    draws = 1000
    for name, curve in curves.items():
        calls = [curve_shape(curve + rng.normal(0.0, se), se, 0.25, 3.0)[0] for _ in range(draws)]
        rate = calls.count(NON_MONOTONIC) / draws
        print(f"false-positive rate, {name} curve: {rate:.4f} over {draws} draws")
        assert rate <= 0.05, (name, rate)


def test_errors_estimated_from_three_seeds_keep_the_false_positive_rate_low() -> None:
    """Null with the errors estimated as the claims estimate them: 3 seeds per strength around a
    flat curve (the hardest monotonic case), seed sd 0.04, jackknife error 0.01, 21 strengths.
    The seed variance pooled over the curve keeps the rate <= 5 %; per-strength variances from
    3 seeds do not (measured in the same draws, reported for comparison)."""
    rng = np.random.default_rng(11)
    strengths = np.linspace(0.0, 0.5, 21)
    draws, pooled_calls, own_calls = 500, 0, 0
    for _ in range(draws):
        alpha = 1.5 + rng.normal(0.0, 0.04, (strengths.size, 3))
        jack = np.full(3, 0.01)
        rows = pd.DataFrame(
            {
                "strength": np.repeat(strengths, 3),
                "alpha": alpha.reshape(-1),
                "seed": [0, 1, 2] * 21,
            }
        )
        pooled = pooled_seed_variance(rows)
        se_pooled = np.array([combined_se(a, jack, pooled)[0] for a in alpha])
        se_own = np.array([combined_se(a, jack)[0] for a in alpha])
        pooled_calls += curve_shape(alpha.mean(1), se_pooled, 0.25, 3.0)[0] == NON_MONOTONIC
        own_calls += curve_shape(alpha.mean(1), se_own, 0.25, 3.0)[0] == NON_MONOTONIC
    print(f"false-positive rate: pooled {pooled_calls / draws}, per strength {own_calls / draws}")
    assert pooled_calls / draws <= 0.05


def test_a_real_reversal_is_found_at_its_place() -> None:
    """A hump of 0.3 (rise to 0.15, then a fall of 0.5) with se 0.02: the reversal is the rise."""
    rng = np.random.default_rng(7)
    se = np.full(STRENGTHS.size, 0.02)
    curve = 1.5 + np.interp(STRENGTHS, [0.0, 0.15, 0.4], [0.0, 0.3, -0.2])
    found = []
    for _ in range(200):
        shape, rev = curve_shape(curve + rng.normal(0.0, se), se, 0.25, 3.0)
        found.append(shape == NON_MONOTONIC and rev.kind == "rise")
        assert rev.start is not None and STRENGTHS[rev.end] == pytest.approx(0.15, abs=0.051)
    assert np.mean(found) >= 0.99
    shape, rev = curve_shape(curve, se, 0.25, 3.0)
    assert (rev.depth, rev.kind) == (pytest.approx(0.3), "rise")
    assert (STRENGTHS[rev.start], STRENGTHS[rev.end]) == (0.0, pytest.approx(0.15))
    assert rev.se == pytest.approx(0.02 * math.sqrt(2))
    assert rev.fall == pytest.approx(0.5)


def test_a_reversal_below_the_minimum_effect_is_not_counted() -> None:
    """A fall of 1.0 with a significant step of 0.1 back up: r = 0.1, below 0.25."""
    curve = 1.5 - np.array([0.0, 0.3, 0.6, 0.5, 0.7, 0.8, 0.9, 0.95, 1.0])
    tiny = np.full(curve.size, 1e-6)
    shape, rev = curve_shape(curve, tiny, 0.25, 3.0)
    assert rev.depth == pytest.approx(0.1) and rev.excursion == pytest.approx(1.0)
    assert rev.relative == pytest.approx(0.1)
    assert shape == MONOTONIC
    assert curve_shape(curve, tiny, 0.05, 3.0)[0] == NON_MONOTONIC


@pytest.mark.parametrize("scale, shift", [(10.0, 0.0), (0.01, 0.0), (1.0, -7.3), (3.7, 2.5)])
def test_the_shape_call_is_invariant_to_scaling_and_shifting_alpha(scale, shift) -> None:
    """The same curve, its alphas and errors multiplied by a constant or alphas shifted, gets
    the same call and the same relative reversal: on random curves near the decision
    boundaries (every combination of noise level and curve), and through evaluate_claims."""
    rng = np.random.default_rng(3)
    for _ in range(300):
        se = rng.uniform(0.005, 0.05, STRENGTHS.size)
        curve = 2.0 + np.cumsum(rng.normal(0.0, 0.05, STRENGTHS.size))
        shape, rev = curve_shape(curve, se, 0.25, 3.0)
        moved, moved_rev = curve_shape(scale * curve + shift, scale * se, 0.25, 3.0)
        assert moved == shape
        assert moved_rev.relative == pytest.approx(rev.relative, abs=1e-9)
    summary = make_summary()
    moved = summary.assign(alpha=scale * summary["alpha"] + shift, alpha_se=scale * 0.01)
    base, other = _evaluate(summary), _evaluate(moved)
    for a, b in zip(base["claims"][1:], other["claims"][1:], strict=True):
        assert a["verdict"] == b["verdict"]
        shapes = [[r["shape"] for r in sw["per_layer"]] for sw in a["numbers"]["sweeps"]]
        assert shapes == [[r["shape"] for r in sw["per_layer"]] for sw in b["numbers"]["sweeps"]]


def test_a_reversal_within_its_uncertainty_is_not_counted() -> None:
    curve = 1.5 + np.array([hump(s, height=0.2) for s in STRENGTHS])
    se = np.full(STRENGTHS.size, 0.05)  # 3 x se_D = 0.21 > 0.2
    shape, rev = curve_shape(curve, se, 0.25, 3.0)
    assert rev.depth == pytest.approx(0.2) and 3.0 * rev.se > 0.2
    assert shape == MONOTONIC
    assert curve_shape(curve, se, 0.25, 2.5)[0] == NON_MONOTONIC


def test_a_monotonic_curve_has_no_reversal() -> None:
    rev = reversal(1.5 - STRENGTHS, np.full(STRENGTHS.size, 0.01))
    assert (rev.depth, rev.kind, rev.start) == (0.0, None, None) and math.isnan(rev.se)
    assert rev.fall == pytest.approx(0.4) and rev.rise < 0


def test_too_few_strengths_are_undefined() -> None:
    shape, rev = curve_shape(np.array([1.0, 2.0, 1.0]), np.zeros(3), 0.25, 3.0)
    assert shape == UNDEFINED and math.isnan(rev.depth)


def test_combined_se_adds_seed_and_image_errors() -> None:
    alpha, alpha_se = np.array([1.0, 1.2, 1.4]), np.array([0.01, 0.02, 0.03])
    se, flags = combined_se(alpha, alpha_se)
    assert se == pytest.approx(math.sqrt(0.04 / 3 + 0.02**2))
    assert flags == []
    se, flags = combined_se(alpha, np.array([0.03, np.nan, 0.03]))
    assert se == pytest.approx(math.sqrt(0.04 / 3 + 0.02**2))
    assert flags == ["alpha_se missing"]
    se, flags = combined_se(np.array([1.0]), np.array([0.02]))
    assert (se, flags) == (pytest.approx(0.02), ["single seed"])


# --- claim 1 ----------------------------------------------------------------------------------


def test_envelope_gap_is_positive_when_the_best_points_have_large_alpha() -> None:
    alpha = np.array([1.0, 1.1, 1.2, 1.3, 1.4])
    assert envelope_gap(np.array([0.5, 0.6, 0.7, 0.8, 0.9]), alpha) == pytest.approx(0.2)
    assert envelope_gap(np.array([0.99, 0.6, 0.7, 0.8, 0.9]), alpha) == pytest.approx(-0.09)
    assert math.isnan(envelope_gap(np.arange(5.0), np.ones(5)))


def test_claim1_passes_when_accuracy_rises_with_alpha_in_every_seed(default_result) -> None:
    claim = _claim(default_result, 1)
    assert claim["verdict"] == Verdict.PASS.value
    rows = claim["numbers"]["per_layer"]
    assert {r["status"] for r in rows} == {"supported"}
    for row in rows:
        assert row["rho_mean"] == pytest.approx(1.0)
        assert row["gap_min"] >= THRESHOLDS["min_accuracy_gap"]
        assert row["sign_null_probability"] == pytest.approx(0.25)
        # two nets x six epochs per seed (readout: the backprop net's last layer only)
        assert {s["n_points"] for s in row["per_seed"]} <= {6, 12}


def test_claim1_uses_clean_rows_only(default_result) -> None:
    """Attacked rows (accuracy lowered by FGSM) are no generalization points: each seed has the
    two nets' snapshots, less the backprop net's hidden layers for the readout."""
    for row in _claim(default_result, 1)["numbers"]["per_layer"]:
        both = row["kind"] == "probe" or row["layer"] == max(LAYERS)
        expected = (2 if both else 1) * len(EPOCHS)
        assert [s["n_points"] for s in row["per_seed"]] == [expected] * len(SEEDS)


def test_claim1_fails_for_a_negative_relation() -> None:
    claim = _claim(_evaluate(make_summary(clean=clean_falling)), 1)
    assert claim["verdict"] == Verdict.FAIL.value
    assert {r["status"] for r in claim["numbers"]["per_layer"]} == {"contradicted"}
    assert all(r["rho_mean"] == pytest.approx(-1.0) for r in claim["numbers"]["per_layer"])


def test_claim1_fails_for_a_high_accuracy_point_at_the_lowest_alpha() -> None:
    """A control net that is best at every seed with the smallest alpha: accuracy and alpha
    still correlate, but the necessary condition is violated (envelope gap < 0)."""
    control = Net("label_noise", label_noise=0.2)

    def clean(net: Net, seed: int, layer: int, epoch: float) -> tuple[float, float, float]:
        accuracy, probe, alpha = clean_rising(net, seed, layer, epoch)
        if net == control and epoch == EPOCHS[-1]:
            return 0.999, 0.999, 0.5
        return accuracy, probe, alpha

    claim = _claim(_evaluate(make_summary(nets=(PAPER, PAPER_WIDE, control), clean=clean)), 1)
    assert claim["verdict"] == Verdict.FAIL.value
    numbers = claim["numbers"]
    for row in numbers["per_layer"]:
        assert row["status"] == "contradicted"
        assert row["rho_mean"] > 0  # the association alone would have said yes
        assert row["gap_min"] <= -THRESHOLDS["min_accuracy_gap"]
        assert all(s["violations"] == 1 for s in row["per_seed"])
    assert numbers["n_violations"] == 2 * len(LAYERS) * len(SEEDS)
    assert {v["model"] for v in numbers["violations"]} == {control.name}
    assert len(numbers["violations"]) == min(LIST_CAP, numbers["n_violations"])


def test_claim1_is_undefined_with_fewer_than_five_points() -> None:
    summary = make_summary(nets=(PAPER,), epochs=EPOCHS[-4:])
    claim = _claim(_evaluate(summary), 1)
    assert claim["verdict"] == Verdict.INCONCLUSIVE.value
    assert {r["status"] for r in claim["numbers"]["per_layer"]} == {"undefined"}
    assert all(r["rho_mean"] is None for r in claim["numbers"]["per_layer"])


def test_claim1_fails_when_one_kind_is_contradicted() -> None:
    def clean(net: Net, seed: int, layer: int, epoch: float) -> tuple[float, float, float]:
        accuracy, probe, alpha = clean_rising(net, seed, layer, epoch)
        return 1.2 - accuracy, probe, alpha

    claim = _claim(_evaluate(make_summary(nets=(PAPER,), clean=clean)), 1)
    status = claim["numbers"]["status_by_kind"]
    assert status["probe"]["supported"] == list(LAYERS)
    assert status["readout"]["contradicted"] == list(LAYERS)
    assert claim["verdict"] == Verdict.FAIL.value  # a majority contradicted for one kind


def test_claim1_is_inconclusive_when_one_kind_is_mixed() -> None:
    """A readout whose accuracy does not change: no rho, no gap, neither way; the probe
    supports the claim."""

    def clean(net: Net, seed: int, layer: int, epoch: float) -> tuple[float, float, float]:
        _, probe, alpha = clean_rising(net, seed, layer, epoch)
        return 0.9, probe, alpha

    claim = _claim(_evaluate(make_summary(nets=(PAPER,), clean=clean)), 1)
    status = claim["numbers"]["status_by_kind"]
    assert (status["readout"]["mixed"], status["probe"]["supported"]) == (list(LAYERS),) * 2
    assert claim["verdict"] == Verdict.INCONCLUSIVE.value
    assert "readout: mixed [1, 2, 3]" in claim["reason"]


def test_claim1_reports_per_model_final_values(default_result) -> None:
    rows = _claim(default_result, 1)["numbers"]["per_model"]
    assert {(r["model"], r["layer"]) for r in rows} == {
        (n.name, layer) for n in (PAPER, BACKPROP) for layer in LAYERS
    }
    (row,) = [r for r in rows if r["model"] == PAPER.name and r["layer"] == 1]
    finals = [clean_rising(PAPER, s, 1, EPOCHS[-1]) for s in SEEDS]
    assert row["accuracy_mean"] == pytest.approx(np.mean([f[0] for f in finals]))
    assert row["alpha_std"] == pytest.approx(np.std([f[2] for f in finals], ddof=1))
    assert row["rho_readout_snapshots"] == pytest.approx(1.0)
    (hidden,) = [r for r in rows if r["model"] == BACKPROP.name and r["layer"] == 1]
    assert hidden["accuracy_mean"] is None and hidden["probe_accuracy_mean"] is not None


# --- claims 2 and 3 ---------------------------------------------------------------------------


def test_gaussian_monotonic_and_fgsm_reversing_pass_both(default_result) -> None:
    gauss, fgsm = _claim(default_result, 2), _claim(default_result, 3)
    assert gauss["verdict"] == fgsm["verdict"] == Verdict.PASS.value
    assert gauss["numbers"]["fraction_monotonic"] == 1.0
    assert fgsm["numbers"]["fraction_non_monotonic"] == 1.0
    assert fgsm["numbers"]["n_curves"] == len(LAYERS)  # the paper network's layers only
    for row in _sweep(fgsm, PAPER.name, "fgsm")["per_layer"]:
        assert row["depth"] == pytest.approx(0.3, abs=0.02)
        assert 0.15 in (row["from_strength"], row["to_strength"])
        assert row["accuracy_trend"] == pytest.approx(-1.0)
        assert row["net_change"] == pytest.approx(hump(0.3), abs=0.02)
    assert "our data show the paper's contrast" in gauss["meaning"]
    assert "our data show the paper's contrast" in fgsm["meaning"]
    assert (
        "reverses alpha in 0/3, so the reversal needs the adversarial direction"
        in (fgsm["meaning"])
    )


def test_only_controls_reversing_under_fgsm_do_not_pass_claim3() -> None:
    attack = attacked({"gaussian": linear_fall, "fgsm": linear_fall, "backprop5:fgsm": hump})
    result = _evaluate(make_summary(attack=attack, sweeps=(GAUSSIAN, FGSM)))
    fgsm = _claim(result, 3)
    assert fgsm["verdict"] == Verdict.FAIL.value
    assert _sweep(fgsm, BACKPROP.name, "fgsm")["n_non_monotonic"] == len(LAYERS)
    assert _sweep(fgsm, BACKPROP.name, "fgsm")["counted"] is False
    families = {(r["networks"], r["method"]): r for r in fgsm["numbers"]["by_family"]}
    assert families[("controls", "fgsm")]["fraction_non_monotonic"] == 1.0
    assert families[("paper", "fgsm")]["fraction_non_monotonic"] == 0.0
    assert "do not show" in fgsm["meaning"]


def test_claim3_counts_output_target_only() -> None:
    attack = attacked({"gaussian": linear_fall, "fgsm/output": linear_fall, "fgsm": hump})
    result = _evaluate(
        make_summary(nets=(PAPER,), attack=attack, sweeps=(GAUSSIAN, FGSM, FGSM_LAYER))
    )
    fgsm = _claim(result, 3)
    assert fgsm["verdict"] == Verdict.FAIL.value
    assert _sweep(fgsm, PAPER.name, "fgsm_layer")["n_non_monotonic"] == len(LAYERS)
    assert "each layer's own readout in 3/3" in fgsm["meaning"]


def test_claim2_fails_when_gaussian_noise_reverses_alpha() -> None:
    attack = attacked({"gaussian": lambda s: hump(s, peak=0.25), "fgsm": hump})
    gauss = _claim(_evaluate(make_summary(attack=attack, sweeps=(GAUSSIAN, FGSM))), 2)
    assert gauss["verdict"] == Verdict.FAIL.value
    assert gauss["numbers"]["fraction_monotonic"] == 0.0


def test_claim2_is_inconclusive_between_half_and_the_majority() -> None:
    """Two paper nets x 3 layers, one curve reversing: 5/6 monotonic >= 0.8 passes; with
    monotonic_majority 0.9 it is inconclusive."""
    reversing = attacked({"gaussian": linear_fall, "fgsm": hump})

    def attack(net, sweep, seed, layer, strength, alpha0):
        if net == PAPER_WIDE and layer == 1 and sweep.method == "gaussian":
            return attacked({"gaussian": lambda s: hump(s, peak=0.25)})(
                net, sweep, seed, layer, strength, alpha0
            )
        return reversing(net, sweep, seed, layer, strength, alpha0)

    summary = make_summary(nets=(PAPER, PAPER_WIDE), attack=attack, sweeps=(GAUSSIAN, FGSM))
    assert _claim(_evaluate(summary), 2)["verdict"] == Verdict.PASS.value
    strict = {**THRESHOLDS, "monotonic_majority": 0.9}
    claim = _claim(_evaluate(summary, thresholds=strict), 2)
    assert claim["verdict"] == Verdict.INCONCLUSIVE.value
    assert claim["numbers"]["n_non_monotonic"] == 1


def test_claim3_fails_on_the_minority_boundary() -> None:
    """One reversing curve of five is exactly 1 - monotonic_majority = 0.2 (which floating
    point writes as 0.19999999999999996): FAIL, not INCONCLUSIVE."""

    def attack(net, sweep, seed, layer, strength, alpha0):
        shape = hump if layer == 1 and sweep.method == "fgsm" else linear_fall
        return attacked({sweep.method: shape})(net, sweep, seed, layer, strength, alpha0)

    summary = make_summary(
        nets=(PAPER,), attack=attack, sweeps=(GAUSSIAN, FGSM), layers=(1, 2, 3, 4, 5)
    )
    fgsm = _claim(_evaluate(summary), 3)
    assert (fgsm["numbers"]["n_non_monotonic"], fgsm["numbers"]["n_monotonic"]) == (1, 4)
    assert fgsm["verdict"] == Verdict.FAIL.value


def test_tiny_reversals_do_not_flip_verdicts() -> None:
    """Floating-point-sized wiggles on a monotonic FGSM curve stay monotonic."""
    attack = attacked({"gaussian": linear_fall, "fgsm": lambda s: 1e-9 * math.sin(40 * s)}, 0.0)
    fgsm = _claim(_evaluate(make_summary(attack=attack, sweeps=(GAUSSIAN, FGSM))), 3)
    assert fgsm["numbers"]["n_non_monotonic"] == 0
    assert fgsm["verdict"] == Verdict.FAIL.value


def test_shape_is_undefined_with_too_few_strengths() -> None:
    short = Sweep("fgsm", "fgsm", "output", (0.0, 0.1, 0.2))
    fgsm = _claim(_evaluate(make_summary(sweeps=(GAUSSIAN, short))), 3)
    assert fgsm["verdict"] == Verdict.INCONCLUSIVE.value
    assert fgsm["numbers"]["n_undefined"] == len(LAYERS)


def test_missing_alpha_se_and_single_seed_are_flagged() -> None:
    result = _evaluate(make_summary(seeds=(0,), alpha_se=math.nan))
    row = _sweep(_claim(result, 3), PAPER.name, "fgsm")["per_layer"][0]
    assert row["flags"] == ["alpha_se missing", "single seed"]
    assert row["se_depth"] == 0.0


def test_sweep_without_its_strength_zero_row_uses_the_clean_final_rows() -> None:
    summary = make_summary()
    summary = summary[~((summary["attack"] == "fgsm") & (summary["strength"] == 0))]
    fgsm = _claim(_evaluate(summary), 3)
    sweep = _sweep(fgsm, PAPER.name, "fgsm")
    assert sweep["strengths"][0] == 0.0
    assert fgsm["verdict"] == Verdict.PASS.value


def test_backprop_hidden_layers_take_the_last_layers_accuracy_trend(default_result) -> None:
    rows = _sweep(_claim(default_result, 2), BACKPROP.name, "gaussian")["per_layer"]
    assert [r["accuracy_source"] for r in rows] == ["last layer", "last layer", "layer"]
    assert all(r["accuracy_trend"] == pytest.approx(-1.0) for r in rows)


# --- smoothness bound -------------------------------------------------------------------------


def test_smoothness_lists_conditions_below_and_near_the_bound(default_result) -> None:
    section = default_result["smoothness"]
    margins = section["listed"]
    assert [m["margin"] for m in margins] == sorted(m["margin"] for m in margins)
    assert section["minimum"] == margins[0]
    assert margins[0]["margin"] < 0
    assert len(margins) == min(LIST_CAP, section["n_below"] + section["n_near"])
    assert section["n_not_listed"] == section["n_below"] + section["n_near"] - len(margins)
    assert all(m["margin"] < THRESHOLDS["bound_margin"] for m in margins)
    # one condition per (model, attack, strength, epoch, layer); strength-0 copies once
    per_net = len(LAYERS) * (len(EPOCHS) + sum(len(s.strengths) - 1 for s in (GAUSSIAN, FGSM)))
    per_net += len(LAYERS) * (len(RANDOM_SIGN.strengths) - 1)
    assert section["n_conditions"] == 2 * per_net
    assert section["input_dimension"] is None


def test_smoothness_per_model_clean_final_margin(default_result) -> None:
    rows = default_result["smoothness"]["per_model"]
    (row,) = [r for r in rows if r["model"] == PAPER.name and r["layer"] == 2]
    alpha = np.mean([clean_rising(PAPER, s, 2, EPOCHS[-1])[2] for s in SEEDS])
    assert row["margin"] == pytest.approx(alpha - 1.2)
    assert row["d"] == pytest.approx(D)


def test_a_given_input_dimension_replaces_the_column() -> None:
    result = _evaluate(make_summary(), input_dimension=2.0, input_dimension_source="config")
    section = result["smoothness"]
    (row,) = [r for r in section["per_model"] if r["model"] == PAPER.name and r["layer"] == 2]
    alpha = np.mean([clean_rising(PAPER, s, 2, EPOCHS[-1])[2] for s in SEEDS])
    assert (row["d"], row["margin"]) == (2.0, pytest.approx(alpha - 2.0))
    assert section["input_dimension_source"] == "config"
    assert "d = 2 for every row (config)" in render_markdown(result)
    summary = make_summary(nets=(PAPER,)).drop(columns=["input_dimension", "bound_margin"])
    assert _evaluate(summary, input_dimension=2.0)["smoothness"]["input_dimension_source"] == (
        "given"
    )


# --- result, report, validation ---------------------------------------------------------------


def test_result_is_strict_json_with_the_documented_layout(default_result) -> None:
    text = json.dumps(default_result, allow_nan=False)
    assert json.loads(text) == default_result
    assert set(default_result) == {
        "dataset",
        "models",
        "layers",
        "n_rows",
        "n_rows_dropped_non_finite",
        "thresholds",
        "fixed_parameters",
        "sensitivity_statistic",
        "contrast_statistic",
        "claims",
        "smoothness",
    }
    assert default_result["thresholds"] == THRESHOLDS
    for claim in default_result["claims"]:
        assert set(claim) == {
            "id",
            "name",
            "statement",
            "statistic",
            "numbers",
            "verdict",
            "reason",
            "meaning",
            "sensitivity",
        }
    models = {m["name"]: m for m in default_result["models"]}
    assert models[PAPER.name]["paper_network"] is True
    assert models[BACKPROP.name]["paper_network"] is False
    assert models[PAPER.name]["final_epoch"] == EPOCHS[-1]
    assert models[PAPER.name]["seeds"] == list(SEEDS)


def test_statistic_is_the_specs_definition_with_the_thresholds(default_result) -> None:
    for claim, spec in zip(default_result["claims"], CLAIMS, strict=True):
        assert claim["statistic"] == spec.statistic_text(THRESHOLDS)


def test_markdown_reports_every_claim_sweep_and_meaning(default_result) -> None:
    text = render_markdown(default_result)
    assert text.startswith("# Claims check: mnist")
    for claim in default_result["claims"]:
        assert f"## Claim {claim['id']}:" in text
        assert f"**Verdict: {claim['verdict']}** (" in text
        assert claim["meaning"] in text
        assert claim["statistic"] in text
    for sweep in _claim(default_result, 3)["numbers"]["sweeps"]:
        assert f"### {sweep['model']} / {sweep['attack']}" in text
    for net in (PAPER, BACKPROP):
        for attack in ("gaussian", "fgsm", "random_sign"):
            assert f"| {net.name} | {attack} |" in text
    assert "## Smoothness bound" in text and "## Thresholds" in text
    assert "| layer | shape | r = D / E (min 0.25) | depth D | se_D | D / se_D (min 3) |" in text
    assert "**Gaussian-FGSM contrast per layer.**" in text


def test_markdown_renders_failing_claims() -> None:
    shapes = {"gaussian": lambda s: hump(s, peak=0.25), "fgsm": linear_fall}
    attack = attacked({**shapes, "random_sign": linear_fall})
    result = _evaluate(make_summary(clean=clean_falling, attack=attack, seeds=(0,)))
    assert [c["verdict"] for c in result["claims"]] == [Verdict.FAIL.value] * 3
    text = render_markdown(result)
    assert text.count("**Verdict: FAIL** (") == 3
    assert "n/a" in text  # no std over a single seed
    assert "our data do not show the paper's contrast" in text
    json.dumps(result, allow_nan=False)


def test_non_finite_alpha_rows_are_dropped_and_counted() -> None:
    summary = make_summary()
    summary.loc[summary.index[-1], "alpha"] = np.nan
    summary.loc[summary.index[0], "accuracy"] = np.nan  # kept: NaN accuracy is allowed
    result = _evaluate(summary)
    assert result["n_rows_dropped_non_finite"] == 1
    assert result["n_rows"] == len(summary)


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda df: df.drop(columns="probe_accuracy"), "lacks column"),
        (lambda df: df.drop(columns="bound_margin"), "lacks column"),
        (lambda df: df.iloc[0:0], "no rows"),
        (lambda df: df.assign(dataset=["a", "b"] * (len(df) // 2)), "several dataset"),
        (lambda df: df.assign(layer=1.5), "integers"),
        (lambda df: df.assign(seed=np.nan), "integers"),
        (lambda df: df.assign(strength=-1.0), "strength"),
        (lambda df: df.assign(strength=df["strength"] + 0.1), "clean rows must have strength 0"),
        (lambda df: df.assign(accuracy="high"), "numeric"),
        (lambda df: df.assign(alpha=np.nan), "non-finite alpha"),
        (lambda df: df.assign(final="yes"), "True/False"),
        (lambda df: df.assign(final=False), "final model"),
        (lambda df: df.assign(rule=["local", "greedy"] * (len(df) // 2)), "'rule' must be"),
        (lambda df: df.assign(target=["output", "layer"] * (len(df) // 2)), "'target' must"),
    ],
)
def test_bad_summaries_raise(mutate: Callable, match: str) -> None:
    summary = make_summary(nets=(PAPER,), layers=(1, 2), sweeps=(FGSM,))
    with pytest.raises(ClaimsError, match=match):
        _evaluate(mutate(summary))


def test_bad_thresholds_raise_before_any_statistic() -> None:
    with pytest.raises(ClaimsError, match=r"claims\.min_rho"):
        _evaluate(make_summary(nets=(PAPER,)), thresholds={**THRESHOLDS, "min_rho": 0.0})


@pytest.mark.parametrize("d", [0.0, -2.0, float("nan"), float("inf"), "ten"])
def test_bad_input_dimension_raises(d) -> None:
    with pytest.raises(ClaimsError, match="input_dimension"):
        _evaluate(make_summary(nets=(PAPER,), layers=(1,)), input_dimension=d)


def test_extra_threshold_keys_are_ignored() -> None:
    thresholds = {**THRESHOLDS, "input_dimension": None}
    result = _evaluate(make_summary(nets=(PAPER,), layers=(1,)), thresholds=thresholds)
    assert result["thresholds"] == THRESHOLDS

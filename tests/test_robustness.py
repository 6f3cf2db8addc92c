"""Minimum adversarial distances by bisection over PGD's budget: on a small trained network
(the bracket checked with our PGD itself) and on a hand-built network whose output is linear
in the input, where the true minimum L-inf distance is known."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from manifold_smoothness import attacks
from manifold_smoothness.model import LocalErrorMLP, ModelConfig
from manifold_smoothness.robustness import (
    ROBUSTNESS_COLUMNS,
    RobustnessSettings,
    median_distance,
    minimum_distances,
    robustness_frame,
    robustness_table,
)

SETTINGS = RobustnessSettings(samples=None, max_distance=0.5, bisections=6, pgd_steps=5)


@pytest.fixture(scope="module")
def trained(train_on_blocks):
    """A model above chance (about half of the first 96 right) on conftest's block data."""
    model, x, y = train_on_blocks((32, 24))
    return model, x[:96], y[:96]


@pytest.fixture(scope="module")
def measured(trained):
    model, x, y = trained
    return minimum_distances(model, x, y, SETTINGS, chunk=40)


def predicts_label(model: LocalErrorMLP, x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return (model.predict(x) == y).numpy()


def test_misclassified_images_are_at_distance_zero(trained, measured):
    model, x, y = trained
    correct = predicts_label(model, x, y)
    assert 0 < correct.sum() < len(x)  # both kinds are present
    assert (measured[~correct] == 0).all()
    assert (measured[correct] > 0).all()
    assert measured.dtype == np.float64 and measured.shape == (len(x),)


def test_every_finite_distance_is_the_upper_end_of_a_pgd_bracket(trained, measured):
    model, x, y = trained
    width = SETTINGS.bracket_width
    finite = np.flatnonzero(np.isfinite(measured) & (measured > 0))
    assert len(finite) > 10
    for d in np.unique(measured[finite]):
        rows = finite[measured[finite] == d]
        for eps, flips in ((d, True), (d - width, False)):
            x_adv = attacks.pgd(
                model, x[rows], y[rows], float(eps), SETTINGS.pgd_steps, 2.5, False, None
            )
            assert (~predicts_label(model, x_adv, y[rows]) == flips).all(), (d, eps)


def test_chunking_changes_no_distance(trained, measured):
    model, x, y = trained
    np.testing.assert_array_equal(minimum_distances(model, x, y, SETTINGS, chunk=7), measured)


def test_a_tiny_max_distance_censors_the_correct_images(trained):
    model, x, y = trained
    tiny = RobustnessSettings(max_distance=1e-4, bisections=2, pgd_steps=3)
    distances = minimum_distances(model, x, y, tiny)
    correct = predicts_label(model, x, y)
    assert np.isinf(distances[correct]).mean() >= 0.9
    assert (distances[~correct] == 0).all()


def linear_network(u: np.ndarray, threshold: float) -> LocalErrorMLP:
    """Two classes, one hidden layer of two ReLUs that stay active on [0, 1] inputs:
    h = (u.x + 5, 5 + threshold), readout the identity, so the logit margin of class 0 is
    u.x - threshold, linear in x, and the L-inf distance to the boundary is
    |u.x - threshold| / ||u||_1 while the image box does not bind."""
    config = ModelConfig(hidden=(2,), n_inputs=len(u), n_classes=2)
    model = LocalErrorMLP(config, seed=0)
    with torch.no_grad():
        model.layers[0].weight.copy_(torch.tensor(np.stack([u, np.zeros_like(u)])))
        model.layers[0].bias.copy_(torch.tensor([5.0, 5.0 + threshold]))
        model.readout(0).copy_(torch.eye(2))
    return model


def test_distances_of_a_linear_network_are_the_true_minimum_within_the_bracket():
    u = np.array([1.0, 2.0, -1.0, 0.5])
    threshold = 1.0
    model = linear_network(u, threshold)
    settings = RobustnessSettings(max_distance=0.15, bisections=8, pgd_steps=5)
    # inputs in [0.3, 0.7] stay inside [0, 1] within any budget <= 0.3: the box never binds
    x = torch.rand(200, len(u), generator=torch.Generator().manual_seed(0)) * 0.4 + 0.3
    margin = x.double().numpy() @ u - threshold
    y = torch.from_numpy((margin < 0).astype(np.int64))
    true = np.abs(margin) / np.abs(u).sum()
    distances = minimum_distances(model, x, y, settings)
    finite = np.isfinite(distances)
    assert 0 < finite.sum() < len(x)  # both measured and censored images
    slack = 1e-6  # float32 logits against the float64 margin
    width = settings.bracket_width
    assert (true[finite] <= distances[finite] + slack).all()
    assert (true[finite] > distances[finite] - width - slack).all()
    assert (true[~finite] >= settings.max_distance - slack).all()


def test_the_linear_network_s_misclassified_images_are_at_zero():
    u = np.array([1.0, 2.0, -1.0, 0.5])
    model = linear_network(u, 1.0)
    x = torch.rand(50, len(u), generator=torch.Generator().manual_seed(1)) * 0.4 + 0.3
    wrong = torch.from_numpy((x.double().numpy() @ u - 1.0 >= 0).astype(np.int64))
    settings = RobustnessSettings(max_distance=0.25, bisections=3, pgd_steps=2)
    assert (minimum_distances(model, x, wrong, settings) == 0).all()


def test_from_config_fills_defaults_and_reads_every_key():
    assert RobustnessSettings.from_config({}) == RobustnessSettings()
    entry = {
        "samples": None,
        "max_distance": 1,
        "bisections": 4,
        "pgd_steps": 7,
        "pgd_step_size": 2,
    }
    settings = RobustnessSettings.from_config(entry)
    assert settings == RobustnessSettings(None, 1.0, 4, 7, 2.0)
    assert isinstance(settings.max_distance, float) and settings.bracket_width == 1 / 16


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("max_distance", 0.0),
        ("max_distance", 1.5),
        ("max_distance", float("nan")),
        ("bisections", 0),
        ("bisections", 2.0),
        ("pgd_steps", 0),
        ("pgd_steps", True),
        ("pgd_step_size", 0.0),
        ("pgd_step_size", float("inf")),
        ("pgd_step_size", "2.5"),
        ("samples", 0),
        ("samples", 10.5),
    ],
)
def test_from_config_names_the_bad_key(key, value):
    with pytest.raises(ValueError, match=f"'{key}' is"):
        RobustnessSettings.from_config({key: value})


def test_from_config_names_unknown_keys():
    with pytest.raises(ValueError, match=r"unknown keys \['budget'\]"):
        RobustnessSettings.from_config({"budget": 0.3, "bisections": 4})


def test_the_table_keeps_its_schema_through_parquet(trained, tmp_path):
    model, x, y = trained
    settings = RobustnessSettings(max_distance=0.05, bisections=2, pgd_steps=2)
    frame = robustness_frame(model, x[:30], y[:30], np.arange(100, 130), settings)
    assert list(frame.columns) == list(ROBUSTNESS_COLUMNS) and len(frame) == 30
    table = robustness_table(frame)
    assert table.schema == pa.schema(
        [
            ("sample", pa.int64()),
            ("label", pa.int64()),
            ("clean_correct", pa.bool_()),
            ("distance", pa.float64()),
        ]
    )
    pq.write_table(table, tmp_path / "robustness.parquet")
    back = pq.read_table(tmp_path / "robustness.parquet")
    assert back.equals(table)
    round_trip = back.to_pandas()
    assert round_trip.equals(frame)
    assert (round_trip.clean_correct == (round_trip.distance > 0)).all()
    assert np.isinf(round_trip.distance).any()  # inf survives the file


def test_median_distance_counts_censored_images_as_largest():
    assert median_distance(np.array([0.0, 0.1, 0.2, np.inf, np.inf])) == 0.2
    assert median_distance(np.array([0.1, np.inf, np.inf])) == np.inf
    assert median_distance(np.array([0.1, 0.3, 0.2, np.inf])) == pytest.approx(0.25)
    assert median_distance(np.array([0.0, 0.0, 0.1])) == 0.0
    with pytest.raises(ValueError, match="undefined"):
        median_distance(np.array([]))

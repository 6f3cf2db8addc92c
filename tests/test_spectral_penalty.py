import numpy as np
import pytest
import torch

from manifold_smoothness.model import ModelConfig
from manifold_smoothness.spectral_penalty import (
    PenaltyTerm,
    SpectralPenalty,
    covariance_eigh,
    power_law_penalty,
    projected_variances,
)
from manifold_smoothness.spectrum import eigenspectrum, fit_power_law
from manifold_smoothness.training import TrainConfig, train

IDS = {"data_id": "tiny-train", "test_id": "tiny-test", "code_id": "code-a"}


def _power_law(n: int, exponent: float) -> torch.Tensor:
    return torch.arange(1, n + 1, dtype=torch.float64) ** -exponent


def test_an_exact_power_law_of_the_target_exponent_costs_nothing():
    assert power_law_penalty(_power_law(200, 1.5), 1.5, first_rank=11) == pytest.approx(
        0, abs=1e-12
    )


def test_a_flatter_spectrum_costs_more_than_a_steeper_one_by_the_relu_term():
    target = _power_law(200, 2.0)
    flatter = target.clone()
    flatter[11:] *= 1.5  # 50 % excess beyond the anchor
    steeper = target.clone()
    steeper[11:] *= 0.5  # 50 % deficit
    n_penalised = 200 - 11
    assert power_law_penalty(flatter, 2.0, 11) == pytest.approx((0.25 + 0.5) * n_penalised / 200)
    assert power_law_penalty(steeper, 2.0, 11) == pytest.approx(0.25 * n_penalised / 200)


def test_the_anchor_carries_no_gradient():
    values = _power_law(50, 1.0).clone().requires_grad_(True)
    bumped = values * torch.cat([torch.ones(20), torch.full((30,), 2.0)]).double()
    power_law_penalty(bumped, 1.0, first_rank=5).backward()
    assert values.grad[4] == 0 and values.grad[:4].abs().sum() == 0
    assert values.grad[20:].abs().min() > 0


def test_covariance_eigh_matches_numpy_and_the_projected_variances_of_its_data():
    g = torch.Generator().manual_seed(0)
    h = (
        torch.randn(500, 12, generator=g, dtype=torch.float64)
        @ torch.randn(12, 12, generator=g).double()
    )
    values, vectors = covariance_eigh(h.T @ h, h.sum(0), len(h))
    expected = np.sort(np.linalg.eigvalsh(np.cov(h.numpy(), rowvar=False, bias=True)))[::-1]
    np.testing.assert_allclose(values.numpy(), expected, rtol=1e-10)
    unbiased = projected_variances(h, vectors)
    np.testing.assert_allclose(unbiased.numpy(), expected * 500 / 499, rtol=1e-9)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"weight": 1.0}, "lacks"),
        ({"weight": 1.0, "exponent": 2.0, "tau": 3}, "unknown"),
        ({"weight": -1.0, "exponent": 2.0}, "weight"),
        ({"weight": 1.0, "exponent": 0.0}, "exponent"),
        ({"weight": 1.0, "exponent": 2.0, "first_rank": 0}, "first_rank"),
    ],
)
def test_bad_penalty_settings_are_refused_by_name(entry, message):
    with pytest.raises(ValueError, match=message):
        SpectralPenalty.from_config(entry)


def test_weight_zero_is_no_penalty_and_greedy_refuses_one():
    assert (
        TrainConfig(1, 8, 1e-3, spectral_penalty={"weight": 0, "exponent": 2}).spectral_penalty
        is None
    )
    penalty = TrainConfig(1, 8, 1e-3, spectral_penalty={"weight": 2, "exponent": 3})
    assert penalty.spectral_penalty == SpectralPenalty(2.0, 3.0, 11)
    with pytest.raises(ValueError, match="greedy"):
        TrainConfig(1, 8, 1e-3, rule="greedy", spectral_penalty={"weight": 1, "exponent": 2})


def test_a_first_rank_beyond_the_layer_is_refused():
    term = PenaltyTerm(SpectralPenalty(1.0, 2.0, first_rank=16))
    with pytest.raises(ValueError, match="first_rank 16"):
        power_law_penalty(_power_law(16, 1.0), 2.0, 16)
    assert term.vectors == []


def _trained(tmp_path, tiny_data, penalty, rule="local", name="ck.pt"):
    config = ModelConfig(hidden=(48, 48))
    training = TrainConfig(epochs=6, batch_size=64, lr=3.0e-3, rule=rule, spectral_penalty=penalty)
    model, _ = train(config, training, 0, tiny_data, tiny_data, tmp_path / name, **IDS)
    return model


def _alphas(model, x):
    """Every layer's alpha over ranks 3..7: a steep target kills units at this width (their
    variance is exactly 0), which leaves too few ranks for a longer window."""
    with torch.no_grad():
        spectra = [eigenspectrum(h.double().numpy()) for h in model(x)]
    return [fit_power_law(ev, ranks=(3, 7), cap=False).alpha for ev in spectra]


def test_weight_zero_trains_bitwise_the_network_without_the_key(tmp_path, tiny_data):
    plain = _trained(tmp_path, tiny_data, None, name="a.pt")
    zero = _trained(tmp_path, tiny_data, {"weight": 0.0, "exponent": 3.0}, name="b.pt")
    for key, value in plain.state_dict().items():
        assert torch.equal(value, zero.state_dict()[key]), key


STEEP = {"weight": 5.0, "exponent": 4.0, "first_rank": 3}
FLAT = {"weight": 5.0, "exponent": 0.3, "first_rank": 3}


@pytest.mark.parametrize("rule", ["local", "backprop"])
def test_training_lowers_the_penalty_it_is_given(tmp_path, tiny_data, rule):
    plain = _trained(tmp_path, tiny_data, None, rule, "a.pt")
    for name, target in (("b.pt", STEEP), ("c.pt", FLAT)):
        penalised = _trained(tmp_path, tiny_data, target, rule, name)
        term = PenaltyTerm(SpectralPenalty.from_config(target))
        assert term.refresh(penalised, tiny_data[0]) < term.refresh(plain, tiny_data[0])


@pytest.mark.parametrize("rule", ["local", "backprop"])
def test_a_flat_target_lowers_every_layers_alpha(tmp_path, tiny_data, rule):
    plain = _alphas(_trained(tmp_path, tiny_data, None, rule, "a.pt"), tiny_data[0])
    flat = _alphas(_trained(tmp_path, tiny_data, FLAT, rule, "b.pt"), tiny_data[0])
    assert all(f < a for f, a in zip(flat, plain, strict=True)), (plain, flat)


def test_a_steep_target_raises_every_layers_alpha_under_local_errors(tmp_path, tiny_data):
    plain = _alphas(_trained(tmp_path, tiny_data, None, "local", "a.pt"), tiny_data[0])
    steep = _alphas(_trained(tmp_path, tiny_data, STEEP, "local", "b.pt"), tiny_data[0])
    assert all(s > a for s, a in zip(steep, plain, strict=True)), (plain, steep)


def test_under_local_errors_a_layers_penalty_moves_its_own_weights_only(tiny_data):
    from manifold_smoothness.model import LocalErrorMLP

    model = LocalErrorMLP(ModelConfig(hidden=(20, 20)), seed=0)
    term = PenaltyTerm(SpectralPenalty(1.0, 3.0, first_rank=2))
    term.refresh(model, tiny_data[0])
    hiddens = model(tiny_data[0][:64])
    term([hiddens[0], hiddens[1].detach()]).backward()
    assert model.layers[0].weight.grad.abs().sum() > 0
    assert model.layers[1].weight.grad is None


def test_a_layer_collapsed_below_the_anchor_costs_nothing_and_stays_finite():
    collapsed = torch.cat([torch.tensor([3.0, 1.0]), torch.zeros(30)]).double().requires_grad_(True)
    value = power_law_penalty(collapsed, 2.0, first_rank=3)
    value.backward()
    assert value == 0 and torch.isfinite(collapsed.grad).all()

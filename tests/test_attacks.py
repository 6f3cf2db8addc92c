import numpy as np
import pytest
import torch

from manifold_smoothness import attacks
from manifold_smoothness.attacks import AttackSpec, perturb, perturb_grid
from manifold_smoothness.audit import art_classifier
from manifold_smoothness.model import LocalErrorMLP
from manifold_smoothness.training import TrainConfig, train
from manifold_smoothness.vocabulary import ATTACK_METHODS as METHODS

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

PGD = AttackSpec("pgd", steps=5, step_size=2.5)


def spec_of(method: str) -> AttackSpec:
    """A valid spec of each method (pgd needs steps and a step size)."""
    return PGD if method == "pgd" else AttackSpec(method)


@pytest.fixture
def trained(tmp_path, tiny_data, tiny_model_config):
    """A model well above chance (~60% on tiny_data), so attacks have accuracy to remove."""
    model, _ = train(
        tiny_model_config,
        TrainConfig(epochs=10, batch_size=32, lr=3.0e-3),
        0,
        tiny_data,
        tiny_data,
        tmp_path / "ck.pt",
        data_id="tiny",
        test_id="tiny",
        code_id="tests",
    )
    return model


def accuracy(model: LocalErrorMLP, x: torch.Tensor, y: torch.Tensor) -> float:
    return float((model.predict(x) == y).float().mean())


@pytest.mark.parametrize("layer", [-1, 0])
def test_fgsm_equals_adversarial_robustness_toolbox(trained, tiny_data, layer):
    pytest.importorskip("art")
    from art.attacks.evasion import FastGradientMethod

    x, y = tiny_data
    classifier = art_classifier(trained, layer)
    for eps in (0.05, 0.3):
        ours = attacks.fgsm(trained, x, y, eps, layer=layer).numpy()
        theirs = FastGradientMethod(classifier, eps=eps, norm=np.inf).generate(
            x.numpy(), y=y.numpy()
        )
        np.testing.assert_allclose(ours, theirs, atol=1e-6, rtol=0)


@pytest.mark.parametrize("layer", [-1, 0])
def test_pgd_equals_adversarial_robustness_toolbox(trained, tiny_data, layer):
    pytest.importorskip("art")
    from art.attacks.evasion import ProjectedGradientDescent

    x, y = tiny_data
    classifier = art_classifier(trained, layer)
    steps, step_size = 5, 2.5
    for eps in (0.02, 0.05):
        ours = attacks.pgd(trained, x, y, eps, steps, step_size, False, None, layer=layer)
        # ART steps, clips to [0, 1], then projects on the eps ball; we project, then clip:
        # both are the projection on the intersection of two boxes containing x. No random
        # start (num_random_init=0), no momentum (decay=None), fixed eps (random_eps=False).
        theirs = ProjectedGradientDescent(
            classifier,
            norm=np.inf,
            eps=eps,
            eps_step=step_size * eps / steps,
            max_iter=steps,
            targeted=False,
            num_random_init=0,
            decay=None,
            random_eps=False,
            batch_size=len(x),
            verbose=False,
        ).generate(x.numpy(), y=y.numpy())
        np.testing.assert_allclose(ours.numpy(), theirs, atol=1e-5, rtol=0)
        assert np.abs(theirs - x.numpy()).max() > 0.9 * eps  # the attack did move the inputs


def test_one_pgd_step_of_full_size_is_fgsm(trained, tiny_data):
    x, y = tiny_data
    one_step = attacks.pgd(trained, x, y, 0.1, 1, 1.0, False, None)
    assert torch.equal(one_step, attacks.fgsm(trained, x, y, 0.1))


@pytest.mark.parametrize("random_start", [False, True])
def test_pgd_stays_in_range_and_in_the_eps_ball(trained, tiny_data, random_start):
    x, y = tiny_data
    generator = torch.Generator().manual_seed(0)
    x_adv = attacks.pgd(trained, x, y, 0.1, 10, 2.5, random_start, generator)
    assert x_adv.min() >= 0 and x_adv.max() <= 1
    assert (x_adv - x).abs().max() <= 0.1 + 1e-6
    assert (x_adv - x).abs().max() > 0.099  # the budget is used


def test_pgd_is_at_least_as_strong_as_fgsm(trained, tiny_data):
    x, y = tiny_data
    eps = 0.05
    clean = accuracy(trained, x, y)
    fgsm = accuracy(trained, attacks.fgsm(trained, x, y, eps), y)
    spec = AttackSpec("pgd", steps=10, step_size=2.5)
    pgd = accuracy(trained, perturb(trained, x, y, spec, eps, seed=0), y)
    assert pgd <= fgsm < clean


def test_perturb_runs_pgd_with_the_relative_step_and_the_pgd_stream(trained, tiny_data):
    x, y = tiny_data
    spec = AttackSpec("pgd", steps=4, step_size=2.5, random_start=True)
    generator = torch.Generator().manual_seed(attacks.noise_seed(7, 0.05, "pgd"))
    expected = attacks.pgd(trained, x, y, 0.05, 4, 2.5, True, generator, layer=0)
    assert torch.equal(perturb(trained, x, y, spec, 0.05, seed=7, layer=0, chunk=100), expected)


def test_pgd_random_start_is_seeded_and_does_not_depend_on_the_chunk(trained, tiny_data):
    x, y = tiny_data
    spec = AttackSpec("pgd", steps=3, step_size=2.5, random_start=True)
    whole = perturb(trained, x, y, spec, 0.1, seed=0)
    assert torch.equal(perturb(trained, x, y, spec, 0.1, seed=0, chunk=100), whole)
    assert not torch.equal(perturb(trained, x, y, spec, 0.1, seed=1), whole)
    assert not torch.equal(perturb(trained, x, y, PGD, 0.1, seed=0), whole)


def test_fgsm_stays_in_range_and_in_the_eps_ball(trained, tiny_data):
    x, y = tiny_data
    x_adv = attacks.fgsm(trained, x, y, 0.1)
    assert x_adv.min() >= 0 and x_adv.max() <= 1
    assert (x_adv - x).abs().max() <= 0.1 + 1e-7


def test_fgsm_lowers_accuracy(trained, tiny_data):
    x, y = tiny_data
    assert accuracy(trained, attacks.fgsm(trained, x, y, 0.05), y) < accuracy(trained, x, y)


def test_random_sign_moves_every_pixel_by_eps_unless_clipped(tiny_data):
    x, _ = tiny_data
    eps = 0.1
    x_noisy = attacks.random_sign(x, eps, torch.Generator().manual_seed(0))
    delta = x_noisy - x
    inside = (x_noisy > 0) & (x_noisy < 1)
    assert inside.float().mean() > 0.9
    torch.testing.assert_close(delta[inside].abs(), torch.full_like(delta[inside], eps))
    assert (delta[~inside].abs() <= eps + 1e-7).all()
    # clipping shortens a step but keeps its sign, so the signs are the draws: fair +-1
    assert abs(float(delta.sign().mean())) < 0.02


def test_random_sign_is_reproducible_and_not_the_gaussian_draw(trained, tiny_data):
    x = torch.full((50, 784), 0.5)  # nothing is clipped, so the sign of the change is the draw
    y = torch.zeros(50, dtype=torch.long)
    signs = perturb(trained, x, y, AttackSpec("random_sign"), 0.1, seed=0) - x
    again = perturb(trained, x, y, AttackSpec("random_sign"), 0.1, seed=0) - x
    other_seed = perturb(trained, x, y, AttackSpec("random_sign"), 0.1, seed=1) - x
    gaussian = perturb(trained, x, y, AttackSpec("gaussian"), 0.1, seed=0) - x
    assert torch.equal(signs, again)
    assert not torch.equal(signs, other_seed)
    agreement = float((signs.sign() == gaussian.sign()).float().mean())
    assert 0.45 < agreement < 0.55  # independent draws: the same sign half the time


def test_random_sign_lowers_accuracy_less_than_fgsm(trained, tiny_data):
    x, y = tiny_data
    eps = 0.05
    noisy = perturb(trained, x, y, AttackSpec("random_sign"), eps, seed=0)
    adversarial = perturb(trained, x, y, AttackSpec("fgsm"), eps, seed=0)
    assert accuracy(trained, noisy, y) > accuracy(trained, adversarial, y) + 0.2


def test_gaussian_noise_is_clipped_and_reproducible():
    x = torch.full((50, 784), 0.5)
    draw = lambda: attacks.gaussian(  # noqa: E731
        x, 0.3, torch.Generator().manual_seed(attacks.noise_seed(1, 0.3))
    )
    a, b = draw(), draw()
    assert torch.equal(a, b)
    assert a.min() >= 0 and a.max() <= 1
    assert 0.25 < (a - x).std() < 0.3  # clipping at 0 and 1 shrinks the nominal 0.3


def test_noise_seed_depends_on_model_seed_strength_and_method():
    methods = ("gaussian", "random_sign", "pgd")
    seeds = {attacks.noise_seed(s, e, m) for s in (0, 1) for e in (0.05, 0.1) for m in methods}
    assert len(seeds) == 12
    assert attacks.noise_seed(0, 0.05, "pgd") == attacks.noise_seed(0, 0.05, "pgd")
    with pytest.raises(ValueError, match="fgsm"):
        attacks.noise_seed(0, 0.05, "fgsm")


def test_gaussian_noise_seed_is_unchanged_by_the_method_streams():
    # the value before methods had streams: reruns of gaussian conditions draw the same noise
    assert attacks.noise_seed(0, 0.05) == 7505720336382667040


@pytest.mark.parametrize("method", METHODS)
def test_strength_zero_is_the_clean_input(trained, tiny_data, method):
    x, y = tiny_data
    assert perturb(trained, x, y, spec_of(method), 0.0, seed=0) is x


@pytest.mark.parametrize("method", METHODS)
def test_every_method_perturbs_within_the_image_range(trained, tiny_data, method):
    x, y = tiny_data
    x_adv = perturb(trained, x, y, spec_of(method), 0.1, seed=0)
    assert x_adv.shape == x.shape and x_adv.min() >= 0 and x_adv.max() <= 1
    assert not torch.equal(x_adv, x)


def test_negative_strength_is_rejected(trained, tiny_data):
    x, y = tiny_data
    with pytest.raises(ValueError, match="-0.1"):
        perturb(trained, x, y, AttackSpec("fgsm"), -0.1, seed=0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"method": "cw"},
            r"'cw' unknown; use one of \('gaussian', 'fgsm', 'random_sign', 'pgd'\)",
        ),
        (
            {"method": "fgsm", "target": "input"},
            r"'input' unknown; use one of \('output', 'layer'\)",
        ),
        ({"method": "gaussian", "target": "layer"}, "target 'layer' needs a gradient method"),
        ({"method": "random_sign", "target": "layer"}, "not 'random_sign'"),
        ({"method": "pgd"}, "pgd needs steps > 0 and step_size > 0"),
        ({"method": "pgd", "steps": 10, "step_size": 0.0}, "step_size 0.0"),
        ({"method": "pgd", "steps": 10.0, "step_size": 2.5}, "steps must be an integer"),
        ({"method": "pgd", "steps": 1, "step_size": 1, "random_start": "yes"}, "'yes'"),
        ({"method": "fgsm", "steps": 10}, "settings of pgd, not of 'fgsm'"),
        ({"method": "gaussian", "random_start": True}, "settings of pgd, not of 'gaussian'"),
    ],
)
def test_invalid_attack_specs_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AttackSpec(**kwargs)


def test_attack_spec_from_config_reads_an_entry_and_round_trips():
    entry = {
        "method": "pgd",
        "target": "layer",
        "strengths": [0.0, 0.1],
        "steps": 20,
        "step_size": 2.5,
        "random_start": True,
    }
    spec = AttackSpec.from_config(entry)
    assert spec == AttackSpec("pgd", "layer", steps=20, step_size=2.5, random_start=True)
    assert AttackSpec.from_config(spec.to_dict()) == spec
    assert AttackSpec.from_config({"method": "fgsm", "strengths": [0.1]}) == AttackSpec("fgsm")


def test_attack_spec_from_config_rejects_missing_and_unknown_keys():
    with pytest.raises(ValueError, match="no method"):
        AttackSpec.from_config({"target": "output"})
    with pytest.raises(ValueError, match=r"unknown keys \['step'\]"):
        AttackSpec.from_config({"method": "pgd", "step": 20, "step_size": 2.5})


@needs_cuda
def test_fgsm_of_a_gpu_model_returns_cpu_inputs_on_the_cpu(trained, tiny_data):
    x, y = tiny_data
    on_cpu = attacks.fgsm(trained, x, y, 0.1)
    on_gpu = attacks.fgsm(trained.to("cuda"), x, y, 0.1)
    assert on_gpu.device == x.device
    assert (on_gpu == on_cpu).float().mean() > 0.99  # sign(grad) may flip where grad ~ 0


@needs_cuda
def test_perturb_follows_the_model_to_the_gpu(trained, tiny_data):
    x, y = tiny_data
    noise = ("gaussian", "random_sign")
    noisy = {m: perturb(trained, x, y, AttackSpec(m), 0.3, seed=0) for m in noise}
    gpu_model = trained.to("cuda")
    for method, expected in noisy.items():
        assert torch.equal(perturb(gpu_model, x, y, AttackSpec(method), 0.3, seed=0), expected)
    for spec in (AttackSpec("fgsm"), AttackSpec("pgd", steps=3, step_size=2.5, random_start=True)):
        assert perturb(gpu_model, x, y, spec, 0.1, seed=0).device == x.device


GRID = [0.0, 0.05, 0.1, 0.2]


@pytest.mark.parametrize("layer", [-1, 0])
def test_fgsm_grid_takes_one_gradient_and_equals_fgsm_at_every_strength(
    trained, tiny_data, layer, monkeypatch
):
    x, y = tiny_data
    calls = []
    real = attacks.input_gradient_sign
    monkeypatch.setattr(attacks, "input_gradient_sign", lambda *a: calls.append(1) or real(*a))
    grid = list(perturb_grid(trained, x, y, AttackSpec("fgsm"), GRID, seed=0, layer=layer))
    assert len(calls) == 1  # one gradient pass over the 256 rows serves the whole grid
    monkeypatch.setattr(attacks, "input_gradient_sign", real)
    assert grid[0] is x
    for eps, x_adv in zip(GRID[1:], grid[1:], strict=True):
        assert torch.equal(x_adv, attacks.fgsm(trained, x, y, eps, layer=layer))


def test_random_sign_grid_draws_once_and_nests_its_perturbations():
    x = torch.full((50, 784), 0.5)  # nothing is clipped below eps 0.5
    y = torch.zeros(50, dtype=torch.long)
    grid = list(perturb_grid(None, x, y, AttackSpec("random_sign"), GRID, seed=3))
    directions = [(x_adv - x) / eps for eps, x_adv in zip(GRID[1:], grid[1:], strict=True)]
    for direction in directions:
        torch.testing.assert_close(direction, directions[0])
    assert set(directions[0].unique().round().tolist()) == {-1.0, 1.0}
    # a grid of one strength is that strength's element of any grid
    alone = next(perturb_grid(None, x, y, AttackSpec("random_sign"), [0.1], seed=3))
    assert torch.equal(alone, grid[2])


def test_gaussian_grid_draws_each_strength_as_before(tiny_data):
    x, y = tiny_data
    grid = list(perturb_grid(None, x, y, AttackSpec("gaussian"), GRID, seed=1))
    for sigma, x_noisy in zip(GRID[1:], grid[1:], strict=True):
        generator = torch.Generator().manual_seed(attacks.noise_seed(1, sigma))
        assert torch.equal(x_noisy, attacks.gaussian(x, sigma, generator))


@pytest.mark.parametrize("max_rows", [65536, 300])  # all strengths in one batch; one at a time
def test_pgd_grid_equals_pgd_strength_by_strength(trained, tiny_data, max_rows):
    x, y = tiny_data
    spec = AttackSpec("pgd", steps=3, step_size=2.5, random_start=True)
    grid = perturb_grid(trained, x, y, spec, GRID, seed=7, layer=0, chunk=200, max_rows=max_rows)
    for eps, x_adv in zip(GRID, grid, strict=True):
        if eps == 0:
            assert x_adv is x
            continue
        generator = torch.Generator().manual_seed(attacks.noise_seed(7, eps, "pgd"))
        expected = attacks.pgd(trained, x, y, eps, 3, 2.5, True, generator, layer=0)
        assert torch.equal(x_adv, expected)

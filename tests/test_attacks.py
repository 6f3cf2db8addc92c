import numpy as np
import pytest
import torch
from torch import nn

from manifold_smoothness import attacks
from manifold_smoothness.activations import record
from manifold_smoothness.attacks import perturb
from manifold_smoothness.model import LocalErrorMLP
from manifold_smoothness.study import CONDITIONS
from manifold_smoothness.training import TrainConfig, train

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture
def trained(tmp_path, tiny_data, tiny_model_config):
    model, _ = train(
        tiny_model_config,
        TrainConfig(epochs=2, batch_size=64, lr=3.0e-3),
        0,
        tiny_data,
        tiny_data,
        tmp_path / "ck.pt",
        data_id="tiny",
        test_id="tiny",
        code_id="tests",
    )
    return model


class _Output(nn.Module):
    """The network's output (last layer's readout logits) as a plain classifier for ART."""

    def __init__(self, model: LocalErrorMLP, layer: int = -1) -> None:
        super().__init__()
        self.model, self.layer = model, layer

    def forward(self, x):
        return self.model.logits(self.model(x, detach=False))[self.layer]


@pytest.mark.parametrize("layer", [-1, 0])
def test_fgsm_equals_adversarial_robustness_toolbox(trained, tiny_data, layer):
    art = pytest.importorskip("art")
    from art.attacks.evasion import FastGradientMethod
    from art.estimators.classification import PyTorchClassifier

    x, y = tiny_data
    classifier = PyTorchClassifier(
        model=_Output(trained, layer),
        loss=nn.CrossEntropyLoss(),
        input_shape=(784,),
        nb_classes=10,
        clip_values=(0.0, 1.0),
    )
    for eps in (0.05, 0.3):
        ours = attacks.fgsm(trained, x, y, eps, layer=layer).numpy()
        theirs = FastGradientMethod(classifier, eps=eps, norm=np.inf).generate(
            x.numpy(), y=y.numpy()
        )
        np.testing.assert_allclose(ours, theirs, atol=1e-6, rtol=0)
    assert art.__version__


def test_fgsm_stays_in_range_and_in_the_eps_ball(trained, tiny_data):
    x, y = tiny_data
    x_adv = attacks.fgsm(trained, x, y, 0.1)
    assert x_adv.min() >= 0 and x_adv.max() <= 1
    assert (x_adv - x).abs().max() <= 0.1 + 1e-7


def test_fgsm_lowers_accuracy(trained, tiny_data):
    x, y = tiny_data
    clean = (trained.predict(x) == y).float().mean()
    attacked = (trained.predict(attacks.fgsm(trained, x, y, 0.2)) == y).float().mean()
    assert attacked < clean


def test_gaussian_noise_is_clipped_and_reproducible():
    x = torch.full((50, 784), 0.5)
    draw = lambda: attacks.gaussian(  # noqa: E731
        x, 0.3, torch.Generator().manual_seed(attacks.noise_seed(1, 0.3))
    )
    a, b = draw(), draw()
    assert torch.equal(a, b)
    assert a.min() >= 0 and a.max() <= 1
    assert 0.25 < (a - x).std() < 0.3  # clipping at 0 and 1 shrinks the nominal 0.3


def test_noise_seed_depends_on_model_seed_and_strength():
    seeds = {attacks.noise_seed(s, sigma) for s in (0, 1) for sigma in (0.05, 0.1)}
    assert len(seeds) == 4
    assert attacks.noise_seed(0, 0.05) == attacks.noise_seed(0, 0.05)


def test_strength_zero_is_the_clean_input(trained, tiny_data):
    x, y = tiny_data
    for attack in ("gaussian", "fgsm"):
        assert torch.equal(perturb(trained, x, y, attack, 0.0, seed=0), x)


def test_realised_perturbation_is_recorded(trained, tiny_data):
    x, y = tiny_data
    _, norms = record(trained, x, y, "gaussian", 0.5, seed=0)
    nominal_l2 = 0.5 * 784**0.5
    assert 0 < norms[0]["perturbation_l2"] < nominal_l2  # clipping shrinks it
    assert norms[0]["perturbation_linf"] <= 1.0


def test_fgsm_layer_target_attacks_each_layer_through_its_readout(trained, tiny_data):
    x, y = tiny_data
    per_layer, norms = record(trained, x, y, "fgsm", 0.1, seed=0, target="layer")
    output, _ = record(trained, x, y, "fgsm", 0.1, seed=0, target="output")
    last = trained.n_layers - 1
    np.testing.assert_array_equal(per_layer[last], output[last])
    assert not np.array_equal(per_layer[0], output[0])
    assert len(norms) == trained.n_layers


@pytest.mark.parametrize("attack", CONDITIONS)
def test_every_condition_of_the_study_is_an_attack(trained, tiny_data, attack):
    x, y = tiny_data
    x_adv = perturb(trained, x, y, attack, 0.1, seed=0)
    assert x_adv.shape == x.shape and x_adv.min() >= 0 and x_adv.max() <= 1
    assert torch.equal(x_adv, x) == (attack == "clean")


@needs_cuda
def test_fgsm_of_a_gpu_model_returns_cpu_inputs_on_the_cpu(trained, tiny_data):
    x, y = tiny_data
    on_cpu = attacks.fgsm(trained, x, y, 0.1)
    on_gpu = attacks.fgsm(trained.to("cuda"), x, y, 0.1)
    assert on_gpu.device == x.device
    assert (on_gpu == on_cpu).float().mean() > 0.99  # sign(grad) may flip where grad ~ 0


@needs_cuda
def test_perturb_and_record_follow_the_model_to_the_gpu(trained, tiny_data):
    x, y = tiny_data
    noisy = perturb(trained, x, y, "gaussian", 0.3, seed=0)
    gpu_model = trained.to("cuda")
    assert torch.equal(perturb(gpu_model, x, y, "gaussian", 0.3, seed=0), noisy)
    assert perturb(gpu_model, x, y, "fgsm", 0.1, seed=0).device == x.device
    hiddens, _ = record(gpu_model, x.cuda(), y.cuda(), "fgsm", 0.1, seed=0, target="layer")
    assert [h.shape for h in hiddens] == [(len(x), w) for w in trained.config.hidden]


def test_unknown_attack_and_target_are_rejected(trained, tiny_data):
    x, y = tiny_data
    with pytest.raises(ValueError, match="pgd"):
        perturb(trained, x, y, "pgd", 0.1, seed=0)
    with pytest.raises(ValueError, match="input"):
        record(trained, x, y, "fgsm", 0.1, seed=0, target="input")

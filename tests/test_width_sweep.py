"""Which networks a width sweep compares, and that its claim ids are the claims'."""

from manifold_smoothness import claims_spec, width_sweep


def spec(name, width, **training):
    return {"name": name, "hidden": [width] * 3, "training": {"rule": "local", **training}}


def test_paper_networks_of_every_width_and_no_controls():
    models = [
        spec("w64", 64),
        spec("w128", 128),
        spec("backprop", 128, rule="backprop"),
        spec("subset", 256, train_subset=600),
        spec("noisy", 512, label_noise=0.5),
        {"name": "default-rule", "hidden": [32, 16], "training": {}},
    ]
    assert width_sweep.paper_widths(models) == {"w64": 64, "w128": 128, "default-rule": 32}
    assert width_sweep.is_width_sweep(models)
    assert not width_sweep.is_width_sweep(
        [spec("a", 64), spec("b", 64), spec("bp", 8, rule="backprop")]
    )


def test_the_claim_ids_are_those_of_the_claims():
    assert (
        width_sweep.ACCURACY_NEEDS_DECAY,
        width_sweep.GAUSSIAN_MONOTONIC,
        width_sweep.FGSM_NON_MONOTONIC,
    ) == (
        claims_spec.ACCURACY_NEEDS_DECAY.id,
        claims_spec.GAUSSIAN_MONOTONIC.id,
        claims_spec.FGSM_NON_MONOTONIC.id,
    )

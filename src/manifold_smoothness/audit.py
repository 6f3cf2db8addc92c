"""The strong-attack audit of a final network, after Carlini et al. (2019), "On evaluating
adversarial robustness": is the robustness the sweeps see real, or an artefact of weak attacks?

At a few L-inf budgets eps (on [0, 1] pixels) every analysed test image is attacked by FGSM, by
our PGD (the sweeps' attacks) and by the two white-box attacks of AutoAttack (Croce & Hein
2020), APGD with the cross-entropy and with the difference-of-logits-ratio loss, taken from a
maintained library (ART's AutoProjectedGradientDescent) rather than re-implemented. An image
counts as robust at eps only if every attack fails on it (the worst case per sample).

The checks, each a plain pass/fail with its numbers (audit_checks, which the claims read):
- iterative attacks are at least as strong as FGSM: accuracy under PGD and APGD <= accuracy
  under FGSM + TOLERANCE at every budget;
- accuracy goes to ~0 at large budgets: worst-case accuracy <= NEAR_ZERO at the largest budget
  (checked where that budget is >= LARGE_BUDGET, MNIST's standard 0.3);
- no zero gradients: at most MAX_ZERO_GRADIENT of the images have an input gradient that is 0
  everywhere (saturated units hide the direction from every gradient attack);
- PGD at eps 0 equals clean accuracy: the attack's machinery run with a zero budget changes no
  prediction.
And one reading: from which budget FGSM weakens (its accuracy rises again with eps, or exceeds
PGD's by more than WEAK_FGSM), the regime where its linear step overshoots.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import torch
from torch import nn

from manifold_smoothness.attacks import AttackSpec, input_gradient_sign, perturb_grid, pgd
from manifold_smoothness.audit_checks import AUDIT_ATTACKS, WORST
from manifold_smoothness.devices import model_device
from manifold_smoothness.model import LocalErrorMLP

APGD_LOSSES = {"apgd_ce": "cross_entropy", "apgd_dlr": "difference_logits_ratio"}
AUDIT_COLUMNS = (
    "seed",
    "budget",
    "attack",
    "accuracy",
    "samples",
    "zero_gradient",
    "pgd_eps0",
    "clean",
)


@dataclass(frozen=True)
class AuditSettings:
    """One config `audit` entry: budgets (eps > 0), analysed test images (None: all), our PGD's
    steps and relative step size (as the sweeps' pgd), APGD's iterations."""

    budgets: tuple[float, ...]
    samples: int | None = 1000
    pgd_steps: int = 20
    pgd_step_size: float = 2.5
    apgd_iterations: int = 50

    @classmethod
    def from_config(cls, entry: Mapping) -> AuditSettings:
        return cls(
            budgets=tuple(float(b) for b in entry["budgets"]),
            samples=entry.get("samples", cls.samples),
            pgd_steps=int(entry.get("pgd_steps", cls.pgd_steps)),
            pgd_step_size=float(entry.get("pgd_step_size", cls.pgd_step_size)),
            apgd_iterations=int(entry.get("apgd_iterations", cls.apgd_iterations)),
        )


class _Readout(nn.Module):
    """One layer's readout logits (-1: the network's output) as a plain classifier."""

    def __init__(self, model: LocalErrorMLP, layer: int = -1) -> None:
        super().__init__()
        self.model, self.layer = model, layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.logits(self.model(x, detach=False))[self.layer]


def art_classifier(model: LocalErrorMLP, layer: int = -1):
    """ART's PyTorchClassifier of one layer's readout (-1: the output) on [0, 1] images, on
    the model's device (ART's default would move a CPU model to a GPU)."""
    from art.estimators.classification import PyTorchClassifier

    return PyTorchClassifier(
        model=_Readout(model, layer),
        loss=nn.CrossEntropyLoss(),
        input_shape=(model.config.n_inputs,),
        nb_classes=10,
        clip_values=(0.0, 1.0),
        device_type="gpu" if model_device(model).type == "cuda" else "cpu",
    )


def _correct(model: LocalErrorMLP, x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return (model.predict(x.to(model_device(model))) == y.to(model_device(model))).cpu().numpy()


def _apgd(
    model: LocalErrorMLP,
    x: torch.Tensor,
    y: torch.Tensor,
    eps: float,
    loss: str,
    iterations: int,
    seed: int,
) -> torch.Tensor:
    """ART's APGD (one random start, `iterations` steps, initial step 2 eps as in Croce &
    Hein) on the network's output; the random start is seeded."""
    from art.attacks.evasion import AutoProjectedGradientDescent

    device = model_device(model)
    classifier = art_classifier(model)
    attack = AutoProjectedGradientDescent(
        classifier,
        norm=np.inf,
        eps=eps,
        eps_step=2 * eps,
        max_iter=iterations,
        targeted=False,
        nb_random_init=1,
        batch_size=len(x),
        loss_type=loss,
        verbose=False,
    )
    np.random.seed(seed)  # ART draws its random start from numpy's global generator
    adversarial = attack.generate(x.cpu().numpy(), y=y.cpu().numpy())
    model.to(device)  # ART may move the model; put it back
    return torch.from_numpy(adversarial).to(x.device)


def zero_gradient_fraction(model: LocalErrorMLP, x: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of images whose input gradient of the output's cross-entropy is 0 everywhere."""
    return float((input_gradient_sign(model, x, y) == 0).all(dim=1).float().mean())


def run_audit(
    model: LocalErrorMLP, x: torch.Tensor, y: torch.Tensor, settings: AuditSettings, seed: int
) -> pd.DataFrame:
    """Accuracy per (budget, attack) (AUDIT_COLUMNS), the worst case per sample included, with
    budget 0 the clean images, and per run: `zero_gradient` (fraction of images), `pgd_eps0`
    (accuracy of PGD run with a zero budget) and `clean` (accuracy)."""
    model.eval()
    pgd_spec = AttackSpec(
        "pgd", steps=settings.pgd_steps, step_size=settings.pgd_step_size, random_start=True
    )
    budgets = list(settings.budgets)
    per_attack = {
        "fgsm": list(perturb_grid(model, x, y, AttackSpec("fgsm"), budgets, seed)),
        "pgd": list(perturb_grid(model, x, y, pgd_spec, budgets, seed)),
    }
    for name, loss in APGD_LOSSES.items():
        per_attack[name] = [
            _apgd(model, x, y, eps, loss, settings.apgd_iterations, seed) for eps in budgets
        ]
    clean = _correct(model, x, y)
    rows = [(0.0, attack, clean.mean()) for attack in (*AUDIT_ATTACKS, WORST)]
    for i, eps in enumerate(budgets):
        robust = np.ones(len(x), dtype=bool)
        for attack in AUDIT_ATTACKS:
            correct = _correct(model, per_attack[attack][i], y)
            robust &= correct
            rows.append((eps, attack, correct.mean()))
        rows.append((eps, WORST, robust.mean()))
    frame = pd.DataFrame(rows, columns=["budget", "attack", "accuracy"])
    frame.insert(0, "seed", seed)
    frame["samples"] = len(x)
    generator = torch.Generator().manual_seed(seed)
    at_zero = pgd(model, x, y, 0.0, settings.pgd_steps, settings.pgd_step_size, True, generator)
    frame["zero_gradient"] = zero_gradient_fraction(model, x, y)
    frame["pgd_eps0"] = float(_correct(model, at_zero, y).mean())
    frame["clean"] = float(clean.mean())
    return frame


def audit_table(frame: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(frame.reset_index(drop=True), preserve_index=False)

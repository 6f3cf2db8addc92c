"""The strong-attack audit: real attacks (ours and ART's APGD) on a small trained network, and
the checks of Carlini et al. (2019) on constructed accuracy tables that pass or fail them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from manifold_smoothness import audit
from manifold_smoothness.audit_checks import AUDIT_ATTACKS, WORST, audit_checks, audit_markdown
from manifold_smoothness.config import ConfigError, check_audit


@pytest.fixture(scope="module")
def trained(train_on_blocks):
    return train_on_blocks((32, 32))


SETTINGS = audit.AuditSettings(budgets=(0.02, 0.05, 0.3), pgd_steps=5, apgd_iterations=10)


@pytest.fixture(scope="module")
def audited(trained):
    model, x, y = trained
    return audit.run_audit(model, x, y, SETTINGS, seed=0)


def test_every_attack_at_every_budget_and_clean_at_zero(audited):
    assert list(audited.columns) == list(audit.AUDIT_COLUMNS)
    assert sorted(audited.budget.unique()) == [0.0, *SETTINGS.budgets]
    at_zero = audited[audited.budget == 0]
    assert set(at_zero.attack) == {*AUDIT_ATTACKS, WORST}
    assert (at_zero.accuracy == audited.clean.iloc[0]).all() and audited.clean.iloc[0] > 0.3


def test_the_worst_case_is_at_most_every_attack(audited):
    wide = audited.pivot(index="budget", columns="attack", values="accuracy")
    for attack in AUDIT_ATTACKS:
        assert (wide[WORST] <= wide[attack]).all()
    assert (wide[WORST].diff().dropna() <= 0).all()  # larger budgets never help the network


def test_the_checks_pass_on_a_real_audit(audited):
    result = audit_checks(audited.assign(model="tiny"))
    assert result["passed"], result["checks"]
    assert audited.pgd_eps0.iloc[0] == audited.clean.iloc[0]


def test_apgd_runs_are_seeded(trained):
    model, x, y = trained
    a = audit._apgd(model, x, y, 0.05, "cross_entropy", 5, seed=1)
    b = audit._apgd(model, x, y, 0.05, "cross_entropy", 5, seed=1)
    assert torch.equal(a, b) and (a - x).abs().max() <= 0.05 + 1e-6


def table(changes: dict | None = None) -> pd.DataFrame:
    """An audit of two seeds that passes every check; `changes` maps (seed, budget, attack)
    or a per-run column name to a new value."""
    changes = changes or {}
    rows = []
    budgets = {0.0: 0.98, 0.1: 0.4, 0.2: 0.1, 0.3: 0.01}
    for seed in (0, 1):
        for budget, fgsm in budgets.items():
            for attack in (*AUDIT_ATTACKS, WORST):
                accuracy = fgsm if attack == "fgsm" or budget == 0 else fgsm * 0.8
                accuracy = changes.get((seed, budget, attack), accuracy)
                rows.append((seed, budget, attack, accuracy))
    frame = pd.DataFrame(rows, columns=["seed", "budget", "attack", "accuracy"])
    frame["samples"] = 1000
    frame["zero_gradient"] = changes.get("zero_gradient", 0.0)
    frame["pgd_eps0"] = changes.get("pgd_eps0", 0.98)
    frame["clean"] = 0.98
    return frame.assign(model="local")


def failed(result) -> dict[str, list[str]]:
    return {c["check"]: c["failures"] for c in result["checks"] if not c["passed"]}


def test_a_table_that_passes_every_check():
    result = audit_checks(table())
    assert result["passed"] and not failed(result)
    assert result["models"]["local"]["fgsm_weakens_from"] is None


@pytest.mark.parametrize(
    ("changes", "check", "named"),
    [
        ({(1, 0.2, "pgd"): 0.2}, "iterative attacks at least as strong as FGSM", "seed 1 eps 0.2"),
        ({(0, 0.3, WORST): 0.3}, "accuracy near 0 at a large budget", "seed 0: 0.300"),
        ({"zero_gradient": 0.2}, "no zero gradients", "20.00%"),
        ({"pgd_eps0": 0.97}, "PGD at eps 0 equals clean accuracy", "0.9700 vs 0.9800"),
    ],
)
def test_each_check_fails_naming_the_case(changes, check, named):
    result = audit_checks(table(changes))
    assert not result["passed"]
    assert list(failed(result)) == [check]
    assert any(named in failure for failure in failed(result)[check])


def test_a_largest_budget_below_the_standard_is_not_a_pass():
    result = audit_checks(table().query("budget < 0.3"))
    assert failed(result) == {"accuracy near 0 at a large budget": []}
    assert "not tested" in result["checks"][1]["detail"]


def test_fgsm_weakening_is_read_from_its_rise_and_its_gap_to_pgd():
    rising = audit_checks(table({(s, 0.3, "fgsm"): 0.2 for s in (0, 1)}))
    assert rising["models"]["local"]["fgsm_weakens_from"] == 0.3
    sweeps = [
        {
            "model": "local",
            "target": "output",
            "per_layer": [
                {"layer": 1, "shape": "non-monotonic", "from_strength": 0.2, "to_strength": 0.4},
                {"layer": 2, "shape": "non-monotonic", "from_strength": 0.05, "to_strength": 0.1},
                {"layer": 3, "shape": "monotonic", "from_strength": None, "to_strength": None},
            ],
        }
    ]
    text = "\n".join(audit_markdown(rising, sweeps))
    assert "layer 1: alpha reverses between eps 0.2 and 0.4, reaching into the regime" in text
    assert "layer 2: alpha reverses between eps 0.05 and 0.1, before FGSM weakens" in text
    assert "layer 3" not in text


def test_audit_budgets_must_increase():
    with pytest.raises(ConfigError, match=r"audit.budgets.*\[0.1, 0.3\]"):
        check_audit({"audit": {"budgets": [0.3, 0.1]}})
    check_audit({"audit": {"budgets": []}})
    check_audit({"audit": {"budgets": list(np.linspace(0.1, 0.5, 5))}})

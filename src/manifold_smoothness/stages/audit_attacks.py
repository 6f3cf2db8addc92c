"""Stage audit_attacks: accuracy of one seed's final network under FGSM, PGD and APGD at the
audit's budgets, with the worst case per image (manifold_smoothness.audit)."""

from __future__ import annotations

import logging

# ART configures logging when it is first imported (logging.config.dictConfig closes every
# handler there is): imported with this module, before stages.run opens the job's log file.
import art  # noqa: F401

from manifold_smoothness.stages import check_provenance

log = logging.getLogger("manifold_smoothness")


def audit_attacks(job) -> None:
    from manifold_smoothness import audit, data
    from manifold_smoothness.devices import resolve_device
    from manifold_smoothness.model import load_model_with_metadata
    from manifold_smoothness.storage import write_table

    p, w = job.params, job.wildcards
    if not p.audit["budgets"]:
        raise ValueError(
            "config key 'audit.budgets' is empty (no audit); list the budgets to audit"
        )
    settings = audit.AuditSettings.from_config(p.audit)
    expected = {"dataset": w.dataset, "model": w.model, "seed": p.seed}
    model, meta = load_model_with_metadata(job.input.model)
    check_provenance(job.input.model, meta, expected)
    device = resolve_device(p.device)
    model = model.to(device)
    test = data.read_split(job.input.test)
    keep = data.stratified_subset(test.labels, settings.samples)
    x, y = data.split_tensors(test)
    frame = audit.run_audit(model, x[keep].to(device), y[keep].to(device), settings, p.seed)
    write_table(audit.audit_table(frame), job.output.audit, metadata=expected)
    worst = frame[frame.attack == audit.WORST]
    log.info(
        "worst-case accuracy per budget: %s; zero gradients %.2f%%",
        " ".join(f"{b:g}:{a:.3f}" for b, a in zip(worst.budget, worst.accuracy, strict=True)),
        100 * frame.zero_gradient.iloc[0],
    )

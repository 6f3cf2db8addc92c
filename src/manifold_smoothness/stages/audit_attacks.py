"""Stage audit_attacks: accuracy of one seed's final network under FGSM, PGD and APGD at the
audit's budgets, with the worst case per image (manifold_smoothness.audit)."""

from __future__ import annotations

import logging

# ART configures logging when it is first imported (logging.config.dictConfig closes every
# handler there is): imported with this module, before stages.run opens the job's log file.
import art  # noqa: F401

from manifold_smoothness.stages import final_model_and_test_images

log = logging.getLogger("manifold_smoothness")


def audit_attacks(job) -> None:
    from manifold_smoothness import audit
    from manifold_smoothness.devices import model_device
    from manifold_smoothness.storage import write_table

    if not job.params.audit["budgets"]:
        raise ValueError(
            "config key 'audit.budgets' is empty (no audit); list the budgets to audit"
        )
    settings = audit.AuditSettings.from_config(job.params.audit)
    model, x, y, _, expected = final_model_and_test_images(job, settings.samples)
    device = model_device(model)
    frame = audit.run_audit(model, x.to(device), y.to(device), settings, job.params.seed)
    write_table(audit.audit_table(frame), job.output.audit, metadata=expected)
    worst = frame[frame.attack == audit.WORST]
    log.info(
        "worst-case accuracy per budget: %s; zero gradients %.2f%%",
        " ".join(f"{b:g}:{a:.3f}" for b, a in zip(worst.budget, worst.accuracy, strict=True)),
        100 * frame.zero_gradient.iloc[0],
    )

"""What a training run keeps on disk besides its outputs: the checkpoint written after every
epoch and the snapshots taken along the way (training.train runs the loop and calls these).

A run that is killed resumes from its checkpoint and ends with the same weights as an
uninterrupted run (same device and thread count). A checkpoint is resumed only by the very run
that wrote it: same configs, seed, training and test split, and code (its `run_identity`).
Snapshots are written as they are taken, each to its own file next to the checkpoint, so a
killed run keeps those it took and its resumed run writes the same bundle as an uninterrupted
one; the files are removed once the bundle is written (a finished run asked for its bundle
again trains again).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict
from pathlib import Path

import torch

from manifold_smoothness.model import LocalErrorMLP, save_snapshots
from manifold_smoothness.storage import REBUILD_HINT, CorruptFileError, load_torch, save_torch
from manifold_smoothness.vocabulary import ModelConfig, TrainConfig

log = logging.getLogger(__name__)
CHECKPOINT_KEYS = ("epoch", "model", "optimizer", "scheduler", "shuffle", "rows", "snapshots")


def run_identity(
    model_config: ModelConfig,
    train_config: TrainConfig,
    seed: int,
    data_id: str,
    test_id: str,
    code_id: str,
) -> dict:
    """Everything a checkpoint's contents depend on: the test split too, since the checkpoint
    carries the test accuracies, and the code, since a code change changes the weights."""
    return {
        "model": model_config.to_dict(),
        "training": asdict(train_config),
        "seed": seed,
        "data_id": data_id,
        "test_id": test_id,
        "code_id": code_id,
    }


def fingerprint(identity: dict) -> str:
    """Hash of a run identity; a checkpoint is resumed only by the run that wrote it."""
    blob = json.dumps(identity, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def snapshot_path(checkpoint_path: str | Path, epoch: float) -> Path:
    """The file next to the checkpoint that keeps snapshot `epoch` until the bundle is written,
    e.g. ck.pt -> ck.snapshot-1.5.pt."""
    checkpoint_path = Path(checkpoint_path)
    return checkpoint_path.with_name(f"{checkpoint_path.stem}.snapshot-{float(epoch)!r}.pt")


class Snapshots:
    """The snapshots of one run: each one's weights go to their own file the moment they are
    taken (a copy on the CPU, no pass over the data), so that a killed run keeps them. The bundle
    holds the snapshots this process took from memory and those of an earlier, killed process
    from their files: the same tensors, so a resumed run writes the same bytes as an
    uninterrupted one."""

    def __init__(
        self, epochs: tuple[float, ...], steps: tuple[int, ...], checkpoint_path: Path, key: str
    ) -> None:
        self.epochs = epochs
        self.by_step = dict(zip(steps, epochs, strict=True))
        self.checkpoint_path = checkpoint_path
        self.key = key  # the run's fingerprint: a snapshot file of another run is refused
        self.taken: list[float] = []
        self.in_memory: dict[float, dict[str, torch.Tensor]] = {}

    def take_due(self, model: LocalErrorMLP, steps_before: int, k: int = 0) -> None:
        """Take the snapshot due after global step steps_before + k, if any."""
        step = steps_before + k
        if (epoch := self.by_step.get(step)) is None:
            return
        weights = {name: t.detach().to("cpu", copy=True) for name, t in model.state_dict().items()}
        blob = {"fingerprint": self.key, "epoch": epoch, "step": step, "state_dict": weights}
        save_torch(blob, snapshot_path(self.checkpoint_path, epoch))
        self.taken.append(epoch)
        self.in_memory[epoch] = weights

    def _read(self, epoch: float) -> dict[str, torch.Tensor]:
        """The weights of a snapshot an earlier process of this run took, from its file."""
        file = snapshot_path(self.checkpoint_path, epoch)
        hint = f"delete it and {self.checkpoint_path}, and rerun to train afresh"
        if not file.exists():
            raise CorruptFileError(f"snapshot file {file} is missing; {hint}")
        blob = load_torch(file)
        if not isinstance(blob, dict) or (blob.get("fingerprint"), blob.get("epoch")) != (
            self.key,
            epoch,
        ):
            raise CorruptFileError(f"{file} is not snapshot {epoch} of this run; {hint}")
        return blob["state_dict"]

    def write_bundle(self, path: str | Path, config: ModelConfig, meta: dict[str, str]) -> None:
        """Write all snapshots as one bundle (model.save_snapshots)."""
        if missing := sorted(set(self.epochs) - set(self.taken)):
            raise RuntimeError(f"snapshots {missing} were never taken; this is a bug")
        state_dicts = [self.in_memory.get(t) or self._read(t) for t in self.epochs]
        save_snapshots(path, list(self.epochs), state_dicts, config, meta)
        # the bundle holds them now: at paper scale the files would double the results' size
        for epoch in self.epochs:
            snapshot_path(self.checkpoint_path, epoch).unlink(missing_ok=True)

    def files_missing(self, taken: list[float]) -> list[float]:
        """The snapshots of `taken` whose files are gone (bundled and removed)."""
        return [t for t in taken if not snapshot_path(self.checkpoint_path, t).exists()]


class Checkpoint:
    """The checkpoint of one run (its identity) at `path`, with the run's snapshots, due after
    the optimiser steps `steps` (one per epoch point of `epochs`)."""

    def __init__(
        self, path: str | Path, identity: dict, epochs: tuple[float, ...], steps: tuple[int, ...]
    ) -> None:
        self.path = Path(path)
        self.identity = identity
        self.key = fingerprint(identity)
        self.snapshots = Snapshots(epochs, steps, self.path, self.key)

    def read(self) -> dict | None:
        """The checkpoint's contents if this very run wrote it and the snapshot files it counts
        on are still there; None when starting afresh."""
        state = self._read()
        if state is not None and (gone := self.snapshots.files_missing(list(state["snapshots"]))):
            log.info(
                "the files of snapshots %s of %s were removed once bundled; training from scratch",
                gone,
                self.path,
            )
            return None
        return state

    def _read(self) -> dict | None:
        if not self.path.exists():
            return None
        state = load_torch(self.path)
        if not isinstance(state, dict) or "fingerprint" not in state:
            raise CorruptFileError(
                f"{self.path} is not a training checkpoint (no fingerprint); {REBUILD_HINT}"
            )
        if state["fingerprint"] != self.key:
            written_by = state.get("identity", {})
            changed = [k for k in self.identity if written_by.get(k) != self.identity[k]]
            log.info(
                "ignoring %s: another run wrote it (differs in %s); training from scratch",
                self.path,
                ", ".join(changed or ["unknown"]),
            )
            return None
        missing = [key for key in CHECKPOINT_KEYS if key not in state]
        if missing:
            raise CorruptFileError(f"{self.path} lacks {missing}; {REBUILD_HINT}")
        return state

    def restore(
        self,
        state: dict,
        model: LocalErrorMLP,
        optimizer: torch.optim.Optimizer,
        scheduler,
        shuffle: torch.Generator,
    ) -> list[dict]:
        """Load a checkpoint's training state (the optimiser is the one of the next epoch) and
        the snapshots it took; returns the log rows so far."""
        try:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            shuffle.set_state(state["shuffle"])
        except (RuntimeError, KeyError, TypeError, ValueError) as err:
            raise CorruptFileError(
                f"{self.path} does not fit this model ({err}); {REBUILD_HINT}"
            ) from err
        log.info("resuming from %s after epoch %d", self.path, state["epoch"])
        self.snapshots.taken = list(state["snapshots"])
        return list(state["rows"])

    def write(
        self,
        epoch: int,
        model: LocalErrorMLP,
        optimizer: torch.optim.Optimizer,
        scheduler,
        shuffle: torch.Generator,
        rows: list[dict],
    ) -> None:
        """The state after `epoch`, atomically (storage.save_torch)."""
        save_torch(
            {
                "fingerprint": self.key,
                "identity": self.identity,
                "epoch": epoch,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "shuffle": shuffle.get_state(),
                "rows": rows,
                "snapshots": self.snapshots.taken,
            },
            self.path,
        )

"""Pipeline stages: one function per Snakemake rule, named like the rule.

Each stage receives the `snakemake` object of its job (or anything with the same attributes:
input, output, params, wildcards, threads, log) and reads only those, never the config, so the
params rerun trigger sees every value a result depends on. I/O happens here; the logic lives in
the modules these functions call.

Every job is a fresh Python process, so each stage imports only what it needs: torch costs about
1 s and matplotlib or scipy.stats about 0.5 s per job, most of a small job's time.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from manifold_smoothness.storage import read_table, table_metadata, write_table

log = logging.getLogger("manifold_smoothness")


def _tensors(split):
    """(images float32 in [0, 1], labels int64) tensors of a data.Split."""
    import torch

    from manifold_smoothness.data import images_to_tensor

    return images_to_tensor(split.images), torch.from_numpy(split.labels.astype(np.int64))


def prepare_dataset(job) -> None:
    from manifold_smoothness import data

    p = job.params
    source = data.prepare_dataset(
        job.wildcards.dataset,
        p.source,
        p.root,
        p.download,
        p.train_subset,
        p.test_subset,
        job.output.train,
        job.output.test,
    )
    log.info("wrote %s and %s from source %s", job.output.train, job.output.test, source)


def train_model(job) -> None:
    from manifold_smoothness import data
    from manifold_smoothness.model import ModelConfig
    from manifold_smoothness.training import TrainConfig, train, write_outputs

    p, w = job.params, job.wildcards
    spec = p.model
    model_config = ModelConfig(
        hidden=tuple(spec["hidden"]),
        activation=spec["activation"],
        readout_init=spec["readout"]["init"],
        readout_scale=float(spec["readout"]["scale"]),
    )
    train_config = TrainConfig(**spec["training"])
    train_split, test_split = data.read_split(job.input.train), data.read_split(job.input.test)
    data_id = "{source_sha256}:{n_rows}:{subset_requested}".format(**train_split.metadata)
    tic = time.perf_counter()
    model, rows = train(
        model_config,
        train_config,
        p.seed,
        _tensors(train_split),
        _tensors(test_split),
        p.checkpoint,
        device=p.device,
        data_id=data_id,
    )
    meta = {
        "dataset": w.dataset,
        "model": w.model,
        "seed": p.seed,
        "train_rows": len(train_split.labels),
        "train_config": json.dumps(spec, sort_keys=True),
    }
    write_outputs(model.cpu(), rows, job.output.model, job.output.training, meta)
    log.info("training finished in %.1f s", time.perf_counter() - tic)


def record_activations(job) -> None:
    from manifold_smoothness import activations, data
    from manifold_smoothness.model import load_model
    from manifold_smoothness.training import resolve_device

    p, w = job.params, job.wildcards
    device = resolve_device(p.device)
    model = load_model(job.input.model).to(device)
    test = data.read_split(job.input.test)
    keep = data.stratified_subset(test.labels, p.samples)
    x, y = _tensors(test)
    hiddens, norms = activations.record(
        model, x[keep].to(device), y[keep].to(device), p.attack, p.strength, p.seed, p.target
    )
    meta = {
        "dataset": w.dataset,
        "model": w.model,
        "seed": p.seed,
        "attack": p.attack,
        "strength": p.strength,
        "fgsm_target": p.target,
    }
    activations.write_activations(
        job.output.activations, test.index[keep], test.labels[keep], hiddens, meta, norms
    )
    log.info(
        "recorded %d samples x %s units; perturbation %s",
        len(keep),
        [h.shape[1] for h in hiddens],
        norms[-1],
    )


def compute_spectrum(job) -> None:
    from manifold_smoothness import activations, summary
    from manifold_smoothness.model import load_model
    from manifold_smoothness.spectrum import eigenspectrum

    path = job.input.activations
    meta = activations.read_metadata(path)
    model = load_model(job.input.model)
    labels = activations.read_labels(path)
    spectra, accuracies = [], []
    for layer in range(1, int(meta["n_layers"]) + 1):
        h = activations.read_layer(path, layer)
        readout = model.readout(layer - 1).numpy()
        accuracies.append(float(np.mean((h @ readout.T).argmax(axis=1) == labels)))
        spectra.append(eigenspectrum(h))
    keep = ("dataset", "model", "seed", "attack", "strength", "fgsm_target", "perturbation")
    table = summary.spectrum_table(spectra, accuracies, len(labels))
    write_table(table, job.output.spectrum, metadata={k: meta[k] for k in keep})
    log.info("accuracy per layer: %s", " ".join(f"{a:.4f}" for a in accuracies))


def summarize_spectra(job) -> None:
    from manifold_smoothness import summary

    p = job.params
    tables = [read_table(path) for path in job.input.spectra]
    frame = summary.summarize(
        ((t.to_pandas(), table_metadata(t)) for t in tables),
        p.fit_window,
        p.short_window,
        p.floor,
        p.attacks,
    )
    write_table(
        summary.summary_table(frame),
        job.output.summary,
        metadata={"fit_window": json.dumps(list(p.fit_window))},
    )
    log.info("summary: %d rows", len(frame))


def read_summary(path: str | Path) -> pd.DataFrame:
    return read_table(path).to_pandas()


def _training_frame(paths: list[str], seeds: list[int]) -> pd.DataFrame:
    frames = [read_table(p).to_pandas().assign(seed=s) for p, s in zip(paths, seeds, strict=True)]
    return pd.concat(frames, ignore_index=True)


def plot_training(job) -> None:
    from manifold_smoothness import figures

    frame = _training_frame(list(job.input.training), list(job.params.seeds))
    frame = frame.assign(dataset=job.wildcards.dataset, model=job.wildcards.model)
    figures.save_figure(figures.plot_training(frame), job.output.pdf, job.output.png)


def plot_spectra(job) -> None:
    from manifold_smoothness import figures

    spectra = []
    for path in job.input.spectra:
        table = read_table(path)
        seed = int(table_metadata(table)["seed"])
        spectra.append(table.to_pandas()[["layer", "rank", "eigenvalue"]].assign(seed=seed))
    clean = read_summary(job.input.summary).query("attack == 'clean'")
    fig = figures.plot_spectra(pd.concat(spectra, ignore_index=True), clean, floor=job.params.floor)
    figures.save_figure(fig, job.output.pdf, job.output.png)


def plot_summary_figure(job) -> None:
    """plot_layers, plot_gaussian, plot_fgsm, plot_accuracy_alpha: figures of the summary alone."""
    from manifold_smoothness import figures

    summary, figure = read_summary(job.input.summary), job.params.figure
    if figure == "layers":
        fig = figures.plot_layers(summary)
    elif figure == "accuracy_alpha":
        fig = figures.plot_accuracy_alpha(summary)
    else:
        fig = figures.plot_attack(summary, attack=figure)
    figures.save_figure(fig, job.output.pdf, job.output.png)


def estimate_input_dimension(job) -> None:
    from manifold_smoothness import data, intrinsic

    test = data.read_split(job.input.test)
    keep = data.stratified_subset(test.labels, job.params.samples)
    x = test.images[keep].astype(np.float64) / 255.0
    result = {
        "dataset": job.wildcards.dataset,
        "n_samples": len(keep),
        "two_nn": intrinsic.two_nn_dimension(x),
    }
    Path(job.output.dimension).write_text(json.dumps(result, indent=2) + "\n")
    log.info("input dimension: %s", result)


def check_claims(job) -> None:
    from manifold_smoothness import claims

    p = job.params
    frame = read_summary(job.input.summary)
    if p.input_dimension is not None:
        dimension, source = float(p.input_dimension), "given in config (claims.input_dimension)"
    else:
        estimate = json.loads(Path(job.input.dimension).read_text())
        dimension = float(estimate["two_nn"])
        source = f"TwoNN estimate on {estimate['n_samples']} test images"
    result = claims.evaluate_claims(frame, p.thresholds, dimension, input_dimension_source=source)
    Path(job.output.json).write_text(json.dumps(result, indent=2, allow_nan=False) + "\n")
    Path(job.output.md).write_text(claims.render_markdown(result))


def record_config(job) -> None:
    import yaml

    text = yaml.safe_dump(job.params.config, sort_keys=False)
    Path(job.output.config).write_text("# resolved configuration of this run\n" + text)


STAGES: dict[str, Callable] = {
    "record_clean_activations": record_activations,
    **{
        f"plot_{figure}": plot_summary_figure
        for figure in ("layers", "gaussian", "fgsm", "accuracy_alpha")
    },
    **{
        f.__name__: f
        for f in (
            prepare_dataset,
            train_model,
            record_activations,
            compute_spectrum,
            summarize_spectra,
            plot_training,
            plot_spectra,
            estimate_input_dimension,
            check_claims,
            record_config,
        )
    },
}


TORCH_STAGES = {"train_model", "record_activations", "record_clean_activations"}


def run(job) -> None:
    """Entry point of rules/scripts/stage.py: log to the job's log file, run the rule's stage."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if job.log:
        handlers.append(logging.FileHandler(job.log[0], mode="w"))
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        handlers=handlers,
        force=True,
    )
    if "torch" in sys.modules or job.rule in TORCH_STAGES:
        import torch

        torch.set_num_threads(max(1, int(job.threads)))
    stage = STAGES[job.rule]
    log.info("rule %s, wildcards %s", job.rule, dict(job.wildcards.items()))
    try:
        stage(job)
    except Exception:
        log.exception("rule %s failed", job.rule)
        raise

"""The study's vocabulary: every fixed name, the three registries (attack methods, learning
rules, figures) and the specs read from a config entry (ModelConfig, TrainConfig with its
SpectralPenalty, AttackSpec). One source that the Snakefile (at parse time), the config checks,
the cost model, the library and the figures import.

It imports nothing heavy (no torch, matplotlib or pandas), so the Snakefile can import it while
it builds the DAG. The code of a method, a rule or a figure lives where its arithmetic does
(attacks.GRID_ATTACKS, training.STEPS, the figure modules); the entries here say what the rest
of the study needs to know about it. The config schema's enums are kept equal to these
registries by a test (tests/test_vocabulary.py).

What adding one touches:
- an attack method: its entry in ATTACK_METHODS, its grid function in attacks.GRID_ATTACKS, the
  schema's `method` enum;
- a learning rule: its entry in LEARNING_RULES, its step in training.STEPS, the schema's `rule`
  enum;
- a figure drawn from what the study already has (FIGURE_INPUTS): its entry in FIGURES, its
  module under figures/, its caption in rules/captions/.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import MISSING, asdict, dataclass, fields
from itertools import pairwise
from pathlib import Path

DATASETS = ("mnist", "fashion-mnist")
DATA_SOURCES = ("auto", "bundled", "torchvision", "debian")  # sources.py reads each
SPLITS = ("train", "test")
CLEAN = "clean"  # the {attack} path component of the unattacked test images
ACTIVATIONS = ("relu", "tanh")  # model.ACTIVATION_MODULES holds their torch modules
READOUT_INITS = ("gaussian", "uniform")
LR_SCHEDULES = ("constant", "cosine")
ATTACK_TARGETS = ("output", "layer")  # whose readout a gradient attack differentiates
N_INPUTS = 784
N_CLASSES = 10
# PGD runs the strengths of a grid as one batch of at most this many attacked image rows
# (attacks.perturb_grid), and the spectral penalty's refresh forwards the training set in
# chunks of PENALTY_CHUNK images (spectral_penalty.PenaltyTerm.refresh); budget.py sizes the
# jobs' memory by both.
PGD_GRID_ROWS = 65536
PENALTY_CHUNK = 10_000


class SettingError(ValueError):
    """A spec's setting is invalid; `key` names it (within the spec's config entry)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


# --- attack methods ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AttackMethod:
    """What the study knows of an attack method besides its arithmetic (attacks.GRID_ATTACKS).

    `title`, `strength` and `symbol` label its figures. `gradient`: it differentiates a readout,
    so it takes a `target`. `noise_stream`: the fixed number of its random stream (None: it
    draws nothing); numbers, not positions, so reordering the registry changes no draw.
    `gradients`: the input-gradient passes one grid costs (budget.py): 'none', 'one' for the
    whole grid, or 'steps' per attacked strength. `settings`: the AttackSpec keys of its own
    (the others must keep their defaults); `required`: those the config must give (> 0), with
    an `example`."""

    title: str
    strength: str
    symbol: str
    gradient: bool = False
    noise_stream: int | None = None
    gradients: str = "none"
    settings: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    example: str = ""  # of the required settings, for messages


PGD_SETTINGS = ("steps", "step_size", "random_start")
ATTACK_METHODS: dict[str, AttackMethod] = {
    "gaussian": AttackMethod("Gaussian noise", r"noise std $\sigma$", r"$\sigma$", noise_stream=0),
    "fgsm": AttackMethod(
        "FGSM", r"FGSM step $\epsilon$", r"$\epsilon$", gradient=True, gradients="one"
    ),
    "random_sign": AttackMethod(
        "random-sign noise", r"random-sign step $\epsilon$", r"$\epsilon$", noise_stream=1
    ),
    "pgd": AttackMethod(
        "PGD",
        r"PGD radius $\epsilon$ ($L_\infty$)",
        r"$\epsilon$",
        gradient=True,
        noise_stream=2,
        gradients="steps",
        settings=PGD_SETTINGS,
        required=("steps", "step_size"),
        example="steps: 20, step_size: 2.5 (Madry et al. 2018)",
    ),
}
GRADIENT_METHODS = tuple(name for name, method in ATTACK_METHODS.items() if method.gradient)


@dataclass(frozen=True)
class AttackSpec:
    """One configured attack: a method of ATTACK_METHODS and, for gradient methods, the target
    (`output`: every layer sees inputs attacked through the network's output; `layer`: layer l
    sees inputs attacked through its own readout B_l).

    PGD takes `steps` iterations of relative size `step_size`: the absolute step is
    step_size * eps / steps, so step_size = 2.5 is the default ratio of Madry et al. (2018)
    and of the `robustness` library (2.5 * eps / steps), which lets a walk started anywhere
    in the eps ball reach its boundary. `random_start` starts PGD uniformly in the eps ball.
    A method's own settings are those its entry names; the others keep their defaults.
    """

    method: str
    target: str = "output"
    steps: int = 0
    step_size: float = 0.0
    random_start: bool = False

    def __post_init__(self) -> None:
        if self.method not in ATTACK_METHODS:
            raise SettingError(
                "method",
                f"attack method {self.method!r} unknown; use one of {tuple(ATTACK_METHODS)}",
            )
        if self.target not in ATTACK_TARGETS:
            raise SettingError(
                "target", f"attack target {self.target!r} unknown; use one of {ATTACK_TARGETS}"
            )
        if self.target == "layer" and self.method not in GRADIENT_METHODS:
            raise SettingError(
                "target",
                f"target 'layer' needs a gradient method {GRADIENT_METHODS}, not "
                f"{self.method!r}; use target 'output'",
            )
        if isinstance(self.steps, bool) or not isinstance(self.steps, int):
            raise SettingError("steps", f"attack steps must be an integer, got {self.steps!r}")
        if not isinstance(self.random_start, bool):
            raise SettingError(
                "random_start", f"random_start must be true or false, got {self.random_start!r}"
            )
        own = ATTACK_METHODS[self.method]
        defaults = {f.name: f.default for f in fields(self)}
        if foreign := [k for k in PGD_SETTINGS if k not in own.settings and self._set(k, defaults)]:
            owners = [name for name, m in ATTACK_METHODS.items() if set(foreign) & set(m.settings)]
            raise SettingError(
                foreign[0],
                f"{', '.join(foreign)} are settings of {' and '.join(owners)}, not of "
                f"{self.method!r}; remove them from the attack",
            )
        if unset := [k for k in own.required if not getattr(self, k) > 0]:
            raise SettingError(
                unset[0],
                f"{self.method} needs {' and '.join(f'{k} > 0' for k in own.required)}, got "
                + " and ".join(f"{k} {getattr(self, k)}" for k in own.required)
                + f"; e.g. {own.example}",
            )

    def _set(self, key: str, defaults: dict) -> bool:
        return getattr(self, key) != defaults[key]

    @classmethod
    def from_config(cls, entry: Mapping) -> AttackSpec:
        """The attack of a config `attacks` entry {method, target, steps, step_size,
        random_start, strengths}: absent optional keys take the defaults above, `strengths`
        (the sweep, not the attack) is ignored, any other key is an error."""
        known = {f.name for f in fields(cls)} | {"strengths"}
        if "method" not in entry:
            raise ValueError(
                f"attack {dict(entry)} has no method; add method: one of {list(ATTACK_METHODS)}"
            )
        unknown = sorted(set(entry) - known)
        if unknown:
            raise ValueError(
                f"attack {dict(entry)} has unknown keys {unknown}; use {sorted(known)}"
            )
        return cls(
            method=entry["method"],
            target=entry.get("target", cls.target),
            steps=entry.get("steps", cls.steps),
            step_size=float(entry.get("step_size", cls.step_size)),
            random_start=entry.get("random_start", cls.random_start),
        )

    def to_dict(self) -> dict:
        return asdict(self)


# --- learning rules ---------------------------------------------------------------------------


def _local_flops(weights: list[int]) -> int:
    return 4 * sum(weights)  # forward 2P, weight gradients 2P


def _backprop_flops(weights: list[int]) -> int:
    return 6 * sum(weights) - 2 * weights[0]  # and the input gradients of layers 2..L


def _greedy_flops(weights: list[int]) -> int:
    # phase k: the frozen forward below layer k, its forward and its weight gradients
    return sum(2 * sum(weights[: k + 1]) + 2 * weights[k] for k in range(len(weights)))


@dataclass(frozen=True)
class LearningRule:
    """What the study knows of a learning rule besides its step (training.STEPS).

    `label` and `color` mark it in figures. `layerwise`: it trains one layer after another,
    each for `epochs` epochs with a fresh optimiser (its run lasts epochs x layers).
    `penalty`: it can carry the spectral penalty. `readouts`: every layer's readout is trained
    (False: only the last, so the hidden layers' readout accuracies mean nothing). `flops`:
    training FLOPs per image and pass over the data, from the layers' weight counts (budget.py),
    and `flops_text` says how."""

    label: str
    color: str
    flops: Callable[[list[int]], int]
    flops_text: str
    layerwise: bool = False
    penalty: bool = True
    readouts: bool = True


LEARNING_RULES: dict[str, LearningRule] = {
    "local": LearningRule("local errors", "tab:blue", _local_flops, "4P"),
    "greedy": LearningRule(
        "greedy layer-wise",
        "tab:orange",
        _greedy_flops,
        "sum_k (2 P_1..k + 2 P_k)",
        layerwise=True,
        penalty=False,
    ),
    "backprop": LearningRule("backprop", "tab:red", _backprop_flops, "(6P - 2P_1)", readouts=False),
}
DEFAULT_RULE = "local"  # the paper's; the schema's default too


def rule_of(spec: Mapping) -> str:
    """The learning rule of a config `models` entry (the default when the entry names none)."""
    return spec["training"].get("rule", DEFAULT_RULE)


def run_epochs(rule: str, epochs: int, n_layers: int) -> int:
    """Epochs of a whole run: `epochs` per layer for a layer-wise rule, `epochs` otherwise."""
    return epochs * n_layers if LEARNING_RULES[rule].layerwise else epochs


def total_epochs(spec: Mapping) -> int:
    """Epochs of a config `models` entry's whole training."""
    return run_epochs(rule_of(spec), int(spec["training"]["epochs"]), len(spec["hidden"]))


# --- figures ----------------------------------------------------------------------------------

# What a figure can be drawn from (stages/plot_figure.py loads each): one model's summary table,
# its seeds' training logs, its seeds' clean spectra with the summary, or the summaries of every
# model of a dataset.
FIGURE_INPUTS = ("summary", "training", "spectra", "summaries")
# The arguments a figure function can ask for by name (rules/figures.smk fills each):
# `attack` the sweep's attack, `attacks` the model's swept attacks, `limits` the claims'
# shape thresholds, `floor` the eigenvalue floor.
FIGURE_OPTIONS = ("attack", "attacks", "limits", "floor")
FIGURE_SCOPES = ("model", "attack", "dataset")


@dataclass(frozen=True)
class FigureSpec:
    """A figure of the study. `function`: 'module:function' under manifold_smoothness.figures,
    returning a matplotlib Figure. `scope`: one per model, one per attack of a model (named like
    the attack) or one per dataset. `inputs`: one of FIGURE_INPUTS, or None for a figure that a
    stage of its own draws beside its tables (width sweep, intervention). `options`: the
    FIGURE_OPTIONS its function takes as keyword arguments. `needs_attack`: drawn only for a
    model with an attack sweep. The caption is rules/captions/<name>.rst."""

    function: str
    scope: str = "model"
    inputs: str | None = "summary"
    options: tuple[str, ...] = ()
    needs_attack: bool = False

    def __post_init__(self) -> None:
        if self.scope not in FIGURE_SCOPES:
            raise ValueError(f"figure scope {self.scope!r} unknown; use one of {FIGURE_SCOPES}")
        if self.inputs is not None and self.inputs not in FIGURE_INPUTS:
            raise ValueError(f"figure inputs {self.inputs!r} unknown; use one of {FIGURE_INPUTS}")
        if unknown := sorted(set(self.options) - set(FIGURE_OPTIONS)):
            raise ValueError(f"figure options {unknown} unknown; use some of {FIGURE_OPTIONS}")

    @property
    def module(self) -> str:
        """The dotted name of the module that holds the figure's function."""
        return f"manifold_smoothness.figures.{self.function.split(':')[0]}"

    @property
    def function_name(self) -> str:
        return self.function.split(":")[1]

    def module_file(self, src: Path) -> Path:
        """The module's file under `src` (the directory that holds the package)."""
        return src.joinpath(*self.module.split(".")).with_suffix(".py")


FIGURES: dict[str, FigureSpec] = {
    "training": FigureSpec("training:plot_training", inputs="training"),
    "spectra": FigureSpec("spectra:plot_spectra", inputs="spectra", options=("floor",)),
    "layers": FigureSpec("layers:plot_layers"),
    "trajectory": FigureSpec("trajectory:plot_trajectory"),
    "accuracy_alpha": FigureSpec(
        "sweeps:plot_accuracy_alpha", options=("attacks", "limits"), needs_attack=True
    ),
    "attack": FigureSpec("sweeps:plot_attack", scope="attack", options=("attack", "limits")),
    "generalization": FigureSpec(
        "generalization:plot_generalization", scope="dataset", inputs="summaries"
    ),
    "width": FigureSpec("width:plot_width", scope="dataset", inputs=None),
    "intervention": FigureSpec("intervention:plot_intervention", scope="dataset", inputs=None),
}
CAPTIONS = {name: f"{name}.rst" for name in FIGURES}  # in rules/captions/
FIGURE_FORMATS = ("pdf", "png")
# figures drawn by stages/plot_figure.py, by scope ('attack' figures are named like the attack)
MODEL_FIGURES = tuple(n for n, f in FIGURES.items() if f.scope == "model" and f.inputs)
STUDY_FIGURES = tuple(n for n, f in FIGURES.items() if f.scope == "dataset" and f.inputs)
RESERVED_NAMES = (CLEAN, *MODEL_FIGURES, *STUDY_FIGURES, "snapshots")  # not an attack's name


# --- specs of a config `models` entry ----------------------------------------------------------


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of a LocalErrorMLP; stored inside model.pt so a model rebuilds itself."""

    hidden: tuple[int, ...]
    activation: str = "relu"
    readout_init: str = "gaussian"
    readout_scale: float = 1.0
    n_inputs: int = N_INPUTS
    n_classes: int = N_CLASSES

    def __post_init__(self) -> None:
        if not self.hidden or any(int(w) < 1 for w in self.hidden):
            raise ValueError(f"hidden widths must be positive integers, got {list(self.hidden)}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"activation {self.activation!r} unknown; use one of {list(ACTIVATIONS)}"
            )
        if self.readout_init not in READOUT_INITS:
            raise ValueError(f"readout init {self.readout_init!r} unknown; use {READOUT_INITS}")
        object.__setattr__(self, "hidden", tuple(int(w) for w in self.hidden))

    @classmethod
    def from_spec(cls, spec: Mapping) -> ModelConfig:
        """The architecture of a config `models` entry: hidden, activation and readout
        {init, scale}; absent optional keys take the defaults above, `training` is ignored."""
        if "hidden" not in spec:
            raise ValueError(f"model spec {dict(spec)} has no 'hidden' widths; add hidden: [...]")
        readout = spec.get("readout", {})
        return cls(
            hidden=tuple(spec["hidden"]),
            activation=spec.get("activation", cls.activation),
            readout_init=readout.get("init", cls.readout_init),
            readout_scale=float(readout.get("scale", cls.readout_scale)),
        )

    def to_dict(self) -> dict:
        return asdict(self)


def refuse_unknown_keys(what: str, given: Mapping, cls: type) -> None:
    """Refuse keys of a config mapping (`what`, for the message) that are not fields of the
    dataclass that reads it."""
    names = {f.name for f in fields(cls)}
    if unknown := sorted(set(given) - names):
        raise ValueError(f"{what}: unknown keys {unknown}; use some of {sorted(names)}")


DEFAULT_FIRST_RANK = 11  # the first rank of the paper's fit window


@dataclass(frozen=True)
class SpectralPenalty:
    """A config's `training.spectral_penalty`: weight (>= 0; 0 = no penalty), the target exponent
    a (> 0) and first_rank (1-based rank tau + 1 of the power law's anchor, >= 1)."""

    weight: float
    exponent: float
    first_rank: int = DEFAULT_FIRST_RANK

    def __post_init__(self) -> None:
        if isinstance(self.first_rank, bool) or not isinstance(self.first_rank, int):
            raise ValueError(
                f"spectral_penalty.first_rank must be an integer, got {self.first_rank!r}"
            )
        if not self.weight >= 0 or self.weight == float("inf"):
            raise ValueError(f"spectral_penalty.weight must be >= 0 and finite, got {self.weight}")
        if not 0 < self.exponent < float("inf"):
            raise ValueError(f"spectral_penalty.exponent must be > 0, got {self.exponent}")
        if self.first_rank < 1:
            raise ValueError(f"spectral_penalty.first_rank must be >= 1, got {self.first_rank}")

    @classmethod
    def from_config(cls, entry: Mapping | SpectralPenalty | None) -> SpectralPenalty | None:
        """The penalty of a `spectral_penalty` mapping; None for null or weight 0 (no penalty:
        the network is trained exactly as without the key)."""
        if entry is None:
            return None
        if isinstance(entry, SpectralPenalty):
            return entry if entry.weight > 0 else None
        refuse_unknown_keys("spectral_penalty", entry, cls)
        if missing := sorted({"weight", "exponent"} - set(entry)):
            raise ValueError(f"spectral_penalty lacks {missing}; e.g. weight: 1.0, exponent: 2.0")
        penalty = cls(
            float(entry["weight"]),
            float(entry["exponent"]),
            entry.get("first_rank", DEFAULT_FIRST_RANK),
        )
        return penalty if penalty.weight > 0 else None


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings (Adam), the learning rule and what training sees.

    `lr_schedule: cosine` anneals lr to 0 over `epochs`. `rule` is one of LEARNING_RULES (see
    training's docstring); for a layer-wise rule, `epochs` and the lr schedule are per layer.
    `snapshots` are points of training, in epochs of all layers together (0 = untrained, below
    total_epochs), at which the weights are kept. `train_subset` trains on a class-stratified
    subset of that many training images; `label_noise` is the fraction of them whose labels
    are shuffled among themselves, once, before training. `spectral_penalty` (SpectralPenalty,
    or its config mapping; null or weight 0 = none) adds the spectral intervention's penalty to
    the loss, for the rules whose entry allows it."""

    epochs: int
    batch_size: int
    lr: float
    lr_schedule: str = "cosine"
    weight_decay: float = 0.0
    rule: str = DEFAULT_RULE
    snapshots: tuple[float, ...] = ()
    train_subset: int | None = None
    label_noise: float = 0.0
    spectral_penalty: SpectralPenalty | None = None

    def __post_init__(self) -> None:
        if self.rule not in LEARNING_RULES:
            raise ValueError(f"rule {self.rule!r} unknown; use one of {tuple(LEARNING_RULES)}")
        penalty = SpectralPenalty.from_config(self.spectral_penalty)
        object.__setattr__(self, "spectral_penalty", penalty)
        if penalty is not None and not LEARNING_RULES[self.rule].penalty:
            allowed = [name for name, rule in LEARNING_RULES.items() if rule.penalty]
            raise ValueError(
                f"spectral_penalty needs one of the rules {allowed}, not {self.rule} (its frozen "
                "layers cannot follow their penalty); remove the penalty or change the rule"
            )
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule {self.lr_schedule!r} unknown; use one of {LR_SCHEDULES}")
        if self.epochs < 1 or self.batch_size < 1 or not self.lr > 0:
            raise ValueError(f"epochs, batch_size and lr must be positive, got {self}")
        if isinstance(self.snapshots, str | int | float):
            raise ValueError(f"snapshots must be a list of epochs, got {self.snapshots!r}")
        object.__setattr__(self, "snapshots", tuple(sorted(float(t) for t in self.snapshots)))
        if early := [t for t in self.snapshots if not 0 <= t < math.inf]:  # NaN included
            raise ValueError(f"snapshots {early} are not points of training; use epochs >= 0")
        if not LEARNING_RULES[self.rule].layerwise:  # else the length depends on the depth
            self._check_snapshots_end(n_layers=1)
        subset = self.train_subset
        if subset is not None and (isinstance(subset, bool) or not isinstance(subset, int)):
            raise ValueError(f"train_subset must be an integer or null, got {subset!r}")
        if subset is not None and subset < 1:
            raise ValueError(f"train_subset must be positive, got {subset}")
        if not 0 <= self.label_noise < 1:
            raise ValueError(f"label_noise must be in [0, 1), got {self.label_noise}")

    def total_epochs(self, n_layers: int) -> int:
        """Epochs of the whole run (run_epochs)."""
        return run_epochs(self.rule, self.epochs, n_layers)

    def _check_snapshots_end(self, n_layers: int) -> None:
        total = self.total_epochs(n_layers)
        if late := [t for t in self.snapshots if t >= total]:
            raise ValueError(
                f"snapshots {late} are not before the end of training ({total} epochs of "
                f"{self.rule} training); drop them: the final model is kept as model.pt anyway"
            )

    def snapshot_steps(self, n_layers: int, steps_per_epoch: int) -> tuple[int, ...]:
        """The optimiser step after which each snapshot is taken: round(t * steps_per_epoch),
        0 for the untrained network; every point must fall on a step of its own before the
        last."""
        self._check_snapshots_end(n_layers)
        steps = tuple(round(t * steps_per_epoch) for t in self.snapshots)
        for (a, step), (b, other) in pairwise(zip(self.snapshots, steps, strict=True)):
            if step == other:
                raise ValueError(
                    f"snapshots {a} and {b} both fall on step {step} at {steps_per_epoch} steps "
                    "per epoch; drop one or move them apart"
                )
        last = self.total_epochs(n_layers) * steps_per_epoch
        if steps and steps[-1] >= last:
            raise ValueError(
                f"snapshot {self.snapshots[-1]} falls on step {steps[-1]}, the end of training "
                f"at {steps_per_epoch} steps per epoch; drop it: model.pt keeps the final model"
            )
        return steps

    @classmethod
    def from_spec(cls, spec: Mapping) -> TrainConfig:
        """The optimisation settings of a config `models` entry: its `training` mapping."""
        if "training" not in spec:
            raise ValueError(f"model spec {dict(spec)} has no 'training' settings; add training:")
        training = dict(spec["training"])
        required = {f.name for f in fields(cls) if f.default is MISSING}
        refuse_unknown_keys("training settings", training, cls)
        if missing := sorted(required - set(training)):
            raise ValueError(f"training settings lack {missing}; add them under training:")
        return cls(**training)

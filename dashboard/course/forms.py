"""The Train, Compress and Edge & cloud pages' forms, described once: each widget's key, its default on
this server, the values it offers (a list, or a range and step, under this server's caps), and the short
link parameter that carries it.

    forms.defaults("train")             # widget key -> default: what the page's form starts from
    f = forms.field("train_epochs")     # f.lo, f.high(), f.step; f.allowed() for a list
    st.slider("Epochs", f.lo, f.high(), key=f.key)
    forms.train_config(values)          # what the form's values ask the engine for (also compress_plan)

The page draws its widgets from here (labels and help are the page's), course.shareable reads and
writes links and presets (lessons/presets.toml, the run of show's steps) in the same terms, so a link,
a lesson's preset and the widget offer the same values and start from the same defaults.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field as dataclass_field

from dashboard.lab import settings as lab_settings
from dashboard.lab.compression.compress import CompressSettings, technique
from dashboard.lab.inputs import data
from dashboard.lab.training.models import MODEL_NAMES
from dashboard.lab.training.train import OPTIMIZERS, SCHEDULES, TrainConfig, precision_choices

# The select_sliders' choices (before this server's caps).
BATCH_SIZES = (16, 32, 64, 128, 256, 512)
# Up to 10: the lesson on divergence needs rates far past where Adam trains well (about 0.001 to 0.01).
LEARNING_RATES = (0.0001, 0.0003, 0.001, 0.002, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
TRAIN_IMAGES = (0, 500, 1000, 2000, 4000, 8000, 20000)    # 0: all of them
CALIBRATION_IMAGES = (64, 256, 1024, 4096)


def _limits() -> lab_settings.Limits:
    return lab_settings.current().limits


@dataclass(frozen=True)
class Setting:
    """One widget of a page's form: its link parameter, its widget key, its default and what values it accepts."""

    param: str                    # the query parameter: short and readable
    key: str                      # the widget key on the page
    kind: type                    # bool, int, float or str
    what: str                     # in plain words, for notices
    default: Callable[[], object]
    choices: Callable[[], Sequence] | None = None   # the widget's options (before the cap)
    lo: float | None = None       # a slider's range and step (before the cap)
    hi: float | None = None
    step: float | None = None
    cap: Callable[[lab_settings.Limits], float] | None = None   # this server's cap on the value
    words: Mapping[str, object] = dataclass_field(default_factory=dict)   # readable spellings: all -> 0

    def allowed(self) -> list | None:
        """The choices this server offers (the widget's list, capped), or None for a range."""
        if self.choices is None:
            return None
        cap = self.cap(_limits()) if self.cap else math.inf
        return [c for c in self.choices() if not isinstance(c, (int, float)) or c <= cap]

    def high(self) -> float:
        """The top of the range on this server."""
        cap = self.cap(_limits()) if self.cap else math.inf
        return min(self.hi if self.hi is not None else math.inf, cap)


def _const(value: object) -> Callable[[], object]:
    return lambda: value


def _flag(param: str, key: str, what: str, default: bool) -> Setting:
    return Setting(param, key, bool, what, _const(default))


TRAIN = (
    Setting("dataset", "train_dataset", str, "the dataset", _const("digits"), choices=lambda: list(data.CATALOG)),
    Setting("model", "train_model", str, "the model", _const("cnn"), choices=lambda: list(MODEL_NAMES)),
    # 3 epochs (not the engine's 6) keep a live run under ten seconds on a 2-core laptop.
    Setting("epochs", "train_epochs", int, "the number of epochs", lambda: min(3, _limits().max_epochs),
            lo=1, step=1, cap=lambda c: c.max_epochs),
    Setting("batch", "train_batch", int, "the batch size", _const(64), choices=lambda: BATCH_SIZES,
            cap=lambda c: c.max_batch_size),
    Setting("lr", "train_lr", float, "the learning rate", lambda: TrainConfig().lr, choices=lambda: LEARNING_RATES),
    Setting("opt", "train_optimizer", str, "the optimizer", _const("adam"), choices=lambda: OPTIMIZERS),
    Setting("seed", "train_seed", int, "the seed", _const(0), lo=0, hi=10_000, step=1),
    Setting("images", "train_images", int, "the number of training images", _const(0),
            choices=lambda: TRAIN_IMAGES, cap=lambda c: c.max_train_images, words={"all": 0}),
    _flag("augment", "train_augment", "augmentation", False),
    Setting("schedule", "train_schedule", str, "the learning-rate schedule", _const("onecycle"),
            choices=lambda: SCHEDULES),
    # Only the precisions this machine runs well (bf16 where it has native bf16 instructions).
    Setting("precision", "train_precision", str, "the precision", _const("fp32"),
            choices=lambda: list(precision_choices("auto"))),
)

_d = CompressSettings()
COMPRESS = (
    _flag("prune", "c_unstructured", "zeroing weights", True),
    Setting("prune_pct", "c_unstructured_pct", int, "the percentage of weights zeroed", _const(90),
            lo=10, hi=95, step=5),
    _flag("channels", "c_channels", "removing channels", True),
    Setting("channels_pct", "c_channels_pct", int, "the percentage of channels removed", _const(50),
            lo=10, hi=90, step=10),
    _flag("int8_dyn", "c_int8_dynamic", "int8 dynamic", True),
    _flag("int8", "c_int8_static", "int8 static", True),
    _flag("combo", "c_combo", "removed channels with int8 static", False),
    _flag("bf16", "c_bf16", "bf16", False),
    _flag("fp16", "c_fp16", "fp16", False),
    _flag("distil", "c_distilled", "distillation", False),
    _flag("onnx", "c_onnx", "ONNX Runtime fp32", False),
    _flag("onnx_int8", "c_onnx_int8", "ONNX Runtime int8", False),
    _flag("onnx_pruned", "c_onnx_pruned", "removed channels in ONNX Runtime", False),
    Setting("finetune", "c_finetune", int, "the fine-tune epochs after removing channels", _const(1),
            lo=0, hi=5, step=1, cap=lambda c: c.max_finetune_epochs),
    Setting("finetune_prune", "c_finetune_unstructured", int, "the fine-tune epochs after zeroing weights",
            _const(0), lo=0, hi=3, step=1, cap=lambda c: c.max_finetune_epochs),
    Setting("calib", "c_calibration", int, "the number of calibration images", _const(_d.calibration_images),
            choices=lambda: CALIBRATION_IMAGES, cap=lambda c: c.max_calibration_images),
    Setting("temp", "c_temperature", float, "the distillation temperature", _const(_d.distill_temperature),
            lo=1.0, hi=10.0, step=0.5),
    Setting("alpha", "c_alpha", float, "the distillation weight alpha", _const(_d.distill_alpha),
            lo=0.0, hi=1.0, step=0.1),
)
# Edge & cloud: which device profile the page opens on (lesson 3 asks about the microcontroller).
# The keys of lab.deploy.edge.default_profiles, written out: that module loads torch and ONNX Runtime.
EDGE_PROFILES = ("cloud", "laptop", "phone", "microcontroller")
EDGE = (
    Setting("profile", "edge_profile", str, "the device profile", _const("phone"), choices=lambda: EDGE_PROFILES),
)
SCHEMA: dict[str, tuple[Setting, ...]] = {"train": TRAIN, "compress": COMPRESS, "edge": EDGE}


def schema(page: str) -> dict[str, Setting]:
    """The page's settings by link parameter; ValueError for a page that has no form here."""
    if page not in SCHEMA:
        raise ValueError(f"no shareable settings on page {page!r}; pages: {', '.join(SCHEMA)}")
    return {s.param: s for s in SCHEMA[page]}


def defaults(page: str) -> dict[str, object]:
    """Widget key -> default on this server: the page's form starts from it, and a link names what differs."""
    return {s.key: s.default() for s in schema(page).values()}


_BY_KEY = {s.key: s for settings in SCHEMA.values() for s in settings}


def field(key: str) -> Setting:
    """The setting behind the widget with this key (KeyError for a widget that is not in a form here)."""
    return _BY_KEY[key]


# ---------------------------------------------------------------- what a form asks the engine for

def train_config(values: Mapping[str, object]) -> TrainConfig:
    """The training the Train page's values ask for (ValueError, from TrainConfig, for one that cannot run)."""
    return TrainConfig(model=values["train_model"], dataset=values["train_dataset"], epochs=values["train_epochs"],
                       batch_size=values["train_batch"], lr=values["train_lr"], optimizer=values["train_optimizer"],
                       schedule=values["train_schedule"], seed=int(values["train_seed"]),
                       augment=values["train_augment"], train_images=values["train_images"] or None,
                       precision=values["train_precision"])


# Compress: the technique each checkbox asks for, and the slider that sets its percentage (None: it has none).
# The distillation box asks for two versions: the student trained alone, to compare, and the distilled one.
TECHNIQUE_BOXES = (
    ("pruned-unstructured", "c_unstructured", "c_unstructured_pct"),
    ("pruned-channels", "c_channels", "c_channels_pct"),
    ("int8-dynamic", "c_int8_dynamic", None),
    ("int8-static", "c_int8_static", None),
    ("pruned-channels+int8-static", "c_combo", "c_channels_pct"),
    ("bf16", "c_bf16", None),
    ("fp16", "c_fp16", None),
    ("onnxruntime-fp32", "c_onnx", None),
    ("onnxruntime-int8", "c_onnx_int8", None),
    ("pruned-channels+onnxruntime", "c_onnx_pruned", "c_channels_pct"),
    ("student-baseline", "c_distilled", None),
    ("distilled", "c_distilled", None),
)


def compress_plan(values: Mapping[str, object]) -> tuple[list[str], CompressSettings]:
    """The versions the Compress page's values ask for (fp32, the baseline, first) and their settings."""
    names = ["fp32"] + [technique(key).name(**({"percent": values[pct]} if pct else {}))
                        for key, box, pct in TECHNIQUE_BOXES if values[box]]
    return names, CompressSettings(finetune_epochs_channels=values["c_finetune"],
                                   finetune_epochs_unstructured=values["c_finetune_unstructured"],
                                   calibration_images=values["c_calibration"],
                                   distill_temperature=values["c_temperature"], distill_alpha=values["c_alpha"])

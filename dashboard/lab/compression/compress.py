"""Compression: every way the lab makes a trained model smaller or faster, in one registry.

    variants = make_variants(trained, dataset, ["fp32", "int8-static", "pruned-channels-50"])

TECHNIQUES owns, for each technique, its name format (part of the CLI and JSON contract), its
parameters, how to make it, its label and which "why did it come out so?" explanation fits it.
The CLI's --variants, the Compress page's checkboxes and the explanations all read it:

    fp32                           the trained model (conv nets: the faster memory layout)
    pruned-unstructured-N          N % of weights zeroed by global magnitude (nn.utils.prune), fine-tuned
    pruned-channels-N              N % of channels/neurons removed (Torch-Pruning), fine-tuned
    int8-dynamic                   Linear layers int8, activations quantized on the fly
    int8-static                    whole graph int8, calibrated on training images
    bf16, fp16                     half precision, only where the CPU runs it well
    student-baseline, distilled    a tiny-cnn trained from labels / from the teacher's soft targets
    pruned-channels-N+int8-static  the two combined
    onnxruntime-fp32               the fp32 model in ONNX Runtime
    onnxruntime-int8               that ONNX file quantized by ONNX Runtime's own quantizer (static, QDQ)
    pruned-channels-N+onnxruntime  the channel-pruned model in ONNX Runtime
    compiled                       the fp32 model through torch.compile (needs a C++ compiler on the server)

The techniques live in modules named for them (pruning, precision, distill, runtimes); every
conv-net variant then gets the faster input memory layout in one step (variant.choose_layout).
"""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from dashboard.lab.compression import distill, precision, pruning
from dashboard.lab.serving import runtimes
from dashboard.lab import settings as lab_settings  # not `settings`: Build carries CompressSettings by that name
from dashboard.lab.inputs.data import Dataset
from dashboard.lab.serial import to_plain
from dashboard.lab.training.train import TrainedModel
from dashboard.lab.training.variant import Variant, choose_layout, with_stats

ProgressFn = Callable[[float, str], None]
StopFn = Callable[[], bool]


@dataclass
class CompressSettings:
    """Knobs of the techniques; the defaults are what the lessons and the benchmark use."""

    finetune_epochs_channels: int = 3      # recovers the accuracy lost by removing channels
    finetune_epochs_unstructured: int = 1  # 0: zero the weights and stop
    finetune_lr: float = 1e-3              # peak of the one-cycle schedule, half the training lr
    calibration_images: int = 1024         # training images int8-static sees to set its ranges
    distill_temperature: float = 4.0       # softens the teacher's outputs (Hinton et al. 2015)
    distill_alpha: float = 0.7             # weight of the soft-target loss; 1 - alpha on the labels
    distill_epochs: int | None = None      # None: as many epochs as the teacher had
    student_model: str = "tiny-cnn"
    try_channels_last: bool = True         # conv nets: time both memory layouts, keep the faster
    layout_seconds: float = 0.5            # timing budget per layout when choosing

    def validate(self) -> None:
        """Raise ValueError (LimitExceeded beyond this server's caps, lab.settings) with a user-facing message."""
        if self.finetune_epochs_channels < 0 or self.finetune_epochs_unstructured < 0:
            raise ValueError("fine-tune epochs must be 0 or more")
        if not self.distill_temperature > 0:
            raise ValueError("distillation temperature must be positive")
        if not 0 <= self.distill_alpha <= 1:
            raise ValueError("distillation weight alpha must be between 0 and 1")
        if self.calibration_images < 1:
            raise ValueError("calibration needs at least 1 image")
        if self.distill_epochs is not None and self.distill_epochs < 1:
            raise ValueError("distillation epochs must be at least 1")
        caps = lab_settings.current().limits
        lab_settings.check(max(self.finetune_epochs_channels, self.finetune_epochs_unstructured),
                           caps.max_finetune_epochs, "fine-tune epochs", "MAX_FINETUNE_EPOCHS")
        lab_settings.check(self.distill_epochs or 0, caps.max_distill_epochs, "distillation epochs",
                           "MAX_DISTILL_EPOCHS")
        lab_settings.check(self.calibration_images, caps.max_calibration_images, "calibration images",
                           "MAX_CALIBRATION_IMAGES")

    def training_images(self, names: list[str], n_train: int, teacher_epochs: int) -> int:
        """Images through forward+backward that making `names` costs (for the job budget). Variants
        that share a fine-tune (pruned-channels-50 and pruned-channels-50+int8-static) count it once."""
        epochs = {}
        for name in names:
            technique, params = parse(name)
            if technique.train_epochs is not None:
                epochs[technique.shares_training(params)] = technique.train_epochs(self, teacher_epochs)
        return n_train * sum(epochs.values())

    def to_dict(self) -> dict:
        return to_plain(self)


# ---------------------------------------------------------------- the registry

EXPLANATIONS = {  # topic (lessons/explain/<topic>.md) -> its title on the page
    "unstructured-pruning": "Zeroed weights: why not faster?",
    "channels-pruning": "Removed channels: why faster?",
    "int8": "int8: slower at batch 1, faster at batch 256?",
    "half-precision": "bf16 / fp16: only with the right CPU",
    "distillation": "Distillation: did the teacher help?",
}


@dataclass
class Build:
    """What a technique gets to make one variant."""

    name: str
    trained: TrainedModel
    dataset: Dataset
    settings: CompressSettings
    progress: ProgressFn
    should_stop: StopFn
    variant: Callable[[str], Variant]  # make (or reuse) another variant of this call by name


@dataclass(frozen=True)
class Technique:
    """One way to make a variant."""

    key: str                                  # "pruned-channels"
    label: str                                # what the Compress page calls it
    make: Callable[..., Variant]              # make(build, **params) -> Variant
    pattern: str = ""                         # name format with {percent}; "" = the key is the name
    explain: str | None = None                # EXPLANATIONS topic
    train_epochs: Callable[[CompressSettings, int], int] | None = None  # (settings, teacher epochs) -> epochs
    shared_training: str = ""                 # name format of the variant whose training it reuses

    @property
    def params(self) -> tuple[str, ...]:
        return tuple(re.findall(r"{(\w+)}", self.pattern))

    def name(self, **params: int) -> str:
        """The variant name for these parameters (validated)."""
        name = self.pattern.format(**params) if self.pattern else self.key
        check_name(name)
        return name

    def shares_training(self, params: dict) -> str:
        return (self.shared_training or self.pattern or self.key).format(**params)

    @property
    def regex(self) -> re.Pattern:
        text = re.escape(self.pattern or self.key).replace(r"\{percent\}", r"(?P<percent>\d{1,2})")
        return re.compile(f"^{text}$")


def _fp32(b: Build) -> Variant:
    t = b.trained
    v = Variant("fp32", copy.deepcopy(t.module).eval(), f"the trained {t.spec.name}, fp32 weights, eager PyTorch")
    return with_stats(v, v.module, t.spec.in_shape)


def _channels_then_int8(b: Build, percent: int) -> Variant:
    base = b.variant(f"pruned-channels-{percent}")
    # Quantize the float pruned model (its module may be channels_last: make it contiguous first).
    float_module = copy.deepcopy(base.module).to(memory_format=torch.contiguous_format)
    v = precision.int8_static(b, float_module, how_prefix=f"{base.name}, then ")
    v.accuracy_before_finetune = base.accuracy_before_finetune
    return v


TECHNIQUES: tuple[Technique, ...] = (
    Technique("fp32", "fp32: the trained model, the baseline", _fp32),
    Technique("pruned-unstructured", "Zero the smallest weights (unstructured)", pruning.unstructured,
              pattern="pruned-unstructured-{percent}", explain="unstructured-pruning",
              train_epochs=lambda s, e: s.finetune_epochs_unstructured),
    Technique("pruned-channels", "Remove whole channels (structured)", pruning.channels,
              pattern="pruned-channels-{percent}", explain="channels-pruning",
              train_epochs=lambda s, e: s.finetune_epochs_channels),
    Technique("int8-dynamic", "int8 dynamic (Linear layers only)", precision.int8_dynamic, explain="int8"),
    Technique("int8-static", "int8 static (whole model, calibrated)", precision.int8_static, explain="int8"),
    Technique("pruned-channels+int8-static", "Channels removed, then int8 static", _channels_then_int8,
              pattern="pruned-channels-{percent}+int8-static", explain="int8",
              train_epochs=lambda s, e: s.finetune_epochs_channels, shared_training="pruned-channels-{percent}"),
    Technique("bf16", "bf16", lambda b: precision.half(b, torch.bfloat16), explain="half-precision"),
    Technique("fp16", "fp16", lambda b: precision.half(b, torch.float16), explain="half-precision"),
    Technique("student-baseline", "A tiny CNN trained on the labels alone",
              lambda b: distill.student(b, distill=False), explain="distillation",
              train_epochs=lambda s, e: s.distill_epochs or e),
    Technique("distilled", "A tiny CNN distilled from your model", lambda b: distill.student(b, distill=True),
              explain="distillation", train_epochs=lambda s, e: s.distill_epochs or e),
    Technique("onnxruntime-fp32", "ONNX Runtime (fp32)", runtimes.onnxruntime_fp32),
    Technique("onnxruntime-int8", "ONNX Runtime int8 (its own quantizer, calibrated)", runtimes.onnxruntime_int8,
              explain="int8"),
    Technique("pruned-channels+onnxruntime", "Channels removed, then run by ONNX Runtime", runtimes.pruned_onnxruntime,
              pattern="pruned-channels-{percent}+onnxruntime", explain="channels-pruning",
              train_epochs=lambda s, e: s.finetune_epochs_channels, shared_training="pruned-channels-{percent}"),
    Technique("compiled", "Compiled PyTorch (torch.compile)", runtimes.compiled),
)
BY_KEY = {t.key: t for t in TECHNIQUES}
PERCENT_RANGE = (1, 99)
# What `--variants all` means: one of each technique, with the sparsities the lessons discuss.
ALL_VARIANTS = ("fp32", "pruned-unstructured-50", "pruned-unstructured-90", "pruned-channels-50",
                "int8-dynamic", "int8-static", "pruned-channels-50+int8-static", "bf16", "fp16",
                "student-baseline", "distilled", "onnxruntime-fp32", "onnxruntime-int8",
                "pruned-channels-50+onnxruntime", "compiled")


def technique(key: str) -> Technique:
    return BY_KEY[key]


def name_help() -> str:
    """Every accepted name form, for the CLI's help and error messages."""
    forms = [(t.pattern or t.key).replace("{percent}", "N") for t in TECHNIQUES]
    return ", ".join(forms) + f" (N = {PERCENT_RANGE[0]}..{PERCENT_RANGE[1]})"


def parse(name: str) -> tuple[Technique, dict[str, int]]:
    """The technique and parameters of a variant name; ValueError with a one-line message if it is none."""
    for t in TECHNIQUES:
        m = t.regex.match(name)
        if m:
            params = {k: int(v) for k, v in m.groupdict().items()}
            if all(PERCENT_RANGE[0] <= v <= PERCENT_RANGE[1] for v in params.values()):
                return t, params
    raise ValueError(f"unknown variant {name!r}; choose from all, {name_help()}")


def check_name(name: str) -> None:
    """Raise ValueError with a one-line message for a name that is not a variant."""
    parse(name)


def explanation(name: str) -> str | None:
    """The EXPLANATIONS topic that fits a variant name, if any."""
    try:
        return parse(name)[0].explain
    except ValueError:
        return None


def resolve_names(spec: str | list[str] | tuple[str, ...]) -> list[str]:
    """'all' or a comma list -> validated names, fp32 first (it is every speed-up's baseline)."""
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    names: list[str] = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        for name in (ALL_VARIANTS if item == "all" else (item,)):
            check_name(name)
            if name not in names:
                names.append(name)
    if not names:
        raise ValueError("no variants named; use 'all' or a comma list such as fp32,int8-static")
    return ["fp32"] + [n for n in names if n != "fp32"]


# ---------------------------------------------------------------- all together


def make_variants(trained: TrainedModel, dataset: Dataset, names: str | list[str] = "all",
                  settings: CompressSettings | None = None,
                  on_progress: ProgressFn | None = None,
                  should_stop: StopFn | None = None) -> list[Variant]:
    """Build the named variants (fp32 always first). Stops early, returning those made so far,
    when `should_stop()` turns true. `on_progress(fraction, message)` after each step."""
    settings = settings or CompressSettings()
    settings.validate()
    names = resolve_names(names)
    progress = on_progress or (lambda f, m: None)
    stop = should_stop or (lambda: False)
    made: dict[str, Variant] = {}

    def build(name: str, sub: ProgressFn) -> Variant:
        if name in made:
            return made[name]
        tech, params = parse(name)
        b = Build(name, trained, dataset, settings, sub, stop, lambda other: build(other, sub))
        start = time.perf_counter()
        v = tech.make(b, **params)
        if settings.try_channels_last:
            v = choose_layout(v, dataset, settings.layout_seconds)
        v.build_seconds = time.perf_counter() - start
        made[name] = v
        return v

    out: list[Variant] = []
    for i, name in enumerate(names):
        if stop():
            break
        progress(i / len(names), f"making {name}")
        sub = lambda f, m, i=i: progress((i + min(max(f, 0.0), 1.0)) / len(names), m)  # noqa: E731
        out.append(build(name, sub))
    progress(1.0, f"{len(out)} variants made")
    return out

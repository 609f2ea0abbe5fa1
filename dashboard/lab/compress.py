"""Compression: every way the lab makes a trained model smaller or faster, as named Variants.

    variants = make_variants(trained, dataset, ["fp32", "int8-static", "pruned-channels-50"])

Variant names are part of the CLI and JSON contract:

    fp32                           the trained model (conv nets: the faster memory layout)
    pruned-unstructured-N          N % of weights zeroed by global magnitude (nn.utils.prune)
    pruned-channels-N              N % of channels/neurons removed (Torch-Pruning), fine-tuned
    int8-dynamic                   Linear layers int8, activations quantized on the fly
    int8-static                    whole graph int8, calibrated on training images (FX graph mode)
    bf16, fp16                     half precision, only where the CPU runs it well
    student-baseline, distilled    a tiny-cnn trained from labels / from the teacher's soft targets
    pruned-channels-N+int8-static  the two combined
    onnxruntime-fp32               the fp32 model in ONNX Runtime (optional extra `onnx`)

Fine-tuning and distillation run through the one training loop (train.Training).
"""

from __future__ import annotations

import copy
import importlib.util
import io
import re
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import prune

from . import hardware
from . import settings as lab_settings  # not `settings`: the techniques take CompressSettings by that name
from .data import Dataset
from .models import count_nonzero_params, count_params, flops_per_image
from .slot import COMPUTE
from .train import TrainedModel, Training, evaluate, precision_choices

ProgressFn = Callable[[float, str], None]
StopFn = Callable[[], bool]

FIXED_NAMES = ("fp32", "int8-dynamic", "int8-static", "bf16", "fp16",
               "student-baseline", "distilled", "onnxruntime-fp32")
PATTERN_HELP = "pruned-unstructured-N, pruned-channels-N, pruned-channels-N+int8-static (N = 1..99)"
_PRUNED = re.compile(r"^pruned-(unstructured|channels)-(\d{1,2})(\+int8-static)?$")
# What `--variants all` means: one of each technique, with the sparsities the lessons discuss.
ALL_VARIANTS = ("fp32", "pruned-unstructured-50", "pruned-unstructured-90", "pruned-channels-50",
                "int8-dynamic", "int8-static", "pruned-channels-50+int8-static", "bf16", "fp16",
                "student-baseline", "distilled", "onnxruntime-fp32")


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
        """Images through forward+backward that making `names` costs (for the job budget)."""
        unstructured = sum(n.startswith("pruned-unstructured") for n in names)
        channels = len({n.split("+")[0] for n in names if n.startswith("pruned-channels")})
        students = sum(n in ("student-baseline", "distilled") for n in names)
        return n_train * (unstructured * self.finetune_epochs_unstructured + channels * self.finetune_epochs_channels
                          + students * (self.distill_epochs or teacher_epochs))

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items()}


@dataclass
class Variant:
    """A model ready for inference, how it was made, and what a benchmark needs to run it fairly."""

    name: str
    module: nn.Module | None            # None when not available here
    how_made: str
    available: bool = True
    note: str = ""                      # why unavailable, or what to notice
    layout: str = "contiguous"          # input memory format: "contiguous" or "channels_last"
    dtype: torch.dtype = torch.float32  # input dtype the module expects
    params: int = 0
    nonzero_params: int = 0
    flops: int = 0                      # per image, of the float graph (int8 does the same MACs)
    sparsity: float | None = None       # fraction of zero weights in conv/linear layers
    accuracy_before_finetune: float | None = None
    build_seconds: float = 0.0
    saved_as: str = "torch.save(state_dict)"
    details: dict = field(default_factory=dict)
    serialize: Callable[[], bytes] | None = field(default=None, repr=False)

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised fp32 images -> what the module takes (dtype, memory layout)."""
        if self.dtype != torch.float32:
            x = x.to(self.dtype)
        if self.layout == "channels_last" and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Logits as fp32 for normalised fp32 images; the conversions count as inference work."""
        if self.module is None:
            raise RuntimeError(f"variant {self.name} is not available here: {self.note}")
        return self.module(self.prepare(x)).float()

    def saved_bytes(self) -> bytes:
        """The file this variant would be deployed as (what size_bytes measures)."""
        if self.serialize is not None:
            return self.serialize()
        buf = io.BytesIO()
        torch.save(self.module.state_dict(), buf)
        return buf.getvalue()

    def to_dict(self) -> dict:
        return {"name": self.name, "how_made": self.how_made, "available": self.available,
                "note": self.note, "layout": self.layout, "dtype": str(self.dtype).replace("torch.", ""),
                "params": self.params, "nonzero_params": self.nonzero_params, "flops": self.flops,
                "sparsity": self.sparsity, "accuracy_before_finetune": self.accuracy_before_finetune,
                "build_seconds": round(self.build_seconds, 3), "saved_as": self.saved_as,
                "details": self.details}


# ---------------------------------------------------------------- names


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


def check_name(name: str) -> None:
    """Raise ValueError with a one-line message for a name that is not a variant."""
    if name in FIXED_NAMES:
        return
    m = _PRUNED.match(name)
    if m and 1 <= int(m.group(2)) <= 99:
        return
    raise ValueError(f"unknown variant {name!r}; choose from all, {', '.join(FIXED_NAMES)}, {PATTERN_HELP}")


# ---------------------------------------------------------------- helpers


@contextmanager
def quiet_quantization_warnings() -> Iterator[None]:
    """torch.ao.quantization warns that it is deprecated on every call; the user cannot act on it."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\.ao\..*")
        warnings.filterwarnings("ignore", message=r".*(migrat|deprecat|torchao).*")
        yield


def has_conv(module: nn.Module) -> bool:
    """True for conv nets, float or quantized (torch.ao's QuantizedConv2d/ConvReLU2d are not nn.Conv2d)."""
    return any(isinstance(m, nn.Conv2d) or ("Conv" in type(m).__name__ and type(m).__name__.endswith("2d"))
               for m in module.modules())


def prunable_layers(module: nn.Module) -> list[tuple[str, nn.Module]]:
    """Conv and Linear layers in order: the weights pruning and the sensitivity scan work on."""
    return [(n, m) for n, m in module.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def weight_sparsity(module: nn.Module) -> float:
    """Fraction of exact zeros among conv/linear weights (biases are not pruned)."""
    total = zeros = 0
    for _, layer in prunable_layers(module):
        w = layer.weight
        total += w.numel()
        zeros += int((w == 0).sum())
    return zeros / total if total else 0.0


def _stats(variant: Variant, float_module: nn.Module, shape: tuple[int, int, int]) -> Variant:
    """Params and FLOPs from the float graph: quantized modules hide weights from .parameters()."""
    variant.params = count_params(float_module)
    variant.nonzero_params = count_nonzero_params(float_module)
    variant.flops = flops_per_image(float_module, shape)
    if variant.sparsity is None:
        variant.sparsity = round(weight_sparsity(float_module), 5)
    return variant


def _timed_ips(fn: Callable[[], object], n_images: int, seconds: float) -> float:
    calls, start = 0, time.perf_counter()
    while calls < 2 or time.perf_counter() - start < seconds:
        fn()
        calls += 1
    return calls * n_images / (time.perf_counter() - start)


def choose_layout(variant: Variant, dataset: Dataset, seconds: float = 0.3) -> Variant:
    """Time contiguous vs channels_last at batch 256 (interleaved, 3 rounds, best of); keep the faster."""
    if variant.module is None or not has_conv(variant.module):
        return variant
    x = dataset.test_tensors(256)[0]
    candidates = {}
    for layout in ("contiguous", "channels_last"):
        v = copy.copy(variant)
        v.layout = layout
        if layout == "channels_last":
            try:
                v.module = copy.deepcopy(variant.module).to(memory_format=torch.channels_last)
            except (RuntimeError, TypeError):
                v.module = variant.module  # quantized graphs: only the input changes layout
        candidates[layout] = v
    ips: dict[str, list[float]] = {k: [] for k in candidates}
    with COMPUTE.hold(f"layout {variant.name}"), torch.inference_mode():
        for v in candidates.values():
            v(x)  # warm-up: oneDNN picks kernels on the first call per layout
        for _ in range(3):
            for layout, v in candidates.items():
                ips[layout].append(_timed_ips(lambda v=v: v(x), len(x), seconds / 3))
    # Best of the rounds, not the median: a neighbour's load only ever slows a round down, and a
    # layout decision should follow what the kernels can do, not who else was busy.
    med = {k: max(s) for k, s in ips.items()}
    best = max(med, key=med.get)
    other = "contiguous" if best == "channels_last" else "channels_last"
    chosen = candidates[best]
    chosen.details = {**variant.details, "layout_ips_batch256": {k: round(s) for k, s in med.items()}}
    layout_note = f"{best} layout ({med[best] / med[other]:.2f}x {other} at batch 256 here)"
    chosen.note = f"{chosen.note}; {layout_note}" if chosen.note else layout_note
    return chosen


# ---------------------------------------------------------------- techniques


def fp32(trained: TrainedModel, dataset: Dataset, settings: CompressSettings) -> Variant:
    v = Variant("fp32", copy.deepcopy(trained.module).eval(),
                f"the trained {trained.spec.name}, fp32 weights, eager PyTorch")
    v = _stats(v, v.module, trained.spec.in_shape)
    return choose_layout(v, dataset, settings.layout_seconds) if settings.try_channels_last else v


def _cpu_precision(trained: TrainedModel) -> str:
    """The teacher's training precision where this CPU runs it natively (it may have trained on a GPU), else fp32."""
    return trained.config.precision if trained.config.precision in precision_choices("cpu") else "fp32"


def _finetune(trained: TrainedModel, dataset: Dataset, module: nn.Module, epochs: int,
              settings: CompressSettings, on_progress: ProgressFn, should_stop: StopFn,
              label: str) -> nn.Module:
    """Fine-tune `module` with the one training loop at a lower learning rate."""
    if epochs == 0:
        return module.eval()
    config = replace(trained.config, epochs=epochs, lr=settings.finetune_lr, device="cpu",
                     precision=_cpu_precision(trained))
    run = Training(config, dataset, module=module)
    for event in run:
        on_progress(event.progress, f"{label}: fine-tune epoch {event.epoch}/{epochs}")
        if should_stop():
            run.stop()
    return run.result().module


def pruned_unstructured(trained: TrainedModel, dataset: Dataset, percent: int, settings: CompressSettings,
                        on_progress: ProgressFn = lambda f, m: None,
                        should_stop: StopFn = lambda: False) -> Variant:
    """Zero the `percent` % smallest weights across all conv/linear layers (global L1), fine-tune with
    the mask held, then make the zeros permanent. Dense kernels still multiply every zero."""
    name = f"pruned-unstructured-{percent}"
    module = copy.deepcopy(trained.module)
    targets = [(layer, "weight") for _, layer in prunable_layers(module)]
    prune.global_unstructured(targets, pruning_method=prune.L1Unstructured, amount=percent / 100)
    before = evaluate(module, dataset)[1]
    epochs = settings.finetune_epochs_unstructured
    module = _finetune(trained, dataset, module, epochs, settings, on_progress, should_stop, name)
    for _, layer in prunable_layers(module):
        if prune.is_pruned(layer):
            prune.remove(layer, "weight")  # weight = weight_orig * mask, hooks gone
    sparsity = weight_sparsity(module)
    v = Variant(name, module.eval(),
                f"global magnitude pruning of {percent}% of conv/linear weights (torch.nn.utils.prune)"
                + (f", fine-tuned {epochs} epoch(s) with the mask held" if epochs else ""),
                note=f"real sparsity {sparsity:.1%}; zeros are stored and multiplied like any weight",
                sparsity=round(sparsity, 5), accuracy_before_finetune=before,
                details={"requested_sparsity": percent / 100, "finetune_epochs": epochs})
    v = _stats(v, module, trained.spec.in_shape)
    return choose_layout(v, dataset, settings.layout_seconds) if settings.try_channels_last else v


def remove_channels(module: nn.Module, percent: int, in_shape: tuple[int, int, int]) -> nn.Module:
    """Physically remove `percent` % of each layer's output channels/neurons, smallest L2 first
    (Torch-Pruning keeps dependent layers consistent). The output layer keeps its classes."""
    import torch_pruning as tp

    module = copy.deepcopy(module).eval()
    last = [m for _, m in prunable_layers(module)][-1]
    pruner = tp.pruner.BasePruner(module, torch.zeros(1, *in_shape),
                                  importance=tp.importance.MagnitudeImportance(p=2),
                                  pruning_ratio=percent / 100, ignored_layers=[last])
    pruner.step()
    return module


def pruned_channels(trained: TrainedModel, dataset: Dataset, percent: int, settings: CompressSettings,
                    on_progress: ProgressFn = lambda f, m: None,
                    should_stop: StopFn = lambda: False) -> Variant:
    name = f"pruned-channels-{percent}"
    module = remove_channels(trained.module, percent, trained.spec.in_shape)
    before = evaluate(module, dataset)[1]
    epochs = settings.finetune_epochs_channels
    module = _finetune(trained, dataset, module, epochs, settings, on_progress, should_stop, name)
    widths = [getattr(m, "out_channels", getattr(m, "out_features", None)) for _, m in prunable_layers(module)]
    v = Variant(name, module.eval(),
                f"{percent}% of channels/neurons per layer removed by L2 magnitude (Torch-Pruning)"
                + (f", fine-tuned {epochs} epoch(s)" if epochs else ""),
                note=f"layer widths now {widths}; the file holds the smaller tensors (rebuilding "
                     "it needs the pruned shapes, e.g. torch_pruning.state_dict)",
                accuracy_before_finetune=before,
                details={"requested_ratio": percent / 100, "finetune_epochs": epochs, "widths": widths})
    v = _stats(v, module, trained.spec.in_shape)
    return choose_layout(v, dataset, settings.layout_seconds) if settings.try_channels_last else v


def int8_dynamic(trained: TrainedModel, dataset: Dataset, settings: CompressSettings) -> Variant:
    # Deprecated in torch 2.14 (torch.ao.quantization); the replacement is torchao's
    # quantize_(model, Int8DynamicActivationInt8WeightConfig()), which also touches Linear only.
    with quiet_quantization_warnings():
        module = torch.ao.quantization.quantize_dynamic(copy.deepcopy(trained.module).eval(),
                                                        {nn.Linear}, dtype=torch.qint8)
    conv = has_conv(trained.module)
    v = Variant("int8-dynamic", module,
                "Linear weights int8, activations quantized per batch at run time "
                "(torch.ao.quantization.quantize_dynamic)",
                note="convolutions stay fp32: dynamic quantization covers Linear layers only" if conv
                else "every layer is Linear, so the whole model runs int8 matmuls")
    v = _stats(v, trained.module, trained.spec.in_shape)
    return choose_layout(v, dataset, settings.layout_seconds) if settings.try_channels_last else v


def quant_engine(supported: list[str] | None = None) -> str | None:
    """The int8 backend: x86 (fbgemm + oneDNN) on x86-64, qnnpack on ARM, fbgemm on old builds."""
    engines = torch.backends.quantized.supported_engines if supported is None else supported
    for engine in ("x86", "qnnpack", "fbgemm", "onednn"):
        if engine in engines:
            return engine
    return None


def static_int8_module(float_module: nn.Module, dataset: Dataset, calibration_images: int,
                       engine: str | None = None) -> tuple[nn.Module, str]:
    """Post-training static int8: observe activation ranges on training images, then convert.

    FX graph mode (torch.ao.quantization.quantize_fx) is deprecated in torch 2.14 but still the
    fastest path on CPU (it fuses Conv+ReLU and runs fbgemm/oneDNN int8 kernels). Its replacement
    is PT2E in torchao: torch.export -> torchao.quantization.pt2e.prepare_pt2e(model,
    X86InductorQuantizer()) -> calibrate -> convert_pt2e -> torch.compile, which needs a compiler
    and ~10 s per model, so the lab keeps FX until torch removes it.
    """
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    engine = engine or quant_engine()
    if engine is None:
        raise RuntimeError("this torch build has no quantized CPU engine")
    # Process-wide, like torch threads; the packed weights are made for this engine.
    torch.backends.quantized.engine = engine
    images = dataset.prepare(dataset.train_images[:calibration_images])
    with quiet_quantization_warnings():
        prepared = prepare_fx(copy.deepcopy(float_module).eval(), get_default_qconfig_mapping(engine),
                              (images[:1],))
        with torch.inference_mode():
            for start in range(0, len(images), 256):
                prepared(images[start:start + 256])
        return convert_fx(prepared).eval(), engine


def int8_static(trained: TrainedModel, dataset: Dataset, settings: CompressSettings,
                float_module: nn.Module | None = None, name: str = "int8-static",
                how_prefix: str = "") -> Variant:
    float_module = float_module if float_module is not None else trained.module
    try:
        module, engine = static_int8_module(float_module, dataset, settings.calibration_images)
    except Exception as exc:  # an engine missing or an op it cannot quantize: say so, keep going
        return _unavailable(name, "static int8", f"static int8 failed here: {exc}".splitlines()[0])
    feats = hardware.describe("cpu").features
    accel = [f for f in ("amx_int8", "avx512_vnni", "avx_vnni", "asimddp") if f in feats]
    v = Variant(name, module,
                f"{how_prefix}static int8 weights and activations, ranges calibrated on "
                f"{min(settings.calibration_images, dataset.n_train)} training images "
                f"(FX graph mode, {engine} engine)",
                note=(f"int8 kernels use {', '.join(accel)}" if accel else "no int8 dot-product "
                      "instructions detected: int8 gains will be small") + "; file = int8 state_dict, "
                     "reloading it needs the same prepare/convert steps",
                saved_as="torch.save(state_dict) of the converted int8 graph",
                details={"engine": engine, "calibration_images": settings.calibration_images})
    v = _stats(v, float_module, trained.spec.in_shape)
    return choose_layout(v, dataset, settings.layout_seconds) if settings.try_channels_last else v


def half_precision(trained: TrainedModel, dataset: Dataset, settings: CompressSettings,
                   dtype: torch.dtype) -> Variant:
    """bf16 / fp16 weights and activations, offered only where the CPU has native support."""
    name = "bf16" if dtype == torch.bfloat16 else "fp16"
    hw = hardware.describe("cpu")
    if name == "bf16":
        native = [f for f in ("amx_bf16", "avx512_bf16", "bf16") if hw.has(f)]
        supported = native and torch.backends.mkldnn.is_available() and _mkldnn_supports("bf16")
        missing = ("this CPU has no AVX512-BF16 / AMX-BF16 (ARM: BF16) instructions: bf16 would be "
                   "converted in software and run slower than fp32")
    else:
        native = [f for f in ("amx_fp16",) if hw.has(f)]
        supported = native and torch.backends.mkldnn.is_available() and _mkldnn_supports("fp16")
        missing = ("this CPU has no AMX-FP16: fp16 convolutions and matmuls would run through "
                   "conversions, slower than fp32 (fp16 pays off on GPUs and AMX-FP16 CPUs)")
    if not supported:
        return _unavailable(name, name, missing)
    module = copy.deepcopy(trained.module).eval().to(dtype)
    v = Variant(name, module, f"weights and activations in {name} (16-bit floats), eager PyTorch",
                note=f"native {name} instructions: {', '.join(_LABELS.get(f, f) for f in native)}",
                dtype=dtype, details={"native": native})
    v = _stats(v, trained.module, trained.spec.in_shape)
    return choose_layout(v, dataset, settings.layout_seconds) if settings.try_channels_last else v


_LABELS = {**hardware.X86_FEATURES, **hardware.ARM_FEATURES}


def _mkldnn_supports(kind: str) -> bool:
    check = getattr(torch.ops.mkldnn, f"_is_mkldnn_{kind}_supported", None)
    try:
        return bool(check()) if check is not None else True
    except RuntimeError:
        return False


def kd_loss(teacher: nn.Module, temperature: float, alpha: float):
    """Hinton-style distillation: alpha * T^2 * KL(teacher_T || student_T) + (1 - alpha) * CE(labels)."""
    teacher = teacher.eval()

    def loss_fn(outputs: torch.Tensor, labels: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            soft_targets = F.softmax(teacher(inputs) / temperature, dim=1)
        soft = F.kl_div(F.log_softmax(outputs / temperature, dim=1), soft_targets,
                        reduction="batchmean") * temperature ** 2
        return alpha * soft + (1 - alpha) * F.cross_entropy(outputs, labels)

    return loss_fn


def student(trained: TrainedModel, dataset: Dataset, settings: CompressSettings, *, distill: bool,
            on_progress: ProgressFn = lambda f, m: None, should_stop: StopFn = lambda: False) -> Variant:
    """The student model trained from the labels (baseline) or from the teacher too (distilled):
    same architecture, epochs, seed and schedule, so the difference is the teacher alone."""
    name = "distilled" if distill else "student-baseline"
    epochs = settings.distill_epochs or trained.config.epochs
    config = replace(trained.config, model=settings.student_model, epochs=epochs, device="cpu",
                     precision=_cpu_precision(trained))
    loss = kd_loss(trained.module, settings.distill_temperature, settings.distill_alpha) if distill else None
    # Training builds the student from the run's own init stream: both students start from the
    # same weights for one seed, whatever other threads draw from torch's global RNG.
    run = Training(config, dataset, loss_fn=loss)
    for event in run:
        on_progress(event.progress, f"{name}: epoch {event.epoch}/{epochs}")
        if should_stop():
            run.stop()
    module = run.result().module
    how = (f"{settings.student_model} trained {epochs} epoch(s) on the teacher's softened outputs "
           f"(T={settings.distill_temperature:g}, alpha={settings.distill_alpha:g}) and the labels"
           if distill else f"{settings.student_model} trained {epochs} epoch(s) on the labels only "
                           "(same seed and schedule as distilled)")
    v = Variant(name, module.eval(), how,
                note="compare distilled with student-baseline: the teacher is the only difference",
                details={"student": settings.student_model, "epochs": epochs,
                         **({"temperature": settings.distill_temperature, "alpha": settings.distill_alpha}
                            if distill else {})})
    v = _stats(v, module, trained.spec.in_shape)
    return choose_layout(v, dataset, settings.layout_seconds) if settings.try_channels_last else v


def onnxruntime_fp32(trained: TrainedModel, dataset: Dataset, settings: CompressSettings) -> Variant:
    """The fp32 model exported to ONNX and run by ONNX Runtime: what a deployment runtime gets."""
    if importlib.util.find_spec("onnxruntime") is None or importlib.util.find_spec("onnx") is None:
        return _unavailable("onnxruntime-fp32", "ONNX Runtime",
                            "onnxruntime is not installed (pip install 'train-infer-lab[onnx]')")
    try:
        import onnxruntime as ort

        buf = io.BytesIO()
        example = torch.zeros(1, *trained.spec.in_shape)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(copy.deepcopy(trained.module).eval(), (example,), buf, dynamo=False,
                              input_names=["images"], output_names=["logits"],
                              dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}})
        model_bytes = buf.getvalue()
        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        return _unavailable("onnxruntime-fp32", "ONNX Runtime", f"ONNX export or load failed: {exc}".splitlines()[0])
    v = Variant("onnxruntime-fp32", _OrtModule(session),
                f"the fp32 model exported to ONNX, run by ONNX Runtime {ort.__version__} (CPU provider)",
                note=f"{options.intra_op_num_threads} ORT threads, set when the session was made",
                saved_as="ONNX file", serialize=lambda: model_bytes)
    return _stats(v, trained.module, trained.spec.in_shape)


class _OrtModule(nn.Module):
    def __init__(self, session):
        super().__init__()
        self.session = session

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.session.run(None, {"images": x.contiguous().numpy()})[0]
        return torch.from_numpy(out)


def _unavailable(name: str, what: str, reason: str) -> Variant:
    return Variant(name, None, what, available=False, note=reason)


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

    def build(i: int, name: str) -> Variant:
        sub = lambda f, m: progress((i + min(max(f, 0.0), 1.0)) / len(names), m)  # noqa: E731
        if name == "fp32":
            return fp32(trained, dataset, settings)
        if name == "int8-dynamic":
            return int8_dynamic(trained, dataset, settings)
        if name == "int8-static":
            return int8_static(trained, dataset, settings)
        if name in ("bf16", "fp16"):
            return half_precision(trained, dataset, settings, torch.bfloat16 if name == "bf16" else torch.float16)
        if name in ("distilled", "student-baseline"):
            return student(trained, dataset, settings, distill=name == "distilled", on_progress=sub, should_stop=stop)
        if name == "onnxruntime-fp32":
            return onnxruntime_fp32(trained, dataset, settings)
        kind, percent, plus_int8 = _PRUNED.match(name).groups()
        if kind == "unstructured":
            return pruned_unstructured(trained, dataset, int(percent), settings, sub, stop)
        base_name = f"pruned-channels-{percent}"
        base = made.get(base_name) or pruned_channels(trained, dataset, int(percent), settings, sub, stop)
        made.setdefault(base_name, base)
        if not plus_int8:
            return base
        # Quantize the float pruned model (its module may be channels_last: make it contiguous first).
        float_module = copy.deepcopy(base.module).to(memory_format=torch.contiguous_format)
        v = int8_static(trained, dataset, settings, float_module, name, how_prefix=f"{base_name}, then ")
        v.accuracy_before_finetune = base.accuracy_before_finetune
        return v

    out: list[Variant] = []
    with COMPUTE.hold("compress"):
        for i, name in enumerate(names):
            if stop():
                break
            progress(i / len(names), f"making {name}")
            start = time.perf_counter()
            v = build(i, name)
            v.build_seconds = time.perf_counter() - start
            made[name] = v
            out.append(v)
        progress(1.0, f"{len(out)} variants made")
    return out

"""The one training loop, written as an iterator of events.

    run = Training(TrainConfig(model="cnn", epochs=2))
    for event in run:          # StepEvent every few steps, EpochEvent after each epoch
        draw(event)            # the caller may stop iterating (or call run.stop()) at any time
    trained = run.result()     # a usable TrainedModel, also after a stop mid-epoch
    trained.outcome.kind       # "ok", "diverged", "collapsed" or "barely learned" (lab.training.outcome)

A loss that becomes NaN or infinite ends the run there, without an exception: the last
StepEvent says so (`overflowed`), the weights go back to their last finite state and the
outcome is "diverged". A failed run is a result to look at, not an error.

The page, the CLI and the benchmark all drive this same iterator. Times it reports count only
the engine's own work, not what the caller does between events (drawing a chart, say).

Why one module of this size: the config, the loop and the model it returns are one algorithm
(the loop validates the config, the result carries both); split, every reader would hop
between three files to follow one training step.
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from dashboard.lab import hardware, settings
from dashboard.lab.inputs.data import EVAL_BATCH, Dataset, load_dataset
from dashboard.lab.hardware import pick_device, set_threads, tune_allocator
from dashboard.lab.training.models import ModelCost, ModelSpec, build_model, model_cost
from dashboard.lab.training.outcome import SUGGEST_LR, Evidence, Outcome, judge
from dashboard.lab.serial import from_plain, to_plain

OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("onecycle", "constant")
LAYOUTS = ("auto", "contiguous", "channels_last")
PRECISIONS = ("fp32", "bf16")
# x86 / ARM /proc/cpuinfo flags under which bf16 matrix maths runs natively (hardware.py's names).
NATIVE_BF16_FLAGS = ("amx_bf16", "avx512_bf16", "bf16")


@dataclass
class TrainConfig:
    model: str = "cnn"
    dataset: str = "digits"
    epochs: int = 6
    batch_size: int = 64
    lr: float = 3e-3             # the peak learning rate with the one-cycle schedule
    optimizer: str = "adam"      # "adam", or "sgd" (with momentum 0.9)
    schedule: str = "onecycle"   # warm up then anneal the learning rate, or keep it constant
    seed: int = 0
    device: str = "auto"         # auto: CUDA, else Apple MPS, else CPU
    threads: int | None = None   # torch CPU threads; None keeps the current setting
    augment: bool = False        # random shifts/rotations of training images
    log_every: int = 10          # steps between StepEvents
    layout: str = "auto"         # auto (channels_last for conv nets on the CPU), contiguous, channels_last
    precision: str = "fp32"      # fp32, or bf16: mixed precision where the hardware runs it natively
    train_images: int | None = None  # train on the first N training images; None: all

    def validate(self) -> None:
        """Raise ValueError with a user-facing message for settings that cannot work."""
        if self.epochs < 1:
            raise ValueError("epochs must be at least 1")
        if self.batch_size < 1:
            raise ValueError("batch size must be at least 1")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError("learning rate must be a positive number")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, not {self.optimizer!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, not {self.schedule!r}")
        if self.threads is not None and self.threads < 1:
            raise ValueError("threads must be at least 1")
        if self.log_every < 1:
            raise ValueError("log_every must be at least 1")
        if self.layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, not {self.layout!r}")
        if self.train_images is not None and self.train_images < 1:
            raise ValueError("training images must be at least 1 (or None for all)")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {self.precision!r}")
        if self.precision != "fp32":
            _, why_not = _mixed_precision(pick_device(self.device))
            if why_not:
                raise ValueError(why_not)
        caps = settings.current().limits  # this lab's caps (settings.LimitExceeded is a ValueError)
        settings.check(self.epochs, caps.max_epochs, "epochs", "MAX_EPOCHS")
        settings.check(self.batch_size, caps.max_batch_size, "batch size", "MAX_BATCH_SIZE")
        settings.check(self.train_images or 0, caps.max_train_images, "training images", "MAX_TRAIN_IMAGES")

    def to_dict(self) -> dict:
        return to_plain(self)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        return from_plain(cls, d)


def _mixed_precision(device: torch.device) -> tuple[str | None, str]:
    """(label of the mixed precision this device runs natively, or None; why not, or "")."""
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported():
            return f"bf16 mixed precision (CUDA autocast, {torch.cuda.get_device_name(device)})", ""
        return "fp16 mixed precision with loss scaling (CUDA autocast; this GPU has no bf16)", ""
    if device.type != "cpu":
        return None, f"Mixed precision training is not offered on {device.type}; use fp32."
    hw = hardware.describe("cpu")
    for flag in NATIVE_BF16_FLAGS:
        if hw.has(flag):
            name = {**hardware.X86_FEATURES, **hardware.ARM_FEATURES}[flag].split(" (")[0]
            return f"bf16 mixed precision (native {name})", ""
    return None, (f"This CPU ({hw.cpu}) has no native bf16 (AMX-BF16 or AVX-512 BF16 on x86, BF16 on ARM): "
                  "bf16 would train slower than fp32 here, so use fp32.")


def precision_choices(device: str | torch.device = "auto") -> dict[str, str]:
    """The training precisions this device runs well: config value -> label saying why."""
    dev = device if isinstance(device, torch.device) else pick_device(device)
    choices = {"fp32": "fp32 (full precision)"}
    label, _ = _mixed_precision(dev)
    if label:
        choices["bf16"] = label
    return choices


def cpu_precision(config: TrainConfig) -> str:
    """A run's training precision where this CPU runs it natively (it may have trained on a GPU), else fp32.
    What fine-tuning and distillation on the CPU use for a teacher trained with `config`."""
    return config.precision if config.precision in precision_choices("cpu") else "fp32"


def run_generators(seed: int) -> tuple[torch.Generator, torch.Generator]:
    """A run's own random streams, both seeded with `seed`: (init, data).

    `init` draws the initial weights (models.build_model); `data` draws each epoch's shuffle,
    then the augmentation of each batch in turn. Nothing in a run draws from torch's global RNG,
    which every thread of the process shares, so the same seed gives the same weights while other
    sessions train. Two streams rather than one keep the batches a seed gives independent of the
    model: a fresh, a fine-tuned and a distilled model with one seed see the same batches.
    """
    return torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed)


def resolve_layout(layout: str, module: nn.Module, device: torch.device) -> str:
    """The memory layout "auto" stands for: channels_last for conv nets on the CPU, else contiguous.

    A fixed rule, not a timing probe (a probe could pick differently between runs, and the
    layout changes the last bits of the result). Measured with this engine on a 2-core Xeon
    (AMX), batch 64, median of 5 interleaved rounds: cnn 4,381 -> 5,369 images/s (1.23x),
    tiny-cnn 14,667 -> 19,313 (1.32x), mostly oneDNN's channels-last pooling and convolution
    kernels; the mlp has no 4-D tensors and trains alike (44,093 vs 44,130).
    """
    if layout != "auto":
        return layout
    has_conv = any(isinstance(m, nn.modules.conv._ConvNd) for m in module.modules())
    return "channels_last" if has_conv and device.type == "cpu" else "contiguous"


@dataclass(frozen=True)
class StepEvent:
    epoch: int                 # 1-based
    step: int                  # 1-based, counted over the whole run
    total_steps: int
    loss: float                # mean training loss since the previous StepEvent (see overflowed)
    running_accuracy: float    # training accuracy so far this epoch, 0..1
    images_per_second: float   # training images / training seconds, over the run so far
    elapsed_s: float           # engine time so far (training + evaluation)
    samples_seen: int
    # True on the run's last event when the loss became NaN or infinite. `loss` is then a finite
    # stand-in, the highest loss so far or OVERFLOW_PLOT x ln(classes), whichever is higher, so a
    # chart draws the explosion instead of a gap.
    overflowed: bool = False

    @property
    def progress(self) -> float:
        return self.step / self.total_steps


@dataclass(frozen=True)
class EpochEvent:
    epoch: int
    epochs: int
    step: int
    total_steps: int
    train_loss: float
    train_accuracy: float
    test_loss: float
    test_accuracy: float
    images_per_second: float
    elapsed_s: float
    samples_seen: int

    @property
    def progress(self) -> float:
        return self.step / self.total_steps


OVERFLOW_PLOT = 10.0  # where a chart draws a NaN/inf loss, in units of ln(classes) at least


def make_optimizer(kind: str, params: Iterable[nn.Parameter], lr: float) -> torch.optim.Optimizer:
    """The optimizer a training of `kind` uses ("adam", or "sgd": SGD with momentum 0.9)."""
    if kind == "adam":
        return torch.optim.Adam(params, lr=lr)
    return torch.optim.SGD(params, lr=lr, momentum=0.9)


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite. Training no longer raises it (the run ends with the outcome
    "diverged"); callers that must not go on with such a model raise it themselves."""


@dataclass
class TrainedModel:
    """A trained (or partly trained) model with what it takes to rebuild and judge it."""

    spec: ModelSpec
    dataset: str
    config: TrainConfig
    module: nn.Module                      # on the CPU, in eval mode
    test_accuracy: float
    seconds: float                         # engine time, training + evaluation
    train_seconds: float                   # training steps only
    samples_seen: int
    completed: bool                        # False when stopped before the last epoch ended
    cost: ModelCost
    history: list[EpochEvent] = field(default_factory=list)
    layout: str = "contiguous"             # the memory layout it trained in (module is contiguous now)
    precision: str = "fp32"                # what the forward passes ran in: fp32, bf16 or fp16
    train_images: int = 0                  # training images per epoch
    test_loss: float | None = None         # mean cross-entropy on the test split, as it ended
    outcome: Outcome | None = None         # ok / diverged / collapsed / barely learned (lab.training.outcome)

    @property
    def images_per_second(self) -> float:
        return self.samples_seen / self.train_seconds if self.train_seconds > 0 else 0.0

    def summary(self) -> dict:
        """The JSON `training` block."""
        return {
            "model": self.spec.name,
            "dataset": self.dataset,
            "epochs": self.config.epochs,
            "epochs_completed": len(self.history),
            "completed": self.completed,
            "batch_size": self.config.batch_size,
            "optimizer": self.config.optimizer,
            "lr": self.config.lr,
            "seed": self.config.seed,
            "layout": self.layout,
            "precision": self.precision,
            "train_images": self.train_images,
            "seconds": round(self.seconds, 3),
            "train_seconds": round(self.train_seconds, 3),
            "samples_seen": self.samples_seen,
            "images_per_second": round(self.images_per_second, 1),
            "test_accuracy": round(self.test_accuracy, 5),
            "test_loss": round(self.test_loss, 5) if self.test_loss is not None and math.isfinite(self.test_loss)
            else None,
            "outcome": self.outcome.to_dict() if self.outcome is not None else None,
            "params": self.cost.params,
            "train_flops_per_image": self.cost.train_flops_per_image,
            "inference_flops_per_image": self.cost.inference_flops_per_image,
        }

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        torch.save({
            "state_dict": self.module.state_dict(),
            "spec": self.spec.to_dict(),
            "dataset": self.dataset,
            "config": self.config.to_dict(),
            "test_accuracy": self.test_accuracy,
            "seconds": self.seconds,
            "train_seconds": self.train_seconds,
            "samples_seen": self.samples_seen,
            "completed": self.completed,
            "layout": self.layout,
            "precision": self.precision,
            "train_images": self.train_images,
            "test_loss": self.test_loss,
            "outcome": self.outcome.to_dict() if self.outcome is not None else None,
        }, path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> TrainedModel:
        """Load a saved model; weights_only=True, so a file can carry no code."""
        blob = torch.load(Path(path), map_location="cpu", weights_only=True)
        spec = ModelSpec.from_dict(blob["spec"])
        module = build_model(spec)
        module.load_state_dict(blob["state_dict"])
        module.eval()
        outcome = blob.get("outcome")
        return cls(spec, blob["dataset"], TrainConfig.from_dict(blob["config"]), module,
                   float(blob["test_accuracy"]), float(blob["seconds"]), float(blob["train_seconds"]),
                   int(blob["samples_seen"]), bool(blob["completed"]), model_cost(module, spec.in_shape),
                   layout=str(blob.get("layout", "contiguous")), precision=str(blob.get("precision", "fp32")),
                   train_images=int(blob.get("train_images", 0)), test_loss=blob.get("test_loss"),
                   outcome=Outcome.from_dict(outcome) if outcome else None)


def evaluate(module: nn.Module, dataset: Dataset, *, device: torch.device | str = "cpu",
             batch_size: int = EVAL_BATCH,
             memory_format: torch.memory_format = torch.contiguous_format) -> tuple[float, float]:
    """(mean cross-entropy loss, top-1 accuracy) on the test split, in fp32."""
    loss, accuracy, _ = _evaluate(module, dataset, device, batch_size, memory_format)
    return loss, accuracy


@torch.inference_mode()
def _evaluate(module: nn.Module, dataset: Dataset, device: torch.device | str = "cpu",
              batch_size: int = EVAL_BATCH, memory_format: torch.memory_format = torch.contiguous_format
              ) -> tuple[float, float, tuple[int, ...]]:
    """evaluate() plus how many test images the model put in each class (a collapse shows there)."""
    was_training = module.training
    module.eval()
    total_loss, correct, n = 0.0, 0, 0
    counts = torch.zeros(dataset.num_classes, dtype=torch.long, device=device)
    for x, y in dataset.batches("test", batch_size):
        x, y = x.to(device, memory_format=memory_format), y.to(device)
        out = module(x)
        total_loss += float(F.cross_entropy(out, y, reduction="sum"))
        predicted = out.argmax(1)
        correct += int((predicted == y).sum())
        counts += torch.bincount(predicted, minlength=len(counts))[:len(counts)]
        n += len(y)
    module.train(was_training)
    return total_loss / max(n, 1), correct / max(n, 1), tuple(int(c) for c in counts.cpu())


# loss_fn(outputs, labels, inputs) -> scalar loss; the inputs let distillation ask a teacher.
LossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def cross_entropy_loss(outputs: torch.Tensor, labels: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(outputs, labels)


class Training:
    """One training run. Iterate it for events; stop any time; `result()` gives the model.

    `module` starts from given weights (fine-tuning a pruned model); `loss_fn` replaces the
    cross-entropy loss (distillation from a teacher's soft targets). Every random draw comes
    from the run's own generators (`run_generators`), so a seed gives the same weights
    whatever other threads do. The model and each batch are in `self.layout`; with precision
    bf16 the forward pass and loss run under autocast, the evaluation stays fp32.
    """

    def __init__(self, config: TrainConfig, dataset: Dataset | None = None,
                 module: nn.Module | None = None, loss_fn: LossFn | None = None):
        config.validate()
        self.loss_fn = loss_fn or cross_entropy_loss
        self.config = config
        dataset = dataset if dataset is not None else load_dataset(config.dataset, augment=config.augment)
        if config.train_images is not None and config.train_images < dataset.n_train:
            dataset = dataset.subset(config.train_images, None)  # the whole test split still judges it
        self.dataset = dataset
        self.device = pick_device(config.device)
        self.spec = ModelSpec(config.model, self.dataset.shape, self.dataset.num_classes)
        set_threads(config.threads)
        tune_allocator()
        self.init_generator, self.data_generator = run_generators(config.seed)
        module = module if module is not None else build_model(self.spec, generator=self.init_generator)
        self.cost = model_cost(module, self.spec.in_shape)  # on the CPU, before any move
        self.layout = resolve_layout(config.layout, module, self.device)
        self.memory_format = torch.channels_last if self.layout == "channels_last" else torch.contiguous_format
        self.module = module.to(self.device, memory_format=self.memory_format)
        # Mixed precision: bf16 autocast (CPU with native bf16, recent GPUs); fp16 plus loss
        # scaling on GPUs without bf16, whose narrow exponent would underflow small gradients.
        self.autocast_dtype: torch.dtype | None = None
        self.scaler: torch.amp.GradScaler | None = None
        if config.precision == "bf16":
            self.autocast_dtype = torch.bfloat16
            if self.device.type == "cuda" and not torch.cuda.is_bf16_supported():
                self.autocast_dtype = torch.float16
                self.scaler = torch.amp.GradScaler("cuda")
        self.precision = {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[self.autocast_dtype]
        self.optimizer = make_optimizer(config.optimizer, self.module.parameters(), config.lr)
        self.steps_per_epoch = math.ceil(self.dataset.n_train / config.batch_size)
        self.total_steps = self.steps_per_epoch * config.epochs
        # One-cycle (Smith 2018): on the bundled digits it reaches 98 % in about 5 epochs where a
        # constant rate plateaus near 97.5 %.
        self.scheduler = (torch.optim.lr_scheduler.OneCycleLR(self.optimizer, config.lr, self.total_steps)
                          if config.schedule == "onecycle" else None)
        self.history: list[EpochEvent] = []
        self.samples_seen = 0
        self.step = 0
        self.train_seconds = 0.0
        self.elapsed_s = 0.0
        self.diverged: str | None = None   # where the loss became NaN/inf, in words (None: it did not)
        # The loss windows so far, and the test evaluation of the last epoch: what the outcome is judged on.
        self.first_loss: float | None = None
        self.peak_loss: float | None = None
        self._overflow: tuple[str, int, int] | None = None   # ("nan" or "inf", step, epoch)
        self._last_eval: tuple[float, tuple[int, ...]] | None = None  # (test loss, predicted counts)
        # What a diverged run goes back to. A finite loss in the first step of a window shows that the
        # weights it started from were finite, so two copies suffice: the weights at the previous log
        # point (`_latest`) become the known-good state (`_finite`) once the next window's loss is
        # finite. One copy per log point, measured on 2 threads: 76 us for the cnn (a 10-step window
        # takes 127 ms), 36 us for the mlp (19 ms); checking every weight with isfinite instead took
        # 0.4-3.9 ms.
        state = self.module.state_dict()
        self._finite = {k: v.detach().clone() for k, v in state.items()}
        self._latest = {k: v.detach().clone() for k, v in state.items()}
        self._finite_step = self._latest_step = 0
        self._stop = False
        self._events = self._run()

    def __iter__(self) -> Iterator[StepEvent | EpochEvent]:
        return self

    def __next__(self) -> StepEvent | EpochEvent:
        return next(self._events)

    def stop(self) -> None:
        """Finish at the next step boundary; the weights so far are kept."""
        self._stop = True

    @property
    def progress(self) -> float:
        return self.step / self.total_steps

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def _run(self) -> Iterator[StepEvent | EpochEvent]:
        cfg, model, opt, dev = self.config, self.module, self.optimizer, self.device
        gen, fmt, scaler = self.data_generator, self.memory_format, self.scaler
        resumed = time.perf_counter()
        for epoch in range(1, cfg.epochs + 1):
            model.train()
            epoch_loss = torch.zeros((), device=dev)
            window_loss = torch.zeros((), device=dev)
            epoch_correct = torch.zeros((), dtype=torch.long, device=dev)
            epoch_seen, window_steps = 0, 0
            t_steps = time.perf_counter()
            for x, y in self.dataset.batches("train", cfg.batch_size, shuffle=True, generator=gen):
                if self._stop:
                    break
                x, y = x.to(dev, non_blocking=True, memory_format=fmt), y.to(dev, non_blocking=True)
                with self._autocast():
                    out = model(x)
                    loss = self.loss_fn(out, y, x)
                opt.zero_grad(set_to_none=True)
                if scaler is None:
                    loss.backward()
                    opt.step()
                else:
                    scaler.scale(loss).backward()
                    scaler.step(opt)
                    scaler.update()
                if self.scheduler is not None:
                    self.scheduler.step()
                # Accumulate on the device; read back (a sync on GPUs) only at log points.
                detached = loss.detach()
                window_loss += detached
                epoch_loss += detached * len(y)
                epoch_correct += (out.detach().argmax(1) == y).sum()
                epoch_seen += len(y)
                self.samples_seen += len(y)
                self.step += 1
                window_steps += 1
                last = epoch_seen >= self.dataset.n_train
                if window_steps == cfg.log_every or last:
                    mean_loss = float(window_loss) / window_steps
                    finite = math.isfinite(mean_loss)
                    if finite:
                        self._keep()
                        self._note_loss(mean_loss)
                        shown = mean_loss
                    else:
                        shown = self._overflow_at(mean_loss, epoch)
                    now = time.perf_counter()
                    self.train_seconds += now - t_steps
                    self.elapsed_s += now - resumed
                    yield StepEvent(epoch, self.step, self.total_steps, shown,
                                    int(epoch_correct) / epoch_seen, self.images_per_second,
                                    self.elapsed_s, self.samples_seen, overflowed=not finite)
                    if not finite:
                        return  # the weights are back at their last finite state; nothing more to learn
                    resumed = t_steps = time.perf_counter()
                    window_loss.zero_()
                    window_steps = 0
            else:
                self.train_seconds += time.perf_counter() - t_steps
                test_loss, test_acc, counts = _evaluate(model, self.dataset, dev, memory_format=fmt)
                self.elapsed_s += time.perf_counter() - resumed
                train_loss = float(epoch_loss) / max(epoch_seen, 1)
                if not (math.isfinite(train_loss) and math.isfinite(test_loss)):
                    # Finite weights whose outputs overflow: rare, and as diverged as a NaN loss.
                    self._overflow_at(test_loss if math.isfinite(train_loss) else train_loss, epoch)
                    return
                self._last_eval = (test_loss, counts)
                event = EpochEvent(epoch, cfg.epochs, self.step, self.total_steps, train_loss,
                                   int(epoch_correct) / max(epoch_seen, 1), test_loss, test_acc,
                                   self.images_per_second, self.elapsed_s, self.samples_seen)
                self.history.append(event)
                yield event
                resumed = time.perf_counter()
                continue
            self.train_seconds += time.perf_counter() - t_steps
            self.elapsed_s += time.perf_counter() - resumed
            break  # stopped mid-epoch

    @property
    def images_per_second(self) -> float:
        return self.samples_seen / self.train_seconds if self.train_seconds > 0 else 0.0

    def _keep(self) -> None:
        """A window ended with a finite loss: the weights it started from are known good; remember these."""
        self._finite, self._latest = self._latest, self._finite
        self._finite_step = self._latest_step
        for k, v in self.module.state_dict().items():
            self._latest[k].copy_(v)
        self._latest_step = self.step

    def _overflow_at(self, loss: float, epoch: int) -> float:
        """The loss stopped being finite: note where, restore the last finite weights, and return
        the stand-in value a chart draws for this point."""
        self._overflow = ("nan" if math.isnan(loss) else "inf", self.step, epoch)
        self.module.load_state_dict(self._finite)
        hint = SUGGEST_LR.get(self.config.optimizer, "a tenth of it")
        self.diverged = (f"Training diverged in epoch {epoch}, step {self.step}: the loss became "
                         f"{self._overflow[0]}. The learning rate {self.config.lr:g} is too high for "
                         f"{self.config.optimizer}; try {hint}.")
        return max(self.peak_loss or 0.0, OVERFLOW_PLOT * math.log(max(self.dataset.num_classes, 2)))

    def _note_loss(self, loss: float) -> None:
        if self.first_loss is None:
            self.first_loss = loss
        self.peak_loss = loss if self.peak_loss is None else max(self.peak_loss, loss)

    def result(self) -> TrainedModel:
        """The model as it is now, on the CPU, with its test accuracy (re-evaluated if stale) and
        its outcome (lab.training.outcome): after a divergence, the model at its last finite state.

        The module comes back in the usual contiguous layout whatever layout trained it, so
        saving, compressing and inspecting start from the standard form (compress picks an
        inference layout of its own).
        """
        fresh = self.history and self.history[-1].step == self.step and self._last_eval is not None
        # Evaluated in the training layout before the copy: 2.5x faster for the cnn here (0.12 vs
        # 0.3 s for the 2,000 bundled test digits), which is most of what a Stop waits for.
        if fresh:
            accuracy = self.history[-1].test_accuracy
            test_loss, counts = self._last_eval
        else:
            test_loss, accuracy, counts = _evaluate(self.module, self.dataset, self.device,
                                                    memory_format=self.memory_format)
        module = copy.deepcopy(self.module).to("cpu", memory_format=torch.contiguous_format).eval()
        completed = len(self.history) == self.config.epochs
        cfg, overflow = self.config, self._overflow
        outcome = judge(Evidence(
            tuple(self.dataset.classes), cfg.optimizer, cfg.lr, cfg.schedule, accuracy, test_loss, counts,
            self.first_loss, self.peak_loss, self.step, self.total_steps, self.samples_seen,
            stopped=self._stop and not completed, overflow=overflow[0] if overflow else None,
            overflow_step=overflow[1] if overflow else None, overflow_epoch=overflow[2] if overflow else None,
            kept_step=self._finite_step if overflow else None))
        return TrainedModel(self.spec, self.dataset.name, self.config, module, accuracy,
                            self.elapsed_s, self.train_seconds, self.samples_seen, completed,
                            self.cost, list(self.history), layout=self.layout, precision=self.precision,
                            train_images=self.dataset.n_train, test_loss=test_loss, outcome=outcome)


def train(config: TrainConfig, dataset: Dataset | None = None) -> TrainedModel:
    """Run a whole training without looking at the events."""
    run = Training(config, dataset)
    for _ in run:
        pass
    return run.result()

"""Memory of one training step against one inference, measured on the real tensors.

    cmp = compare_memory(model, (1, 28, 28), batch_size=64, optimizer="adam")
    cmp.training.peak, cmp.inference.peak, cmp.ratio     # bytes, bytes, training / inference

What is measured: the peak of live tensor storage during ONE training step (forward, loss,
backward, optimizer step) and during ONE inference (eval mode, `torch.inference_mode`), and what
was live at that instant (`MemoryBreakdown`): weights (the parameters), gradients (the parameters'
current `.grad`), optimizer_state (the tensors in `optimizer.state`), activations and other. For
training, activations are the tensors autograd saved for backward (recorded by a
`torch.autograd.graph.saved_tensors_hooks` pack hook), less the weights and the batch; for
inference, every tensor the forward pass made. Other is the rest: the batch and labels, buffers,
forward outputs nobody saved (the logits), gradients of activations during backward and the
optimizer's temporaries. These five sets partition the live storages, so they add up to the peak
exactly (tolerance: 0 bytes; the tests check it).

How: `_Tracker`, a `TorchDispatchMode`, sees every aten op this thread runs and registers each
new output storage with a weakref finalizer that takes its bytes off when the storage is freed;
tensors that exist already (weights, the previous step's gradients, optimizer state, the batch)
are registered on entry. After each op a new high keeps the list of storages then live, and the
phase. When the step is over each of them gets its role (weight, gradient before or after the
step, optimizer state, batch, saved by autograd at some point of the step), so the tensor the
peak op made counts as what it becomes right after: a ReLU output that autograd saves is an
activation, a weight gradient that becomes `.grad` is a gradient.

The training step is step 2+ of `train.Training`: a deep copy of the model (the caller's is never
touched), a fresh optimizer of the configured kind (Adam, or SGD with momentum 0.9), one warm-up
step so the optimizer state exists (Adam's exp_avg and exp_avg_sq, SGD's momentum buffer), then
the measured step in train.py's order: forward, loss, zero_grad(set_to_none=True), backward,
step. So the previous step's gradients are live during the forward pass, as in the real loop, and
a peak in the backward pass holds only the gradients computed so far. Adam's state includes its
step counters: one 4-byte tensor per parameter tensor.

Why not `torch.distributed._tools.mem_tracker.MemTracker` (torch 2.14): it works on CPU tensors,
but its module and optimizer hooks are process-global (`register_module_forward_pre_hook`,
`register_optimizer_step_pre_hook`), and this app runs each session's jobs in threads of one
process. With an mlp training in a second thread, measuring the cnn raised "RuntimeError: The
Module hierarchy tracking is wrong" in the measuring thread (another thread's modules and
optimizer state would also be counted). It also files every forward tensor as an activation and
the optimizer's temporaries as optimizer state. The tracker here uses only thread-local machinery
(the dispatch mode and saved-tensor hooks) and finalizers on its own storages.

Not counted: memory no tensor owns (oneDNN or BLAS scratch, allocator caching and rounding,
Python objects). On the CPU there is no allocator counter, so the peak is this live-tensor peak.
On CUDA `torch.cuda.max_memory_allocated` (peak reset before each measurement, less what was
allocated before this function made its copy) is reported beside it; it includes the allocator's
512-byte rounding, cuBLAS workspace, and whatever other threads allocate on that GPU meanwhile.
fp32 only: no mixed precision.
"""

from __future__ import annotations

import contextlib
import copy
import weakref
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from dashboard.lab.serial import Record
from dashboard.lab.training.train import OPTIMIZERS, make_optimizer, resolve_layout

CATEGORIES = ("weights", "gradients", "optimizer_state", "activations", "other")


@dataclass(frozen=True)
class MemoryBreakdown(Record):
    """What was live at the peak, in bytes; the five parts add up to `peak` exactly."""

    weights: int
    gradients: int
    optimizer_state: int
    activations: int
    other: int
    peak: int
    phase: str  # where the peak happened: "forward" (loss included), "backward" or "optimizer step"


@dataclass(frozen=True)
class MemoryComparison:
    """One training step against one inference of the same model and batch."""

    batch_size: int
    optimizer: str
    training: MemoryBreakdown
    inference: MemoryBreakdown
    weight_bytes: int           # whole sizes, whether or not all of it was live at the peak
    gradient_bytes: int
    optimizer_state_bytes: int
    device: str
    layout: str                 # contiguous or channels_last
    method: str
    cuda_peak_training: int | None = None   # torch.cuda.max_memory_allocated; None off CUDA
    cuda_peak_inference: int | None = None

    @property
    def ratio(self) -> float:
        """Training peak / inference peak."""
        return self.training.peak / self.inference.peak

    def to_dict(self) -> dict:
        return {**asdict(self), "ratio": self.ratio}


def _key(t: torch.Tensor) -> int:
    # A storage's Python object lives exactly as long as the storage (PyObject preservation),
    # so its id names the storage while it is alive.
    return id(t.untyped_storage())


class _Tracker(TorchDispatchMode):
    """Live tensor storage of this thread, its peak, and the role of each storage live at the peak.

    Each storage gets a token (ids are reused after a free; tokens are not). Roles are noted over
    the whole measurement, then applied to the storages live at the peak (see the module doc).
    """

    def __init__(self, module: nn.Module, optimizer: torch.optim.Optimizer | None,
                 batch: Iterable[torch.Tensor], *, inference: bool):
        super().__init__()
        self.params = list(module.parameters())
        self.optimizer = optimizer
        self.inference = inference
        self.phase = "forward"
        self._tokens: dict[int, int] = {}  # id(storage) -> token, live storages only
        self._sizes: dict[int, int] = {}   # token -> bytes, live storages only
        self._roles: dict[int, str] = {}   # token -> weights / gradients / optimizer_state / batch
        self._saved: set[int] = set()      # tokens autograd saved for backward
        self._finalizers: list[weakref.finalize] = []
        self.live = 0
        self.peak = 0
        self._at_peak: dict[int, int] = {}
        self._peak_phase = "forward"
        for t in [*batch, *module.buffers()]:
            self._roles[self._register(t)] = "batch"
        self._note_roles()

    def _register(self, t: torch.Tensor) -> int:
        st = t.untyped_storage()
        token = self._tokens.get(id(st))
        if token is None:
            token = self._tokens[id(st)] = len(self._finalizers)
            self._sizes[token] = st.nbytes()
            self.live += st.nbytes()
            self._finalizers.append(weakref.finalize(st, self._free, id(st)))
        return token

    def _free(self, key: int) -> None:
        self.live -= self._sizes.pop(self._tokens.pop(key))

    def _note_roles(self) -> None:
        """Weights, the gradients and optimizer state there are now (before and after the step)."""
        state = [] if self.optimizer is None else _state_tensors(self.optimizer)
        for role, tensors in (("optimizer_state", state),
                              ("gradients", [p.grad for p in self.params if p.grad is not None]),
                              ("weights", self.params)):
            for t in tensors:
                self._roles[self._register(t)] = role

    def _pack(self, t: torch.Tensor) -> torch.Tensor:
        self._saved.add(self._register(t))
        return t

    def saving(self) -> contextlib.AbstractContextManager:
        """Record what autograd saves for backward inside this context."""
        return torch.autograd.graph.saved_tensors_hooks(self._pack, lambda t: t)

    def __enter__(self):
        self.peak, self._at_peak = self.live, dict(self._sizes)
        return super().__enter__()

    def __exit__(self, *exc):
        self._note_roles()
        for f in self._finalizers:
            f.detach()   # the model copy outlives the measurement; its frees are not ours to count
        return super().__exit__(*exc)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor):
                self._register(t)
        if self.live > self.peak:
            self.peak, self._at_peak, self._peak_phase = self.live, dict(self._sizes), self.phase
        return out

    def breakdown(self) -> MemoryBreakdown:
        parts = dict.fromkeys(CATEGORIES, 0)
        for token, size in self._at_peak.items():
            role = self._roles.get(token)
            if role == "batch":
                role = "other"
            elif role is None:
                made_here = self.inference or token in self._saved
                role = "activations" if made_here else "other"
            parts[role] += size
        return MemoryBreakdown(**parts, peak=self.peak, phase=self._peak_phase)


def _state_tensors(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    return [v for state in optimizer.state.values() for v in state.values() if isinstance(v, torch.Tensor)]


def _nbytes(tensors: Iterable[torch.Tensor]) -> int:
    """Bytes of the distinct storages under these tensors."""
    storages = {_key(t): t.untyped_storage().nbytes() for t in tensors}
    return sum(storages.values())


def _train_step(model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
                tracker: _Tracker | None = None) -> None:
    """One step in train.Training's order."""
    def phase(name: str) -> None:
        if tracker is not None:
            tracker.phase = name

    phase("forward")
    with tracker.saving() if tracker is not None else contextlib.nullcontext():
        out = model(x)
        loss = F.cross_entropy(out, y)
    phase("backward")
    opt.zero_grad(set_to_none=True)
    loss.backward()
    phase("optimizer step")
    opt.step()


def _cuda_peak(device: torch.device, base: int, run: Callable[[], None]) -> int | None:
    """Run; on CUDA, the allocator's peak during it less `base` (bytes allocated before our tensors)."""
    if device.type != "cuda":
        run()
        return None
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    run()
    torch.cuda.synchronize(device)
    return torch.cuda.max_memory_allocated(device) - base


def compare_memory(module: nn.Module, in_shape: tuple[int, ...], *, batch_size: int,
                   optimizer: str = "adam", lr: float = 1e-3, device: str | torch.device = "cpu",
                   layout: str = "auto") -> MemoryComparison:
    """Peak memory of one training step vs one inference of `module` at `batch_size` (see module doc).

    `layout` as TrainConfig.layout: "auto" is channels_last for conv nets on the CPU, as training
    uses (`train.resolve_layout`). The caller's module is deep-copied and left as it was.
    """
    if batch_size < 1:
        raise ValueError("batch size must be at least 1")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, not {optimizer!r}")
    dev = torch.device(device)
    fmt = torch.channels_last if resolve_layout(layout, module, dev) == "channels_last" else torch.contiguous_format
    base = torch.cuda.memory_allocated(dev) if dev.type == "cuda" else 0
    model = copy.deepcopy(module).to(dev, memory_format=fmt)
    for p in model.parameters():
        p.grad = None
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch_size, *in_shape, generator=gen).to(dev, memory_format=fmt)

    model.eval()
    infer = _Tracker(model, None, [x], inference=True)
    outputs: list[torch.Tensor] = []

    def run_inference() -> None:
        with infer, torch.inference_mode():
            outputs.append(model(x))

    cuda_inference = _cuda_peak(dev, base, run_inference)
    num_classes = outputs.pop().shape[1]

    model.train()
    y = torch.randint(0, num_classes, (batch_size,), generator=gen).to(dev)
    opt = make_optimizer(optimizer, model.parameters(), lr)
    # Warm-up on one image: the optimizer state and last step's gradients do not depend on the batch.
    _train_step(model, opt, x[:1], y[:1])
    train = _Tracker(model, opt, [x, y], inference=False)

    def run_training() -> None:
        with train:
            _train_step(model, opt, x, y, train)

    cuda_training = _cuda_peak(dev, base, run_training)

    params = list(model.parameters())
    method = ("live-tensor peak (TorchDispatchMode tracker); "
              + ("CUDA: torch.cuda.max_memory_allocated alongside" if dev.type == "cuda"
                 else "CPU: no allocator counter, so the peak is the tracker's"))
    return MemoryComparison(
        batch_size=batch_size, optimizer=optimizer, training=train.breakdown(), inference=infer.breakdown(),
        weight_bytes=_nbytes(params), gradient_bytes=_nbytes(p.grad for p in params if p.grad is not None),
        optimizer_state_bytes=_nbytes(_state_tensors(opt)), device=str(dev),
        layout="channels_last" if fmt == torch.channels_last else "contiguous", method=method,
        cuda_peak_training=cuda_training, cuda_peak_inference=cuda_inference)

"""The student's versions as the ONNX files a browser runs (onnxruntime-web), and the server's figure for each:
the same file in native ONNX Runtime on this server, 1 thread, one image per call.

    files, left_out = plan(names)                         # which files stand for which measured versions
    bset = export_set(variants, trained, dataset, names, calibration_images=1024)
    fill_server_figures(bset, dataset)                    # native ONNX Runtime, 1 thread, batch 1

A browser runs three kinds of file: the fp32 model, int8 made by ONNX Runtime's own quantizer (torch.ao's int8
graphs have no ONNX form), and the channel-pruned model; each stands for the measured versions it is the ONNX form
of (fp32 and onnxruntime-fp32 are one file). Where ONNX Runtime already ran a file on Compress, that very file is
used; otherwise it is exported now (lab.serving.onnx_export, through runtimes.export_float / quantize_int8). The
browser measures with one thread (threads need cross-origin isolation, which Streamlit does not give), so the server
is timed with one too: the ratio then compares runtimes, not thread counts.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from dashboard.lab import hardware
from dashboard.lab.inputs.data import Dataset
from dashboard.lab.measure import bench
from dashboard.lab.measure.bench import BenchResult, BenchSettings
from dashboard.lab.serving import onnx_export, runtimes
from dashboard.lab.training.train import TrainedModel
from dashboard.lab.training.variant import Variant

THREADS = 1            # both sides: the browser's WebAssembly build runs one thread here
MAX_FILES = 6          # files sent to one browser (each is a WebSocket message of up to ~2 MB for the cnn)
# The server's timing of each file: short, as the device profiles' (a student waits for it), quiet-checked.
SERVER_BENCH = BenchSettings(rounds=3, batch1_min_calls=60, batch1_min_seconds=0.3, batch_size=1,
                             batch_min_seconds=0.06, warmup_seconds=0.1, threads=THREADS, energy=False,
                             quiet_wait_s=1.0, retry_budget_s=6.0)


@dataclass(frozen=True)
class BrowserTiming:
    """How the browser times each file (ui/device_component/measure.js, sent with the files): two warm-up passes of
    `warmup_ms` over every file, then `rounds` rounds over every file in a rotated order, `batches_per_round` batches
    of each per round, each batch sized to last about `batch_ms` (the page's clock steps by about 0.1 ms, about one
    call of the lab's cnn, so calls are timed in batches and divided)."""
    warmup_ms: float = 300.0   # WebAssembly first runs from a quick compile: without it the first batches read 2-6x slow
    batch_ms: float = 10.0     # 100 steps of a 0.1 ms clock
    rounds: int = 5
    batches_per_round: int = 6


BROWSER_TIMING = BrowserTiming()

FP32, INT8_STATIC, INT8_DYNAMIC = "fp32", "int8-static", "int8-dynamic"
_PRUNED = re.compile(r"^pruned-channels-(\d+)(\+onnxruntime)?$")


@dataclass
class BrowserModel:
    """One ONNX file the browser runs, and the server's figure for the same file."""

    name: str                    # what the file is: "fp32", "int8-static", "int8-dynamic", "pruned-channels-50"
    stands_for: list[str]        # the session's measured versions it is the ONNX form of
    computes: str                # the arithmetic its kernels do: "fp32", "int8-static", "int8-dynamic"
    how: str                     # how the file was made
    onnx: bytes = field(repr=False)
    reference: list[float] = field(default_factory=list)   # native ONNX Runtime's logits for the example image
    server_p50_ms: float | None = None       # native ONNX Runtime, THREADS thread(s), single calls: median
    server_p95_ms: float | None = None
    server_disturbed: str = ""               # why the server's figure stayed disturbed ("" = checked quiet)
    server_source: str = ""                  # "" = timed for this set; else where the figure was measured
    accuracy: float | None = None            # of this file, on the test split, as native ONNX Runtime ran it

    @property
    def size_bytes(self) -> int:
        return len(self.onnx)


@dataclass
class BrowserSet:
    """Every file one browser measurement needs, made once per model and set of measured versions."""

    key: tuple                   # what it was made for, as the caller names it (the app: model digest, versions)
    models: list[BrowserModel]
    example: bytes = field(repr=False)       # one normalised test image, float32 little-endian, `shape`
    shape: tuple[int, ...] = ()
    left_out: dict[str, str] = field(default_factory=dict)   # measured version -> why no browser file
    machine: str = ""                        # the server's CPU
    machine_features: list[str] = field(default_factory=list)   # its vector and int8 features, in words
    runs: list = field(default_factory=list)   # lab.deploy.browser_result.DeviceRun, newest last (service keeps a few)

    def model(self, name: str) -> BrowserModel | None:
        return next((m for m in self.models if m.name == name), None)


def _kind(name: str) -> tuple[str, str] | None:
    """(file, computes) for a measured version that has a browser file, else None."""
    if name in ("fp32", "onnxruntime-fp32"):
        return FP32, FP32
    if name in ("int8-static", "onnxruntime-int8"):
        return INT8_STATIC, INT8_STATIC
    if name == "int8-dynamic":
        return INT8_DYNAMIC, INT8_DYNAMIC
    if m := _PRUNED.match(name):
        return f"pruned-channels-{m.group(1)}", FP32
    return None


def _why_not(name: str) -> str:
    if "+" in name:
        return "two techniques together: its ONNX form is not made for the browser here"
    if name == "compiled":
        return "torch.compile's kernels are this server's machine code; in the browser it would be fp32's file"
    if name.startswith(("bf16", "fp16")):
        return "16-bit floats: onnxruntime-web's CPU build runs them no faster than fp32 (no 16-bit arithmetic)"
    if name.startswith("pruned-unstructured"):
        return "zeroed weights stay in dense layers: in the browser it is fp32's work with other numbers"
    return "no ONNX form for the browser is made for this kind of version"


def plan(names: list[str]) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Which files a browser runs for the measured versions `names` ({file: [versions it stands for]}, fp32 first
    and always) and the versions left out with why."""
    files: dict[str, list[str]] = {FP32: []}
    left_out: dict[str, str] = {}
    for name in names:
        kind = _kind(name)
        if kind is None:
            left_out[name] = _why_not(name)
        elif kind[0] in files or len(files) < MAX_FILES:
            files.setdefault(kind[0], []).append(name)
        else:
            left_out[name] = f"at most {MAX_FILES} files are sent to a browser"
    return files, left_out


def _ort_bytes(variants: dict[str, Variant], name: str) -> tuple[bytes, dict] | None:
    """The file ONNX Runtime ran for `name` on Compress, with how it was made, if that version is at hand."""
    v = variants.get(name)
    if v is None or not v.available or not isinstance(v.module, runtimes.OrtModule):
        return None
    return v.saved_bytes(), dict(v.details)


def _quantized(fp32: bytes, how: str, calibration: torch.Tensor, dynamic: bool) -> tuple[bytes, str, str]:
    """fp32 ONNX bytes -> int8 by ONNX Runtime's quantizer: (bytes, what it computes, how it was made)."""
    if dynamic:
        from onnxruntime.quantization import QuantType, quantize_dynamic
        from onnxruntime.quantization.shape_inference import quant_pre_process
        with tempfile.TemporaryDirectory(prefix="til-browser-int8-") as tmp:
            src, pre, out = Path(tmp, "fp32.onnx"), Path(tmp, "pre.onnx"), Path(tmp, "int8.onnx")
            src.write_bytes(fp32)
            try:   # ORT's advice before quantizing (as runtimes.quantize_int8 does for the static one)
                quant_pre_process(str(src), str(pre))
                src = pre
            except Exception:  # noqa: BLE001  advice, not a requirement
                pass
            quantize_dynamic(str(src), str(out), per_channel=True, weight_type=QuantType.QInt8)
            data = out.read_bytes()
        return data, INT8_DYNAMIC, (f"{how}, then int8 weights (per channel) by ONNX Runtime's quantize_dynamic; "
                                    "activations are quantized on every call")
    data, info = runtimes.quantize_int8(fp32, calibration)
    return data, *_int8_how(how, info)


def _int8_how(source: str, info: dict) -> tuple[str, str]:
    if str(info.get("quantizer", "")).endswith("quantize_static"):
        return INT8_STATIC, (f"{source}, then int8 weights and activations by ONNX Runtime's quantize_static "
                             f"({info.get('format', 'QDQ')}, ranges from {info.get('calibration_images')} training "
                             "images)")
    return INT8_DYNAMIC, (f"{source}, then int8 by ONNX Runtime's quantize_dynamic "
                          f"({info.get('why_dynamic', 'static quantization failed')})")


def export_set(variants: list[Variant], trained: TrainedModel, dataset: Dataset, names: list[str], *,
               calibration_images: int = 1024, key: tuple = (),
               on_progress: Callable[[float, str], None] | None = None,
               should_stop: Callable[[], bool] | None = None) -> BrowserSet | None:
    """The browser's files for the measured versions `names` (made again as `variants`), each with native ONNX
    Runtime's logits for one test image. None when stopped. Raises only when fp32's own export fails."""
    progress = on_progress or (lambda f, m: None)
    stop = should_stop or (lambda: False)
    by_name = {v.name: v for v in variants}
    files, left_out = plan(names)
    in_shape = trained.spec.in_shape
    made = _ort_bytes(by_name, "onnxruntime-fp32")
    fp32_how = "the fp32 model exported to ONNX"
    if made is not None:
        fp32, fp32_how = made[0], "the file ONNX Runtime ran on Compress (onnxruntime-fp32)"
    else:
        fp32, exporter = runtimes.export_float(trained.module, in_shape)
        fp32_how += f" ({exporter.split(';')[0]})"
    calibration = dataset.prepare(dataset.train_images[:calibration_images])
    models: list[BrowserModel] = []
    for i, (file, stands_for) in enumerate(files.items()):
        if stop():
            return None
        progress(i / len(files), f"making the ONNX file of {file}")
        try:
            models.append(_one_file(file, stands_for, fp32, fp32_how, by_name, calibration, in_shape))
        except Exception as exc:  # noqa: BLE001  one file that cannot be made leaves only itself out
            if file == FP32:
                raise
            why = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            left_out.update({name: f"its ONNX file could not be made: {why}" for name in stands_for})
    example = dataset.test_tensors(1)[0][:1].contiguous()
    for m in models:
        sess = runtimes.session(m.onnx, THREADS)
        out = sess.run([onnx_export.OUTPUT_NAME], {onnx_export.INPUT_NAME: example.numpy()})
        m.reference = [float(x) for x in np.asarray(out[0]).reshape(-1)]
    progress(1.0, "files made")
    hw = hardware.describe("cpu")
    return BrowserSet(key, models, example.numpy().astype("<f4").tobytes(), tuple(example.shape), left_out,
                      hw.cpu, hw.feature_labels)


def _one_file(file: str, stands_for: list[str], fp32: bytes, fp32_how: str, by_name: dict[str, Variant],
              calibration: torch.Tensor, in_shape) -> BrowserModel:
    if file == FP32:
        return BrowserModel(FP32, stands_for, FP32, fp32_how, fp32)
    if file in (INT8_STATIC, INT8_DYNAMIC):
        made = _ort_bytes(by_name, "onnxruntime-int8") if file == INT8_STATIC else None
        if made is not None:
            computes, how = _int8_how("the file ONNX Runtime ran on Compress (onnxruntime-int8): fp32's file", made[1])
            return BrowserModel(file, stands_for, computes, how, made[0])
        data, computes, how = _quantized(fp32, "fp32's file", calibration, dynamic=file == INT8_DYNAMIC)
        return BrowserModel(file, stands_for, computes, how, data)
    made = _ort_bytes(by_name, f"{file}+onnxruntime")
    if made is not None:
        return BrowserModel(file, stands_for, FP32, f"the file ONNX Runtime ran on Compress ({file}+onnxruntime)",
                            made[0])
    base = by_name.get(file)
    if base is None or not base.available or base.module is None:
        raise ValueError(f"{file} is not at hand to export")
    data, exporter = runtimes.export_float(base.module, in_shape)
    return BrowserModel(file, stands_for, FP32, f"the {file} model exported to ONNX "
                                                f"({exporter.split(';')[0]})", data)


def _variant(m: BrowserModel) -> Variant:
    data = m.onnx
    return Variant(m.name, runtimes.OrtModule(runtimes.session(data, THREADS)), m.how, saved_as="ONNX file",
                   serialize=lambda: data)


def reusable(m: BrowserModel, known: list[BenchResult]) -> BenchResult | None:
    """A quiet Compress figure of the very file at THREADS thread(s), batch 1 (one measured thing, one figure)."""
    ort_name = {FP32: "onnxruntime-fp32", INT8_STATIC: "onnxruntime-int8"}.get(m.name, f"{m.name}+onnxruntime")
    r = next((r for r in known if r.name == ort_name), None)
    if (r is None or not r.available or r.threads != THREADS or not r.latency_ms_batch1_p50
            or r.is_disturbed("batch1") or ort_name not in m.how):
        return None
    return r


def fill_server_figures(bset: BrowserSet, dataset: Dataset, *, known: list[BenchResult] | None = None,
                        known_from: str = "Compress & benchmark",
                        on_progress: Callable[[float, str], None] | None = None,
                        should_stop: Callable[[], bool] | None = None) -> None:
    """Each file's p50 / p95 of single calls and accuracy in native ONNX Runtime with THREADS thread(s), quiet-checked
    (lab.measure.bench); a quiet figure of the same file at those threads in `known` is read, not timed again."""
    todo = []
    for m in bset.models:
        r = reusable(m, known or [])
        if r is not None:
            m.server_p50_ms, m.server_p95_ms, m.accuracy = r.latency_ms_batch1_p50, r.latency_ms_batch1_p95, r.accuracy
            m.server_source = known_from
        else:
            todo.append(m)
    if not todo:
        return
    results = bench.measure([_variant(m) for m in todo], dataset, SERVER_BENCH, on_progress=on_progress,
                            should_stop=should_stop, baseline=FP32)
    for m, r in zip(todo, results):
        if r.latency_ms_batch1_p50:
            m.server_p50_ms, m.server_p95_ms, m.accuracy = r.latency_ms_batch1_p50, r.latency_ms_batch1_p95, r.accuracy
            m.server_disturbed = r.disturbed.get("batch1", "")


__all__ = ["BROWSER_TIMING", "FP32", "INT8_DYNAMIC", "INT8_STATIC", "MAX_FILES", "SERVER_BENCH", "THREADS",
           "BrowserModel", "BrowserSet", "BrowserTiming", "export_set", "fill_server_figures", "plan", "reusable"]

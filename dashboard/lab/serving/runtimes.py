"""The model in runtimes built for inference: ONNX Runtime (fp32, and int8 by its own quantizer) and
compiled PyTorch (torch.compile).

    onnxruntime-fp32                the fp32 model exported to ONNX (lab.serving.onnx_export), run by ONNX Runtime
    onnxruntime-int8                that file quantized by ONNX Runtime's own static quantizer (QDQ, per channel)
    pruned-channels-N+onnxruntime   the channel-pruned model in ONNX Runtime (fewer FLOPs and a leaner runtime)
    compiled                        the fp32 model through torch.compile (inductor): needs a C++ compiler

ONNX Runtime is a regular dependency; it is imported here lazily (a variant that needs it imports
it), so the app's start-up and memory do not pay for it until a student asks for an ORT variant.

Session options (every ORT variant, `session_options`), measured on the default cnn at batch 1 on
the 2-vCPU development VM (ORT 1.32, 2 threads; p50 per call, fp32 eager channels_last ~165 us):

- intra-op threads = torch's thread count (the server's), inter-op 1, sequential execution: the
  same cores as every PyTorch variant. One thread: 85 us vs 57 us with two (fp32 cnn).
- graph optimisation ORT_ENABLE_ALL (NCHWc conv layouts, Conv+ReLU and Gemm+ReLU fusion): 57 us;
  ORT_ENABLE_EXTENDED 115 us; ORT_ENABLE_BASIC 126 us. ALL is ORT's default; set explicitly.
- spinning worker threads (ORT's default `session.intra_op.allow_spinning=1`): 57 us; without
  spinning 113 us (each call wakes the pool). Parallel execution mode: the same as sequential.
- IOBinding: with input and output bound once to fixed buffers (one batch shape, the input copied
  in), 51 us against `session.run`'s 56 us; rebinding per call, as any batch size needs, 60 us
  against 58 us: no gain, so not used. `run_with_ort_values` was slower (99 us).
  (benchmarks/compress.py measures these levers on every run: "ONNX Runtime levers".)

ORT int8 (same machine, default cnn, 1,024 calibration images): accuracy 98.05 % (fp32 98.05 %),
file 430 KiB (fp32 1,661 KiB), but no faster than ORT fp32: 56 us at batch 1 (fp32 56 us) and
0.96x ORT fp32's batch-256 throughput, where torch.ao's FX int8 (oneDNN, AMX) runs 2.7x ORT fp32.
ORT's profiler: the first QLinearConv (1 input channel: a 9-long dot product per output) costs
25 us where the fp32 NCHWc conv costs 11 us. Activations uint8 (U8S8) ran as fast as S8S8;
per-tensor weights as fast as per-channel (98.00 %); leaving the first conv in fp32 was slower
(109 us: an extra quantize boundary and layout reorders).
"""

from __future__ import annotations

import copy
import dataclasses
import re
import tempfile
import time
import types
from pathlib import Path

import torch
from torch import nn

from dashboard.lab.serving import onnx_export
from dashboard.lab.inputs.data import EVAL_BATCH
from dashboard.lab.training.variant import Variant, unavailable, with_stats

CALIBRATION_BATCH = 64   # images per calibration batch fed to ORT's quantizer
# torch.compile mode: "max-autotune-no-cudagraphs" measured the same at batch 1 on the default cnn
# (185 us both, interleaved, 2 threads), so the default mode.
COMPILE_MODE = "default"
# What the compiled graphs are made for before anything is measured: (batch size, made inside
# inference_mode). Dynamo guards on the batch size (batch 1 gets its own graph; the second size
# seen gets a graph with a dynamic batch that serves later sizes) and on the input's dispatch keys,
# which differ between tensors made outside inference_mode (the bench times those, at batch 1 and
# 256) and inside it (its accuracy pass makes its batches there, EVAL_BATCH images each).
COMPILE_WARMUP_BATCHES = ((1, False), (256, False), (EVAL_BATCH, True))
# Largest |compiled - eager| logit difference accepted (float32 reassociation is ~1e-5 here).
COMPILE_TOLERANCE = 1e-3


def _first_line(text: str) -> str:
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return (lines[0] if lines else "")[:300]


# ---------------------------------------------------------------- ONNX Runtime


def _ort():
    """onnxruntime, or ImportError with a message a student can act on."""
    try:
        import onnxruntime
    except ImportError as exc:  # a broken install: it is a declared dependency
        raise ImportError(f"onnxruntime is not installed or does not import ({_first_line(exc)}); reinstall "
                          "the lab (pip install -e .), which depends on it") from exc
    return onnxruntime


def session_options(threads: int | None = None, *, spinning: bool = True):
    """The SessionOptions every ORT variant uses (measured choices in the module docstring);
    `spinning=False` only to measure what spinning gives (benchmarks/compress.py)."""
    ort = _ort()
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    options.log_severity_level = 3  # errors only: ORT's warnings about its own graph rewrites are not the user's
    return options


def session(model_bytes: bytes, threads: int | None = None):
    """An ONNX Runtime CPU session for an ONNX file's bytes."""
    ort = _ort()
    return ort.InferenceSession(model_bytes, session_options(threads), providers=["CPUExecutionProvider"])


def _options_summary(threads: int) -> dict:
    return {"intra_op_num_threads": threads, "inter_op_num_threads": 1, "execution_mode": "sequential",
            "graph_optimization_level": "ORT_ENABLE_ALL", "allow_spinning": True, "provider": "CPUExecutionProvider"}


def export_float(module: nn.Module, in_shape: tuple[int, int, int]) -> tuple[bytes, str]:
    """A float module (any memory layout) as ONNX bytes with a dynamic batch, and which exporter made it."""
    plain = copy.deepcopy(module).eval().to(memory_format=torch.contiguous_format)
    return onnx_export.export(plain, torch.zeros(1, *in_shape))


def _ort_variant(name: str, float_module: nn.Module, in_shape: tuple[int, int, int], how: str,
                 note: str = "") -> Variant:
    try:
        ort = _ort()
    except ImportError as exc:
        return unavailable(name, "ONNX Runtime", str(exc))
    try:
        model_bytes, exporter = export_float(float_module, in_shape)
        threads = torch.get_num_threads()
        sess = session(model_bytes, threads)
    except Exception as exc:  # noqa: BLE001  an export or load failure makes the variant unavailable, never the run fail
        return unavailable(name, "ONNX Runtime", f"ONNX export or load failed: {_first_line(exc)}")
    v = Variant(name, OrtModule(sess, float_module),
                f"{how} exported to ONNX ({exporter}), run by ONNX Runtime {ort.__version__} (CPU provider)",
                note=(f"{note}; " if note else "") + f"{threads} ORT threads, set when the session was made",
                saved_as="ONNX file", serialize=lambda: model_bytes,
                details={"onnxruntime": ort.__version__, "session": _options_summary(threads)})
    return with_stats(v, float_module, in_shape)


def onnxruntime_fp32(b) -> Variant:
    """The fp32 model exported to ONNX and run by ONNX Runtime: what a deployment runtime gets."""
    return _ort_variant(b.name, b.trained.module, b.trained.spec.in_shape, "the fp32 model")


def pruned_onnxruntime(b, percent: int) -> Variant:
    """The channel-pruned (fine-tuned) model in ONNX Runtime: fewer FLOPs, and the runtime's lean per-call path."""
    base = b.variant(f"pruned-channels-{percent}")
    if not base.available:
        return unavailable(b.name, "ONNX Runtime", f"{base.name} is not available: {base.note}")
    v = _ort_variant(b.name, base.module, b.trained.spec.in_shape, f"{base.name} (fine-tuned)",
                     note=f"the {base.name} weights, fine-tuned as there")
    v.accuracy_before_finetune = base.accuracy_before_finetune
    v.sparsity = base.sparsity
    return v


class _Calibration:
    """ORT's CalibrationDataReader protocol over normalised training images, in small batches."""

    def __init__(self, images: torch.Tensor, batch: int = CALIBRATION_BATCH):
        array = images.contiguous().numpy()
        self._batches = iter([{onnx_export.INPUT_NAME: array[i:i + batch]} for i in range(0, len(array), batch)])

    def get_next(self):
        return next(self._batches, None)


def quantize_int8(model_bytes: bytes, calibration_images: torch.Tensor) -> tuple[bytes, dict]:
    """ONNX fp32 bytes -> ONNX int8 bytes by ONNX Runtime's own quantizer, and how it was done.

    Static QDQ quantization (`quantize_static`), weights per channel, activations and weights int8
    (S8S8, ORT's default and recommended first choice for QDQ), MinMax ranges from the calibration
    images; ORT's pre-processing (shape inference, graph optimisation) first when it succeeds.
    Where static quantization fails, dynamic (`quantize_dynamic`, no calibration) with the reason.
    """
    import onnx
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_dynamic, quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Calibration(_Calibration, CalibrationDataReader):
        pass

    reader = Calibration(calibration_images)
    how: dict = {"quantizer": "onnxruntime.quantization.quantize_static", "format": "QDQ",
                 "activations": "int8", "weights": "int8", "per_channel": True, "calibration": "MinMax",
                 "calibration_images": len(calibration_images)}
    with tempfile.TemporaryDirectory(prefix="til-ort-int8-") as tmp:
        fp32, pre, out = Path(tmp, "fp32.onnx"), Path(tmp, "pre.onnx"), Path(tmp, "int8.onnx")
        fp32.write_bytes(model_bytes)
        source = fp32
        try:
            quant_pre_process(str(fp32), str(pre))
            source = pre
            how["pre_processing"] = "quant_pre_process (shape inference, optimisation)"
        except Exception as exc:  # noqa: BLE001  pre-processing is advice, not a requirement
            how["pre_processing"] = f"skipped, it failed: {_first_line(exc)}"
        try:
            quantize_static(str(source), str(out), reader, quant_format=QuantFormat.QDQ, per_channel=True,
                            activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                            calibrate_method=CalibrationMethod.MinMax)
        except Exception as exc:  # noqa: BLE001  an op the static quantizer cannot handle: dynamic instead
            how = {"quantizer": "onnxruntime.quantization.quantize_dynamic", "format": "QOperator",
                   "activations": "int8, ranges per batch at run time", "weights": "int8", "per_channel": True,
                   "why_dynamic": f"quantize_static failed: {_first_line(exc)}"}
            quantize_dynamic(str(source), str(out), per_channel=True, weight_type=QuantType.QInt8)
        data = out.read_bytes()
    onnx.checker.check_model(onnx.load_from_string(data))
    return data, how


def onnxruntime_int8(b) -> Variant:
    """The fp32 ONNX file quantized by ONNX Runtime's own quantizer, run by ONNX Runtime."""
    trained, dataset, settings = b.trained, b.dataset, b.settings
    try:
        ort = _ort()
        fp32_bytes, exporter = export_float(trained.module, trained.spec.in_shape)
        images = dataset.prepare(dataset.train_images[:settings.calibration_images])
        start = time.perf_counter()
        model_bytes, how = quantize_int8(fp32_bytes, images)
        seconds = time.perf_counter() - start
        threads = torch.get_num_threads()
        sess = session(model_bytes, threads)
    except Exception as exc:  # noqa: BLE001  unavailable with the reason, never a failed run
        return unavailable(b.name, "ONNX Runtime int8", f"ONNX Runtime int8 quantization failed: {_first_line(exc)}")
    static = how["quantizer"].endswith("quantize_static")
    made = (f"int8 weights (per channel) and activations, ranges calibrated on {how['calibration_images']} training "
            f"images" if static else f"int8 weights (per channel), activations quantized per batch at run time "
                                     f"({how['why_dynamic']})")
    v = Variant(b.name, OrtModule(sess, trained.module),
                f"the fp32 model exported to ONNX ({exporter}), {made} by ONNX Runtime's quantizer "
                f"({how['quantizer'].rsplit('.', 1)[-1]}, {how['format']}), run by ONNX Runtime {ort.__version__}",
                note=f"ORT fuses the QuantizeLinear/DequantizeLinear pairs into int8 kernels (QLinearConv, QGemm); "
                     f"{threads} ORT threads",
                saved_as="ONNX file (int8, QDQ)" if static else "ONNX file (int8)", serialize=lambda: model_bytes,
                details={**how, "quantize_seconds": round(seconds, 3), "onnxruntime": ort.__version__,
                         "session": _options_summary(threads)})
    return with_stats(v, trained.module, trained.spec.in_shape)


class OrtModule(nn.Module):
    """An ONNX Runtime session called like a torch module (fp32 tensors in, logits out). `source` is
    the torch model it was exported from (lab.deploy.edge measures activations on it), kept out of this
    module's submodules and state."""

    own_thread_pool = True   # its calls run on ORT's own threads: lab.measure.bench settles torch's before timing

    def __init__(self, session, source: nn.Module | None = None):
        super().__init__()
        self.session = session
        self._outputs = [onnx_export.OUTPUT_NAME]
        object.__setattr__(self, "_source", source)

    @property
    def source(self) -> nn.Module | None:
        return self._source

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.session.run(self._outputs, {onnx_export.INPUT_NAME: x.contiguous().numpy()})[0]
        return torch.from_numpy(out)


def with_threads(variant: Variant, threads: int) -> Variant:
    """The variant computing on `threads` threads: an ONNX Runtime version gets a new session (its
    thread count is fixed when the session is made); a torch one is returned as it is (torch's
    thread count is set by whoever times it, lab.measure.bench)."""
    module = variant.module
    if not isinstance(module, OrtModule) or module.session.get_session_options().intra_op_num_threads == threads:
        return variant
    sess = session(variant.saved_bytes(), threads)
    return dataclasses.replace(variant, module=OrtModule(sess, module.source),
                               note=re.sub(r"\d+ ORT threads", f"{threads} ORT threads", variant.note),
                               details={**variant.details, "session": _options_summary(threads)})


# ---------------------------------------------------------------- torch.compile


def _private_forward(module: nn.Module):
    """`module(x)` as a function with a code object of its own.

    Dynamo keeps compiled graphs per code object and, past `recompile_limit` (8) entries, silently
    runs eagerly. `torch.compile(module)` files every compiled copy of a model class under the same
    code (nn.Module's call), so in a server that compiles many students' models the ninth would
    quietly be measured as eager PyTorch, and a second copy reuses the first one's graphs. A fresh
    code object per variant gives each its own cache (2-3 entries: batch 1, a dynamic batch), freed
    with the variant.
    """
    def forward(x):
        return module(x)

    code = forward.__code__.replace()  # a new code object with the same bytecode
    return types.FunctionType(code, forward.__globals__, "forward", None, forward.__closure__)


class CompiledModule(nn.Module):
    """A torch.compile'd float model called like a module. The float model is kept outside the
    module tree (`float_module`) so layout and copy helpers treat the compiled graph as one unit:
    it was compiled for one input layout and is not converted afterwards."""

    def __init__(self, float_module: nn.Module, compiled):
        super().__init__()
        object.__setattr__(self, "float_module", float_module)
        object.__setattr__(self, "_compiled", compiled)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._compiled(x)

    def __deepcopy__(self, memo):
        return self  # read-only weights and a compiled graph: a copy would only recompile

    def state_dict(self, *args, **kwargs):
        return self.float_module.state_dict(*args, **kwargs)


def _compile_counters() -> dict[str, int]:
    from torch._dynamo.utils import counters

    return {k: int(counters["inductor"].get(k, 0)) for k in ("fxgraph_cache_hit", "fxgraph_cache_miss")}


def _label(n: int, inference_tensor: bool) -> str:
    return f"batch {n}" + (" (inference tensors)" if inference_tensor else "")


def compile_module(float_module: nn.Module, images: torch.Tensor, prepare=lambda x: x,
                   batches=COMPILE_WARMUP_BATCHES, mode: str = COMPILE_MODE) -> tuple[CompiledModule, dict]:
    """torch.compile a float model and compile it for `batches` (the first calls), under inference_mode.

    `images` are normalised fp32 images, `prepare` what the variant does to its input before the
    module (its memory layout): the graphs are compiled for exactly the tensors it will be called with.
    `batches`: (batch size, whether the input is made inside inference_mode), see COMPILE_WARMUP_BATCHES.

    Returns the module and what compiling cost: seconds per warm-up batch, their total (the cold
    compile time), inductor's FX-graph cache hits/misses during it (a hit reuses a graph compiled
    earlier on this machine: faster than cold) and the largest logit difference from eager.
    Raises whatever compiling raises (no C++ compiler: InvalidCxxCompiler inside BackendCompilerFailed).
    """
    float_module = float_module.eval()
    compiled = torch.compile(_private_forward(float_module), mode=None if mode == "default" else mode,
                             fullgraph=True)
    before = _compile_counters()
    seconds = {}
    worst = 0.0
    for n, inference_tensor in batches:
        with torch.inference_mode(inference_tensor):
            x = prepare(images[torch.arange(n) % len(images)])  # n images (repeated where there are fewer)
        with torch.inference_mode():
            start = time.perf_counter()
            got = compiled(x)
            seconds[_label(n, inference_tensor)] = round(time.perf_counter() - start, 3)
            worst = max(worst, float((got - float_module(x)).abs().max()))
    after = _compile_counters()
    cache = {k: after[k] - before[k] for k in after}
    info = {"mode": mode, "backend": "inductor", "fullgraph": True, "compile_seconds": seconds,
            "cold_compile_seconds": round(sum(seconds.values()), 2), "inductor_fx_cache": cache,
            "max_abs_diff_vs_eager": worst, "torch": torch.__version__}
    return CompiledModule(float_module, compiled), info


def compiled(b) -> Variant:
    """The fp32 model compiled by torch.compile (inductor: generated C++ kernels; needs a C++ compiler
    at run time). Unavailable, with the reason, where compiling fails; never a failed run."""
    trained, dataset = b.trained, b.dataset
    base = b.variant("fp32")  # its layout is already chosen (channels_last where faster): compile for that one
    float_module = copy.deepcopy(base.module).eval()
    images = dataset.test_tensors(max(n for n, _ in COMPILE_WARMUP_BATCHES))[0]
    try:
        module, info = compile_module(float_module, images, base.prepare)
    except Exception as exc:  # noqa: BLE001  no compiler, an unsupported op, ...: unavailable, with the reason
        reason = _first_line(exc)
        if "InvalidCxxCompiler" in f"{type(exc).__name__}: {exc}" or "C++ compiler" in str(exc):
            reason = f"torch.compile needs a C++ compiler on this server and found none ({reason})"
        return unavailable(b.name, "torch.compile", f"torch.compile failed here: {reason}")
    if info["max_abs_diff_vs_eager"] > COMPILE_TOLERANCE:
        return unavailable(b.name, "torch.compile",
                           f"the compiled model's logits differ from eager PyTorch's by up to "
                           f"{info['max_abs_diff_vs_eager']:.2g} (tolerance {COMPILE_TOLERANCE:g}): not measured")
    cache = info["inductor_fx_cache"]
    graphs = cache["fxgraph_cache_hit"] + cache["fxgraph_cache_miss"]
    warm = f" ({cache['fxgraph_cache_hit']} of {graphs} graphs from inductor's on-disk cache)" \
        if cache["fxgraph_cache_hit"] else ""
    v = Variant(b.name, module,
                f"the trained {trained.spec.name}, fp32, compiled by torch.compile (inductor, mode {info['mode']}, "
                f"whole graph); compiled for batch sizes {', '.join(str(n) for n, _ in COMPILE_WARMUP_BATCHES)} "
                f"before measuring",
                note=f"cold compile {info['cold_compile_seconds']:.1f} s{warm}; compiled for the {base.layout} "
                     "input layout fp32 uses",
                layout=base.layout, saved_as="torch.save(state_dict) (compiled again where it is loaded)",
                details=info)
    return with_stats(v, float_module, trained.spec.in_shape)

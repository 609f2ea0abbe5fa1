"""The short explanations pages show ("why did it come out so"), kept as markdown in lessons/explain/,
each followed by the student's own measured numbers; and what each model version is, in plain words.

Which explanation fits a variant, and its title, come from the variant registry (lab.compression.compress).
The teaching text lives in the markdown; the sentences here only put measured figures into words.
A figure that was not measured is said to be not measured: nothing is made up.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from importlib import resources

from dashboard.lab import claims, fmt
from dashboard.lab.compression import compress
from dashboard.lab.measure import figures
from dashboard.lab.measure.bench import BenchResult

# Inside the package (top-level lessons/ installed as dashboard.lessons, see pyproject), so an
# installed copy without the checkout (Community Cloud, `pip install`) has them too.
EXPLAIN_DIR = resources.files("dashboard.lessons") / "explain"

NOT_MEASURED = "not measured"


@lru_cache(maxsize=32)
def text(name: str) -> str:
    """The markdown of lessons/explain/<name>.md; empty if missing (content must never break a page)."""
    path = EXPLAIN_DIR / f"{name}.md"
    return path.read_text(encoding="utf-8").strip() if path.is_file() else ""


def for_results(results: Sequence[BenchResult]) -> list[tuple[str, str]]:
    """(title, markdown) of each explanation that fits these results, once each, in their order:
    the teaching text, then what the student's own figures say."""
    out, seen = [], set()
    for r in results:
        topic = compress.explanation(r.name)
        if topic and topic not in seen and text(topic):
            seen.add(topic)
            body = claims.statement(text(topic))   # the teaching text: fixed, decided by no measurement
            figures = numbers(topic, results)
            title = claims.statement(compress.EXPLANATIONS.get(topic, topic))   # a question, e.g. "why faster?"
            out.append((title, f"{body}\n\n{figures}" if figures else body))
    return out


def numbers(topic: str, results: Sequence[BenchResult]) -> str:
    """The measured figures that answer an explanation's question, in sentences (markdown)."""
    build = _NUMBERS.get(topic)
    if build is None:
        return ""
    ok = [r for r in results if r.available]
    fp32 = next((r for r in ok if r.name == "fp32"), None)
    return build(ok, fp32)


# ------------------------------------------------------------------ small pieces of sentences

def _key(name: str) -> str | None:
    try:
        return compress.parse(name)[0].key
    except ValueError:
        return None


def _of(results: Sequence[BenchResult], *keys: str) -> list[BenchResult]:
    return [r for r in results if _key(r.name) in keys]


def _pct(fraction: float | None) -> str:
    # Two decimals, as the table: a 2,000-image test set moves in steps of 0.05 %.
    return NOT_MEASURED if fraction is None else f"{100 * fraction:.2f} %"


def _kib(n_bytes: float) -> str:
    """File sizes in one unit (KiB), as in the table, so two sizes compare at a glance."""
    return f"{n_bytes / 1024:,.0f} KiB" if n_bytes >= 100 * 1024 else f"{n_bytes / 1024:.3g} KiB"


def _speeds(r: BenchResult, fp32: BenchResult | None) -> str:
    """'**1.20× slower than fp32** at batch 1 and **3.10× faster than fp32** at batch 256': each regime one
    comparison of the two medians shown in the table (lab.measure.figures), its direction word following the value;
    a regime not measured, or disturbed, is said so and not compared."""
    said, unsaid = [], []
    for regime, batch in ((figures.BATCH1, 1), (figures.BATCH, r.batch_size or 256)):
        words = figures.speed(r, fp32, regime, more="faster than fp32", less="slower than fp32",
                              same="about as fast as fp32")
        if words == NOT_MEASURED:
            unsaid.append(f"at batch {batch} its speed was {NOT_MEASURED}")
        elif words == figures.NOT_SHOWN:
            unsaid.append(f"at batch {batch} a figure is disturbed, so it is not compared")
        else:
            said.append(f"**{words}** at batch {batch}")
    return (" and ".join(said) or "with no speed to compare") + "".join(f" ({u})" for u in unsaid)


def _accuracy(r: BenchResult, fp32: BenchResult | None) -> str:
    if r.accuracy is None:
        return f"accuracy {NOT_MEASURED}"
    if fp32 is None or fp32.accuracy is None:
        return f"accuracy {_pct(r.accuracy)} (fp32's {NOT_MEASURED})"
    return f"accuracy {_pct(r.accuracy)} against fp32's {_pct(fp32.accuracy)} ({fmt.points(r.accuracy - fp32.accuracy, 2)})"


def _file(r: BenchResult, fp32: BenchResult | None) -> str:
    if not r.size_bytes:
        return f"file size {NOT_MEASURED}"
    if fp32 is None or not fp32.size_bytes:
        return f"file {_kib(r.size_bytes)}"
    how = claims.compare(fp32.size_bytes, r.size_bytes, more="smaller", less="larger", same="about the same size")
    return f"file {_kib(r.size_bytes)} against fp32's {_kib(fp32.size_bytes)} ({how})"


# ------------------------------------------------------------------ one builder per topic

def _int8(results: list[BenchResult], fp32: BenchResult | None) -> str:
    lines = []
    for r in _of(results, "int8-dynamic", "int8-static", "pruned-channels+int8-static"):
        line = f"- **{r.name}** ran {_speeds(r, fp32)}; {_accuracy(r, fp32)}; {_file(r, fp32)}."
        if (r.speedup_batch1 and r.speedup_batch256 and figures.usable(figures.BATCH1, r, fp32)
                and figures.usable(figures.BATCH, r, fp32)):
            b = r.batch_size or 256
            gain = claims.compare(r.speedup_batch256, r.speedup_batch1, more=f"larger at batch {b} than at batch 1",
                                  less=f"smaller at batch {b} than at batch 1", same="about the same at both")
            predicted = claims.direction(r.speedup_batch256 / r.speedup_batch1, True, False, False)
            line += f" Its speed-up over fp32 is {gain}{', as the explanation above predicts' if predicted else ''}."
        lines.append(line)
    return "**With your numbers:**\n\n" + "\n".join(lines) if lines else ""


def _unstructured(results: list[BenchResult], fp32: BenchResult | None) -> str:
    lines = []
    for r in _of(results, "pruned-unstructured"):
        zeros = f"{100 * r.sparsity:.1f} % of its weights are zero" if r.sparsity is not None else f"its share of zeros was {NOT_MEASURED}"
        known = [x for x, regime in ((r.speedup_batch1, figures.BATCH1), (r.speedup_batch256, figures.BATCH))
                 if x is not None and figures.usable(regime, r, fp32)]
        if not known:
            answer = f"Not known: its speed was {NOT_MEASURED} undisturbed"
        elif any(claims.direction(x, True, False, False) for x in known):
            answer = "Somewhat"
        else:
            answer = "No"
        line = (f"**{claims.statement('Did the zeros make it faster?')}** {answer}: **{r.name}** ({zeros}) ran "
                f"{_speeds(r, fp32)}; "
                f"{_file(r, fp32)}")
        if r.size_bytes_zlib and fp32 is not None and fp32.size_bytes_zlib:
            line += (f"; compressed with zlib it would take {_kib(r.size_bytes_zlib)} against fp32's "
                     f"{_kib(fp32.size_bytes_zlib)}")
        lines.append(line + f"; {_accuracy(r, fp32)}.")
    channels = _of(results, "pruned-channels")
    for c in channels:
        lines.append(f"**{c.name}**, which removes whole channels instead, ran {_speeds(c, fp32)}.")
    if lines and not channels:
        lines.append("Removing whole channels was not measured in these results: tick *Remove whole channels* "
                     "and measure again to compare the two kinds of pruning.")
    return "\n\n".join(lines)


def _channels(results: list[BenchResult], fp32: BenchResult | None) -> str:
    lines = []
    for r in _of(results, "pruned-channels"):
        size = f"{r.params:,} weights" if r.params else f"weight count {NOT_MEASURED}"
        if r.params and fp32 is not None and fp32.params:
            size += (f" against fp32's {fp32.params:,} ("
                     + claims.compare(fp32.params, r.params, more="fewer", less="more", same="about as many") + ")")
        work = f"{fmt.flops(r.flops)} per image" if r.flops else f"FLOPs per image {NOT_MEASURED}"
        if r.flops and fp32 is not None and fp32.flops:
            work += f" against {fmt.flops(fp32.flops)}"
        epochs = r.details.get("finetune_epochs")
        if r.accuracy_before_finetune is not None and epochs:
            recover = (f"right after the removal it had {_pct(r.accuracy_before_finetune)}; after {epochs} "
                       f"epoch{'s' if epochs != 1 else ''} of fine-tuning {_pct(r.accuracy)}")
        elif r.accuracy_before_finetune is not None:
            recover = f"with no fine-tuning it has {_pct(r.accuracy_before_finetune)}"
        else:
            recover = f"accuracy right after the removal {NOT_MEASURED}"
        fp = f" (fp32: {_pct(fp32.accuracy)})" if fp32 is not None and fp32.accuracy is not None else ""
        lines.append(f"- **{r.name}**: {size}; {work}. It ran {_speeds(r, fp32)}. Accuracy: {recover}{fp}.")
    return "**With your numbers:**\n\n" + "\n".join(lines) if lines else ""


def _half(results: list[BenchResult], fp32: BenchResult | None) -> str:
    lines = [f"- **{r.name}** ran {_speeds(r, fp32)}; {_accuracy(r, fp32)}; {_file(r, fp32)}."
             for r in _of(results, "bf16", "fp16")]
    return "**With your numbers:**\n\n" + "\n".join(lines) if lines else ""


def _distillation(results: list[BenchResult], fp32: BenchResult | None) -> str:
    d = next(iter(_of(results, "distilled")), None)
    b = next(iter(_of(results, "student-baseline")), None)
    teacher = (f" Your full model, the teacher, has {_pct(fp32.accuracy)}."
               if fp32 is not None and fp32.accuracy is not None else "")
    if d is None or b is None or d.accuracy is None or b.accuracy is None:
        missing = "the distilled student" if d is None or d.accuracy is None else "the same student trained alone"
        return (f"**Did the teacher help?** These results cannot say: {missing} was {NOT_MEASURED}. "
                "Tick *Distil into a tiny CNN* and measure again: it makes both students, the teacher being "
                "the only difference." + teacher)
    delta = round(100 * (d.accuracy - b.accuracy), 2)
    answer = "Yes" if delta > 0 else "No, it did worse" if delta < 0 else "Not measurably"
    student = d.details.get("student") or "student model"
    out = (f"**Did the teacher help?** {answer}: the distilled {student} reached **{_pct(d.accuracy)}** test "
           f"accuracy, the same {student} trained on the labels alone **{_pct(b.accuracy)}** "
           f"({fmt.points(d.accuracy - b.accuracy, 2)} with the teacher).{teacher} This is one training run of each, "
           "with the same seed: a small difference can be chance, so train again with another seed to check.")
    return out + f"\n\nThe distilled student ran {_speeds(d, fp32)}; {_file(d, fp32)}."


_NUMBERS: dict[str, Callable[[list[BenchResult], BenchResult | None], str]] = {
    "int8": _int8,
    "unstructured-pruning": _unstructured,
    "channels-pruning": _channels,
    "half-precision": _half,
    "distillation": _distillation,
}


# ------------------------------------------------------------------ plain words

_PLAIN: dict[str, Callable[[BenchResult, BenchResult | None], str]] = {
    "fp32": lambda r, f: "The model you trained, unchanged: every weight a 32-bit floating-point number.",
    "pruned-unstructured": lambda r, f: (
        (f"{100 * r.sparsity:.1f} % of its weights set to zero. " if r.sparsity is not None else
         "Its smallest weights set to zero. ")
        + "The zeros are still stored and still multiplied, so the file and the work keep their size."),
    "pruned-channels": lambda r, f: (
        "Whole channels (filters) and neurons removed from every layer: a physically smaller network"
        + (f" with {r.params:,} weights instead of {f.params:,}." if r.params and f is not None and f.params else ".")
        + " To load its file again you need the smaller layer shapes, not just the file."),
    "int8-dynamic": lambda r, f: (
        "The weights of its fully connected (Linear) layers stored as 8-bit integers; the values between "
        "layers are converted to 8-bit on every call."
        + (" Its convolutions stay 32-bit floats." if "convolutions stay" in r.note else "")),
    "int8-static": lambda r, f: (
        "Weights and the values passed between layers all 8-bit integers; their ranges were set by running "
        + (f"{r.details['calibration_images']:,} " if r.details.get("calibration_images") else "some ")
        + "training images through it first. To load its file again you need the same quantization "
          "steps in code, not just the file."),
    "pruned-channels+int8-static": lambda r, f: (
        "Channels removed as in the pruned-channels version, then everything in 8-bit integers as in int8-static."),
    "bf16": lambda r, f: "Weights and activations as 16-bit floats (bf16): half the bytes of fp32.",
    "fp16": lambda r, f: "Weights and activations as 16-bit floats (fp16): half the bytes of fp32.",
    "student-baseline": lambda r, f: (
        f"A much smaller network ({r.details.get('student', 'a tiny CNN')}) trained on the labels alone: "
        "what the distilled one is compared with."),
    "distilled": lambda r, f: (
        f"The same small network ({r.details.get('student', 'a tiny CNN')}) trained to copy your model's "
        "answers as well as the labels."),
    "onnxruntime-fp32": lambda r, f: (
        "Your model exported to ONNX and run by ONNX Runtime, another inference engine: the same fp32 weights."),
    "onnxruntime-int8": lambda r, f: (
        "Your model exported to ONNX, then turned into 8-bit integers by ONNX Runtime's own quantizer"
        + (f" (ranges set with {r.details['calibration_images']:,} training images)"
           if str(r.details.get("quantizer", "")).endswith("quantize_static") and r.details.get("calibration_images")
           else "") + ", and run by ONNX Runtime."),
    "pruned-channels+onnxruntime": lambda r, f: (
        "The smaller network with channels removed (as in the pruned-channels version), run by ONNX Runtime: "
        "fewer multiplications and an engine built for inference."),
    "compiled": lambda r, f: (
        "Your model compiled by torch.compile into fused machine code before it runs: the same fp32 weights, "
        "less Python between the layers. Compiling takes seconds the first time."),
}


def plain(r: BenchResult, fp32: BenchResult | None = None) -> str:
    """What a model version is, in plain words (its technical note stays in 'All measurements')."""
    if not r.available:
        return f"Not available on this machine: {r.note}"
    describe = _PLAIN.get(_key(r.name) or "")
    # What a technique is ("a physically smaller network") is its definition, decided by no measurement.
    return claims.statement(describe(r, fp32)) if describe else r.how_made


def layout(results: Sequence[BenchResult]) -> str:
    """One sentence for the versions fed in the "channels last" memory order, with the gain measured
    when each was made; empty when none is."""
    fed = [r for r in results if r.available and r.layout == "channels_last"]
    if not fed:
        return ""
    measured = [r.details.get("layout_ips_batch256") or {} for r in fed]
    gains = sorted(((ips["channels_last"], ips["contiguous"]) for ips in measured
                    if ips.get("contiguous") and ips.get("channels_last")), key=lambda pair: pair[0] / pair[1])
    who = "Every version" if len(fed) == len([r for r in results if r.available]) else ", ".join(r.name for r in fed)
    out = (f"{who} {'is' if who == 'Every version' or len(fed) == 1 else 'are'} fed images in the memory order "
           "this CPU's convolution code prefers (\"channels last\")")
    if gains:
        low, high = claims.ratio(*gains[0]), claims.ratio(*gains[-1])
        span = low if low == high else f"{low} to {high}"
        out += f": {span} as many images per second at batch 256 as the usual order, measured when each was made"
    return out + "."


# ------------------------------------------------------------------ the machine, for Home

INT8_FEATURES = ("amx_int8", "avx512_vnni", "avx_vnni", "asimddp")
BF16_FEATURES = ("amx_bf16", "avx512_bf16", "bf16")


def machine(hw) -> list[str]:
    """What this machine means for the lab, in plain words (hw: lab.hardware.HardwareInfo)."""
    int8 = [f for f in INT8_FEATURES if hw.has(f)]
    bf16 = [f for f in BF16_FEATURES if hw.has(f)]
    # What the instructions mean in general (no measurement of this run decides it): statements.
    lines = [
        f"**Processor:** {hw.cpu}, {hw.logical_cores} logical cores.",
        claims.statement(
            "**8-bit integer (int8) models:** this processor has instructions for int8 arithmetic, so "
            "quantized models can run much faster at large batches." if int8 else
            "**8-bit integer (int8) models:** no special int8 instructions found, so quantized models will gain "
            "little speed here (their weights still take a quarter of the bytes)."),
        claims.statement(
            "**16-bit floats (bf16):** supported natively, so the bf16 version can be measured." if bf16 else
            "**16-bit floats (bf16):** not supported natively here, so the lab does not offer bf16 (it would be "
            "slower than fp32)."),
    ]
    return lines

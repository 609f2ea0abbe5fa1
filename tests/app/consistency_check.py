"""The consistency check of tests/app/test_consistency.py (its opening comment says what it checks), as
plain functions: the lessons' and the run of show's tests run the same check on their own pages
(test_lessons_page.py, test_present_page.py). Functions called on a rendered page, several times per test,
and a made-up session built per case: not set-up before a test, so a module, not fixtures."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path
from unittest import mock

import streamlit

from streamlit.testing.v1 import AppTest
from tests.app.drive import fresh, session

from dashboard.lab import claims, energy
from dashboard.lab.training import outcome
from dashboard.lab.measure.bench import BenchResult
from dashboard.lab.inputs.data import load_dataset
from dashboard.lab.deploy.edge import EdgeRun, Fit, default_profiles
from dashboard.lab.energy import EnergyReading, EnergySettings
from dashboard.lab.training.inspect import inspect_model
from dashboard.lab.measure.memory import compare_memory
from dashboard.lab.measure.peak import HardwareProbe, Parallelism, PeakRate, Peaks, ThreadPoint
from dashboard.service import versions

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"


def registered_pages(at: AppTest) -> list[str]:
    """The pages the running app hands to st.navigation for the session of `at`, in their order, as paths
    relative to dashboard/app.py (what AppTest.switch_page takes): the app is run once more and each call
    of st.navigation is recorded on its way through (a page registered tomorrow is in it, and one the
    app registers only for some sessions, such as the presenter's Run of show, only for those)."""
    handed: list = []
    real = streamlit.navigation

    def recording(pages, *args, **kwargs):
        handed.append([p for group in pages.values() for p in group] if isinstance(pages, dict) else list(pages))
        return real(pages, *args, **kwargs)

    with mock.patch.object(streamlit, "navigation", recording):
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert handed, "the app never called st.navigation"
    # A page made from a file keeps that file's resolved path (streamlit.navigation.page.StreamlitPage).
    return [Path(page._page).relative_to(APP.parent).as_posix() for page in handed[-1]]


# ----------------------------------------------------------------------------------------- vocabulary

VOCABULARY = re.compile("|".join([
    r"\d\s?×(?!\s*[\d(])",                               # a ratio: '1.75×', '120 ×' (not '2048 × 2048')
    r"\b\d+(?:\.\d+)?x\b",                               # an ASCII ratio: '1.72x'
    r"\b(?:faster|slower|sooner|later|cheaper|costlier|larger|smaller|bigger|fewer|longer|shorter)\b",
    r"\b(?:more|less)\b(?:\s+[\w'’-]+){0,2}\s+than\b",   # 'more than', 'less time than', 'more FLOPs than'
    r"\d\s*%\s+of\s+[\w'’ ]{0,30}?\bpeak\b",             # '45 % of the fp32 peak'
    r"\d\s*[^\W\d_]{0,5}\s*=\s*[-−]?\d",                 # '45 µs × 4 W = 180 µJ'
]), re.IGNORECASE)


# ----------------------------------------------------------------------------------------- numbers back

PREFIX = {"n": 1e-9, "µ": 1e-6, "u": 1e-6, "m": 1e-3, "": 1.0, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
NUMBER = re.compile(r"([-−]?\d[\d,]*(?:\.\d+)?)\s*(?:(min)\b|(KiB|MiB|GiB)|(%)|([nµumkMGT]?)(?:s|J|W|g|FLOP)\b)?")


def parse(text: str) -> tuple[float, float]:
    """(low, high): the first number in `text` with its unit, widened by the rounding of its last digit."""
    m = NUMBER.search(text.replace("\u00a0", " "))
    assert m, f"no number in {text!r}"
    digits, minutes, binary, percent, prefix = m.groups()
    digits = digits.replace(",", "").replace("−", "-")
    half = 0.5 * 10 ** -(len(digits.split(".")[1]) if "." in digits else 0)
    scale = (60.0 if minutes else {"KiB": 2 ** 10, "MiB": 2 ** 20, "GiB": 2 ** 30}[binary] if binary else
             0.01 if percent else PREFIX[prefix or ""])
    v = float(digits)
    return (v - half) * scale, (v + half) * scale


def inside(value: float, interval: tuple[float, float], rel: float = 1e-9) -> bool:
    lo, hi = interval
    return lo * (1 - rel) - 1e-300 <= value <= hi * (1 + rel) + 1e-300


def expected_word(c: claims.Claim) -> str:
    """The word a comparison's value calls for, worked out here from its operands and band."""
    more, less, same = c.words
    r = c.operands[0] / c.operands[1]
    return more if r >= 1 + c.band else less if r <= 1 / (1 + c.band) else same


def claim_problems(c: claims.Claim) -> list[str]:
    """(a): what is wrong with one recorded claim against its own operands ([] when it holds)."""
    bad = []
    if c.kind == "compare":
        a, b = c.operands
        r = a / b
        word = expected_word(c)
        want = word if word == c.words[2] else f"{claims.times(max(r, 1 / r))} {word}"
        if c.text != want:
            bad.append(f"compare({a:g}, {b:g}) reads {c.text!r}, its values say {want!r}")
    elif c.kind == "ratio":
        a, b = c.operands
        if c.text != claims.times(a / b) or not math.isclose(c.result, a / b):
            bad.append(f"ratio({a:g}, {b:g}) reads {c.text!r}, not {claims.times(a / b)!r}")
    elif c.kind == "share":
        a, b = c.operands
        if not inside(a / b, parse(c.text)):
            bad.append(f"share {c.text!r} is not {a:g} / {b:g} = {100 * a / b:.3g} %")
    elif c.kind in ("product", "sum"):
        *operands, result = [parse(t) for t in c.shown]
        if c.kind == "product":
            lo, hi = math.prod(o[0] for o in operands), math.prod(o[1] for o in operands)
        else:
            lo, hi = sum(o[0] for o in operands), sum(o[1] for o in operands)
        if hi < result[0] or lo > result[1]:
            bad.append(f"{c.text!r} does not recompute from its shown operands ({lo:.4g} to {hi:.4g})")
        if not inside(c.result, result):
            bad.append(f"{c.text!r} shows {c.shown[-1]!r} for {c.result:g}")
    elif c.kind == "figure":
        if not inside(c.result, parse(c.text)):
            bad.append(f"figure {c.key!r} reads {c.text!r} for {c.result:g}")
    return bad


# ----------------------------------------------------------------------------------------- page texts

def _plotly_texts(spec: dict) -> list[str]:
    out: list[str] = []

    def walk(v, key=""):
        if isinstance(v, dict):
            for k, x in v.items():
                walk(x, k)
        elif isinstance(v, list):
            for x in v:
                walk(x, key)
        elif isinstance(v, str) and key in ("text", "name", "hovertemplate", "ticktext", "title"):
            out.append(v)

    walk({"data": spec.get("data", []), "layout": spec.get("layout", {})})
    return out


def page_texts(at: AppTest) -> list[tuple[str, str]]:
    """(what, text) for every piece of text the rendered page shows."""
    out: list[tuple[str, str]] = []
    for node in at._tree:
        kind = getattr(node, "type", "")
        if kind in ("markdown", "caption", "title", "header", "subheader", "error", "warning", "info", "success"):
            out.append((kind, str(node.value)))
        elif kind == "metric":
            out += [("metric", str(x)) for x in (node.label, node.value, node.delta) if x]
        elif kind in ("table", "arrow_table", "dataframe", "arrow_data_frame"):
            df = node.value
            out += [(f"{kind} header", str(c)) for c in df.columns]
            out += [(f"{kind} cell", v) for v in df.astype(object).to_numpy().ravel() if isinstance(v, str)]
        elif kind == "plotly_chart":
            out += [("chart", t) for t in _plotly_texts(json.loads(node.proto.spec))]
    out += [("expander", e.label) for e in at.expander]
    return out


def text_problems(texts: list[tuple[str, str]], recorded: list[claims.Claim]) -> list[str]:
    """(b): comparing words that no recorded claim holds."""
    known = sorted({c.text for c in recorded if c.text}, key=len, reverse=True)
    bad = []
    for what, text in texts:
        rest = text
        for k in known:
            rest = rest.replace(k, "\u2063")
        for m in VOCABULARY.finditer(rest):
            start = max(0, m.start() - 60)
            bad.append(f"{what}: {m.group(0)!r} in ...{rest[start:m.end() + 40]!r}")
    return bad


# ----------------------------------------------------------------------------------------- sessions

def _reading(name: str, cpu_s: float, images: int, settings: EnergySettings) -> EnergyReading:
    """An estimated reading as the meter makes one (CodeCarbon's figures in `base`), nothing run."""
    base = {"threads": 2, "cpu_measured_by": None, "gpu_measured_by": None, "cpu_watts_per_thread": 4.0,
            "cpu_watts_source": "CodeCarbon's estimate (test)", "cpu_joules_measured": 0.0,
            "cpu_joules_estimated": 4.1 * cpu_s, "cpu_seconds_estimated": cpu_s, "ram_joules": 10.1 * cpu_s,
            "ram_watts": 10.1, "ram_source": "CodeCarbon's RAM model (test)", "gpu_joules": 0.0,
            "codecarbon_co2_grams": None, "fallback_reason": None}
    return EnergyReading(name, duration_s=cpu_s, cpu_seconds=cpu_s * 0.96, base=base,
                         settings=settings).with_settings(settings)


def result(name: str, p50_ms: float, ips: float, *, accuracy: float = 0.9, size_kib: float = 100,
           disturbed: dict | None = None, fp32: tuple[float, float] = (0.126, 8000.0), **extra) -> BenchResult:
    """A made-up measured version; its speed-ups are the ratios of the medians, as lab.measure.bench makes them."""
    settings = EnergySettings(country_iso=energy.WORLD)
    e = energy.per_image_from(f"inference:{name}", [_reading(name, 256 * 5 / ips, 256 * 5, settings)], [256 * 5])
    e1 = energy.per_image_from(f"inference:{name}:batch1",
                               [_reading(name, 200 * p50_ms / 1000, 200, settings)], [200])
    return BenchResult(name=name, available=True, note="", accuracy=accuracy, agreement=0.97,
                       size_bytes=int(size_kib * 1024), params=100_000, nonzero_params=100_000, flops=200_000,
                       latency_ms_batch1_p50=p50_ms, latency_ms_batch1_p95=1.6 * p50_ms, throughput_batch256_ips=ips,
                       speedup_batch1=fp32[0] / p50_ms, speedup_batch256=ips / fp32[1], batch_size=256, rounds=3,
                       threads=1, energy=e, energy_batch1=e1, disturbed=disturbed or {}, **extra)


BUSY = "its threads waited 38 % of the time for a processor (other users' pages on this server, 70 % of a core)"


def awkward_results(fp32_disturbed: bool = False) -> list[BenchResult]:
    fp32_busy = {"batch1": BUSY, "batch": BUSY} if fp32_disturbed else {}
    return [
        result("fp32", 0.126, 8000.0, accuracy=0.91, disturbed=fp32_busy),
        result("int8-static", 0.30, 24_000.0, accuracy=0.905, size_kib=27),           # slower at 1, faster at 256
        result("pruned-unstructured-90", 0.128, 8050.0, accuracy=0.9, sparsity=0.9),   # inside the band
        result("distilled", 0.001, 1_000_000.0, accuracy=0.85, size_kib=3,            # above 100×
               details={"student": "tiny_cnn"}),
        result("fp16", 15.0, 60.0, accuracy=0.91, size_kib=50),                       # below 0.01×
        result("pruned-channels-50", 0.09, 12_000.0, accuracy=0.89, size_kib=50,       # disturbed at batch 1
               disturbed={"batch1": BUSY}, accuracy_before_finetune=0.7, details={"finetune_epochs": 1}),
    ]


def probe_for(results: list[BenchResult]) -> HardwareProbe:
    peaks = Peaks(1, rates=[PeakRate("fp32", "torch.matmul, fp32", 2048, 150.0, 1),
                            PeakRate("int8", "torch._int_mm, int8", 2048, 900.0, 1),
                            PeakRate("bf16", "torch.matmul, bf16", 2048, 400.0, 1, disturbed=BUSY)],
                  sweep=[PeakRate("fp32", "torch.matmul, fp32", 64, 20.0, 1)])
    par = Parallelism("mlp on digits", "contiguous", [ThreadPoint(1, 1, 7900.0, [1]), ThreadPoint(1, 64, 150_000.0, [1])],
                      seconds=0.2)
    return HardwareProbe({}, 1, peaks, parallelism=par)


def edge_runs(s, results: list[BenchResult]) -> dict[str, EdgeRun]:
    names = tuple(versions.versions(s, {}).names)
    runs = {}
    for key, p in default_profiles(1).items():
        fits = []
        for r in results:
            ms = r.latency_ms_batch1_p95 if p.batch == 1 else 1000 * p.batch / r.throughput_batch256_ips
            # At Compress's threads and batch 1 the profile reads Compress's figures, as lab.deploy.edge does.
            same = p.batch == 1 and p.threads == r.threads
            fits.append(Fit(r.name, runnable=not (p.int8_only and "int8" not in r.name), accuracy=r.accuracy,
                            weights_bytes=r.size_bytes, activation_bytes=4 * 1024 * p.batch, latency_ms=ms,
                            latency_what="p95 of single calls" if p.batch == 1 else "one batch",
                            typical_ms=ms / 1.6 if p.batch == 1 else ms, ms_per_image=ms / p.batch,
                            threads=p.threads, batch=p.batch, energy=r.energy, memory_budget=p.memory_budget,
                            latency_budget_ms=p.latency_budget_ms,
                            disturbed=r.disturbed.get("batch1" if p.batch == 1 else "batch", ""),
                            source="Compress & benchmark" if same else ""))
        runs[key] = EdgeRun(p, fits, "test CPU", seconds=1.0, key=(s.digest, names))
    return runs


def collapsed(trained):
    judged = outcome.judge(outcome.Evidence(
        classes=tuple(str(i) for i in range(10)), optimizer="adam", lr=3.0, schedule="constant",
        test_accuracy=0.098, test_loss=2.31, predicted_counts=(256,) + (0,) * 9, first_loss=2.3, peak_loss=2.4,
        steps=8, total_steps=8, samples_seen=512))
    assert judged.kind == "collapsed", judged.kind
    return dataclasses.replace(trained, outcome=judged)


CASES = ("awkward", "fp32 disturbed", "collapsed")


def measured_session(case: str, tiny_trained) -> AppTest:
    """A fresh app whose session holds a model and made-up measurements of `case`."""
    at = fresh()
    s = session(at)
    trained = collapsed(tiny_trained) if case == "collapsed" else tiny_trained
    s.trained, s.digest = trained, f"consistency-{case}"
    s.results = awkward_results(fp32_disturbed=case == "fp32 disturbed")
    s.results_settings = {"variants": [r.name for r in s.results]}
    settings = EnergySettings(country_iso=energy.WORLD)
    s.training_energy = _reading("training:steps", max(trained.train_seconds, 0.05), trained.samples_seen, settings)
    s.memory, s.inspection = _measured_once(trained)
    s.hardware_probe = probe_for(s.results)
    s.hardware_probe.digest = s.digest
    s.edge_runs = edge_runs(s, s.results)
    s.presenter = True   # every page, the presenter's Run of show and diagnostics too
    at.run()
    return at


_ONCE: dict = {}


def _measured_once(trained):
    """The model's memory and inspection, measured for real once (an mlp: its activations are tiny)."""
    if not _ONCE:
        _ONCE["memory"] = compare_memory(trained.module, trained.spec.in_shape, batch_size=64)
        _ONCE["inspection"] = inspect_model(trained.module, load_dataset("digits").subset(512, 256),
                                            layout=trained.layout)
    return _ONCE["memory"], _ONCE["inspection"]


# ----------------------------------------------------------------------------------------- the check

def check_page(at: AppTest, page: str) -> tuple[list[str], list[claims.Claim], list[tuple[str, str]]]:
    """Render one page; return what is wrong with it ((a) and (b)), the claims it recorded and its texts."""
    with claims.recording() as recorded:
        at.switch_page(page)
        at.run()
    texts = page_texts(at)
    problems = [f"exception: {e.value}" for e in at.exception]
    for c in recorded:
        problems += claim_problems(c)
    problems += text_problems(texts, recorded)
    return problems, list(recorded), texts


def figure_problems(by_page: dict[str, list[claims.Claim]], results: list[BenchResult]) -> list[str]:
    """(c): one value and one text per measured thing, across pages, read from the session's results."""
    seen: dict[str, set[tuple[float, str]]] = {}
    for page, recorded in by_page.items():
        for c in recorded:
            if c.kind == "figure":
                seen.setdefault(c.key, set()).add((c.result, c.text))
    bad = [f"{key}: {sorted(v)}" for key, v in seen.items() if len(v) > 1]
    by_name = {r.name: r for r in results}
    for key, values in seen.items():
        name, what, _ = key.split(" | ")
        r = by_name[name]
        truth = (r.latency_ms_batch1_p50 / 1000 if what == "batch 1, median call" else
                 r.latency_ms_batch1_p95 / 1000 if what == "batch 1, p95" else r.throughput_batch256_ips)
        bad += [f"{key} shows {v:g}, the session's result is {truth:g}" for v, _ in values if v != truth]
    return bad

"""The lessons' predictions, held against the student's own measurements (or a replay's).

    check("zeros-not-faster", session_results)           # -> CheckOutcome("matches", "Your pruned-...", answer=2)
    check("training-costs-more", results, trained)
    check("fits-microcontroller", edge_runs=s.edge_runs)  # any field of Evidence by name

Each check reads measured results (lab.measure.bench.BenchResult, lab.training.train.TrainedModel, lab.deploy.edge.EdgeRun,
the training's lab.energy.EnergyReading) and says, in one short paragraph with the numbers and their
units, whether they show what the lesson says (`matches`), show something else and what that may mean
(`differs`), or cannot say yet because the result it needs was not measured (`no result`, with what
to run). `answer` is the option of the lesson's prediction that these numbers give (the check knows
its lesson's options, in order; tests hold the two together), so the reader can tell the student
whether their prediction was right. A check never measures: it compares figures already measured,
through lab.claims, so every comparing word follows its numbers. Thresholds are wide on purpose: a
shared or busy machine moves timings by tens of percent, and a lesson's point (zeros are not faster,
int8 is about 4x smaller) is far larger than that.

Only types are imported from the engine's heavy modules, so loading the lessons does not load torch;
the energy checks import what they price with when they run.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dashboard.lab import claims, fmt

if TYPE_CHECKING:
    from dashboard.lab.measure.bench import BenchResult
    from dashboard.lab.deploy.edge import EdgeRun, Fit
    from dashboard.lab.energy import EnergyReading, EnergySettings
    from dashboard.lab.training.train import TrainedModel

MATCHES, DIFFERS, NO_RESULT = "matches", "differs", "no result"

# A speed-up within ±25 % is "about the same speed" as fp32: wider than timing noise on a shared
# machine, far narrower than the 10x a naive reading of "90 % zeros" expects.
SAME_SPEED_BAND = 0.25
FASTER_BAND = 0.1       # removed channels count as faster from 10 % up, at batch 1 or at the big batch
# 1 byte per weight instead of 4 makes the file ~4x smaller; per-layer scales, fp32 biases and the
# file's structure do not shrink, so a small model lands nearer 3x (measured: 3.9x for the default
# cnn, 3.8x for the mlp, 3.0x for the tiny-cnn).
INT8_SMALLER = (2.8, 4.5)
# Training's forward + backward against the forward alone: ~3x, a little less because the first
# layer computes no gradient for the input image (measured: 2.95 cnn, 2.82 tiny-cnn, 2.15 mlp).
TRAIN_RATIO = (2.5, 3.5)
MICROCONTROLLER = "microcontroller"       # lab.deploy.edge.default_profiles' key of the profile lesson 3 names
# Lesson 5 moves the same computation between two grids CodeCarbon has figures for: a coal-heavy one and a
# low-carbon one (their intensities and years are shown with them).
COAL_HEAVY, LOW_CARBON = "POL", "FRA"
# Lesson 6's projection: a million requests a day for a year, one image each, served one at a time.
REQUESTS_PER_DAY, DAYS = 1_000_000, 365
MOSTLY = 0.9            # lesson 6: "nearly all" the energy goes to inference above this share


@dataclass(frozen=True)
class Evidence:
    """What a check reads: one run's measurements, the student's own or a replay's."""

    results: Sequence[BenchResult] = ()
    trained: TrainedModel | None = None
    training: Mapping[str, Any] | None = None      # a run record's training block (a replay has no model here)
    training_energy: EnergyReading | None = None
    edge_runs: Mapping[str, EdgeRun] = field(default_factory=dict)   # profile key -> its run
    settings: EnergySettings | None = None          # the student's energy assumptions (None: the lab's defaults)

    @property
    def model(self) -> str | None:
        if self.trained is not None:
            return self.trained.spec.name
        return (self.training or {}).get("model")

    def flops(self) -> tuple[float | None, float | None]:
        """(training, inference) FLOPs per image of the model."""
        if self.trained is not None:
            return self.trained.cost.train_flops_per_image, self.trained.cost.inference_flops_per_image
        t = self.training or {}
        return t.get("train_flops_per_image"), t.get("inference_flops_per_image")


@dataclass(frozen=True)
class CheckOutcome:
    status: str                # "matches" | "differs" | "no result"
    text: str                  # one paragraph of markdown, the numbers with their units
    answer: int | None = None  # the lesson's prediction option these numbers give (None: they cannot say)


Check = Callable[[Evidence], CheckOutcome]


def check(name: str, results: Sequence[BenchResult] | None = None, trained: TrainedModel | None = None,
          **evidence: Any) -> CheckOutcome:
    """Hold a lesson's claim against a run's results (more of the run by Evidence's field names);
    ValueError for a name that is no check."""
    return held(name, Evidence(list(results or []), trained, **evidence))


def held(name: str, ev: Evidence) -> CheckOutcome:
    """check() on figures already gathered (the reader's: the session's own, or a replay's)."""
    if name not in CHECKS:
        raise ValueError(f"unknown check {name!r}; the checks are {', '.join(CHECKS)}")
    return CHECKS[name](ev)


# ------------------------------------------------------------------ small pieces

def _ms(value: float) -> str:
    """A p50 latency in ms as measured ('0.209 ms'; fmt.ms would say '209 µs')."""
    return f"{value:.3g} ms"


def _available(results: Sequence[BenchResult]) -> dict[str, BenchResult]:
    return {r.name: r for r in results if r.available}


def _highest(ok: dict[str, BenchResult], pattern: str) -> tuple[BenchResult, int] | None:
    """The variant whose name fits `pattern` (one group: its percent) with the highest percent."""
    found = [(r, int(m.group(1))) for name, r in ok.items() if (m := re.fullmatch(pattern, name))]
    return max(found, key=lambda x: x[1]) if found else None


def _speeds(r: BenchResult) -> list[tuple[str, str, float]]:
    """(regime, spread key, speed-up against fp32) for each regime measured and not disturbed (a busy
    machine's figure is never held against a lesson)."""
    out = []
    if r.speedup_batch1 is not None and not r.is_disturbed("speedup_batch1"):
        out.append(("one image at a time", "speedup_batch1", r.speedup_batch1))
    if r.speedup_batch256 is not None and not r.is_disturbed("speedup_batch"):
        out.append((f"at batch {r.batch_size}", "speedup_batch256", r.speedup_batch256))
    return out


def _speed_text(speeds: list[tuple[str, str, float]]) -> str:
    """'1.02× fp32's speed one image at a time and 0.98× at batch 256' (each a speed-up: fp32's time over this one's)."""
    parts = [f"{claims.ratio(s, 1.0)} {regime}" for regime, _, s in speeds]
    first, *rest = parts
    head, _, tail = first.partition(" ")
    return " and ".join([f"{head} fp32's speed {tail}", *rest])


def _spread_text(r: BenchResult, key: str) -> str:
    s = r.spread.get(key) if r.spread else None
    return f" (from {claims.ratio(s['min'], 1.0)} to {claims.ratio(s['max'], 1.0)} over the rounds)" if s else ""


def _and(items: Sequence[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _days(days: float) -> str:
    """A span given in days, in the unit that reads best: '41 s', '3.2 days', '1,250 days'."""
    if days < 1:
        return fmt.seconds(days * 86_400)
    return f"{days:.3g} days" if days < 100 else f"{days:,.0f} days"


def _nearest(value: float, options: Mapping[int, float]) -> int:
    """The option whose figure is nearest `value` on a log scale (2x and 4x are as far apart as 4x and 8x)."""
    return min(options, key=lambda i: abs(math.log(value / options[i])))


# ------------------------------------------------------------------ lesson 4

def zeros_not_faster(ev: Evidence) -> CheckOutcome:
    """Lesson 4: zeroed weights run at about fp32's speed; removed channels run faster.
    Options: 10 times faster, twice as fast, about the same speed, 10 times slower."""
    ok = _available(ev.results)
    found = _highest(ok, r"pruned-unstructured-(\d+)")
    if found is None or not _speeds(found[0]):
        disturbed = found is not None and (found[0].speedup_batch1 is not None or found[0].speedup_batch256 is not None)
        return CheckOutcome(NO_RESULT, ("Your zeroed-weights version's timings were disturbed (the server was busy "
                                        "while they ran), so they say nothing about zeros. Measure it again on "
                                        "**Compress & benchmark**, then come back." if disturbed else
                                        "No zeroed-weights version measured yet. On **Compress & benchmark**, measure "
                                        "**pruned-unstructured-90** (and **pruned-channels-50** beside it), then "
                                        "come back."))
    zeros, percent = found
    zs = _speeds(zeros)
    sparsity = f"{zeros.sparsity * 100:.0f} %" if zeros.sparsity is not None else f"{percent} %"
    latency = (f" (p50 latency {_ms(zeros.latency_ms_batch1_p50)} per image)"
               if zeros.latency_ms_batch1_p50 is not None else "")
    head = f"Your **{zeros.name}** ({sparsity} of its weights are zero) ran at {_speed_text(zs)}{latency}."
    same = "about the same speed"
    outside = [(regime, key, s) for regime, key, s in zs
               if claims.direction(s, "faster", "slower", same, SAME_SPEED_BAND) != same]
    if outside:
        regime, key, s = outside[0]
        said = claims.compare(s, 1.0, more="faster", less="slower", same=same, band=SAME_SPEED_BAND)
        answer = 3 if s < 1 else _nearest(s, {0: 10.0, 1: 2.0})
        return CheckOutcome(DIFFERS, head + f" That is {said} than fp32 {regime}{_spread_text(zeros, key)}, which "
                            "the lesson does not expect: dense kernels multiply every zero, so the work is the same. "
                            "The usual cause is the machine, not the model: another program (or another student on a "
                            "shared server) was busy during some rounds. A wide spread over the rounds says so; "
                            "measure again on a quieter machine.", answer)
    # Every regime is inside the band here, so each compare says `same`: said once, for all of them.
    said = [claims.compare(s, 1.0, more="faster", less="slower", same=same, band=SAME_SPEED_BAND) for _, _, s in zs]
    verdict = f"{said[0].capitalize()} as fp32 " + " and ".join(regime for regime, _, _ in zs)
    channels = _highest(ok, r"pruned-channels-(\d+)")
    if channels is None or not _speeds(channels[0]):
        return CheckOutcome(MATCHES, head + f" {verdict}, as the lesson says: the zeros are still multiplied. "
                            "Measure **pruned-channels-50** too to see what removing work does.", 2)
    ch, removed = channels
    cs = _speeds(ch)
    flops = (f" ({fmt.flops(ch.flops)} per image against {fmt.flops(zeros.flops)}: "
             f"{claims.compare(ch.flops, zeros.flops, more='more arithmetic', less='less arithmetic')})"
             if ch.flops and zeros.flops else "")
    best = max(s for _, _, s in cs)
    if claims.direction(best, "faster", "slower", "same", FASTER_BAND) == "faster":
        return CheckOutcome(MATCHES, head + f" {verdict}, as the lesson says. Your **{ch.name}** has {removed} % "
                            f"of its channels removed{flops} and ran at {_speed_text(cs)}: removed work is saved "
                            "time, zeros are not.", 2)
    at_best = claims.compare(best, 1.0, more="faster than fp32", less="slower than fp32",
                             same="about the same speed as fp32", band=FASTER_BAND)
    return CheckOutcome(DIFFERS, head + f" {verdict}, as expected. But your **{ch.name}**{flops} ran at "
                        f"{_speed_text(cs)}: at best {at_best}, though it does less arithmetic. In a very small "
                        "model a call's fixed costs (Python, starting each layer, moving data) can outweigh the "
                        "arithmetic, so removing work barely shows, most of all one image at a time; a busy machine "
                        "can also hide it. Try the cnn, which has more work per call, or measure again.", 2)


# ------------------------------------------------------------------ lesson 2

def int8_smaller(ev: Evidence) -> CheckOutcome:
    """Lesson 2: the int8-static file is about 4x smaller than fp32's.
    Options: about the same size, 2 times smaller, 4 times smaller, 32 times smaller."""
    ok = _available(ev.results)
    fp32, int8 = ok.get("fp32"), ok.get("int8-static")
    if fp32 is None or int8 is None or not fp32.size_bytes or not int8.size_bytes:
        return CheckOutcome(NO_RESULT, "No int8 file measured yet. On **Compress & benchmark**, measure **fp32** and "
                                       "**int8-static** together, then come back.")
    ratio = fp32.size_bytes / int8.size_bytes
    said = claims.compare(fp32.size_bytes, int8.size_bytes, more="smaller", less="larger", same="about the same size")
    head = f"Your fp32 model's file is {fmt.size(fp32.size_bytes)}, the int8-static one {fmt.size(int8.size_bytes)}: **{said}**."
    answer = _nearest(ratio, {0: 1.0, 1: 2.0, 2: 4.0, 3: 32.0})
    lo, hi = INT8_SMALLER
    if lo <= ratio <= hi:
        why = " " + claims.statement("About 4×, as the lesson says: each weight takes 1 byte instead of 4.")
        if ratio < 4:
            why += " " + claims.statement(
                "The per-layer scales, the biases (kept in 32 bits) and the file's structure do not shrink, "
                + ("which keeps it a little under 4×." if ratio >= 3.5 else
                   "which keeps it under 4×: in a model this small they are a larger share."))
        return CheckOutcome(MATCHES, head + why, answer)
    if ratio < lo:
        return CheckOutcome(DIFFERS, head + " " + claims.statement(
            "Less than the lesson's 4×. The parts that stay 32-bit (biases, scales, layers that were not quantized) "
            "and the file's fixed structure weigh more in a very small model, and a model whose weights sit mostly "
            "in layers left in fp32 shrinks little."), answer)
    return CheckOutcome(DIFFERS, head + " " + claims.statement(
        "More than 4×, which 1 byte instead of 4 alone cannot give: the two files were probably saved differently "
        "(one of them compressed, or with extra data): compare their 'saved as' under All measurements."), answer)


# ------------------------------------------------------------------ lesson 1

def training_costs_more(ev: Evidence) -> CheckOutcome:
    """Lesson 1: a training step costs about 3x the FLOPs per image of an inference.
    Options: about the same number, about 3 times as many, about 100 times as many, depends on the batch."""
    if ev.trained is None and not ev.training:
        return CheckOutcome(NO_RESULT, "No trained model yet. Train one on the **Train** page, then come back.")
    fp32 = _available(ev.results).get("fp32")
    train, counted = ev.flops()
    forward = fp32.flops if fp32 is not None and fp32.flops else counted
    if not forward or not train:
        return CheckOutcome(NO_RESULT, "The FLOPs of your model were not counted, so there is nothing to compare.")
    ratio = train / forward
    head = (f"One training image costs your model {fmt.flops(train)} (forward + backward), one inference "
            f"{fmt.flops(forward)} (forward only): **{claims.ratio(train, forward)}**.")
    answer = _nearest(ratio, {0: 1.0, 1: 3.0, 2: 100.0})
    lo, hi = TRAIN_RATIO
    if lo <= ratio <= hi:
        return CheckOutcome(MATCHES, head + " " + claims.statement(
            "Close to 3×, as the lesson says: the backward pass costs about twice the forward pass. It comes out a "
            "little under 3 because the first layer computes no gradient for the input image."), answer)
    if ratio < lo:
        return CheckOutcome(DIFFERS, head + " " + claims.statement(
            "Under the lesson's 3×. The backward pass computes two things per layer, the gradient for the weights "
            "and the one passed back to the layer before, except in the first layer, which has no layer before it. "
            "When the first layer holds most of a model's work, as in the mlp (its first layer takes every pixel), "
            "the ratio falls towards 2×."), answer)
    return CheckOutcome(DIFFERS, head + " " + claims.statement(
        "Over 3×, more than a forward and a backward pass explain. Check that the fp32 version measured on Compress "
        "& benchmark is the model you trained: train and measure again, then compare."), answer)


# ------------------------------------------------------------------ lesson 3

# Lesson 3's options, in order: the version each names (None: "None of them").
_EDGE_OPTIONS = ("fp32", "int8-static", r"pruned-channels-\d+\+int8-static", None)


def _memory_text(f: Fit, budget: int) -> str:
    """'int8-static needs 424 KiB + 12 KiB = 436 KiB, 1.70× over the budget' (weights + peak activations)."""
    parts = [(f.weights_bytes, fmt.size(f.weights_bytes)), (f.activation_bytes, fmt.size(f.activation_bytes))]
    need = claims.total(parts, f.memory_bytes, fmt.size(f.memory_bytes))
    # band 0: a budget is a line, not a noise band; the words follow Fit.fits_memory (memory <= budget)
    over = claims.compare(f.memory_bytes, budget, more="over the budget", less="under the budget", band=0.0)
    return f"**{f.name}** needs {need} (weights + peak activations), {over}"


def fits_microcontroller(ev: Evidence) -> CheckOutcome:
    """Lesson 3: of fp32, int8-static and channels removed then int8-static, only the last fits a 256 KiB
    microcontroller (for the default cnn). Options: fp32, int8 static, channels removed then int8 static, none."""
    run = ev.edge_runs.get(MICROCONTROLLER)
    if run is None or not run.fits:
        return CheckOutcome(NO_RESULT, "Nothing measured under the **Microcontroller-class** profile yet. On **Edge & "
                                       "cloud**, pick it and press *Measure*: measure **pruned-channels-50+int8-static** "
                                       "on **Compress & benchmark** first (turn on *removed channels with int8 "
                                       "static*), so there is a version that can fit, then come back.")
    p = run.profile
    budget = p.memory_budget
    if budget is None:
        return CheckOutcome(NO_RESULT, f"The **{p.title}** profile has no memory budget, so nothing can miss it: set "
                                       "it back to its default (256 KiB) on **Edge & cloud**, measure, then come back.")
    sentences = [f"Under the **{p.title}** profile ({fmt.size(budget)} for the weights and activations together"
                 + (", 8-bit integer versions only" if p.int8_only else "") + "):"]
    fitting: list[str] = []
    left_out: dict[str, list[str]] = {}   # why a version cannot run there -> the versions
    for f in run.fits:
        if not f.runnable:
            left_out.setdefault(f.why_not, []).append(f"**{f.name}**")
    for why, names in left_out.items():
        sentences.append(f"{_and(names)} cannot run there ({why}).")
    fp32 = _available(ev.results).get("fp32")
    if fp32 is not None and fp32.size_bytes and not (run.fit("fp32") and run.fit("fp32").runnable):
        sentences.append(f"fp32's weights alone are {fmt.size(fp32.size_bytes)}, "
                         f"{claims.ratio(fp32.size_bytes, budget)} the budget.")
    for f in run.fits:
        if f.runnable and f.memory_bytes is not None:
            sentences.append(_memory_text(f, budget) + (": it fits." if f.fits_memory else "."))
            if f.fits_memory:
                fitting.append(f.name)
    answer = next((i for i, pattern in enumerate(_EDGE_OPTIONS)
                   if pattern is not None and any(re.fullmatch(pattern, name) for name in fitting)), None)
    combo = any(re.fullmatch(_EDGE_OPTIONS[2], f.name) for f in run.fits)
    if answer is None and not combo:
        return CheckOutcome(NO_RESULT, " ".join(sentences) + " No version you measured fits, and you have not measured "
                            "the one the lesson expects to: on **Compress & benchmark** also measure "
                            "**pruned-channels-50+int8-static**, then measure this profile again.")
    if answer is None:
        answer = 3
    text = " ".join(sentences)
    if answer == 2:
        return CheckOutcome(MATCHES, text + " Channels removed *and then* int8 is the version that fits, as the "
                            "lesson says: a quarter of the weights, at 1 byte each.", answer)
    if answer == 3:
        return CheckOutcome(DIFFERS, text + " None of them fits: this is not the lesson's default cnn. Remove 70 % or "
                            "more of the channels before int8, or start from the tiny-cnn.", answer)
    return CheckOutcome(DIFFERS, text + f" Even **{_EDGE_OPTIONS[answer]}** fits: this is not the lesson's default "
                        "cnn, and int8 alone brings it under the budget.", answer)


# ------------------------------------------------------------------ lesson 5

def _grid(c) -> str:
    """"Poland's grid (662 gCO₂e/kWh, 2023)": a lab.energy.grid.Country with its figure's unit and year."""
    return f"{c.name}'s grid ({c.gco2_per_kwh:.0f} gCO₂e/kWh, {c.year_text})"


def only_carbon_moves(ev: Evidence) -> CheckOutcome:
    """Lesson 5: the same computation on a low-carbon grid uses the same energy and emits less CO2e, in
    proportion to the grids' intensities. Options: both go down, only CO2e, only energy, nothing."""
    from dashboard.lab.energy import EnergySettings, kind
    from dashboard.lab.energy.grid import country

    e = ev.training_energy
    if e is None or not e.joules:
        return CheckOutcome(NO_RESULT, "No training energy yet. Train a model with the lesson's settings on the "
                                       "**Train** page (the small mlp for 2 epochs), then come back.")
    base = ev.settings or EnergySettings()
    coal, clean = country(COAL_HEAVY), country(LOW_CARBON)
    dirty = e.with_settings(dataclasses.replace(base, country_iso=coal.iso))
    low = e.with_settings(dataclasses.replace(base, country_iso=clean.iso))
    what = kind(e)
    energy_said = claims.compare(low.joules, dirty.joules, more="more energy", less="less energy",
                                 same="exactly the same energy", band=1e-9)
    co2_said = claims.compare(low.co2_grams, dirty.co2_grams, more="more CO₂e", less="less CO₂e")
    text = (f"Your training used **{fmt.energy(dirty.joules)}** ({what}). On {_grid(coal)} that is "
            f"{fmt.co2(dirty.co2_grams)} CO₂e. Moved to {_grid(clean)}: {fmt.energy(low.joules)}, {energy_said}, "
            f"and {fmt.co2(low.co2_grams)} CO₂e, **{co2_said}**, the ratio of the two grids' intensities "
            f"({claims.ratio(coal.gco2_per_kwh, clean.gco2_per_kwh)}). Nothing ran again: only the grid assumed "
            "changed.")
    same_energy = math.isclose(low.joules, dirty.joules, rel_tol=1e-9)
    if same_energy and low.co2_grams < dirty.co2_grams:
        return CheckOutcome(MATCHES, text + " Only the CO2e moves, as the lesson says.", 1)
    return CheckOutcome(DIFFERS, text + " The energy moved with the grid, which the lesson does not expect: energy "
                        "is what the computer drew, wherever its electricity comes from. Report this: the lab "
                        "should not price energy by country.", 0 if low.co2_grams < dirty.co2_grams else None)


# ------------------------------------------------------------------ lesson 6

def inference_dominates(ev: Evidence) -> CheckOutcome:
    """Lesson 6: at a million requests a day for a year, inference takes nearly all of a model's lifetime
    energy. Options: under 10 %, about half, over 90 %."""
    from dashboard.lab.energy import EnergySettings, kind
    from dashboard.lab.energy.footprint import project_lifetime

    fp32 = _available(ev.results).get("fp32")
    e, per = ev.training_energy, fp32.energy_batch1 if fp32 is not None else None
    if e is None or not e.joules or per is None:
        return CheckOutcome(NO_RESULT, "This needs your training's energy and your fp32 model's energy per "
                                       "inference: train a model, then measure **fp32** on **Compress & benchmark** "
                                       "(it meters the energy of each inference), then come back.")
    settings = ev.settings or EnergySettings()
    train, infer = e.with_settings(settings), per.with_settings(settings)
    proj = project_lifetime(train.joules, infer.joules_per_image, requests_per_day=REQUESTS_PER_DAY, days=DAYS,
                            settings=settings)
    share = proj.inference_share
    served = claims.product([(proj.inferences, f"{proj.inferences:,.0f} inferences"),   # digits: it recomputes
                             (infer.joules_per_image, fmt.energy(infer.joules_per_image))],
                            proj.inference.joules, fmt.energy(proj.inference.joules))
    said = claims.compare(proj.inference.joules, train.joules, more="more", less="less")
    text = (f"Your training used **{fmt.energy(train.joules)}** ({kind(e)}); one inference of your fp32 model, one "
            f"image at a time, {fmt.energy(infer.joules_per_image)} ({kind(per)}). {fmt.count(REQUESTS_PER_DAY)} "
            f"requests a day for {DAYS} days: {served}, {said} than the training. Inference takes "
            f"**{fmt.pct(share, 2 if 0.999 < share < 1 else 1)}** of the lifetime energy; it has used as much as "
            f"the training after {fmt.count(proj.breakeven_inferences)} inferences, {_days(proj.breakeven_days)} "
            "into the year.")
    answer = 0 if share < 0.1 else 2 if share > MOSTLY else 1
    if share > MOSTLY:
        return CheckOutcome(MATCHES, text + " Nearly all of it, as the lesson says: the training ran once, every "
                            "inference repeats.", answer)
    return CheckOutcome(DIFFERS, text + " Training still takes a large share: your training was unusually long or "
                        "your inference unusually cheap per image. Compare the break-even above with the "
                        f"{fmt.count(REQUESTS_PER_DAY * DAYS)} inferences of the year.", answer)


# the name a lesson's front matter gives -> the check (its docstring says what it holds the results to)
CHECKS: dict[str, Check] = {
    "training-costs-more": training_costs_more,
    "int8-smaller": int8_smaller,
    "fits-microcontroller": fits_microcontroller,
    "zeros-not-faster": zeros_not_faster,
    "only-carbon-moves": only_carbon_moves,
    "inference-dominates": inference_dominates,
}

"""One honest inference benchmark for every Variant, side by side.

    results = measure(variants, dataset, BenchSettings(threads=2))

What makes it fair:
- every variant runs the same test images in the same process with the same thread count;
- timing starts after warm-up (oneDNN and fbgemm pick kernels and allocate on first calls);
- variants are measured in interleaved rounds (round 2 starts after every variant has done
  round 1, each round in a rotated order), so a noisy neighbour or CPU clock drift hits all
  alike; a speed-up is the ratio of the two medians shown (fp32's and the version's), so it agrees
  with its own row; the per-round ratios are kept in the spread;
- each timed window is watched (lab.measure.quiet: how long its own threads waited for a processor, and a
  reference probe before and after it that sees a processor running slow); a
  disturbed one is measured again after a wait for a quieter moment (bounded), and a figure is the
  median over its quiet rounds, or, when most stayed disturbed, over all of them and says so
  (`disturbed`); the spread over rounds is kept;
- every per-round figure is kept (`per_round`), and an optional `probe` runs before and after
  each timed sample (benchmarks/placement.py uses it to see a VM's host move the threads);
- in the app the measurement runs as a job holding the compute slot (service.jobs): no other session's work overlaps;
- energy per image (when asked) is measured in both regimes, serving (`energy`, batch_size
  images per call) and real-time (`energy_batch1`, one image per call): metered over the same
  windows that give the throughput and the latency (`energy_mode="rounds"`, what the app uses:
  one regime for speed and energy, no extra time), or over separate longer windows after the
  timing (`"windows"`, the CLI's and benchmark's default); either way it is the median over
  windows with its spread.

Batch-1 calls are timed one by one with perf_counter_ns (p50/p95 need the per-call
distribution, which torch.utils.benchmark's blocked timing does not give; the clock costs
~0.1 us against calls of 100 us and more). Input conversion (to channels_last or bf16) is
inside the timed call: a deployed model receives plain fp32 images too.

Why one module of this size: the protocol above is one procedure (rounds, checks, re-measurement),
its result type and its table; split, the fairness rules above would be spread over several files.
"""

from __future__ import annotations

import gc
import math
import statistics
import time
import zlib
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field, replace

import torch

from dashboard.lab import energy, hardware
from dashboard.lab.measure import quiet
from dashboard.lab.inputs.data import EVAL_BATCH, Dataset
from dashboard.lab.serial import from_plain, to_plain
from dashboard.lab.training.variant import Variant

ProgressFn = Callable[[float, str], None]


@dataclass
class BenchSettings:
    rounds: int = 5
    batch1_min_calls: int = 200        # timed batch-1 calls per variant, over all rounds ...
    batch1_min_seconds: float = 1.0    # ... and at least this long, whichever takes longer
    batch_size: int = 256
    batch_min_seconds: float = 1.0     # timed big-batch work per variant, over all rounds (>= 2 calls a round)
    warmup_seconds: float = 0.2        # untimed calls per variant before round 1
    threads: int | None = None         # torch intra-op threads while measuring; None keeps the current
    energy: bool = False               # per-image energy of every variant
    energy_mode: str = "windows"       # "rounds": meter the timed batch windows; "windows": separate ones
    energy_min_seconds: float = 2.0    # "windows" mode: seconds per metered window ...
    energy_repeats: int = 5            # ... and how many per variant
    retries: int = 3                   # a disturbed timed window (lab.measure.quiet) is measured again up to this often ...
    quiet_wait_s: float = 2.0          # ... each time after waiting up to this long for a quieter moment,
    retry_budget_s: float = 30.0       # ... within this many seconds for the whole measurement (then labelled)

    def validate(self) -> None:
        if self.rounds < 1 or self.batch1_min_calls < 1 or self.batch_size < 1:
            raise ValueError("rounds, batch-1 calls and batch size must be at least 1")
        if self.energy_mode not in ("rounds", "windows"):
            raise ValueError(f"energy_mode must be 'rounds' or 'windows', not {self.energy_mode!r}")
        if self.threads is not None and self.threads < 1:
            raise ValueError("threads must be at least 1")
        if self.retries < 0 or self.quiet_wait_s < 0 or self.retry_budget_s < 0:
            raise ValueError("retries, the wait for a quiet moment and the retry budget cannot be negative")

    def to_dict(self) -> dict:
        return to_plain(self)

    @classmethod
    def quick(cls, **overrides) -> BenchSettings:
        """A fast, rougher setting for tests and previews: short windows, and on a busy machine short waits for
        a quieter moment (a disturbed figure is still measured again, within 2 s, then labelled)."""
        return cls(**{"rounds": 2, "batch1_min_calls": 20, "batch1_min_seconds": 0.05,
                      "batch_min_seconds": 0.05, "warmup_seconds": 0.02, "quiet_wait_s": 0.2,
                      "retry_budget_s": 2.0, **overrides})


@dataclass
class BenchResult:
    """Everything measured about one variant. `to_dict()` is the CLI's JSON object."""

    name: str
    available: bool
    note: str
    how_made: str = ""
    accuracy: float | None = None              # top-1 on the test split, 0..1
    agreement: float | None = None             # share of test images with the same prediction as fp32
    size_bytes: int | None = None              # bytes of the saved file (see saved_as)
    size_bytes_zlib: int | None = None         # the same file zlib-compressed: zeros compress, dense kernels do not skip them
    saved_as: str = ""
    params: int = 0
    nonzero_params: int = 0
    sparsity: float | None = None
    flops: int = 0                             # per image, 1 multiply-add = 2 FLOPs
    layout: str = "contiguous"
    latency_ms_batch1_p50: float | None = None  # median of each quiet round's p50 (see `disturbed`)
    latency_ms_batch1_p95: float | None = None
    throughput_batch256_ips: float | None = None  # images/s at batch_size, median over the quiet rounds
    speedup_batch1: float | None = None         # fp32's p50 / this p50 (the two medians shown)
    speedup_batch256: float | None = None       # this throughput / fp32's (the two medians shown)
    spread: dict = field(default_factory=dict)  # metric -> {"min", "median", "max"} over rounds
    batch1_calls: int = 0
    batch_size: int = 256
    rounds: int = 0
    threads: int = 0
    cpu_features: list[str] = field(default_factory=list)
    accuracy_before_finetune: float | None = None
    details: dict = field(default_factory=dict)
    energy: energy.PerImageEnergy | None = None  # per-image energy at batch_size (its readings re-price when assumptions change)
    energy_batch1: energy.PerImageEnergy | None = None  # per-image energy one image per call (real-time regime)
    breakeven_inferences: float | None = None    # inferences that use as much energy as the training did
    per_round: dict = field(default_factory=dict)  # metric -> one value per round (what the medians are of)
    probes: list = field(default_factory=list)     # (before, after) values of measure's `probe` around each round
    # How quiet its timed windows were (lab.measure.quiet): regime -> one line saying why that figure is disturbed,
    # for each figure that stayed disturbed after its re-measurements: "batch1" (latency p50/p95), "batch"
    # (throughput), and "speedup_batch1" / "speedup_batch" when either side of a speed-up is. Empty: every
    # figure was checked quiet. A disturbed figure is shown labelled and never shared, posted, replayed or
    # used in a ratio on another page.
    disturbed: dict = field(default_factory=dict)
    quality: dict = field(default_factory=dict)    # regime -> {"windows", "clean", "retries", "worst_share"}

    @property
    def clean(self) -> bool:
        """Every figure of it was measured in quiet windows (nothing in `disturbed`)."""
        return not self.disturbed

    def is_disturbed(self, regime: str) -> bool:
        """Whether the figure of `regime` is disturbed: "batch1" (latency p50/p95), "batch" (throughput),
        "speedup_batch1", "speedup_batch"."""
        return regime in self.disturbed

    def to_dict(self) -> dict:
        return {**to_plain(self, exclude=("energy", "energy_batch1")),
                "energy": self.energy.to_dict() if self.energy else None,
                "energy_batch1": self.energy_batch1.to_dict() if self.energy_batch1 else None}

    @classmethod
    def from_dict(cls, d: dict) -> BenchResult:
        def back(e):
            return energy.PerImageEnergy.from_dict(e) if e and e.get("readings") else None
        return from_plain(cls, {**d, "energy": back(d.get("energy")), "energy_batch1": back(d.get("energy_batch1"))})


@torch.inference_mode()
def predictions(variant: Variant, dataset: Dataset, batch_size: int = EVAL_BATCH) -> torch.Tensor:
    """Top-1 class of every test image (normalised batch by batch: memory stays bounded)."""
    return torch.cat([variant(x).argmax(1) for x, _ in dataset.batches("test", batch_size)])


def _spread(values: list[float]) -> dict:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def _percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    return sorted_values[min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))]


@dataclass
class _Timing:
    p50_ms: list[float] = field(default_factory=list)   # one per round
    p95_ms: list[float] = field(default_factory=list)
    ips: list[float] = field(default_factory=list)
    probes: list[tuple] = field(default_factory=list)  # the optional probe's values before and after each round
    calls: int = 0
    readings: list = field(default_factory=list)       # energy of each round's batch window ("rounds" mode)
    images: list[int] = field(default_factory=list)    # images in each metered window
    readings1: list = field(default_factory=list)      # ... and of each round's batch-1 window
    images1: list[int] = field(default_factory=list)
    quality1: list = field(default_factory=list)       # lab.measure.quiet.Quality of each round's batch-1 window
    quality: list = field(default_factory=list)        # ... and of its batch window
    fastest_call1_s: float = math.inf                  # the fastest batch-1 call in any of its windows
    fastest_call_s: float = math.inf                   # ... and batch call
    retries: dict = field(default_factory=lambda: {"batch1": 0, "batch": 0})


Say = Callable[[str], None]


@dataclass
class _Budget:
    """Seconds left for re-measuring in one measurement (waits for quiet and the windows run again)."""

    left_s: float

    def spend(self, since: float) -> None:
        self.left_s -= time.perf_counter() - since


def _checked(timed: Callable[[], tuple], phase: str, s: BenchSettings, energy_settings, say: Say,
             should_stop: Callable[[], bool], budget: _Budget,
             judge: Callable[[tuple, quiet.Quality], quiet.Quality] | None = None, settle: bool = False
             ) -> tuple[tuple, quiet.Quality, object, int]:
    """Run one timed window (`timed()` returns its figures), metered when asked, watched by lab.measure.quiet
    (and `judge`d by its figures, where given); a disturbed one is run again after a wait for a quieter
    moment, up to s.retries times while the measurement's retry budget lasts. Returns the figures, the Quality
    and energy reading of the window kept (the quiet one, else the least disturbed), and how many
    re-measurements it took. `settle`: a runtime with a thread pool of its own (quiet.window's settle)."""
    metered = s.energy and s.energy_mode == "rounds"
    best, retries, since = None, 0, time.perf_counter()
    while True:
        probed = None
        if settle:   # the probe (torch's workers) first, then their spin waited out, outside the meter and the clock
            probed = quiet.probe_us()
            quiet.settle_workers()
        # The meter starts CodeCarbon's tracker before the clock starts and stops it after.
        with energy.meter(phase, settings=energy_settings) if metered else nullcontext() as reading:
            with quiet.window(probed_us=probed) as w:
                figures = timed()
        q = judge(figures, w.result) if judge else w.result
        if best is None or _badness(q) < _badness(best[1]):
            best = (figures, q, reading if metered else None)
        if not q.disturbed_for(metered) or retries >= s.retries \
                or budget.left_s - (time.perf_counter() - since) <= 0 or should_stop():
            break
        retries += 1
        say(f"{q.retry_words}: waiting for a quieter moment, then measuring again (try {retries + 1} of "
            f"{1 + s.retries})")
        quiet.wait_for_quiet(s.quiet_wait_s, should_stop=should_stop)
    if retries:
        budget.spend(since)
    return (*best, retries)


def _badness(q: quiet.Quality) -> float:
    """How disturbed a window was, to keep the least disturbed of its tries: lost share plus the others'
    share plus the host's steal plus how much slower than their best the processor and the calls ran."""
    return (q.share + q.others_share + q.stolen_share + max(q.slowness - 1.0, 0.0)
            + max(q.calls_slowness - 1.0, 0.0))


def _time_round(variant: Variant, singles: list[torch.Tensor], batch: torch.Tensor,
                s: BenchSettings, t: _Timing, energy_settings: energy.EnergySettings | None,
                probe: Callable[[], float | None] | None, say: Say, should_stop: Callable[[], bool],
                budget: _Budget) -> None:
    calls_goal = math.ceil(s.batch1_min_calls / s.rounds)
    seconds_goal = s.batch1_min_seconds / s.rounds

    def one_at_a_time() -> tuple:
        times: list[int] = []
        start = time.perf_counter()
        i = 0
        while len(times) < calls_goal or time.perf_counter() - start < seconds_goal:
            x = singles[i % len(singles)]
            t0 = time.perf_counter_ns()
            variant(x)
            times.append(time.perf_counter_ns() - t0)
            i += 1
        return (times,)

    def batched() -> tuple:
        calls: list[int] = []
        start = time.perf_counter()
        while len(calls) < 2 or time.perf_counter() - start < s.batch_min_seconds / s.rounds:
            t0 = time.perf_counter_ns()
            variant(batch)
            calls.append(time.perf_counter_ns() - t0)
        return len(calls), time.perf_counter() - start, calls

    # Each window is also judged by its own calls against the fastest call this model made at that batch
    # (lab.measure.quiet.CALLS_SLOW): at batch 1 the window's median call, at the batch its mean call.
    def by_calls1(figures: tuple, q: quiet.Quality) -> quiet.Quality:
        (times,) = figures
        t.fastest_call1_s = min(t.fastest_call1_s, min(times) / 1e9)
        return replace(q, call_s=statistics.median(times) / 1e9, best_call_s=t.fastest_call1_s)

    def by_calls(figures: tuple, q: quiet.Quality) -> quiet.Quality:
        n, seconds, calls = figures
        t.fastest_call_s = min(t.fastest_call_s, min(calls) / 1e9)
        return replace(q, call_s=seconds / n, best_call_s=t.fastest_call_s)

    settle = bool(getattr(variant.module, "own_thread_pool", False))   # ONNX Runtime: quiet.settle_workers
    gc.collect()
    gc.disable()  # a collection inside the timed loop would land on whichever variant is running
    try:
        before = probe() if probe else None
        (times,), q1, r1, tries1 = _checked(one_at_a_time, f"inference:{variant.name}:batch1", s, energy_settings,
                                            lambda m: say(f"{variant.name} at batch 1: {m}"), should_stop, budget,
                                            judge=by_calls1, settle=settle)
        times.sort()
        t.p50_ms.append(_percentile(times, 0.50) / 1e6)
        t.p95_ms.append(_percentile(times, 0.95) / 1e6)
        t.calls += len(times)
        t.quality1.append(q1)
        t.retries["batch1"] += tries1
        if r1 is not None:
            t.readings1.append(r1)
            t.images1.append(len(times))

        (n, seconds, _), q, r, tries = _checked(batched, f"inference:{variant.name}", s, energy_settings,
                                                lambda m: say(f"{variant.name} at batch {len(batch)}: {m}"),
                                                should_stop, budget, judge=by_calls, settle=settle)
        t.ips.append(n * len(batch) / seconds)
        t.quality.append(q)
        t.retries["batch"] += tries
        if r is not None:
            t.readings.append(r)
            t.images.append(n * len(batch))
        t.probes.append((before, probe() if probe else None))
    finally:
        gc.enable()


def layout_call_s(variant: Variant, batch_size: int, threads: int) -> float:
    """The fastest batch call its layout choice timed minutes earlier in this process (lab.training.variant's
    choose_layout: the same module, layout, batch and threads), else inf. Each window's calls are held against it
    too: a measurement whose every call ran much slower than that, the fastest of its own calls included, is not
    the model's speed. Seen on the 2-vCPU VM: fp32 timed at 22,272 images/s while its layout was chosen, then
    measured at 14,012 in every window, unlabelled, as the calls were only held against each other."""
    timed = variant.details.get("layout_ips_batch256", {}).get(variant.layout)
    same = batch_size == 256 and variant.details.get("layout_threads") == threads
    return batch_size / timed if timed and same else math.inf


def _against(q: quiet.Quality, fastest_call_s: float) -> quiet.Quality:
    """The window judged against the fastest call of the whole measurement (it saw only those before it)."""
    return replace(q, best_call_s=min(q.best_call_s, fastest_call_s)) if q.best_call_s else q


def _quiet_rounds(qualities: list, metered: bool = False) -> list[int]:
    """The rounds whose window was quiet; all of them when too few were (the figure is then disturbed)."""
    clean = [i for i, q in enumerate(qualities) if not q.disturbed_for(metered)]
    return clean if clean and len(clean) >= _needed(len(qualities)) else list(range(len(qualities)))


def _needed(rounds: int) -> int:
    """Quiet windows a figure needs to count as checked: a majority of its rounds."""
    return rounds // 2 + 1


def _disturbance(qualities: list, retries: int, settings: BenchSettings, metered: bool = False) -> str | None:
    """Why a figure is disturbed (one line), or None when a majority of its windows were quiet."""
    clean = sum(1 for q in qualities if not q.disturbed_for(metered))
    if clean >= _needed(len(qualities)):
        return None
    worst = max(qualities, key=lambda q: _badness(q) if metered else _badness(q) - q.others_share)
    return (f"{len(qualities) - clean} of its {len(qualities)} timed windows stayed disturbed after "
            f"{retries} re-measurement{'s' if retries != 1 else ''} (up to {settings.retries} each): {worst.why()}")


def _quality(qualities: list, retries: int, metered: bool = False) -> dict:
    return {"windows": len(qualities), "clean": sum(1 for q in qualities if not q.disturbed_for(metered)),
            "retries": retries, "worst_share": round(max((q.share for q in qualities), default=0.0), 4),
            "shares": [round(q.share, 4) for q in qualities],
            "others_shares": [round(q.others_share, 4) for q in qualities],
            "slowness": [round(q.slowness, 3) for q in qualities],
            "stolen_shares": [round(q.stolen_share, 4) for q in qualities],
            "calls_slowness": [round(q.calls_slowness, 3) for q in qualities],
            "call_ms": [round(q.call_s * 1e3, 4) if q.call_s else None for q in qualities],
            "fastest_call_ms": round(min((q.best_call_s for q in qualities if q.best_call_s), default=0.0) * 1e3, 4),
            "wall_ms": [round(q.wall_s * 1e3, 2) for q in qualities],
            "probe_us": [[round(u, 1) for u in q.probe_us] if q.probe_us else None for q in qualities],
            "probe_best_us": [round(q.probe_best_us, 1) if q.probe_best_us else None for q in qualities],
            "machine_other_shares": [round(q.machine_other_cpu_s / q.wall_s, 4) if q.wall_s else 0.0
                                     for q in qualities], "metered": metered,
            "how": qualities[0].how if qualities else ""}


def _saved_sizes(variant: Variant) -> tuple[int, int]:
    blob = variant.saved_bytes()
    return len(blob), len(zlib.compress(blob, 6))


def measure(variants: list[Variant], dataset: Dataset, settings: BenchSettings | None = None,
            on_progress: ProgressFn | None = None, should_stop: Callable[[], bool] | None = None,
            baseline: str = "fp32", energy_settings: energy.EnergySettings | None = None,
            probe: Callable[[], float | None] | None = None) -> list[BenchResult]:
    """Accuracy, agreement, size, params, FLOPs, batch-1 latency and batch throughput of each
    variant (and per-image energy if settings.energy, priced with energy_settings), in one process,
    interleaved by round. `probe()`, if given, runs before and after each timed round; its values
    land in each result's `probes`."""
    s = settings or BenchSettings()
    s.validate()
    hardware.tune_allocator()  # before any timing: see its docstring for the 2.4x it removes
    progress = on_progress or (lambda f, m: None)
    stop = should_stop or (lambda: False)
    hw = hardware.describe("cpu")
    results = [BenchResult(v.name, v.available, v.note, v.how_made, saved_as=v.saved_as, params=v.params,
                           nonzero_params=v.nonzero_params, sparsity=v.sparsity, flops=v.flops,
                           layout=v.layout, batch_size=s.batch_size, cpu_features=list(hw.features),
                           accuracy_before_finetune=v.accuracy_before_finetune, details=dict(v.details))
               for v in variants]
    live = [(v, r) for v, r in zip(variants, results) if v.available and v.module is not None]
    images, _ = dataset.test_tensors(max(64, s.batch_size))   # only what the timing uses
    labels = dataset.test_labels
    singles = [images[i:i + 1].clone() for i in range(min(64, len(images)))]
    batch = images[:s.batch_size]
    if len(batch) < s.batch_size:  # a small test split: repeat images to fill the batch
        batch = images.repeat(math.ceil(s.batch_size / len(images)), 1, 1, 1)[:s.batch_size]
    timings = {}
    energy_steps = 2 * len(live) if s.energy and s.energy_mode == "windows" else 0
    steps, done = len(live) * (1 + s.rounds) + energy_steps, 0

    before_threads = threads = torch.get_num_threads()
    try:
        threads = hardware.set_threads(s.threads)
        timings = {v.name: _Timing(fastest_call_s=layout_call_s(v, len(batch), threads)) for v, _ in live}
        # 1. Accuracy, agreement, size; then warm-up.
        preds_of = {}
        for v, _ in live:
            if stop():
                break
            preds_of[v.name] = predictions(v, dataset)
        reference = preds_of.get(baseline)
        for v, r in live:
            if stop() or v.name not in preds_of:
                break
            progress(done / steps, f"accuracy and size of {v.name}")
            preds = preds_of[v.name]
            r.accuracy = int((preds == labels).sum()) / len(labels)
            r.agreement = int((preds == reference).sum()) / len(labels) if reference is not None else None
            r.size_bytes, r.size_bytes_zlib = _saved_sizes(v)
            with torch.inference_mode():
                start = time.perf_counter()
                while time.perf_counter() - start < s.warmup_seconds:
                    v(singles[0])
                    v(batch)
            done += 1
        # 2. Interleaved timing rounds, each in a rotated order.
        budget = _Budget(s.retry_budget_s)
        for rnd in range(s.rounds):
            if stop():
                break
            order = live[rnd % len(live):] + live[:rnd % len(live)] if live else []
            for v, _ in order:
                if stop():  # a whole round or none: per-round ratios need every variant
                    break
                progress(done / steps, f"timing round {rnd + 1}/{s.rounds}: {v.name}")
                with torch.inference_mode():
                    _time_round(v, singles, batch, s, timings[v.name], energy_settings, probe,
                                lambda m, done=done: progress(done / steps, f"round {rnd + 1}/{s.rounds}, {m}"), stop,
                                budget)
                done += 1
        base = timings.get(baseline)
        complete = min((len(t.ips) for t in timings.values()), default=0)
        for t in timings.values():  # drop a round a stop cut short
            del t.p50_ms[complete:], t.p95_ms[complete:], t.ips[complete:], t.probes[complete:]
            del t.readings[complete:], t.images[complete:], t.readings1[complete:], t.images1[complete:]
            del t.quality1[complete:], t.quality[complete:]
        for v, r in live:
            t = timings[v.name]
            if not t.ips:
                continue
            r.rounds, r.batch1_calls, r.threads = len(t.ips), t.calls, threads
            # Each figure is the median over its quiet windows (lab.measure.quiet); when too few were quiet, over
            # all of them, and the figure says it is disturbed.
            # A metered window is also disturbed when other threads of this process computed inside it: their
            # CPU time would be in its energy (lab.measure.quiet.Quality.disturbed_for).
            metered = s.energy and s.energy_mode == "rounds"
            # Judged again against the fastest reference probe of the whole measurement (lab.measure.quiet), and
            # each batch window against this model's fastest batch call of the whole measurement.
            t.quality1 = [quiet.rejudged(_against(q, t.fastest_call1_s)) for q in t.quality1]
            t.quality = [quiet.rejudged(_against(q, t.fastest_call_s)) for q in t.quality]
            quiet1, quietn = _quiet_rounds(t.quality1, metered), _quiet_rounds(t.quality, metered)
            for regime, qualities in (("batch1", t.quality1), ("batch", t.quality)):
                r.quality[regime] = _quality(qualities, t.retries[regime], metered)
                if why := _disturbance(qualities, t.retries[regime], s, metered):
                    r.disturbed[regime] = why
            if t.readings:
                r.energy = energy.per_image_from(f"inference:{v.name}", [t.readings[i] for i in quietn],
                                                 [t.images[i] for i in quietn])
                r.details["energy_windows"] = f"the {len(quietn)} timed batch-{len(batch)} windows"
            if t.readings1:
                r.energy_batch1 = energy.per_image_from(f"inference:{v.name}:batch1", [t.readings1[i] for i in quiet1],
                                                        [t.images1[i] for i in quiet1])
                r.details["energy_windows_batch1"] = f"the {len(quiet1)} timed batch-1 windows"
            p50, p95, ips = [t.p50_ms[i] for i in quiet1], [t.p95_ms[i] for i in quiet1], [t.ips[i] for i in quietn]
            r.latency_ms_batch1_p50 = statistics.median(p50)
            r.latency_ms_batch1_p95 = statistics.median(p95)
            r.throughput_batch256_ips = statistics.median(ips)
            r.spread = {"latency_ms_batch1_p50": _spread(p50), "latency_ms_batch1_p95": _spread(p95),
                        "throughput_batch256_ips": _spread(ips)}
            r.per_round = {"latency_ms_batch1_p50": list(t.p50_ms), "latency_ms_batch1_p95": list(t.p95_ms),
                           "throughput_batch256_ips": list(t.ips)}
            r.probes = [list(pair) for pair in t.probes] if probe else []
        for v, r in live:   # speed-ups: the ratio of the two figures shown beside them
            fp32 = next((x for u, x in live if u.name == baseline), None)
            if fp32 is None or base is None or not timings[v.name].ips or len(base.ips) != len(timings[v.name].ips):
                continue
            t = timings[v.name]
            # fp32's median over this one's, so a table never reads "1.19x" beside a version whose own columns
            # show it slower. The per-round ratios stay in the spread: how steady the comparison was.
            r.speedup_batch1 = fp32.latency_ms_batch1_p50 / r.latency_ms_batch1_p50
            r.speedup_batch256 = r.throughput_batch256_ips / fp32.throughput_batch256_ips
            r.spread["speedup_batch1"] = _spread([b / x for b, x in zip(base.p50_ms, t.p50_ms)])
            r.spread["speedup_batch256"] = _spread([x / b for b, x in zip(base.ips, t.ips)])
            if v.name == baseline:
                continue   # 1.00x by definition, not a measured ratio
            for regime, key in (("batch1", "speedup_batch1"), ("batch", "speedup_batch")):
                if regime in r.disturbed:
                    r.disturbed[key] = "its own figure is disturbed"
                elif regime in fp32.disturbed:
                    r.disturbed[key] = f"{baseline}'s figure it is compared with is disturbed"
        # 3. Energy per image, one variant at a time (each holds the meter on its own).
        if s.energy and s.energy_mode == "windows":
            for v, r in live:
                if stop():
                    break
                progress(done / steps, f"energy per image of {v.name}")
                r.energy = per_image_energy(v, batch, min_seconds=s.energy_min_seconds,
                                            repeats=s.energy_repeats, settings=energy_settings)
                r.details["energy_windows"] = f"{s.energy_repeats} separate batch-{len(batch)} windows"
                done += 1
                progress(done / steps, f"energy per image of {v.name}, one image per call")
                r.energy_batch1 = per_image_energy(v, singles[0], min_seconds=s.energy_min_seconds,
                                                   repeats=s.energy_repeats, settings=energy_settings,
                                                   phase=f"inference:{v.name}:batch1")
                r.details["energy_windows_batch1"] = f"{s.energy_repeats} separate batch-1 windows"
                done += 1
    finally:
        torch.set_num_threads(before_threads)
    for r in results:
        if not r.available:
            r.threads = threads
    progress(1.0, "measured")
    return results


def per_image_energy(variant: Variant, batch: torch.Tensor, *, min_seconds: float, repeats: int,
                     warmup: int = 3, settings: energy.EnergySettings | None = None,
                     phase: str | None = None) -> energy.PerImageEnergy:
    """Inference energy per image of one variant at this batch size (lab.energy.per_image)."""
    def run_batch() -> int:
        with torch.inference_mode():
            variant(batch)
        return len(batch)

    return energy.per_image(run_batch, phase=phase or f"inference:{variant.name}", min_seconds=min_seconds,
                            repeats=repeats, warmup=warmup, settings=settings)


def markdown(results: list[BenchResult]) -> str:
    """The results as a markdown table (what the CLI prints)."""
    with_energy = any(r.energy for r in results)
    b = next((r.batch_size for r in results if r.available), BenchSettings.batch_size)
    head = ["variant", "accuracy", "agree", "size", "params", "nonzero", "MFLOPs", "b1 p50 ms", "b1 p95 ms",
            f"b{b} img/s", "speed-up b1", f"speed-up b{b}"] + (["mJ/image"] if with_energy else []) + ["note"]
    rows = []
    for r in results:
        if not r.available:
            rows.append([r.name] + ["n/a"] * (len(head) - 2) + [f"unavailable: {r.note}"])
            continue
        row = [r.name, _pct(r.accuracy), _pct(r.agreement), _kb(r.size_bytes), f"{r.params:,}",
               f"{r.nonzero_params:,}", f"{r.flops / 1e6:.2f}", _num(r.latency_ms_batch1_p50, 3),
               _num(r.latency_ms_batch1_p95, 3), _num(r.throughput_batch256_ips, 0),
               _x(r.speedup_batch1), _x(r.speedup_batch256)]
        if with_energy:
            row.append(f"{r.energy.joules_per_image * 1e3:,.4f} ({energy.kind(r.energy)})" if r.energy else "")
        row.append(r.note.replace("|", "/"))
        rows.append(row)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _pct(x: float | None) -> str:
    return "" if x is None else f"{x:.2%}"


def _kb(x: int | None) -> str:
    return "" if x is None else f"{x / 1024:,.0f} KiB"


def _num(x: float | None, digits: int) -> str:
    return "" if x is None else f"{x:,.{digits}f}"


def _x(x: float | None) -> str:
    return "" if x is None else f"{x:.2f}x"


__all__ = [
    "BenchResult",
    "BenchSettings",
    "markdown",
    "measure",
    "per_image_energy",
    "predictions",
]

"""The default lesson's two jobs, measured: the lesson-train preset's training and lesson-compress's compress & measure.

    python benchmarks/lesson_jobs.py [--repeats 5] [--results benchmarks/results]

Each repetition is one student of the default lesson (lessons/run_of_show.toml's train and compress steps): a
fresh session presses Train with the lesson-train preset's settings, then Compress & measure with
lesson-compress's, through the calls the pages make (service.training_jobs.start_training,
service.measuring.start_compress, with the values forms.train_config and forms.compress_plan make of the preset
over the page's defaults), so each job is queued, run by the server's backend (in this process: the compute slot,
as on a server without Ray) through lab.pipeline, and its result put into the session. Every student has a seed
of its own (1000, 1001, ...): nothing is served from the shared results, the worst case benchmarks/capacity.py
assumes. Timed per job: in the slot (Job.started_at to finished_at: what occupies a measuring node, the figure
load.py's Ray overhead is a difference of) and press to result (the call until its result is in the session).

One repetition first, untimed in the summary but kept in the JSON: a server's first job pays first-call costs
(imports, kernel selection) that a server in a lesson has paid already. Nothing else runs in this process; the
machine's load average before and after, and each job's share of a core taken by other programs
(activity.Interference), are recorded, since other work on the same cores slows every figure.
Writes benchmarks/results/lesson_jobs.json (benchmarks/capacity.py reads it).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import dashboard  # noqa: E402,F401  first: its OpenMP default must precede torch
from benchmarks._table import RESULTS, markdown_table, write_json  # noqa: E402

TRAIN, COMPRESS = "train (lesson-train)", "compress & measure (lesson-compress)"
JOB_TIMEOUT_S = 900.0   # only so a stuck job ends the run; no figure depends on it
FIRST_SEED = 1000


def lesson_presets() -> dict:
    """lessons/presets.toml read as the app reads it (course.shareable.load_presets); the lesson's two presets
    must load."""
    from dashboard.course.shareable import PRESET_FILE, load_presets
    found, errors = load_presets((ROOT / "lessons" / PRESET_FILE).read_text())
    missing = [name for name in ("lesson-train", "lesson-compress") if name not in found]
    if missing:
        sys.exit(f"lessons/{PRESET_FILE}: {', '.join(missing)} did not load: {' '.join(errors)}")
    return found


def lesson_values(presets: dict | None = None) -> tuple[dict, dict]:
    """The Train and Compress pages' values with the lesson's presets applied over the page's defaults."""
    from dashboard.course.forms import defaults
    presets = lesson_presets() if presets is None else presets
    return ({**defaults("train"), **presets["lesson-train"].values},
            {**defaults("compress"), **presets["lesson-compress"].values})


def lesson_description(presets: dict | None = None) -> dict:
    """What the lesson's jobs are, as plain values (the JSON records them; capacity.py compares them to the
    presets as they are now)."""
    from dashboard.course.forms import compress_plan, train_config
    train_values, compress_values = lesson_values(presets)
    config = train_config(train_values)
    names, cs = compress_plan(compress_values)
    return {"train": {k: config.to_dict()[k] for k in ("model", "dataset", "epochs", "batch_size", "train_images")},
            "versions": names, "compress": cs.to_dict()}


def machine() -> dict:
    import psutil
    import torch

    from dashboard.lab.hardware import cpu_model
    return {"cpu": cpu_model(), "logical_cores": os.cpu_count(), "usable_cores": len(os.sched_getaffinity(0)),
            "memory_gb": round(psutil.virtual_memory().total / 1e9, 1), "python": platform.python_version(),
            "torch": torch.__version__,
            "torch_build": f"CUDA {torch.version.cuda}" if torch.version.cuda else "CPU-only"}


def code() -> dict:
    """The commit measured, and whether the engine or service had uncommitted changes (then it is not quite it)."""
    import subprocess
    git = lambda *a: subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return {"commit": git("rev-parse", "HEAD") or None,
            "dashboard_uncommitted": bool(git("status", "--porcelain", "--", "dashboard", "lessons"))}


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def timed(start, what: str) -> dict:
    """Press a page's button (`start()`, the call the page makes) and wait for the result in the session."""
    from dashboard.service.jobs import DONE
    t0 = time.perf_counter()
    job = start()
    if job is None:
        sys.exit(f"{what}: served from the shared results, not computed (every repetition's seed must differ)")
    if not job.wait(JOB_TIMEOUT_S) or job.state != DONE:
        sys.exit(f"{what}: {job.state} {job.error or ''}")
    press_to_result = time.perf_counter() - t0
    busy = job.interference
    return {"in_slot_s": round(job.finished_at - job.started_at, 2), "press_to_result_s": round(press_to_result, 2),
            "queue_s": round(job.started_at - job.created_at, 2), "where": job.where or "in-process",
            "other_programs_share_of_core": round(busy.machine_share_of_core, 3) if busy else None,
            "other_server_threads_share_of_core": round(busy.share_of_core, 3) if busy else None}


def one_student(seed: int, train_values: dict, compress_values: dict) -> dict:
    """One student of the lesson: Train with lesson-train (its own seed), then Compress & measure with
    lesson-compress on that model."""
    from dashboard.course.forms import compress_plan, train_config
    from dashboard.service import measuring, training_jobs
    from dashboard.service.sessions import REGISTRY
    s = REGISTRY.create()
    config = train_config({**train_values, "train_seed": seed})
    names, cs = compress_plan(compress_values)
    before = load_average()
    train = timed(lambda: training_jobs.start_training(s, config), TRAIN)
    train["test_accuracy"] = round(s.trained.test_accuracy, 4)
    compress = timed(lambda: measuring.start_compress(s, names, cs), COMPRESS)
    compress["versions"] = [r.name for r in s.results]
    compress["disturbed_versions"] = [r.name for r in s.results if not r.clean]
    compress["windows_measured_again"] = sum(int(q.get("retries", 0)) for r in s.results
                                             for q in r.quality.values())
    s.free_models()   # the next student's jobs run beside no other model than the server would keep
    return {"seed": seed, "load_average_before": before, "load_average_after": load_average(),
            TRAIN: train, COMPRESS: compress}


def summarize(repetitions: list[dict]) -> dict:
    """Per job, over the timed repetitions (not the first): median, min and max seconds in the slot and press to
    result."""
    timed_reps = [r for r in repetitions if not r["first"]]
    out = {}
    for job in (TRAIN, COMPRESS):
        row = {"n": len(timed_reps)}
        for k in ("in_slot_s", "press_to_result_s"):
            xs = [r[job][k] for r in timed_reps]
            row[k] = {"median": round(statistics.median(xs), 2), "min": min(xs), "max": max(xs)} if xs else None
        out[job] = row
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed repetitions (students), after a first one")
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder for lesson_jobs.json")
    args = parser.parse_args()

    import torch
    from dashboard.lab import hardware, settings
    hardware.one_thread_here()   # this thread presses the buttons, as a page's thread does in the app (app.py)
    presets = lesson_presets()
    train_values, compress_values = lesson_values(presets)
    lesson = lesson_description(presets)
    print(f"The default lesson: train {lesson['train']}, then compress & measure {', '.join(lesson['versions'])}; "
          f"1 first + {args.repeats} timed repetitions, load average {load_average()} ...", file=sys.stderr)
    start_load, when = load_average(), time.strftime("%Y-%m-%d %H:%M:%S")
    repetitions = []
    for i in range(args.repeats + 1):
        rep = {"repetition": i, "first": i == 0, **one_student(FIRST_SEED + i, train_values, compress_values)}
        repetitions.append(rep)
        print(f"  {'first' if i == 0 else f'{i}'}: train {rep[TRAIN]['in_slot_s']} s, compress & measure "
              f"{rep[COMPRESS]['in_slot_s']} s in the slot; load {rep['load_average_after'][0]}", file=sys.stderr)
    end_load = load_average()
    summary = summarize(repetitions)
    hw = machine()

    rows = [[r["repetition"] if not r["first"] else "first (not in the median)", r["seed"],
             f"{r[TRAIN]['in_slot_s']:.1f} ({r[TRAIN]['press_to_result_s']:.1f})",
             f"{r[COMPRESS]['in_slot_s']:.1f} ({r[COMPRESS]['press_to_result_s']:.1f})",
             f"{100 * r[TRAIN]['test_accuracy']:.1f} %", len(r[COMPRESS]["disturbed_versions"]),
             f"{r['load_average_before'][0]} / {r['load_average_after'][0]}",
             f"{r[TRAIN]['other_programs_share_of_core']} / {r[COMPRESS]['other_programs_share_of_core']}"]
            for r in repetitions]
    print(f"\nThe default lesson's jobs: {hw['cpu']}, {hw['usable_cores']} usable cores, "
          f"{settings.current().threads or torch.get_num_threads()} torch threads, torch {hw['torch']} "
          f"({hw['torch_build']}); {when}; load average (1/5/15 min) {start_load} before, {end_load} after\n")
    print(markdown_table(["repetition", "seed", "train s in the slot (press to result)",
                          "compress & measure s in the slot (press to result)", "test accuracy",
                          "disturbed versions", "load average (1 min) before / after",
                          "other programs' share of a core, train / compress"], rows))
    print()
    print(markdown_table(["job", "timed repetitions", "in the slot: median (min - max) s",
                          "press to result: median (min - max) s"],
                         [[job, s["n"], *[f"{s[k]['median']:.1f} ({s[k]['min']:.1f} - {s[k]['max']:.1f})"
                                          for k in ("in_slot_s", "press_to_result_s")]]
                          for job, s in summary.items()]))
    print(f"\nTrain: {lesson['train']['model']} on {lesson['train']['dataset']}, {lesson['train']['epochs']} epochs, "
          f"batch {lesson['train']['batch_size']}, all training images; compress & measure: "
          f"{', '.join(lesson['versions'])}. Each repetition a fresh session with a seed of its own (nothing shared); "
          "jobs in this process's compute slot.")
    path = write_json("lesson_jobs", {
        "what": "the default lesson's two jobs through the pages' calls (benchmarks/lesson_jobs.py)",
        "when": when, "code": code(), "machine": hw, "threads": settings.current().threads or torch.get_num_threads(),
        "load_average_before": start_load, "load_average_after": end_load,
        "lesson": lesson, "definitions": {
            "in_slot_s": "Job.started_at to finished_at: the job holding the compute slot",
            "press_to_result_s": "the page's start call until the job is over and its result is in the session",
            "first": "the process's first repetition: first-call costs; not in the summary"},
        "summary": summary, "repetitions": repetitions}, args.results)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()

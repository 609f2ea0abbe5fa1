"""Capacity on paper: students per measuring node for the default lesson, from measured job times.

    python benchmarks/capacity.py [--wait-target 60] [--lesson-minutes 60] [--results benchmarks/results]

Nothing here is measured and no job time is written in: every time comes from the benchmarks' JSON
(run them first), and every assumption is printed beside the table.

- app.json (benchmarks/app.py): the whole demo on a fresh server, click to results, and its training
  phase: the demo is the cnn on the bundled digits for DEMO_CONFIG's epochs, then compressed and measured
  (DEMO_VARIANTS), the same kind of work as the default lesson's two jobs;
- load-backends.json (benchmarks/load.py --backends inproc,ray): trainings on the in-process slot and on
  a local Ray cluster's one measuring node, same machine, same run; from it the Ray overhead per job.

The default lesson (lessons/run_of_show.toml, lessons/presets.toml): each student presses Train with
the lesson-train preset (its epochs read from the preset) and then Compress & measure with
lesson-compress. Its training job is the demo's training phase scaled by epochs (training time is
proportional to the images seen); its compress job is the rest of the demo (whose versions, DEMO_VARIANTS,
are not quite lesson-compress's: the printed assumptions name both). Both steps are pressed by the
whole room at about the same moment (the presenter says "press Train"), so what limits a node is the
burst: the last student of a step waits ceil(students / nodes) jobs, and that must stay within the wait
target. Worst case throughout: every student's settings differ (their own seed), so nothing is shared;
with the preset unchanged, identical jobs are computed once and the room follows it (service/shared.py).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks._table import RESULTS, markdown_table, write_json

STUDENTS = (30, 100, 300)
NODES = (1, 4, 16)


def read(folder: Path, name: str) -> dict | None:
    path = folder / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def lesson_presets() -> dict:
    """lessons/presets.toml read as the app reads it (dashboard.course.shareable.load_presets); the lesson's two
    presets must load."""
    from dashboard.course.shareable import PRESET_FILE, load_presets
    found, errors = load_presets((ROOT / "lessons" / PRESET_FILE).read_text())
    missing = [name for name in ("lesson-train", "lesson-compress") if name not in found]
    if missing:
        sys.exit(f"lessons/{PRESET_FILE}: {', '.join(missing)} did not load: {' '.join(errors)}")
    return found


def lesson_epochs(presets: dict) -> int:
    from dashboard.course.forms import defaults, train_config
    return int(train_config({**defaults("train"), **presets["lesson-train"].values}).epochs)


def lesson_versions(presets: dict) -> list[str]:
    """The versions lesson-compress measures, as the Compress page would ask for them."""
    from dashboard.course.forms import compress_plan, defaults
    return compress_plan({**defaults("compress"), **presets["lesson-compress"].values})[0]


def demo_epochs() -> int:
    from dashboard.lab.pipeline import DEMO_CONFIG
    return int(DEMO_CONFIG.epochs)


def demo_versions() -> list[str]:
    from dashboard.lab.pipeline import DEMO_VARIANTS
    return list(DEMO_VARIANTS)


def ray_overhead(backends: dict | None) -> tuple[float, str]:
    """Seconds Ray adds to one job: the median job's time on the page (progress bar to result), Ray minus
    in-process, from the same run, as load.py stored it (summary.overhead_vs_inproc.in_slot_p50_s); never below 0. (The other figure, last result / N, moved by more than the
    overhead itself between two runs on the shared development VM: README, Deploying past one machine.)"""
    if backends is None:
        return 0.0, "no load-backends.json: Ray overhead taken as 0 s (run benchmarks/load.py --backends inproc,ray)"
    by = {r["backend"]: r["summary"] for r in backends["rounds"]}
    p50 = {b: by.get(b, {}).get("in_slot_s", {}).get("p50") for b in ("ray", "inproc")}
    d = by.get("ray", {}).get("overhead_vs_inproc", {}).get("in_slot_p50_s")
    if None in p50.values() or d is None:
        return 0.0, "load-backends.json lacks a completed round of both backends: Ray overhead taken as 0 s"
    return max(0.0, d), (f"Ray overhead per job {d:+.1f} s (load-backends.json, {backends['when']}: the median job "
                         f"on the page, progress bar to result, Ray {p50['ray']} s minus in-process {p50['inproc']} s, "
                         f"{by['ray']['trainings']} trainings each)" + (", taken as 0" if d < 0 else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wait-target", type=float, default=60.0,
                        help="seconds the last student of a step may wait for its result "
                             "(load.py's N=10 demo p95 target)")
    parser.add_argument("--lesson-minutes", type=float, default=60.0,
                        help="length of the lesson, for the sustained bound")
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder of the benchmarks' JSON")
    args = parser.parse_args()

    app, backends = read(args.results, "app"), read(args.results, "load-backends")
    if app is None or not app.get("demo", {}).get("results_shown_s"):
        sys.exit(f"no measured demo in {args.results / 'app.json'}: run benchmarks/app.py first")
    demo_s, train_phase_s = app["demo"]["results_shown_s"], app["demo"]["training_phase_s"]
    presets = lesson_presets()
    lesson_e, demo_e = lesson_epochs(presets), demo_epochs()
    overhead_s, overhead_note = ray_overhead(backends)
    train_s = train_phase_s * lesson_e / demo_e + overhead_s
    compress_s = (demo_s - train_phase_s) + overhead_s
    jobs = {"train (lesson-train)": train_s, "compress & measure (lesson-compress)": compress_s}
    per_student_s = train_s + compress_s
    burst_step = max(jobs.values())
    per_node_burst = math.floor(args.wait_target / burst_step)
    per_node_sustained = math.floor(args.lesson_minutes * 60 / per_student_s)

    print(f"Measured inputs: app.json ({app.get('cores')} cores, torch {app['torch']['torch']}): the demo {demo_s} s "
          f"click to results, its training phase {train_phase_s} s ({demo_e} epochs); {overhead_note}.")
    if backends is not None:
        for r in backends["rounds"]:
            s = r["summary"]
            print(f"  cross-check, load-backends.json {r['backend']}: a 1-epoch 2,000-image training "
                  f"{s['in_slot_s']['p50']} s "
                  f"on the page (p50), {s['per_job_s']} s per job through one place")
    print("Assumptions: a measuring node is like the machine that measured (one job at a time per node, "
          f"{app.get('cores')} cores); each student of the default lesson runs two jobs, train ({lesson_e} epochs: "
          f"the demo's training phase x {lesson_e}/{demo_e}) then compress & measure (the demo minus its training, "
          f"although its versions differ: the demo measures {', '.join(demo_versions())} (DEMO_VARIANTS), "
          f"lesson-compress {', '.join(lesson_versions(presets))}), plus the Ray overhead each; every student's settings differ (nothing shared: the worst case); the "
          f"room presses each step together, and the last student's wait must stay within {args.wait_target:g} s; "
          f"the lesson lasts {args.lesson_minutes:g} min.")
    print(markdown_table(["job per student", "seconds on one measuring node"],
                         [[k, f"{v:.1f}"] for k, v in jobs.items()]
                         + [["both (one student's lesson)", f"{per_student_s:.1f}"]]))
    print(f"\nStudents per measuring node: {per_node_burst} when the room presses a step together "
          f"(floor({args.wait_target:g} s "
          f"/ {burst_step:.1f} s, the longer step)); {per_node_sustained} if the jobs were spread evenly over the "
          f"{args.lesson_minutes:g} min lesson (floor({args.lesson_minutes * 60:g} s / {per_student_s:.1f} s)).\n")
    rows, table = [], []
    for students in STUDENTS:
        row = [students]
        for nodes in NODES:
            last_wait = math.ceil(students / nodes) * burst_step
            ok = last_wait <= args.wait_target
            row.append(f"{last_wait:.0f} s ({'within' if ok else 'over'} {args.wait_target:g} s)")
            table.append({"students": students, "nodes": nodes, "last_wait_s": round(last_wait, 1),
                          "within_target": ok})
        needed = math.ceil(students / per_node_burst) if per_node_burst else None
        row.append("-" if needed is None else str(needed))
        rows.append(row)
    print(markdown_table(["students", *[f"{n} node{'s' if n > 1 else ''}: last student's wait" for n in NODES],
                          "measuring nodes needed"], rows))
    path = write_json("capacity", {
        "what": "capacity on paper from measured job times (benchmarks/capacity.py)",
        "inputs": {"app_demo_s": demo_s, "app_training_phase_s": train_phase_s, "demo_epochs": demo_e,
                   "lesson_epochs": lesson_e, "ray_overhead_s": round(overhead_s, 2), "overhead_note": overhead_note,
                   "load_backends_when": backends["when"] if backends else None},
        "assumptions": {"wait_target_s": args.wait_target, "lesson_minutes": args.lesson_minutes,
                        "jobs_per_student": 2, "shared": "none (worst case)"},
        "job_s": {k: round(v, 1) for k, v in jobs.items()}, "per_student_s": round(per_student_s, 1), "students_per_node_burst": per_node_burst,
        "students_per_node_sustained": per_node_sustained, "table": table}, args.results)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()

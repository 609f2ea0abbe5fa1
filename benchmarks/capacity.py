"""Capacity on paper: students per measuring node for the default lesson, from measured job times.

    python benchmarks/capacity.py [--wait-target 60] [--lesson-minutes 60] [--results benchmarks/results]

Nothing here is measured and no job time is written in: every time comes from the benchmarks' JSON
(run them first), and every assumption is printed beside the table.

- lesson_jobs.json (benchmarks/lesson_jobs.py): the default lesson's two jobs themselves, each student's
  Train with the lesson-train preset and Compress & measure with lesson-compress, through the pages' calls
  and lab.pipeline on the bundled digits, a few repetitions; the median time each job held the compute slot
  is its time on a measuring node. Without it this script stops (no stand-in: the demo's time, which it
  used to scale, is other work);
- load-backends.json (benchmarks/load.py --backends inproc,ray): trainings on the in-process slot and on
  a local Ray cluster's one measuring node, same machine, same run; from it the Ray overhead per job,
  added to each of the two jobs.

The default lesson (lessons/run_of_show.toml, lessons/presets.toml): each student presses Train, then
Compress & measure. Both steps are pressed by the whole room at about the same moment (the presenter says
"press Train"), so what limits a node is the burst: the last student of a step waits ceil(students / nodes)
jobs, and that must stay within the wait target. Worst case throughout: every student's settings differ
(their own seed), so nothing is shared; with the preset unchanged, identical jobs are computed once and the
room follows it (service/shared.py). If the presets no longer ask for what lesson_jobs.json measured, the
output says so: measure again.
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
TRAIN, COMPRESS = "train (lesson-train)", "compress & measure (lesson-compress)"   # lesson_jobs.py's job names
NODES = (1, 4, 16)


def read(folder: Path, name: str) -> dict | None:
    path = folder / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def job_times(lesson_jobs: dict) -> dict[str, float]:
    """Each lesson job's seconds on one measuring node: the median of its timed repetitions in the slot."""
    return {job: s["in_slot_s"]["median"] for job, s in lesson_jobs["summary"].items()}


def ray_overhead(backends: dict | None) -> tuple[float, str]:
    """Seconds Ray adds to one job: the median job's time on the page (progress bar to result), Ray minus
    in-process, from the same run, as load.py stored it (summary.overhead_vs_inproc.in_slot_p50_s); never below 0.
    (The other figure, last result / N, moved by more than the overhead itself between two runs on the shared
    development VM: README, Deploying past one machine.)"""
    if backends is None:
        return 0.0, "no load-backends.json: Ray overhead taken as 0 s (run benchmarks/load.py --backends inproc,ray)"
    by = {r["backend"]: r["summary"] for r in backends["rounds"]}
    p50 = {b: by.get(b, {}).get("in_slot_s", {}).get("p50") for b in ("ray", "inproc")}
    d = by.get("ray", {}).get("overhead_vs_inproc", {}).get("in_slot_p50_s")
    if None in p50.values() or d is None:
        return 0.0, "load-backends.json lacks a completed round of both backends: Ray overhead taken as 0 s"
    return max(0.0, d), (f"Ray overhead per job {d:+.1f} s (load-backends.json, {backends['when']}: the median job "
                         f"on the page, progress bar to result, Ray {p50['ray']} s minus in-process {p50['inproc']} s, "
                         f"{by['ray']['trainings']} trainings of 1 epoch on 2,000 images each)"
                         + (", taken as 0" if d < 0 else ""))


def plan(measured_s: dict[str, float], overhead_s: float, wait_target_s: float, lesson_minutes: float) -> dict:
    """The arithmetic: each job plus the Ray overhead; students per node when the room presses a step together
    (the last one waits ceil(students / nodes) of the longer step) and if the jobs were spread over the lesson;
    each case of STUDENTS x NODES; the nodes each STUDENTS needs for the wait target (None: not even one
    student's job fits in it)."""
    jobs = {k: v + overhead_s for k, v in measured_s.items()}
    per_student_s = sum(jobs.values())
    burst_step_s = max(jobs.values())
    per_node_burst = math.floor(wait_target_s / burst_step_s)
    table = []
    for students in STUDENTS:
        for nodes in NODES:
            last_wait = math.ceil(students / nodes) * burst_step_s
            table.append({"students": students, "nodes": nodes, "last_wait_s": round(last_wait, 1),
                          "within_target": last_wait <= wait_target_s})
    return {"job_s": jobs, "per_student_s": per_student_s, "burst_step_s": burst_step_s,
            "students_per_node_burst": per_node_burst,
            "students_per_node_sustained": math.floor(lesson_minutes * 60 / per_student_s),
            "nodes_needed": {s: math.ceil(s / per_node_burst) if per_node_burst else None for s in STUDENTS},
            "table": table}


def lesson_now() -> dict | None:
    """The lesson's jobs as the presets ask for them now (lesson_jobs.lesson_description), None if they do not load."""
    from benchmarks import lesson_jobs
    try:
        return lesson_jobs.lesson_description()
    except SystemExit:
        return None


def assumptions(lesson_jobs: dict, overhead_note: str, wait_target_s: float, lesson_minutes: float) -> list[str]:
    m, lesson = lesson_jobs["machine"], lesson_jobs["lesson"]
    t, reps = lesson["train"], lesson_jobs["repetitions"]
    timed = [r for r in reps if not r["first"]]
    loads = [x for r in timed for x in (r["load_average_before"][0], r["load_average_after"][0])]
    return [
        f"a measuring node is like the machine that measured: {m['cpu']}, {m['usable_cores']} cores, "
        f"{lesson_jobs['threads']} torch threads, torch {m['torch']} ({m['torch_build']}); one job at a time per node",
        f"each student runs the default lesson's two jobs: train ({t['model']} on {t['dataset']}, "
        f"{t['epochs']} epochs, "
        f"batch {t['batch_size']}) then compress & measure ({', '.join(lesson['versions'])})",
        f"a job's time is the median of {len(timed)} timed repetitions in the compute slot (lesson_jobs.json, "
        f"{lesson_jobs['when']}; after a first one not counted), measured with the machine's 1-min load average "
        f"{min(loads, default=0):g} to {max(loads, default=0):g} on {m['usable_cores']} cores (its own "
        f"{lesson_jobs['threads']} threads included; other work slows it)",
        f"compress & measure's time includes re-measuring timing windows judged disturbed (lab.measure.quiet; "
        f"{sum(len(r[COMPRESS]['disturbed_versions']) for r in timed)} of "
        f"{sum(len(r[COMPRESS]['versions']) for r in timed)} versions measured stayed labelled disturbed; "
        f"fastest repetition {lesson_jobs['summary'][COMPRESS]['in_slot_s']['min']:g} s): a quieter node is faster",
        f"each job plus the Ray overhead: {overhead_note}; measured on a training, taken as the same for the "
        "compress job",
        "every student's settings differ (nothing shared: the worst case)",
        f"the room presses each step together; the last student of a step waits ceil(students / nodes) of the longer "
        f"job, and that must stay within {wait_target_s:g} s",
        f"the sustained figure spreads every student's two jobs evenly over a {lesson_minutes:g} min lesson",
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wait-target", type=float, default=60.0,
                        help="seconds the last student of a step may wait for its result "
                             "(load.py's N=10 demo p95 target)")
    parser.add_argument("--lesson-minutes", type=float, default=60.0,
                        help="length of the lesson, for the sustained bound")
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder of the benchmarks' JSON")
    args = parser.parse_args(argv)

    lesson_jobs, backends = read(args.results, "lesson_jobs"), read(args.results, "load-backends")
    if lesson_jobs is None:
        sys.exit(f"no {args.results / 'lesson_jobs.json'}: run benchmarks/lesson_jobs.py first")
    measured = job_times(lesson_jobs)
    overhead_s, overhead_note = ray_overhead(backends)
    p = plan(measured, overhead_s, args.wait_target, args.lesson_minutes)
    now = lesson_now()
    matches = now == lesson_jobs["lesson"]

    print("Assumptions:")
    for line in assumptions(lesson_jobs, overhead_note, args.wait_target, args.lesson_minutes):
        print(f"- {line}")
    if not matches:
        print("- NOTE: the presets now ask for other jobs than lesson_jobs.json measured "
              f"({now if now is not None else 'they do not load'}): run benchmarks/lesson_jobs.py again")
    print()
    print(markdown_table(["job per student", "measured in the slot, median (s)", "+ Ray overhead (s)",
                          "seconds on one measuring node"],
                         [[k, f"{measured[k]:.1f}", f"{overhead_s:.1f}", f"{v:.1f}"] for k, v in p["job_s"].items()]
                         + [["both (one student's lesson)", f"{sum(measured.values()):.1f}", "",
                             f"{p['per_student_s']:.1f}"]]))
    print(f"\nStudents per measuring node: {p['students_per_node_burst']} when the room presses a step together "
          f"(floor({args.wait_target:g} s / {p['burst_step_s']:.1f} s, the longer job)); "
          f"{p['students_per_node_sustained']} if the jobs were spread evenly over the {args.lesson_minutes:g} min "
          f"lesson (floor({args.lesson_minutes * 60:g} s / {p['per_student_s']:.1f} s)).\n")
    rows = []
    for students in STUDENTS:
        row = [students]
        for c in (c for c in p["table"] if c["students"] == students):
            row.append(f"{c['last_wait_s']:.0f} s ({'within' if c['within_target'] else 'over'} "
                       f"{args.wait_target:g} s)")
        needed = p["nodes_needed"][students]
        row.append("- (one job is longer than the wait target)" if needed is None else str(needed))
        rows.append(row)
    print(markdown_table(["students", *[f"{n} node{'s' if n > 1 else ''}: last student's wait" for n in NODES],
                          f"measuring nodes needed for {args.wait_target:g} s"], rows))
    path = write_json("capacity", {
        "what": "capacity on paper from measured job times (benchmarks/capacity.py)",
        "inputs": {"lesson_jobs_when": lesson_jobs["when"], "measured_in_slot_median_s": measured,
                   "timed_repetitions": {k: s["n"] for k, s in lesson_jobs["summary"].items()},
                   "lesson": lesson_jobs["lesson"], "lesson_matches_presets": matches,
                   "ray_overhead_s": round(overhead_s, 2), "overhead_note": overhead_note,
                   "load_backends_when": backends["when"] if backends else None},
        "assumptions": {"wait_target_s": args.wait_target, "lesson_minutes": args.lesson_minutes,
                        "jobs_per_student": 2, "shared": "none (worst case)",
                        "lines": assumptions(lesson_jobs, overhead_note, args.wait_target, args.lesson_minutes)},
        "job_s": {k: round(v, 1) for k, v in p["job_s"].items()}, "per_student_s": round(p["per_student_s"], 1),
        "students_per_node_burst": p["students_per_node_burst"],
        "students_per_node_sustained": p["students_per_node_sustained"],
        "nodes_needed": {str(k): v for k, v in p["nodes_needed"].items()}, "table": p["table"]}, args.results)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()

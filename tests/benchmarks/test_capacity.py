"""benchmarks/capacity.py's arithmetic, from given JSON inputs in a folder of their own: each job plus Ray's
overhead, students per node, the last student's wait, the nodes needed and the wait target's edge."""

from __future__ import annotations

import json

import pytest

from benchmarks import capacity, lesson_jobs

TRAIN, COMPRESS = lesson_jobs.TRAIN, lesson_jobs.COMPRESS


def lesson_jobs_json(train_s: float, compress_s: float, lesson: dict | None = None) -> dict:
    """A lesson_jobs.json whose in-slot medians are train_s and compress_s (press to result deliberately other:
    capacity must read the slot's)."""
    rep = {"first": False, "load_average_before": [1.0, 1.0, 1.0], "load_average_after": [1.5, 1.0, 1.0],
           COMPRESS: {"versions": ["fp32", "int8-static", "onnxruntime-fp32"],
                      "disturbed_versions": ["int8-static", "onnxruntime-fp32"]}}
    return {"when": "2026-01-01 00:00:00", "threads": 2,
            "machine": {"cpu": "a test CPU", "usable_cores": 2, "torch": "0", "torch_build": "CPU-only"},
            "lesson": lesson if lesson is not None else lesson_jobs.lesson_description(),
            "summary": {job: {"n": 3, "in_slot_s": {"median": s, "min": s, "max": s},
                              "press_to_result_s": {"median": s + 100, "min": s + 100, "max": s + 100}}
                        for job, s in ((TRAIN, train_s), (COMPRESS, compress_s))},
            "repetitions": [rep, rep, rep]}


def backends_json(inproc_p50: float, ray_p50: float) -> dict:
    summary = lambda p50: {"in_slot_s": {"p50": p50, "p95": p50, "n": 10}, "trainings": 10, "per_job_s": 3.0}
    ray = summary(ray_p50)
    ray["overhead_vs_inproc"] = {"in_slot_p50_s": round(ray_p50 - inproc_p50, 1), "per_job_s": 0.0}
    return {"when": "2026-01-01 00:00:00", "rounds": [{"backend": "inproc", "summary": summary(inproc_p50)},
                                                      {"backend": "ray", "summary": ray}]}


def run(tmp_path, capsys, *args: str, lesson=None, backends=None, train_s=8.0, compress_s=18.5) -> tuple[dict, str]:
    (tmp_path / "lesson_jobs.json").write_text(json.dumps(lesson or lesson_jobs_json(train_s, compress_s)))
    if backends is not None:
        (tmp_path / "load-backends.json").write_text(json.dumps(backends))
    capacity.main(["--results", str(tmp_path), *args])
    return json.loads((tmp_path / "capacity.json").read_text()), capsys.readouterr().out


def test_each_job_is_its_slot_median_plus_rays_overhead_and_the_longer_sets_the_burst(tmp_path, capsys):
    out, printed = run(tmp_path, capsys, backends=backends_json(2.5, 4.0))   # Ray adds 1.5 s a job
    assert out["job_s"] == {TRAIN: 9.5, COMPRESS: 20.0}
    assert out["per_student_s"] == 29.5
    assert out["students_per_node_burst"] == 3              # floor(60 / 20)
    assert out["students_per_node_sustained"] == 122        # floor(3600 / 29.5)
    assert out["nodes_needed"] == {"30": 10, "100": 34, "300": 100}
    waits = {(c["students"], c["nodes"]): (c["last_wait_s"], c["within_target"]) for c in out["table"]}
    assert waits[(30, 1)] == (600.0, False)                 # 30 jobs of 20 s, one after another
    assert waits[(30, 16)] == (40.0, True)                  # ceil(30 / 16) = 2 jobs
    assert waits[(100, 16)] == (140.0, False)               # ceil(100 / 16) = 7 jobs
    assert waits[(300, 4)] == (1500.0, False)
    assert len(out["table"]) == len(capacity.STUDENTS) * len(capacity.NODES)
    assert "| 30 | 600 s (over 60 s) |" in printed and "40 s (within 60 s)" in printed
    assert "Ray overhead per job +1.5 s" in printed and out["inputs"]["lesson_matches_presets"] is True


def test_the_wait_target_is_inclusive_and_moves_every_figure(tmp_path, capsys):
    out, _ = run(tmp_path, capsys, "--wait-target", "40")   # no load-backends.json: no overhead
    assert out["inputs"]["ray_overhead_s"] == 0 and out["job_s"] == {TRAIN: 8.0, COMPRESS: 18.5}
    assert out["students_per_node_burst"] == 2              # floor(40 / 18.5)
    assert out["nodes_needed"] == {"30": 15, "100": 50, "300": 150}
    waits = {(c["students"], c["nodes"]): (c["last_wait_s"], c["within_target"]) for c in out["table"]}
    assert waits[(30, 16)] == (37.0, True)
    out, _ = run(tmp_path, capsys, "--wait-target", "37")
    assert {(c["students"], c["nodes"]): c["within_target"] for c in out["table"]}[(30, 16)] is True   # exactly


def test_a_job_longer_than_the_wait_target_needs_no_number_of_nodes(tmp_path, capsys):
    out, printed = run(tmp_path, capsys, "--wait-target", "10")
    assert out["students_per_node_burst"] == 0
    assert out["nodes_needed"] == {"30": None, "100": None, "300": None}
    assert not any(c["within_target"] for c in out["table"])
    assert "one job is longer than the wait target" in printed


def test_a_negative_ray_overhead_counts_as_none(tmp_path, capsys):
    out, printed = run(tmp_path, capsys, backends=backends_json(3.0, 2.0))
    assert out["inputs"]["ray_overhead_s"] == 0 and out["job_s"] == {TRAIN: 8.0, COMPRESS: 18.5}
    assert "taken as 0" in printed


def test_no_measured_lesson_stops_with_what_to_run(tmp_path):
    with pytest.raises(SystemExit, match="lesson_jobs.py"):
        capacity.main(["--results", str(tmp_path)])


def test_a_lesson_other_than_the_presets_ask_is_named(tmp_path, capsys):
    other = {**lesson_jobs.lesson_description(), "versions": ["fp32"]}
    out, printed = run(tmp_path, capsys, lesson=lesson_jobs_json(8.0, 18.5, other))
    assert out["inputs"]["lesson_matches_presets"] is False
    assert "run benchmarks/lesson_jobs.py again" in printed


def test_every_assumption_is_printed_beside_the_table(tmp_path, capsys):
    out, printed = run(tmp_path, capsys, "--lesson-minutes", "45")
    assert out["assumptions"]["lines"] and all(f"- {line}" in printed for line in out["assumptions"]["lines"])
    assert "a test CPU" in printed and "45 min lesson" in printed and "median of 3 timed repetitions" in printed
    assert "6 of 9 versions measured stayed labelled disturbed" in printed and "load average 1 to 1.5" in printed
    assert (capacity.TRAIN, capacity.COMPRESS) == (TRAIN, COMPRESS)   # the names lesson_jobs.json is written with
    assert out["students_per_node_sustained"] == 101       # floor(2700 / 26.5)


def test_lesson_jobs_summary_leaves_out_the_first_repetition():
    rep = lambda first, train, compress: {"first": first, TRAIN: {"in_slot_s": train, "press_to_result_s": train + 1},
                                          COMPRESS: {"in_slot_s": compress, "press_to_result_s": compress + 1}}
    s = lesson_jobs.summarize([rep(True, 99.0, 99.0), rep(False, 5.0, 30.0), rep(False, 4.0, 20.0),
                               rep(False, 18.0, 35.0)])
    assert s[TRAIN] == {"n": 3, "in_slot_s": {"median": 5.0, "min": 4.0, "max": 18.0},
                        "press_to_result_s": {"median": 6.0, "min": 5.0, "max": 19.0}}
    assert s[COMPRESS]["in_slot_s"] == {"median": 30.0, "min": 20.0, "max": 35.0}

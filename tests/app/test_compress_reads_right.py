"""The Compress page as a student reads it: a compact table with the version's name first, plain
words before internals, energy under the student's current assumptions, and "why" texts that
answer with the student's own measured numbers (and say so when a figure was not measured)."""

from __future__ import annotations

import pytest
from tests.app.drive import button, finish_job, fresh, open_page, session, train_tiny

from dashboard.lab import energy, fmt
from dashboard.lab.measure.bench import BenchResult
from dashboard.lab.energy import EnergyReading, EnergySettings
from dashboard.ui import explain

PAGE = "app_pages/compress.py"
WHY = "Why did it come out so?"
VARIANT_BOXES = ("c_unstructured", "c_channels", "c_int8_dynamic", "c_int8_static", "c_combo", "c_bf16", "c_fp16",
                 "c_distilled", "c_onnx")


def reading(name: str, cpu_s: float, settings: EnergySettings) -> EnergyReading:
    """An estimated reading as the meter makes one (CodeCarbon's figures in `base`), without running anything."""
    base = {"threads": 2, "cpu_measured_by": None, "gpu_measured_by": None, "cpu_watts_per_thread": 4.0,
            "cpu_watts_source": "CodeCarbon's estimate (test)", "cpu_joules_measured": 0.0,
            "cpu_joules_estimated": 4.0 * cpu_s, "cpu_seconds_estimated": cpu_s, "ram_joules": 10.0,
            "ram_watts": 10.0, "ram_source": "CodeCarbon's RAM model (test)", "gpu_joules": 0.0,
            "codecarbon_co2_grams": None, "fallback_reason": None}
    return EnergyReading(f"inference:{name}", duration_s=1.0, cpu_seconds=cpu_s, base=base,
                         settings=settings).with_settings(settings)


def result(name: str, *, accuracy: float, size_kib: float, b1: float | None, b256: float | None,
           cpu_s: float = 1.0, **extra) -> BenchResult:
    settings = EnergySettings(country_iso=energy.WORLD)
    return BenchResult(name=name, available=True, note=extra.pop("note", ""), accuracy=accuracy, agreement=0.99,
                       size_bytes=int(size_kib * 1024), params=extra.pop("params", 10_000),
                       nonzero_params=10_000, flops=extra.pop("flops", 2_000_000),
                       latency_ms_batch1_p50=0.12 / b1 if b1 else None, latency_ms_batch1_p95=0.2,
                       throughput_batch256_ips=9000 * b256 if b256 else None, speedup_batch1=b1,
                       speedup_batch256=b256, batch_size=256, rounds=1, threads=1,
                       energy=energy.per_image_from(f"inference:{name}", [reading(name, cpu_s, settings)], [1000]),
                       **extra)


RESULTS = [
    result("fp32", accuracy=0.970, size_kib=101, b1=1.0, b256=1.0),
    result("pruned-unstructured-90", accuracy=0.962, size_kib=101, b1=0.98, b256=1.01, sparsity=0.899),
    result("int8-static", accuracy=0.968, size_kib=27, b1=0.83, b256=3.1, cpu_s=0.3,
           note="int8 kernels use amx_int8; file = int8 state_dict, reloading it needs the same prepare/convert steps",
           details={"calibration_images": 256}),
    result("distilled", accuracy=0.952, size_kib=3, b1=4.0, b256=8.0, details={"student": "tiny_cnn"}),
]


def page_with(tiny_trained, results: list[BenchResult]):
    """The Compress page of a session that has a model and these (made-up) measurements."""
    at = fresh()
    s = session(at)
    s.trained, s.results = tiny_trained, list(results)
    return open_page(at, PAGE), s


def markdown_text(at) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_the_compact_table_puts_the_name_first_and_keeps_to_nine_columns(tiny_trained):
    at, _ = page_with(tiny_trained, RESULTS)
    table = at.table[0].value
    assert table.columns[0] == "version" and list(table["version"]) == [r.name for r in RESULTS]
    assert len(table.columns) <= 9
    for column in ("accuracy (%)", "size (KiB)", "time per image, batch 1 (median call)", "throughput, batch 256",
                   "speed-up, batch 1", "speed-up, batch 256"):
        assert column in table.columns
    assert any(c.startswith("energy per 1,000 images (J, estimated") for c in table.columns)
    int8 = table[table["version"] == "int8-static"].iloc[0]
    assert (int8["speed-up, batch 1"], int8["speed-up, batch 256"], int8["size (KiB)"]) == ("0.83×", "3.10×", "27")
    # Every speed figure carries its unit, read from the result as every page reads it (lab.measure.figures).
    assert (int8["time per image, batch 1 (median call)"], int8["throughput, batch 256"]) == ("145 µs",
                                                                                             "27,900 images/s")
    # Internals are one click away, not in the compact table or the plain words.
    plain = markdown_text(at)
    assert "prepare/convert" not in plain and "state_dict" not in plain
    assert "same quantization steps in code" in plain
    full = at.dataframe[0].value
    assert full.columns[0] == "version" and len(full.columns) > 9
    assert any("prepare/convert" in n for n in full["note"])


def test_energy_follows_the_students_current_assumptions(tiny_trained):
    at, s = page_with(tiny_trained, RESULTS)
    def shown() -> list[float]:
        table = at.table[0].value
        column = next(c for c in table.columns if c.startswith("energy per 1,000"))
        return [float(v.replace(",", "")) for v in table[column]]

    before = shown()
    s.energy_settings = EnergySettings(country_iso=energy.WORLD, cpu_watts=200.0)   # 100 W per thread, not 4
    at.run()
    after = shown()
    assert all(b2 > b1 for b1, b2 in zip(before, after))
    assert after[0] == pytest.approx(1000 * s.per_image_energy("fp32").joules_per_image, rel=0.01)
    # The full table and the energy chart follow too (the stored reading was priced at 4 W per thread).
    full = at.dataframe[0].value
    assert full["energy per 1,000 images, batch 256 (J)"][0] == pytest.approx(after[0], rel=0.01)


def test_the_why_text_for_int8_quotes_the_measured_speed_ups(tiny_trained):
    at, _ = page_with(tiny_trained, RESULTS)
    assert WHY in [h.value for h in at.subheader]
    int8 = next(e for e in at.expander if e.label.startswith("int8"))
    text = "\n".join(m.value for m in int8.markdown)
    # One comparison per regime, each stated as one or more with the word its value calls for.
    assert "**1.20× slower than fp32** at batch 1 and **3.10× faster than fp32** at batch 256" in text
    assert "0.83×" not in text
    assert "accuracy 96.80 % against fp32's 97.00 % (−0.20 points)" in text
    pruning = "\n".join(m.value for m in next(e for e in at.expander if e.label.startswith("Zeroed")).markdown)
    assert "Did the zeros make it faster?** No" in pruning and "**about as fast as fp32** at batch 1" in pruning
    assert "Removing whole channels was not measured" in pruning
    distil = "\n".join(m.value for m in next(e for e in at.expander if e.label.startswith("Distillation")).markdown)
    assert "cannot say" in distil and "not measured" in distil


def test_no_why_heading_when_only_fp32_was_measured():
    at = fresh()
    train_tiny(at)
    open_page(at, PAGE)
    for key in VARIANT_BOXES:
        at.checkbox(key=key).uncheck()
    at.run()
    assert any(c.value.startswith("Will make and measure: fp32.") for c in at.caption)
    button(at, "Compress & measure").click()
    at.run()
    finish_job(at)
    assert [r.name for r in session(at).results] == ["fp32"]
    assert list(at.table[0].value["version"]) == ["fp32"]
    headings = [h.value for h in at.subheader] + [m.value for m in at.markdown]
    assert not any(WHY in h for h in headings)
    assert not at.exception


# ---------------------------------------------------------------- the sentences, as functions

def test_int8_numbers_say_what_was_measured_and_what_was_not():
    fp32 = RESULTS[0]
    unmeasured = result("int8-dynamic", accuracy=0.969, size_kib=99, b1=None, b256=1.2)
    text = explain.numbers("int8", [fp32, RESULTS[2], unmeasured])
    assert "**int8-static** ran **1.20× slower than fp32** at batch 1 and **3.10× faster than fp32** at batch 256" in text
    assert "file 27 KiB against fp32's 101 KiB (3.74× smaller)" in text
    assert "**1.20× faster than fp32** at batch 256 (at batch 1 its speed was not measured)" in text


def test_distillation_answers_from_both_students():
    fp32 = RESULTS[0]
    baseline = result("student-baseline", accuracy=0.941, size_kib=3, b1=4.0, b256=8.0, details={"student": "tiny_cnn"})
    text = explain.numbers("distillation", [fp32, baseline, RESULTS[3]])
    assert text.startswith("**Did the teacher help?** Yes")
    assert "**95.20 %**" in text and "**94.10 %**" in text and "(+1.10 points with the teacher)" in text
    assert "the teacher, has 97.00 %" in text


def test_pruning_compares_zeros_with_removed_channels():
    channels = result("pruned-channels-50", accuracy=0.963, size_kib=26, b1=1.7, b256=2.3,
                      accuracy_before_finetune=0.8, details={"finetune_epochs": 1})
    text = explain.numbers("unstructured-pruning", [RESULTS[0], RESULTS[1], channels])
    assert "No: **pruned-unstructured-90** (89.9 % of its weights are zero)" in text
    assert "**pruned-channels-50**, which removes whole channels instead, ran **1.70× faster than fp32** at batch 1" in text
    assert "not measured" not in text
    text = explain.numbers("channels-pruning", [RESULTS[0], channels])
    assert "right after the removal it had 80.00 %; after 1 epoch of fine-tuning 96.30 %" in text


def test_plain_words_hide_the_internals():
    r = result("fp32", accuracy=0.97, size_kib=101, b1=1.0, b256=1.0, layout="channels_last",
               note="channels_last layout (1.72x contiguous at batch 256 here)",
               details={"layout_ips_batch256": {"contiguous": 1000, "channels_last": 1720}})
    words = explain.plain(r) + explain.layout([r])
    assert "1.72× as many images per second" in words and "channels_last layout" not in words
    other = result("int8-static", accuracy=0.97, size_kib=27, b1=1.0, b256=1.0)
    assert explain.layout([r, other]).startswith("fp32 is fed images")
    assert explain.layout([other]) == ""
    assert "int8 engines" not in " ".join(explain.machine(__import__("dashboard.lab.hardware", fromlist=["x"]).describe()))


def test_energy_assumptions_read_as_words_with_units():
    rows = dict(fmt.assumption_rows({"ram_watts": 10.046303259001137, "ram_source": "CodeCarbon's RAM model",
                                     "cpu_watts_per_thread": 5.0, "cpu_watts_total": 10.0, "logical_cpus": 2,
                                     "grid_gco2_per_kwh": 475.0, "grid_year": 2019, "pue": 1.0,
                                     "price_per_kwh": 0.2889, "currency": "EUR"}))
    assert rows["Memory (RAM) power assumed"] == "10.0 W (source: CodeCarbon's RAM model)"
    assert rows["Processor power assumed"] == "5.0 W per CPU thread, 10.0 W for all 2"
    assert rows["Grid carbon intensity"] == "475 g CO₂e per kWh (2019)"
    assert rows["Electricity price"] == "0.289 EUR per kWh"
    assert not any("_" in label for label in rows)


def test_every_version_the_lab_offers_has_plain_words():
    from dashboard.lab.compression.compress import ALL_VARIANTS

    for name in ALL_VARIANTS:
        r = result(name, accuracy=0.97, size_kib=27, b1=1.0, b256=1.0, how_made="TECHNICAL NOTE")
        assert explain.plain(r) != "TECHNICAL NOTE", name
    static = result("onnxruntime-int8", accuracy=0.97, size_kib=27, b1=1.0, b256=1.0,
                    details={"quantizer": "onnxruntime.quantization.quantize_static", "calibration_images": 256})
    assert "ranges set with 256 training images" in explain.plain(static)

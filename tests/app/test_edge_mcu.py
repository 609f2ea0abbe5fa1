"""Edge & cloud's microcontroller section: MLPerf Tiny's published result with its source, and the student's
int8 model's flash and RAM against microcontrollers, read off the profile's own measurement."""

from __future__ import annotations

from dashboard.lab import fmt
from dashboard.lab.deploy import mcu
from dashboard.lab.deploy.published import MLPERF_TINY_IC
from tests.app.drive import button, finish_job, measure_tiny, open_page, session, fresh

PAGE = "app_pages/edge.py"


def _mcu_table(at):
    tables = [d.value for d in at.dataframe if "microcontroller" in d.value.columns]
    assert len(tables) == 1, [list(d.value.columns) for d in at.dataframe]
    return tables[0]


def test_published_reference_and_the_int8_models_flash_and_ram_against_microcontrollers():
    at = fresh()
    measure_tiny(at)
    open_page(at, PAGE)

    # Published, with its source, whatever was measured; its time derived from the published throughput.
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Time per inference"] == fmt.ms(1000 / 1.420) == "704 ms"
    assert metrics["Energy per inference"] == "29.2 mJ" and metrics["Accuracy (top-1)"] == "86.5 %"
    text = " ".join(m.value for m in at.markdown)
    captions = " ".join(c.value for c in at.caption)
    assert "published, not measured here" in text
    assert MLPERF_TINY_IC.url in captions and MLPERF_TINY_IC.paper_url in captions
    assert "1 ÷ 1.420 inferences/s" in captions and "Cortex-M4" in captions and "28×28 grey images" in captions
    # Nothing measured at 1 image per call yet: the estimate says what to do.
    assert any("Measure the **Microcontroller-class** profile" in i.value for i in at.info)

    at.radio(key="edge_profile").set_value("microcontroller")
    at.run()
    button(at, "Measure under Microcontroller-class").click()
    at.run()
    finish_job(at)

    s = session(at)
    fit = s.edge_runs["microcontroller"].fit("int8-static")
    int8 = next(r for r in s.results if r.name == "int8-static")
    need = mcu.from_fit(fit, int8)
    assert need.flash_bytes == int8.size_bytes and need.ram_bytes == fit.activation_bytes > 0
    table = _mcu_table(at)
    flash_col = f"flash, for the weights ({fmt.size(need.flash_bytes)})"
    ram_col = f"RAM, for the activations ({fmt.size(need.ram_bytes)})"
    assert list(table.columns) == ["microcontroller", flash_col, ram_col, "both fit"]
    assert len(table) == len(mcu.BUDGETS)   # one row a chip: zip below would stop at the shorter
    for (_, row), budget in zip(table.iterrows(), mcu.BUDGETS):
        flash, ram = mcu.rooms(need, budget)
        assert budget.name in row["microcontroller"]
        assert (row[flash_col], row[ram_col]) == (flash.text(), ram.text())
        assert row["both fit"] == ("yes" if flash.fits and ram.fits else "no")
    assert "estimate, not measured on a microcontroller" in " ".join(m.value for m in at.markdown)
    captions = " ".join(c.value for c in at.caption)
    assert "leaves out the runtime's own code" in captions and "against its 256 KiB of RAM" in captions

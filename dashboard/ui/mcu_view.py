"""Microcontrollers (Edge & cloud): MLPerf Tiny's published image-classification result, labelled published with
its source, and what the student's int8 model would need in flash and RAM on real microcontrollers, labelled an
estimate. Streamlit drawing only: the figures and the fit words are the engine's (lab.deploy.published, mcu).

    mcu_view.section(s)      # the page's one call

The estimate reads the memory a device profile measured at 1 image per call (the Microcontroller-class
profile first): one measured thing, one figure, the same as the profile's table shows.
"""

from __future__ import annotations

import streamlit as st

from dashboard.lab import claims, fmt
from dashboard.lab.deploy import edge, mcu
from dashboard.lab.deploy.published import MLPERF_TINY_IC as REF
from dashboard.lab.inputs import data
from dashboard.service.sessions import Session
from dashboard.ui import edge_view, glossary

PROFILE_ORDER = ("microcontroller", "phone", "laptop", "cloud")   # where the batch-1 memory is read, in this order
FLASH, RAM = "flash, for the weights ({})", "RAM, for the activations ({})"


def section(s: Session) -> None:
    st.subheader("Microcontrollers: a published reference, and your int8 model")
    reference(s)
    your_model(s)


def reference(s: Session) -> None:
    """MLPerf Tiny's reference result, its system and source, and why its time is not beside the student's."""
    st.markdown(f"**MLPerf Tiny, image classification: the reference result** (*published, not measured here*): "
                f"{REF.model} on {REF.board}, one image at a time.")
    c = st.columns(4)
    c[0].metric("Time per inference", fmt.ms(REF.ms_per_inference),
                help=f"Derived here as 1 ÷ {REF.throughput_ips:.3f} inferences/s, the median throughput published.")
    c[1].metric("Energy per inference", fmt.energy(REF.joules),
                help=f"Median energy published: {REF.energy_uj:,.3f} µJ per inference.")
    c[2].metric("Power", f"{REF.power_uw / 1000:.1f} mW",
                help=f"As the energy run states it: {REF.power_uw:,.3f} µW in the window with the median energy.")
    c[3].metric("Accuracy (top-1)", fmt.pct(REF.top1), help="On CIFAR-10's test images, int8, on the board.")
    st.caption(f"**System**: board {REF.board}, SoC {REF.soc}, {REF.processor}, {REF.memory}, {REF.operating}; "
               f"{REF.runtime}, {REF.quantization}. **Model**: {REF.model}, on {REF.dataset}. Time per "
               f"inference = 1 ÷ {REF.throughput_ips:.3f} inferences/s (derived here; the results state throughput). "
               f"**Source**: [{REF.source}]({REF.url}), its `closed/reference/` folder: the system description and "
               f"the image-classification performance, energy and accuracy results; the benchmark: "
               f"[{REF.paper}]({REF.paper_url}).")
    st.caption(f"**Not beside your model's time on this server**: {_why_different(s)}. The energy is the board's "
               "own, measured by the benchmark's energy monitor; yours on this page is an estimate for this server.")


def _why_different(s: Session) -> str:
    """Why the published time says nothing of the student's model's time here: different model, data, hardware."""
    info = data.CATALOG.get(s.trained.dataset) if s.trained is not None else None
    model = s.trained.config.model if s.trained is not None else "model"
    if info is None:
        images = "your images"
    elif info.name == "cifar10":
        images = "the same CIFAR-10 images"
    else:
        ch, h, w = info.shape
        title = info.title.split(" (")[0]
        title = title[0].lower() + title[1:] if title[1:2].islower() else title   # 'bundled MNIST digits'
        images = f"{title}, {h}×{w} {'grey' if ch == 1 else 'colour'} images"
    return (f"a different model (ResNet-8 on 32×32 colour images; yours: the {model}, on {images}) on different "
            "hardware (one 120 MHz Cortex-M4 core running integer kernels, not this server's processor)")


def _needs(s: Session) -> tuple[list[mcu.McuNeed], edge.EdgeRun | None]:
    """The integer-only versions' needs, read off the first device profile measured at 1 image per call for this
    model and set of versions, and that profile's run (None when none was)."""
    results = {r.name: r for r in s.results}
    for key in PROFILE_ORDER:
        run = edge_view.shown_run(s, key)
        if run is None:
            continue
        needs = [n for f in run.fits if f.name in results
                 for n in [mcu.from_fit(f, results[f.name])] if n is not None]
        if needs:
            return needs, run
    return [], None


def your_model(s: Session) -> None:
    """Flash (its weights) and RAM (its peak activations at batch 1) against two microcontrollers, an estimate."""
    st.markdown(f"**Your int8 model on a microcontroller** (*{mcu.LABEL}*)")
    if not any(edge.integer_only(r) for r in s.results if r.available):
        st.info("Make an **int8-static** version on Compress & benchmark: a microcontroller runs 8-bit integer "
                "kernels, so only an integer version is estimated here.", icon=":material/memory:")
        return
    needs, run = _needs(s)
    if not needs:
        st.info("Measure the **Microcontroller-class** profile above (or any profile at 1 image per call): the "
                "estimate reads the peak activations it measures.", icon=":material/memory:")
        return
    names = [n.version for n in needs]
    need = needs[0] if len(needs) == 1 else needs[names.index(
        st.selectbox("Version", names, key="mcu_version", index=names.index("int8-static") if "int8-static" in names
                     else 0))]
    rows = []
    for b in mcu.BUDGETS:
        flash, ram = mcu.rooms(need, b)
        rows.append({"microcontroller": b.name, FLASH.format(fmt.size(need.flash_bytes)): flash.text(),
                     RAM.format(fmt.size(need.ram_bytes)): ram.text(),
                     "both fit": "yes" if mcu.fits(need, b) else "no"})
    # Widths that fit a 1280x720 projector's 818 px (left to themselves the columns ran past the right edge).
    widths = dict(zip(rows[0], (230, 250, 250, 70)))
    st.dataframe(rows, hide_index=True, width="stretch",
                 column_config={c: st.column_config.Column(width=w) for c, w in widths.items()})
    st.caption(
        f"**An estimate** for **{need.version}**. Flash: the file it is deployed as ({fmt.size(need.flash_bytes)}, "
        f"its size on Compress & benchmark). RAM: its peak {glossary.term('activations', 'activation')} at 1 image "
        f"per call ({fmt.size(need.ram_bytes)}, 8-bit numbers at 1 byte each), measured under {run.profile.title}. "
        "It assumes what a microcontroller runtime such as TensorFlow Lite for Microcontrollers does: the weights stay "
        f"in flash, the activations live in SRAM. It leaves out {mcu.LEAVES_OUT}, so a real build needs some room on "
        "top. "
        + _strict(s) + " **Budgets**: "
        + "; ".join(f"{b.name}, {b.chip}: {b.value_text} ([{b.source}]({b.url}))" for b in mcu.BUDGETS) + ".")


def _strict(s: Session) -> str:
    """Why the Microcontroller-class profile's verdict can differ from this table's: it counts both in its RAM."""
    run = edge_view.shown_run(s, "microcontroller")
    budget = run.profile.memory_budget if run is not None else None
    return claims.statement(
        "The Microcontroller-class profile above is stricter: it counts the weights and the activations together "
        + (f"against its {fmt.size(budget)} of RAM" if budget else "against its RAM")
        + ", as for a runtime that copies the weights into RAM.")

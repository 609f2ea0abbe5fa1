"""The Hardware page's sections: this machine, its measured peaks, how close the student's model gets to
them, what more threads give, CPU against GPU, and the training on other chips. Streamlit drawing only:
the figures are hardware_charts', the numbers the engine's (lab.measure)."""

from __future__ import annotations

import time

import streamlit as st
import torch

from dashboard.lab import claims, fmt, hardware, settings
from dashboard.lab.measure import accelerators, figures, roofline
from dashboard.lab.measure.peak import NO_GPU, unit
from dashboard.service.sessions import Session
from dashboard.ui import glossary
from dashboard.ui import hardware_charts as charts


def gpu_name() -> str | None:
    """The GPU PyTorch can use here, or None."""
    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


def this_machine(gpu: str | None) -> None:
    st.subheader("This machine")
    hw = hardware.describe("cpu")
    a, b, c = st.columns(3)
    a.metric("CPU cores (logical)", f"{hw.logical_cores}")
    b.metric("PyTorch threads", f"{settings.current().threads}",
             help="The server's setting (TRAIN_INFER_LAB_THREADS), the same for every job: the peaks use it too.")
    c.metric("GPU", "none" if gpu is None else "yes", help=gpu or "torch.cuda.is_available() is False here")
    st.markdown(f"- **CPU:** {hw.cpu} ({hw.arch}); PyTorch's SIMD level: {hw.cpu_capability}\n"
                f"- **Vector and matrix instructions:** {', '.join(hw.feature_labels) or 'none the lab looks for'}\n"
                f"- **GPU:** {gpu or 'none: this machine has no GPU PyTorch can use'}")


def what_is_measured(s: Session) -> None:
    threads_note = f"each thread count from 1 to {settings.current().threads} and a few batch sizes"
    then = (f"then your model at {threads_note}. About 10 seconds" if s.trained is not None
            else f"and, once you have a trained model, your model at {threads_note}. About 5 seconds")
    st.markdown("**Measure the top speed:** one large matrix multiply (2048 × 2048) per number format, the operation "
                f"that reaches a processor's peak, {then}; it waits for its turn like every job.")


def peak_rates(probe) -> None:
    """The peak per number format (and every operation timed), with disturbed timings said first."""
    peaks = probe.peaks
    at = time.strftime("%H:%M", time.localtime(probe.measured_at))
    disturbed = [r for r in peaks.rates + peaks.sweep if r.disturbed]
    if disturbed:
        st.warning("**Disturbed timings.** The server was busy while these were measured, and still when they were "
                   "measured again, so they are labelled *(disturbed)* and no version is held against a disturbed "
                   "peak. Measure this machine again when the room is quieter.\n\n"
                   + "\n".join(f"- {r.format}, {r.op}, {r.size} × {r.size}: {r.disturbed}" for r in disturbed),
                   icon=":material/group:")
    st.markdown(f"**Peak per number format**, measured here on {peaks.threads} "
                f"thread{'s' if peaks.threads > 1 else ''} at {at}:")
    cols = st.columns(max(1, len(peaks.formats)))
    for col, name in zip(cols, peaks.formats, strict=False):
        best = peaks.best(name)
        col.metric(f"{name} peak", f"{best.gops:,.0f} {unit(name)}" + (figures.DISTURBED if best.disturbed else ""),
                   help=f"{best.op}, {best.size} × {best.size}")
    for name, why in peaks.missing.items():
        st.caption(f"{name}: {why}.")
    with st.expander("Every operation timed"):
        st.markdown("| format | operation | size | rate |\n|---|---|---|---|\n" + "\n".join(
            f"| {r.format} | {r.op} | {r.size} × {r.size} | {r.gops:,.0f} {unit(r.format)}"
            f"{figures.DISTURBED if r.disturbed else ''} |"
            for r in peaks.rates + peaks.sweep))
        st.caption("torch.utils.benchmark's Timer (blocked_autorange: warm-up, then the median call). One multiply-add "
                   "counts as 2 operations. int8 is timed two ways, a plain int8 matrix multiply and the quantized "
                   "Linear layer the lab's int8 models run; " + claims.statement("the faster is the int8 peak") + ".")


def how_close(s: Session, probe) -> None:
    """The versions measured on Compress against the peaks (a roofline), and the training's own rate."""
    st.subheader("How close your model gets")
    if s.trained is None:
        st.info("Train a model first (on the Train page, or run the whole demo from Home), then measure its versions "
                "on Compress & benchmark: this part puts their speed beside the peaks.",
                icon=":material/model_training:")
        return
    if not s.results:
        st.info("Measure your model's versions on Compress & benchmark first: this part puts their speed beside "
                "the peaks.", icon=":material/speed:")
        return
    if probe is None:
        st.info("Press **Measure this machine** above: this part needs the peaks.", icon=":material/speed:")
        return
    place = s.results_place
    if place is not None and place.remote:   # a speed is held against the peaks of the machine it was measured on
        st.info(f"Your versions were measured on {place.name}, the peaks above on this server: a speed is held "
                "against the peaks of the machine that measured it, so this part is left out.", icon=":material/dns:")
        return
    points = roofline.achieved(s.results, probe.peaks)
    by = {(p.name, p.batch): p for p in points}
    fp32_big = next((p for p in points if p.name == "fp32" and p.batch > 1), None)
    fp32_one = by.get(("fp32", 1))
    if fp32_big and fp32_one and fp32_big.checked_share and fp32_one.checked_share:
        work_text = (f"One image is little work ({fmt.flops(fp32_one.flops_per_call)} per call, against "
                     f"{fmt.flops(probe.peaks.best('fp32').ops_per_call)} for the big matrix multiply)")
        # Which story fits is decided by the two shares, with the same noise band as every comparison.
        if claims.direction(fp32_big.checked_share / fp32_one.checked_share, True, False, False):
            st.markdown(
                f"Your fp32 model reaches **{charts.share_text(fp32_big)}** at batch {fp32_big.batch}, "
                f"but only **{charts.share_text(fp32_one)}** one image at a time. {work_text}: too little to split "
                "across every core and every vector lane, and each weight is loaded from memory to be used once. "
                "A batch reuses every weight for every image in it.")
        else:
            st.markdown(
                f"Your fp32 model reaches **{charts.share_text(fp32_one)}** one image at a time and "
                f"**{charts.share_text(fp32_big)}** at batch {fp32_big.batch}: here the batch did not help. "
                f"{work_text}, "
                "but a convolution already reuses each weight at every pixel, and a large batch makes activations too "
                "big for the CPU's caches: the cores then wait for memory, not for arithmetic. (On a shared machine, "
                "another program busy during the measurement has the same effect: measure again to see.)")
    not_shown = sorted({f"{p.name} at batch {p.batch}: {p.disturbed}" for p in points if p.disturbed})
    if not_shown:
        st.caption("Not held against a peak, because a figure behind it is disturbed (the server was busy while it "
                   "was measured, and still when it was measured again): " + "; ".join(not_shown) + ".")
    st.plotly_chart(charts.roofline(points, probe.peaks), key="hw_roofline")
    st.plotly_chart(charts.peak_shares(points), key="hw_shares")
    threads = sorted({p.threads for p in points})
    st.caption(f"A {glossary.term('roofline')} chart. Both measured here: each version's speed on Compress & "
               f"benchmark ({', '.join(map(str, threads))} thread(s)), the peaks on {probe.peaks.threads}. Achieved = "
               f"{glossary.term('FLOP', 'FLOP')}s per image (the dense float graph) × "
               "images/s. fp32 versions are held against the fp32 peak, int8-* against the int8 peak, bf16 against "
               "bf16. int8-dynamic quantizes Linear layers only (convolutions stay fp32), so a conv net's cannot reach "
               "the int8 peak.")
    train_rate = roofline.training_rate(s.trained, probe.peaks)
    if train_rate is not None and train_rate.share is not None:
        st.markdown(f"Your **training** ran at {train_rate.gops:,.1f} GFLOP/s: {charts.share_text(train_rate)} "
                    f"(batch {train_rate.batch}, forward + backward; the optimizer's "
                    "update and data handling count as time but not as FLOPs).")


def more_threads(s: Session, probe) -> None:
    """The student's model on 1 to N threads at a few batch sizes: who gains."""
    st.subheader("More threads: who gains")
    par = probe.parallelism if probe is not None else None
    if s.trained is None:
        st.info("Train a model first: this part runs your model on 1 to N threads.", icon=":material/model_training:")
        return
    if par is None:
        st.info("Press **Measure this machine** above: it also runs your model on each thread count and batch size.",
                icon=":material/speed:")
        return
    if probe.digest != s.digest:
        st.warning("Measured on your previous model: press Measure this machine again for this one.")
    gains = {b: par.speedup(b) for b in par.batches}
    small, big = min(par.batches), max(par.batches)
    most = par.thread_counts[-1]
    gain_small, gain_big = charts.threads_gain(par, small), charts.threads_gain(par, big)
    if most == 1:
        st.markdown("This server runs every job on one thread, so there is nothing to compare: the chart shows how "
                    "the batch size alone changes the speed.")
    elif figures.NOT_SHOWN in (gain_small, gain_big):
        st.markdown(f"Your model ({par.model}) gains {gain_small} from {most} threads at batch {small}, and "
                    f"{gain_big} at batch {big}: a timing behind them is disturbed (the server was busy while it "
                    "was measured). Measure this machine again when the room is quieter.")
    elif (gains[big] or 0) >= 1.2 and (gains[big] or 0) > (gains[small] or 0):
        st.markdown(
            f"Your model ({par.model}) at batch {small} gains {gain_small} from {most} threads; at batch "
            f"{big}, {gain_big}. "
            + claims.statement("Splitting one small call across cores costs more in handing out work and waiting "
                               "than it saves")
            + "; a big batch gives every core a share worth having. That is why training (batches "
            "of images, every layer twice) and batched inference run so well on a GPU's thousands of cores, and why a "
            "one-image request barely does.")
    else:
        st.markdown(
            f"Your model ({par.model}) at batch {small} gains {gain_small} from {most} threads, and at "
            f"batch {big} {gain_big}: here more threads did not pay off as they usually do. Every "
            "parallel step waits for its slowest thread, so when another program keeps a core busy, or the data no "
            "longer fits in the caches, more threads stop helping or even slow things down. On a quiet machine a big "
            "batch usually gains most: it gives every core a share worth having, which is why training and batched "
            "inference run so well on a GPU's thousands of cores. Measure again to see.")
    st.plotly_chart(charts.parallelism(par, width=700), key="hw_threads")
    reused = [p for p in par.points if p.source]
    st.caption(f"Measured here in {fmt.seconds(par.seconds)}: fp32, layout {par.layout}, random images; each point "
               "is the median call. Threads used inside the timed calls: "
               + ", ".join(sorted({str(t) for p in par.points for t in p.threads_seen})) + "."
               + (" Not timed again, since one measured thing has one figure: "
                  + "; ".join(f"{p.threads} thread{'s' if p.threads > 1 else ''} at batch {p.batch} from {p.source}"
                              for p in reused) + "." if reused else "")
               + (" Disturbed (the server was busy while they were measured): "
                  + "; ".join(f"{p.threads} thread{'s' if p.threads > 1 else ''} at batch {p.batch}"
                              for p in par.points if p.disturbed) + "." if any(p.disturbed for p in par.points)
                  else ""))


def cpu_vs_gpu(probe, gpu: str | None) -> None:
    st.subheader("CPU vs GPU")
    devices = probe.devices if probe is not None else None
    if gpu is None:
        st.info(NO_GPU, icon=":material/memory:")
        return
    if devices is None or not devices.available:
        st.info(f"This machine has a GPU ({gpu}). Train a model, then press **Measure this machine** to time it on the "
                "CPU and the GPU.", icon=":material/speed:")
        return
    by = {(r.device, what): getattr(r, f"{what}_images_per_s") for r in devices.rows for what in ("train", "infer")}
    train_gpu, infer_gpu = (claims.compare(by[("cuda", what)], by[("cpu", what)], more="faster", less="slower",
                                           same="at about the same speed") for what in ("train", "infer"))
    st.markdown(f"On the GPU, training runs {train_gpu} and inference {infer_gpu}, against this CPU ({devices.note}).")
    st.plotly_chart(charts.devices(devices), key="hw_devices")


def other_chips(s: Session) -> None:
    """The training's arithmetic scaled to other chips' published peaks (an estimate, said so)."""
    st.subheader("Your training on other chips")
    if s.trained is None:
        st.info("Train a model first: this part scales its training arithmetic to other chips.",
                icon=":material/model_training:")
        return
    t = s.trained
    flops = accelerators.training_flops(t)
    rows = accelerators.scale_up(flops)
    st.markdown(f"Your training did **{fmt.flops(flops)}** ({fmt.flops(t.cost.train_flops_per_image)} per image × "
                f"{t.samples_seen:,} images) in {fmt.seconds(t.train_seconds)} here. "
                # The utilisation is the estimate's assumption, not a measurement.
                + claims.statement(f"At {fmt.pct(accelerators.UTILISATION, 0)} of each chip's published peak")
                + " it would take:")
    st.plotly_chart(charts.scale_up(rows, t.train_seconds), key="hw_scale")
    st.markdown(f"| chip | kind | published peak | time at {fmt.pct(accelerators.UTILISATION, 0)} | source |\n"
                "|---|---|---|---|---|\n" + "\n".join(
                    f"| {r.accelerator.name}{'' if r.accelerator.can_train else ' *'} | {r.accelerator.kind} "
                    f"| {r.accelerator.value_text} | {fmt.seconds(r.seconds)} "
                    f"| [{r.accelerator.source}]({r.accelerator.url}) |" for r in rows))
    st.caption(f"**{accelerators.LABEL}.** Time = your training's FLOPs ÷ (peak × "
               f"{fmt.pct(accelerators.UTILISATION, 0)}). A model this small could not keep a big chip that busy: its "
               "layers are as small as the ones above that reach a fraction of this CPU's peak. * Inference-only chips "
               "(8-bit): they cannot run this training at all; their row only shows the scale of their arithmetic.")

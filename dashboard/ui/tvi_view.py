"""The Training vs inference page's sections: one image in three regimes (training, real-time, serving) and
what the figures say, latency against throughput, memory, FLOPs per layer, what the energy is made of, the
break-even, the lifetime projection and published figures beside the student's. Streamlit drawing only:
the comparison is lab.measure.training_vs_inference's, the figures tvi_charts', and every word that
compares two numbers is claims'."""

from __future__ import annotations

import streamlit as st

from dashboard.lab import claims, fmt
from dashboard.lab.deploy import published
from dashboard.lab.energy import footprint
from dashboard.lab.measure import figures
from dashboard.lab.measure.training_vs_inference import REALTIME, SERVING, in_your_terms
from dashboard.lab.training.metered_training import SCOPE
from dashboard.service.sessions import Session
from dashboard.ui import glossary
from dashboard.ui import tvi_charts as charts


def machines_note(s: Session) -> tuple[bool, str] | None:
    """Where the two sides ran, when not both in this server's process: (a warning?, the sentence). A Ray node or
    another replica is named; a warning when training and inference ran on two machines (every ratio then holds one
    machine against another). None in this server's process, and for a replay (its own label says where)."""
    if s.results_note.startswith("a replay"):
        return None
    trained, measured = (p.name if p is not None else "this server" for p in (s.trained_place, s.results_place))
    if trained != measured:
        return True, (f"Your model was trained on **{trained}** and its inference measured on **{measured}**: each "
                      "ratio on this page holds one machine's figure against another's.")
    return None if trained == "this server" else (False, f"Training and inference both ran on {trained}.")


def machines(s: Session) -> None:
    note = machines_note(s)
    if note is None:
        return
    warn, text = note
    if warn:
        st.warning(text, icon=":material/dns:")
    else:
        st.caption(text)


def disturbed_notice(result, pick: str) -> None:
    if figures.why(result):
        st.warning(f"**Disturbed figures of {pick}.** {figures.NOTICE} Here that means no ratio, break-even or projection "
                   "from them. Press *Measure again* on Compress & benchmark when the room is quieter.\n\n"
                   + "\n".join(f"- {line}" for line in figures.why(result)), icon=":material/group:")


def _ratio(tvi, metric: str, against: str) -> str:
    tr, rt, sv = tvi.regimes
    other = rt if against == REALTIME else sv
    if other.disturbed and metric != "flops":
        return figures.NOT_SHOWN
    return claims.ratio(getattr(tr, metric), getattr(other, metric))


def _flag(regime, text: str) -> str:
    return text + figures.DISTURBED if regime.disturbed and not text.endswith(figures.DISTURBED) else text


def _e(regime) -> str:
    if regime.joules is None:
        return "not metered"
    return _flag(regime, f"{fmt.energy(regime.joules)} ({regime.energy_kind})")


def _c(regime) -> str:
    return _flag(regime, fmt.co2(regime.co2_grams)) if regime.co2_grams is not None else "not metered"


def _serving_time(result, sv) -> str:
    # Real-time time per image is the version's batch-1 figure (its median call), the same on every page;
    # serving's is one over its images per second at the benchmark's batch.
    return f"{fmt.seconds(sv.seconds)}, from {figures.throughput(result)}" if sv.seconds else "n/a"


def per_image(tvi, result) -> None:
    """One image, three ways of running the model: the table, how it was measured, the chart."""
    tr, rt, sv = tvi.regimes
    st.subheader("One image, three ways of running the model")
    st.markdown(
        f"**Training** ran at batch {tr.batch} (images per step). Inference has two regimes: **real-time**, one image "
        f"per call, as an app answering one user at a time; and **serving**, {sv.batch} images per call, as a server "
        "that gathers requests. Every figure in a column was measured in that column's regime.")
    rt_time, sv_time = figures.batch1(result), _serving_time(result, sv)

    def ratio(metric: str, against: str) -> str:
        return _ratio(tvi, metric, against)

    st.markdown(
        f"| per image | training step (batch {tr.batch}) | real-time inference (batch 1) | serving inference "
        f"(batch {sv.batch}) | training ÷ real-time | training ÷ serving |\n|---|---|---|---|---|---|\n"
        f"| time | {fmt.seconds(tr.seconds)} | {rt_time} | {sv_time} "
        f"| {ratio('seconds', REALTIME)} | {ratio('seconds', SERVING)} |\n"
        f"| FLOPs | {fmt.flops(tr.flops)} | {fmt.flops(rt.flops)} | {fmt.flops(sv.flops)} "
        f"| {ratio('flops', REALTIME)} | {ratio('flops', SERVING)} |\n"
        f"| energy | {_e(tr)} | {_e(rt)} | {_e(sv)} | {ratio('joules', REALTIME)} | {ratio('joules', SERVING)} |\n"
        f"| CO₂e | {_c(tr)} | {_c(rt)} | {_c(sv)} | {ratio('co2_grams', REALTIME)} | {ratio('co2_grams', SERVING)} |")
    st.caption(
        f"Training: {SCOPE}; time is engine seconds of the steps / {tvi.training_images:,} images. Real-time: the "
        "median single-image call, the figure Compress & benchmark shows for this version; serving: one over its "
        f"images per second at batch {sv.batch}. Energy per image: metered over those same timed calls, the median "
        "of their windows (each window's joules / its images). FLOPs: torch.utils.flop_counter; a training step is "
        "forward + backward (the optimizer's "
        "update is not counted, see FLOPs per layer below); inference FLOPs per image do not depend on the batch.")
    st.plotly_chart(charts.regimes(
        [f"training (batch {tr.batch})", _flag(rt, "real-time (batch 1)"), _flag(sv, f"serving (batch {sv.batch})")],
        [("Time", [tr.seconds, rt.seconds, sv.seconds], charts.TIME_UNITS),
         ("FLOPs", [tr.flops, rt.flops, sv.flops], charts.FLOP_UNITS),
         (f"Energy ({tr.energy_kind})", [tr.joules, rt.joules, sv.joules], charts.ENERGY_UNITS),
         ("CO₂e", [tr.co2_grams, rt.co2_grams, sv.co2_grams], charts.CO2_UNITS)]), key="cmp_regimes")


def _time_sentence(tr, rt, sv) -> str:
    """Training's time per image against each inference regime: one comparison each, its own direction word;
    a regime whose time is disturbed is said not to be compared."""
    compared, skipped = [], []
    for other, label, note in ((sv, "served", " (both batched)"), (rt, "real-time", "")):
        if other.disturbed:
            skipped.append(f"*{label}*")
            continue
        words = claims.compare(tr.seconds, other.seconds, more="more time than", less="less time than",
                               same="about as much time as")
        compared.append(f"**{words}** a *{label}* inference{note}")
    out = f"In time per image, a training step takes {' and '.join(compared)}." if compared else ""
    if skipped:
        out += (f" Its time is not compared with {' or '.join(skipped)} inference: "
                f"{'that figure is' if len(skipped) == 1 else 'those figures are'} disturbed.")
    return out


def _energy_sentence(tr, rt, sv) -> str:
    """Whether estimated energy ranks the regimes as their time per image does, said from the figures above."""
    pairs = [(a, b) for a, b in ((tr, rt), (tr, sv), (rt, sv))
             if a.seconds and b.seconds and a.joules and b.joules and not (a.disturbed or b.disturbed)]
    apart = [(a, b) for a, b in pairs if (a.seconds > b.seconds) != (a.joules > b.joules)]
    how = "CPU time × assumed watts, plus RAM × wall time: see below"
    if not apart:
        return f"Estimated energy ranks them as time does ({how})."
    named = " or ".join(f"{a.title} and {b.title}" for a, b in apart)
    why = ("it counts the processor time of every thread over all the metered calls (the slow calls too, and "
           "threads kept spinning between single images), while real-time's time is its median call"
           if any(rt in pair for pair in apart) else
           "it counts the processor time of every thread over the metered windows, not the time per image alone")
    return f"Estimated energy does not rank {named} as their time per image does: {why} ({how})."


def reading_it(tvi) -> None:
    """What the table says, in words built from its figures."""
    tr, rt, sv = tvi.regimes
    if tr.flops and sv.flops and tr.seconds and rt.seconds and sv.seconds:
        flops_words = claims.compare(tr.flops, sv.flops, more="more FLOPs than", less="fewer FLOPs than",
                                     same="about as many FLOPs as")
        twice = claims.statement("about twice the forward's work")
        lines = [
            f"**Reading it.** A training step needs **{flops_words}** an inference: the forward pass, then the backward "
            f"pass that computes a gradient for every weight ({twice}). {_time_sentence(tr, rt, sv)}"]
        if not (rt.disturbed or sv.disturbed):
            between = claims.compare(rt.seconds, sv.seconds, more="more time per image than",
                                     less="less time per image than", same="about as much time per image as")
            batching_paid = claims.direction(rt.seconds / sv.seconds, True, False, False)
            lines.append(
                f"Real-time inference takes **{between}** serving"
                + (": at batch 1 each call pays the fixed overhead of a call (Python, dispatch, waking the threads) for "
                   f"a single image, where a batch spreads it over {sv.batch} images." if batching_paid else
                   ": here batching did not pay off. A big batch can outgrow the processor's caches, and another "
                   "program busy during the measurement slows it too: measure again to see."))
        lines.append(_energy_sentence(tr, rt, sv) if tr.energy_kind == "estimated" else
                     "Energy here was measured by hardware counters.")
        st.markdown(" ".join(lines))


def latency_or_throughput(tvi, result) -> None:
    tr, rt, sv = tvi.regimes
    rt_time = figures.batch1(result)
    with st.expander("Latency or throughput: which one matters?"):
        batch_wait = sv.batch * sv.seconds if sv.seconds else None
        per_image = ""
        if rt.seconds and sv.seconds and not (rt.disturbed or sv.disturbed):
            words = claims.compare(sv.seconds, rt.seconds, more="more time than", less="less time than",
                                   same="about as much time as")
            per_image = f", {words} one image at a time ({rt_time} per image, the median call)"
        st.markdown(
            f"- **{glossary.term('Latency', 'latency')}** is how long one answer takes. Real-time here: "
            f"**{rt_time}** for half the calls ({glossary.term('p50')}), "
            f"**{figures.batch1(result, p95=True)}** or less for 95 % of them ({glossary.term('p95')}). That is the wait "
            "a user feels.\n"
            f"- **{glossary.term('Throughput', 'throughput')}** is how many answers per second. Serving here: "
            f"**{figures.throughput(result)}**, that is {_flag(sv, fmt.seconds(sv.seconds))} per image{per_image}.\n"
            f"- The catch: a batch of {sv.batch} comes back all at once, after **{_flag(sv, fmt.seconds(batch_wait))}**. A "
            "server that batches spends less time per image when its overhead is spread, but every request in the batch "
            "waits for the whole batch (and for the batch to fill). Real-time systems answer at once.")


def memory(s: Session) -> None:
    """What a training step holds that an inference does not (measured right after training)."""
    st.subheader("Memory: what a training step holds that an inference does not")
    mem = s.memory
    if mem is None:
        st.info("Memory was not measured for this model (it is measured right after training).")
    else:
        tm, im = mem.training, mem.inference
        held = (f"{fmt.size(tm.activations)} of activations were live at that peak (the {tm.phase})"
                if tm.activations else
                f"none of them is live at that peak (it comes in the {tm.phase}, after the backward pass has freed them)")
        st.markdown(
            f"At batch {mem.batch_size}, one training step peaks at **{fmt.size(tm.peak)}**, one inference at "
            f"**{fmt.size(im.peak)}** (training ÷ inference: **{claims.ratio(tm.peak, im.peak)}**). Training keeps what "
            f"inference never needs: a gradient for every weight ({fmt.size(tm.gradients)}), the optimizer's state "
            f"({fmt.size(tm.optimizer_state)} for {s.trained.config.optimizer}), and every layer's activations until "
            f"the backward pass has used them: {held}. One inference holds {fmt.size(im.activations)} of activations at its peak.")
        st.plotly_chart(charts.memory(tm.to_dict(), im.to_dict(), batch=mem.batch_size), key="cmp_memory")
        st.caption(f"How: {mem.method}.")


def layer_flops(lf) -> None:
    """Forward and backward FLOPs of each layer, for one image."""
    st.subheader("FLOPs per layer: forward and backward")
    st.plotly_chart(charts.layer_flops([x.name for x in lf.layers], [x.forward for x in lf.layers],
                                       [x.backward for x in lf.layers]), key="cmp_layer_flops")
    first = lf.layers[0] if lf.layers else None
    st.caption(
        "Counted by torch.utils.flop_counter for one image. The backward pass of a layer computes two things: the "
        "gradient of its weights and the gradient of its input (to pass further back), "
        + claims.statement("each about as much work as the forward, hence about 2×") + "."
        + (f" The first layer ({first.name}: {fmt.flops(first.backward)} backward against {fmt.flops(first.forward)} "
           "forward) needs no input gradient, since its input is the image itself." if first else "")
        + f" {lf.optimizer_note}")


def energy_parts_note(s: Session, tvi) -> None:
    """The evaluation after each epoch, which the training figures leave out."""
    if s.evaluation_energy is not None:
        ev = s.evaluation_energy.with_settings(s.settings)
        st.caption(f"Not in the training figures: the test evaluation after each epoch used {fmt.energy(ev.joules)} "
                   f"({'measured' if ev.measured else 'estimated'}) on top of the training steps' "
                   f"{fmt.energy(tvi.training_joules)}.")


def _after(regime, what: str = "") -> str:
    """'**12,300 inferences**', or that it is not worked out from a disturbed energy."""
    if regime.disturbed:
        return "an unknown count (its energy is disturbed, so no break-even is worked out from it)"
    return f"**{fmt.count(regime.breakeven)}{what}**"


def breakeven(tvi) -> None:
    """When inference has used as much energy as the training (tvi.training_joules must be known)."""
    tr, rt, sv = tvi.regimes
    sooner = ""
    if rt.breakeven and sv.breakeven:
        sooner = (" A real-time service reaches its training's energy **"
                  + claims.compare(sv.breakeven, rt.breakeven, more="sooner than", less="later than",
                                   same="after about as many inferences as")
                  + "** a batched one (a break-even is the training's energy ÷ the energy of one inference).")
    st.markdown(
        f"Your training steps used **{fmt.energy(tvi.training_joules)}** ({tr.energy_kind}) for "
        f"{tvi.training_images:,} images. Served **one at a time**, inference has used as much after "
        f"{_after(rt, ' inferences')}; served in **batches of {sv.batch}**, after {_after(sv)}.{sooner}")
    lines = [(label, x.joules, x.breakeven) for label, x in (("real-time (batch 1)", rt),
                                                             (f"serving (batch {sv.batch})", sv)) if not x.disturbed]
    if lines:
        st.plotly_chart(charts.breakeven(tvi.training_joules, lines, tr.energy_kind), key="cmp_breakeven")


def lifetime_widgets(sv) -> tuple[int, int, str]:
    """Requests per day, days in service and the regime served: the projection's inputs."""
    a, b, c = st.columns(3)
    per_day = a.select_slider("Requests per day", [100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000],
                              value=100_000, format_func=fmt.count, key="cmp_requests")
    days = b.slider("Days in service (days)", 1, 3650, 365, key="cmp_days")
    regime = c.radio("Served how?", [REALTIME, SERVING], key="cmp_regime", horizontal=True,
                     format_func={REALTIME: "real-time (batch 1)", SERVING: f"batched ({sv.batch})"}.get)
    return per_day, days, regime


def lifetime(s: Session, tvi, chosen, per_day: int, days: int):
    """The projection's totals, its chart and everyday equivalents; returns the projection."""
    cfg = s.settings
    proj = footprint.project_lifetime(tvi.training_joules, chosen.joules, requests_per_day=per_day, days=days,
                                      settings=cfg)
    kind = chosen.energy_kind
    m = st.columns(4)
    m[0].metric(f"Total energy ({kind})", f"{fmt.number(proj.total.kwh)} kWh")
    m[1].metric(f"Total CO₂e ({kind})", f"{fmt.number(proj.total.co2_kg)} kg",
                help=f"Grid: {proj.country_iso}, {proj.grid_gco2_per_kwh:.0f} gCO₂e/kWh")
    m[2].metric("Electricity cost", fmt.money(proj.total.cost, proj.total.currency),
                help=f"The {kind} energy at {cfg.price_per_kwh:g} {cfg.currency} per kWh.")
    m[3].metric("Share spent on inference", fmt.pct(proj.inference_share),
                help=f"Inference overtakes training after {fmt.number(proj.breakeven_days)} days.")
    st.plotly_chart(charts.lifetime(days, proj.training.kwh, proj.inference.kwh, f"kWh, {kind}"), key="cmp_lifetime")
    with st.expander(f"What is that in everyday terms? ({kind} energy)"):
        eq = footprint.equivalents(proj.total.joules, cfg)
        # A published equivalent's source shows its own arithmetic ("4.186 kJ/(kg K) x 80 K = 335 kJ"): published.
        st.dataframe([{"about as much as": f"{fmt.number(e['count'])} {e['unit']}", "source": claims.statement(e["source"]),
                       "link": e["url"]}
                      for e in eq], hide_index=True, width="stretch",
                     column_config={"link": st.column_config.LinkColumn("link")})
    return proj


def published_figures(pick: str, chosen, sv, regime: str, per_day: int, days: int, proj) -> None:
    """Published figures, each as a count of the student's own inferences and days of the projection."""
    kind = chosen.energy_kind
    st.subheader("From this lab to real systems")
    st.caption("Published figures, not measured here: each links to its source. Set beside your own numbers, they show "
               "the scale of the systems in the news.")
    lines = []
    for f in published.FIGURES:
        head = f"- **{f.what}: {f.value_text}** ([source]({f.url}): {f.source}). "
        if f.joules is not None:
            n, d = in_your_terms(f.joules, chosen.joules, per_day)
            days_text = "n/a" if d is None else fmt.number(d) if d < 1000 else fmt.count(d)
            lines.append(head + f"That is as much energy as **{fmt.count(n)}** of your inferences, or **{days_text} days** "
                                f"of your projection. _{f.note}_")
        else:
            lines.append(head + f"Your projection puts **{fmt.pct(proj.inference_share)}** of its energy on inference. "
                                f"_{f.note}_")
    st.markdown("\n".join(lines))
    st.caption(f"Your inferences: {pick}, {'one at a time' if regime == REALTIME else f'in batches of {sv.batch}'}, "
               f"{fmt.energy(chosen.joules)} each ({kind}); your projection: {fmt.count(per_day)} requests per day for "
               f"{days} days. A published figure counts a whole system (accelerators, hosts, cooling); yours counts this "
               "one process on one machine: the comparison shows scale, not efficiency.")

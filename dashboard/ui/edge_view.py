"""The Edge & cloud page's pieces: the device profiles this server offers and their form, the profile's
widgets and measure buttons, which versions fit the measured profile (verdict, map, table), and one
request answered in the cloud or on the device (the network's widgets, the verdict, the side-by-side
table). Streamlit drawing only: the figures are edge_charts', the numbers the engine's (lab.deploy)."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import streamlit as st

from dashboard.course import forms
from dashboard.lab import claims, fmt, settings
from dashboard.lab.deploy import cloud_edge, edge
from dashboard.lab.deploy.edge import KiB, MiB
from dashboard.lab.measure import figures
from dashboard.service import device_jobs, versions
from dashboard.service.sessions import Session
from dashboard.ui import edge_charts as charts
from dashboard.ui import glossary

MEMORY_CHOICES = [0] + [n * KiB for n in (16, 32, 64, 128, 256, 512)] + [n * MiB for n in (1, 2, 5, 10, 20, 50, 100,
                                                                                          256, 512, 1024)]
FIELDS = ("threads", "batch", "memory", "latency", "int8")   # each profile's widgets: edge_{profile}_{field}


@dataclass(frozen=True)
class Devices:
    """The device profiles as this server offers them (its threads and largest batch bound their sliders),
    and the page's form: the profile it opens on, then each profile's widgets at their defaults."""

    profiles: dict[str, edge.DeviceProfile]
    server_threads: int
    max_batch: int

    @classmethod
    def here(cls) -> Devices:
        current = settings.current()
        return cls(edge.default_profiles(current.threads), current.threads, current.limits.max_batch_size)

    @property
    def batches(self) -> list[int]:
        return [b for b in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512) if b <= self.max_batch]

    def title(self, key: str) -> str:
        return self.profiles[key].title

    def form(self) -> dict:
        """course.forms' profile to open on (a link can name another), then each profile's widgets."""
        form = forms.defaults("edge")
        for key, p in self.profiles.items():
            form |= {f"edge_{key}_threads": p.threads, f"edge_{key}_batch": p.batch,
                     f"edge_{key}_memory": p.memory_budget or 0, f"edge_{key}_latency": round(p.latency_budget_ms, 1),
                     f"edge_{key}_int8": p.int8_only}
        return form

    def from_form(self, key: str) -> edge.DeviceProfile:
        """The profile as the student set it (out-of-range saved values clamped to what this server allows)."""
        g = st.session_state
        return dataclasses.replace(
            self.profiles[key], threads=min(max(1, g[f"edge_{key}_threads"]), self.server_threads),
            batch=min(max(1, g[f"edge_{key}_batch"]), self.max_batch), memory_budget=g[f"edge_{key}_memory"] or None,
            latency_budget_ms=float(g[f"edge_{key}_latency"]), int8_only=bool(g[f"edge_{key}_int8"]))


def reset(key: str, form: dict) -> None:
    """Back to the profile's defaults (the button's callback)."""
    for field in FIELDS:
        st.session_state[f"edge_{key}_{field}"] = form[f"edge_{key}_{field}"]


def only_fp32(s: Session) -> None:
    """Said when there are no compressed versions: only the fp32 model will be measured."""
    if not s.results:
        st.info("Only your fp32 model will be measured: measure its compressed versions on **Compress & benchmark** "
                "first to see which of them fit a small device.", icon=":material/compress:")
        st.page_link("app_pages/compress.py", label="Go to Compress & benchmark", icon=":material/compress:")


def profile_choice(devices: Devices) -> str:
    return st.radio("Device profile", list(devices.profiles), key="edge_profile", horizontal=True,
                    format_func=devices.title)


def profile_widgets(devices: Devices, key: str, form: dict) -> None:
    """The chosen profile's limits, each its own widget (edge_{key}_{field}), and the button back to its defaults."""
    d = devices.profiles[key]
    st.caption(f"**Like** {d.stands_for}.")
    a, b = st.columns(2)
    if devices.server_threads > 1:
        a.slider("Threads", 1, devices.server_threads, key=f"edge_{key}_threads",
                 help=f"Cores it computes with. This server allows {devices.server_threads}.")
    else:
        a.caption("Threads: 1, all this server allows.")
    b.select_slider("Images per call", devices.batches, key=f"edge_{key}_batch",
                    help="A server gathers requests into batches; a device answers each frame as it comes (1).")
    a.select_slider("Memory budget (weights + activations)", MEMORY_CHOICES, key=f"edge_{key}_memory",
                    format_func=lambda n: "no limit" if n == 0 else fmt.size(n))
    b.number_input("Latency budget per call (ms)", min_value=0.1, max_value=10_000.0, step=1.0,
                   key=f"edge_{key}_latency", help="33.3 ms is a camera's 30 frames per second.")
    st.toggle("8-bit integers only (no floating point)", key=f"edge_{key}_int8")
    st.button("Back to this profile's defaults", on_click=reset, args=(key, form), icon=":material/restart_alt:")
    st.caption(d.why)


def measure_buttons(s: Session, devices: Devices, profile: edge.DeviceProfile) -> list[edge.DeviceProfile] | None:
    """What runs where, then the two buttons: the profiles to measure when one was pressed, else None."""
    n = len(s.results) or 1   # no compressed versions yet: the fp32 model alone
    st.markdown(f"**This machine stands in for the device.** Your {fmt.plural(n, 'version')} run here with the "
                f"device's limits applied for real: {fmt.plural(profile.threads, 'thread')}, "
                f"{fmt.plural(profile.batch, 'image')} per call"
                + (", integer versions only" if profile.int8_only else "") + ". "
                + claims.statement("The speed is this machine's: a phone's core is slower, and a microcontroller's "
                                   "far slower, so **headroom** says how many times slower the device may be and "
                                   "still meet the latency budget."))
    one = st.button(f"Measure under {profile.title}", type="primary", icon=":material/speed:", disabled=s.busy)
    every = st.button("Measure all four profiles", icon=":material/devices:", disabled=s.busy,
                      help="As you have set each one; about four times as long.")
    if one:
        return [profile]
    return [devices.from_form(k) for k in devices.profiles] if every else None


def shown_run(s: Session, key: str) -> edge.EdgeRun | None:
    """The profile's measurement, if it was made for this model and its current set of versions."""
    run = s.edge_runs.get(key)
    if run is not None and run.key[:2] != (s.digest, tuple(versions.versions(s, {}).names)):
        return None   # measured for another set of versions
    return run


def headroom(f: edge.Fit) -> str:
    """Latency budget ÷ time per call, as a ratio built from the two figures shown (none on a disturbed time)."""
    return figures.NOT_SHOWN if f.disturbed else claims.ratio(f.latency_budget_ms, f.latency_ms)


def time_per_call(f: edge.Fit, measured: dict) -> str:
    """The time shown for a fit: where it is Compress's own figure (same threads and batch), that figure, as
    every page shows it (lab.measure.figures); else this profile's timing. Labelled when disturbed.
    `measured`: the session's results by name."""
    r = measured.get(f.name)
    if f.source and f.batch == 1 and r is not None:
        return figures.batch1(r, p95=True)
    return fmt.ms(f.latency_ms) + (figures.DISTURBED if f.disturbed else "")


def fits(f: edge.Fit) -> str:
    return "not decided (time disturbed)" if f.disturbed and f.fits_memory is not False else \
        "yes" if f.fits else "no"


def fit_rows(run: edge.EdgeRun, measured: dict) -> list[dict]:
    """The table's rows: one per version, why it misses when it does."""
    rows = []
    for f in run.fits:
        if not f.runnable:
            rows.append({"version": f.name, "fits": f"cannot run: {f.why_not}", "memory needed": "",
                         "time per call": "", "headroom": "", "accuracy": "", "timed": ""})
            continue
        why = f.misses + ([f"time disturbed: {f.disturbed}"] if f.disturbed else [])
        memory = (claims.total([(f.weights_bytes, fmt.size(f.weights_bytes)),
                                (f.activation_bytes, fmt.size(f.activation_bytes))],
                               f.memory_bytes, fmt.size(f.memory_bytes)) if f.memory_bytes is not None else "")
        rows.append({"version": f.name, "fits": fits(f) + (f": {'; '.join(why)}" if why else ""),
                     "memory needed": memory, "time per call": time_per_call(f, measured), "headroom": headroom(f),
                     "accuracy": fmt.pct(f.accuracy), "timed": "Compress" if f.source else "this profile"})
    return rows


# Widths that fit a 1280x720 projector's 818 px: left to size themselves, the columns ran past the right edge.
FIT_WIDTHS = {"version": 165, "fits": 135, "memory needed": 190, "time per call": 95, "headroom": 70,
              "accuracy": 65, "timed": 90}


def how_measured(run: edge.EdgeRun) -> str:
    """The table's caption: where and how the figures were made, and what each column means."""
    ran = sorted({(f.threads, f.batch) for f in run.fits if f.runnable and f.threads})
    return ((f"Measured here on {run.machine}, {fmt.seconds(run.seconds)}." if not run.source else
             f"These figures are {run.source}.")
            + (" Every version ran with " + " or ".join(f"{fmt.plural(t, 'thread')} × {fmt.plural(b, 'image')} "
                                                        "per call" for t, b in ran)
               + ", read back from the timed calls." if ran else "")
            + " **Memory needed**: the file the version is deployed as (its weights) + its peak "
            f"{glossary.term('activations', 'activation')}: the largest input + output of one "
            "layer in a real forward pass at this batch (what a runtime that frees each activation after use must "
            f"hold at once). **Time per call**: the {glossary.term('p95')} of single calls at 1 image per call, "
            "else the mean time of one batch, measured with the profile's threads and images per call; where those "
            "are the ones Compress & benchmark measured with, its figure is used, not timed again (**timed**: "
            "*Compress*). **Headroom**: latency budget ÷ time per call. A time that stayed *disturbed* (the server "
            "was busy while it was measured) decides no fit and gives no headroom.")


def which_fit(s: Session, run: edge.EdgeRun | None, profile: edge.DeviceProfile) -> edge.Fit | None:
    """Which versions fit the profile as measured: a note when the widgets changed since, the verdict, the map
    and the table. Returns the most accurate version that fits (None when none does or nothing was measured)."""
    if run is None:
        st.caption(f"Not measured yet under {profile.title}.")
        return None
    p = run.profile
    if p != profile:
        st.info(f"Shown as measured at {time.strftime('%H:%M', time.localtime(run.measured_at))}, with "
                f"{p.threads} thread(s), {p.batch} image(s) per call, memory budget "
                f"{'none' if p.memory_budget is None else fmt.size(p.memory_budget)}, latency budget "
                f"{p.latency_budget_ms:g} ms: measure again for your changes.", icon=":material/edit:")
    best = run.best_fit
    measured = {r.name: r for r in s.results}
    st.subheader(f"{len(run.fitting)} of {len(run.fits)} versions fit {p.title.lower()}")
    if best is not None:
        st.markdown(f"The most accurate that fits: **{best.name}**, {fmt.pct(best.accuracy)} test accuracy, "
                    f"{fmt.size(best.memory_bytes)} of memory, {time_per_call(best, measured)} per call here "
                    f"({best.latency_what}): {headroom(best)} headroom.")
    else:
        st.markdown("None of your versions fits. " + ("A microcontroller needs a small *integer* model: on Compress "
                                                      "& benchmark, remove channels and quantize to int8 together."
                                                      if p.int8_only else "Try a smaller version, or a bigger budget."))
    st.plotly_chart(charts.fit_map(run), width="stretch")
    st.dataframe(fit_rows(run, measured), hide_index=True, width="stretch",
                 column_config={c: st.column_config.Column(width=w) for c, w in FIT_WIDTHS.items()})
    st.caption(how_measured(run))
    return best


# --- cloud vs device ------------------------------------------------------------------------------------

def measured_devices(s: Session, devices: Devices) -> list[str]:
    """The device profiles (not the cloud) measured in this session."""
    return [k for k in devices.profiles if k != "cloud" and k in s.edge_runs]


def comparable(cloud_run: edge.EdgeRun, dev_run: edge.EdgeRun) -> list[str]:
    """The versions timed undisturbed on both sides: a comparison is built only on those."""
    return [f.name for f in dev_run.fits if f.typical_ms and not f.disturbed
            and (cf := cloud_run.fit(f.name)) and cf.typical_ms and not cf.disturbed]


def first_version(both: list[str], best: edge.Fit | None) -> int:
    """The version selected at first: the one that best fits the profile shown above, where it is comparable."""
    return both.index(best.name) if best is not None and best.name in both else 0


def measured_networks(s: Session) -> list[cloud_edge.Network]:
    """The round trips to this server measured from the student's browser and paired phone (Measure on this
    device), newest of each, as networks beside the typical ones."""
    out = []
    for run in (device_jobs.latest(s.browser), device_jobs.latest(s.browser, paired=True)):
        if run is not None and run.round_trip_ms is not None:
            where = "your browser" if not run.paired else f"your {run.device_class}"
            out.append(cloud_edge.measured_network(run.round_trip_ms, len(run.round_trips_ms), where))
    return out


def network_widgets(s: Session) -> tuple[float, float]:
    """The network, its round trip (starting at the network's typical figure, or the one measured from the
    student's browser) and the server's rent per hour."""
    nets = {n.key: n for n in (*cloud_edge.NETWORKS, *measured_networks(s))}
    net_key = st.radio("Network", list(nets), horizontal=True, key="edge_cvse_net", index=2,
                       format_func=lambda k: nets[k].title)
    net = nets[net_key]
    fine = net.how == cloud_edge.MEASURED   # a room's round trip is a few ms: tenths, not whole ones
    rtt = st.slider("Network round trip (ms)", 0.0, 700.0, round(float(net.rtt_ms), 1) if fine else float(net.rtt_ms),
                    step=0.1 if fine else 1.0, key=f"edge_cvse_rtt_{net_key}", format="%.1f ms" if fine else "%.0f ms",
                    help="Starts at the chosen network's typical figure; move it to try your own.")
    st.caption(f"{net.title}: a {glossary.term('round trip', 'round-trip time')} of {net.rtt_ms:g} ms ({net.how}): "
               f"{net.source}." + (f" [Source]({net.url})" if net.url else ""))
    if not any(n.how == cloud_edge.MEASURED for n in nets.values()):
        st.caption("**Measure on this device** (above) also times the round trip from your browser to this server: "
                   "it then appears here, measured from your browser, beside these typical networks.")
    rent = st.number_input(f"Server rent per hour ({s.settings.currency or 'your currency'}; your assumption)", 0.0,
                           100.0, 0.10, step=0.01, key="edge_cvse_rent",
                           help="What a cloud server like the profile costs per hour: look up your provider's price.")
    return rtt, rent


def verdict(cmp: cloud_edge.CloudVsEdge) -> str:
    """Which side answers first, and by how much (in words built from the figures shown)."""
    if cmp.faster == "device":
        sooner = claims.compare(cmp.cloud_ms, cmp.device_ms, more="sooner than", less="later than",
                                same="at about the same time as")
        return (f"**The device answers {sooner} the cloud**: {fmt.ms(cmp.device_ms)} against {fmt.ms(cmp.cloud_ms)}. "
                f"The real device may take up to **{claims.ratio(cmp.cloud_ms, cmp.device_ms)}** this machine's time "
                "per answer and still answer first"
                + (f"; the cloud answers first only over a round trip under {fmt.ms(cmp.rtt_to_lose_ms)}."
                   if cmp.rtt_to_lose_ms > 0 else "."))
    sooner = claims.compare(cmp.device_ms, cmp.cloud_ms, more="sooner than", less="later than",
                            same="at about the same time as")
    return (f"**The cloud answers {sooner} the device**: {fmt.ms(cmp.cloud_ms)} against {fmt.ms(cmp.device_ms)}, "
            f"because the round trip is under {fmt.ms(cmp.rtt_to_lose_ms)}.")


def side_by_side(cmp: cloud_edge.CloudVsEdge, currency: str | None) -> str:
    """The markdown table: time, privacy, offline, energy, electricity, rent and updates, cloud against device."""

    def per_million(value: float | None) -> str:
        """Money per request, written per million requests (a single request costs a few billionths)."""
        return "n/a" if value is None else fmt.money(value * 1e6, currency)

    energy_kind = "measured" if cmp.energy_measured else "estimated (CPU time × assumed watts)"
    return (
        "| | in the cloud | on the device |\n|---|---|---|\n"
        "| time to the answer | network + server: "
        + claims.total([(cmp.rtt_ms / 1000, fmt.ms(cmp.rtt_ms)), (cmp.server_ms / 1000, fmt.ms(cmp.server_ms))],
                       cmp.cloud_ms / 1000, fmt.ms(cmp.cloud_ms))
        + f" | {fmt.ms(cmp.device_ms)} |\n"
        "| your image | leaves the device, crosses the network, is processed on someone else's computer "
        "| never leaves the device |\n"
        "| without a connection | no answer | works offline |\n"
        f"| energy per request, {energy_kind} | {fmt.energy(cmp.cloud_energy_j)} on the server (the network's not "
        f"counted) | {fmt.energy(cmp.device_energy_j)} on this machine standing in for it "
        + "(" + claims.statement("a phone's chip draws less power, for longer") + ") |\n"
        f"| electricity per million requests | {per_million(cmp.cloud_electricity)}, paid by the provider "
        f"| {per_million(cmp.device_electricity)}, paid by the users |\n"
        f"| server rent per million requests | {per_million(cmp.rent_per_request)} (your rent ÷ "
        f"{fmt.count(cmp.server_requests_per_hour)} requests an hour, if the server is busy all the time) | none |\n"
        "| a new version of the model | changed once, on the server | shipped to every device |")


def cloud_or_device(s: Session, cmp: cloud_edge.CloudVsEdge, cloud_run: edge.EdgeRun, device_title: str,
                    version: str) -> None:
    """The comparison drawn: the chart, the verdict, the side-by-side table and where its figures come from."""
    st.plotly_chart(charts.cloud_vs_edge(cmp, device_title), width="stretch")
    st.markdown(verdict(cmp))
    st.markdown(side_by_side(cmp, s.settings.currency))
    st.caption(f"Compute times are measured here for {version}, typical times: the server under the cloud profile "
               f"({cloud_run.profile.threads} threads, {cloud_run.profile.batch} images per call: the mean time of a "
               f"whole batch, since every request waits for its batch), the device under {device_title} (the median "
               "of single calls). The network's round trip is "
               + ("the one measured from your browser to this server, unless you moved the slider"
                  if str(st.session_state.get("edge_cvse_net", "")).startswith("measured") else
                  "your setting, not measured")
               + ". Prices use your assumptions on Training vs inference.")

"""The Results page's sections: the experiments side by side (the axis chosen, the chart, what it leaves
out), the table of every run, what the current model's energy figures are made of, and the downloads.
Streamlit drawing only: the chart and the readable table are results_charts', the rows and files
service.runs', the energy parts ui.assumptions'."""

from __future__ import annotations

import streamlit as st

from dashboard.service import runs
from dashboard.service.sessions import Session
from dashboard.ui import assumptions, results_charts, widgets


def side_by_side(s: Session) -> bool:
    """The runs that can be drawn, accuracy against the cost the student picks, with what the chart leaves out.
    Returns whether it drew (no run can be drawn: nothing)."""
    shown = results_charts.shown_runs(s.runs)
    if not shown:
        return False
    st.subheader("Your experiments side by side")
    form = {"results_x": "training time"}
    widgets.restore(s, "results", form)
    x = st.radio("Accuracy against", list(results_charts.X_AXES), key="results_x", horizontal=True,
                 help="Training time and energy: what the run cost to train. Model size and batch-1 latency: "
                      "what each measured version costs to keep and to run.")
    widgets.save(s, "results", form)
    points = results_charts.run_points(shown, runs.differing_settings(shown), x, s.settings)
    st.plotly_chart(results_charts.accuracy_chart(points, x, x_title=results_charts.axis_title(x, shown)),
                    key="results_chart")
    unmeasured = len(shown) - len(points)
    per_version = results_charts.X_AXES[x].per_version
    st.caption("Each run is named by the settings that differ between your runs. "
               + ("Each compressed version is joined to its model's fp32: left of it is what it saved, below it "
                  "what it cost in accuracy. " if per_version else
                  "Compressed versions share their model's training: pick model size or batch-1 latency to see "
                  "each beside its fp32. ")
               + (f"{unmeasured} {'run has' if unmeasured == 1 else 'runs have'} no {x} yet and "
                  f"{'is' if unmeasured == 1 else 'are'} not shown"
                  + (": measure them on **Compress & benchmark**." if per_version else ".")
                  if unmeasured else ""))
    return True


def every_run(s: Session) -> None:
    """The table, start times in the student's own time zone (their browser's), small figures with enough
    decimals; then the assumptions it is priced with."""
    rows, formats = results_charts.readable_table(runs.table(s), st.context.timezone)
    st.dataframe(rows, hide_index=True, width="stretch",
                 column_config={c: st.column_config.NumberColumn(format=f) for c, f in formats.items()})
    assumptions.assumptions_summary(s, link_to=None)
    st.caption("Every energy, CO₂e, cost and break-even figure here and in the downloads is recomputed with the "
               "assumptions above (change them, and the table follows; nothing is run again). 'energy method' says "
               "how each was obtained: *measured* by hardware counters, or *estimated* from CPU time and assumed "
               "watts; the CPU and RAM parts show what an estimate is made of. " + figures_caption(runs.machines(s))
               + " 'outcome' says whether it finished, was stopped, or failed.")


def figures_caption(machines: list[str]) -> str:
    """What the table's 'figures' column says, naming the compute cluster's machines the runs were measured on."""
    if not machines:
        return ("'figures' says whether a run was measured for you or served from an identical run measured "
                "earlier on this server;")
    return ("'figures' says whether a run was measured for you or served from an identical run measured earlier, "
            f"and where: this server, or the other machine that ran it ({'; '.join(machines)});")


def energy_parts(s: Session) -> None:
    """What the current model's training, and its first version with an energy figure, are made of."""
    served = next((r.name for r in s.results if r.energy is not None), None)
    if s.training_energy is not None or served is not None:
        with st.expander("What your current model's energy figures are made of"):
            assumptions.energy_parts(s, {"training": s.training_energy_now(),
                                         **({f"inference, {served}": s.per_image_energy(served)} if served else {})})


def downloads(s: Session) -> None:
    c1, c2, c3, c4 = st.columns([1, 1, 1.3, 1.6])
    c1.download_button("Download CSV", runs.to_csv(s), file_name="train-infer-lab-runs.csv",
                       mime="text/csv", icon=":material/download:", on_click="ignore",
                       help="One row per run and measured version (run columns repeated), every column with its "
                            "unit, and the assumptions the energy figures use.")
    c2.download_button("Download JSON", runs.to_json(s), file_name="train-infer-lab-runs.json",
                       mime="application/json", icon=":material/download:", on_click="ignore",
                       help="Everything, with each run's figures under your current assumptions and, in "
                            "'as_recorded', the assumptions it was measured under.")
    c3.download_button("Download emissions.csv", runs.emissions_csv(s), file_name="emissions.csv",
                       mime="text/csv", icon=":material/download:", on_click="ignore",
                       help="Every energy reading in CodeCarbon's emissions.csv format (its own columns, so its tools "
                            "can read and append to it), with your country and PUE. It has no column for image "
                            "counts: those are in the companion file emissions-images.json.")
    c4.download_button("Download emissions-images.json", runs.emissions_companion_json(s),
                       file_name="emissions-images.json", mime="application/json", icon=":material/download:",
                       on_click="ignore",
                       help="The companion of emissions.csv: for each of its rows (same order, same run_id), the "
                            "phase and the number of images that reading processed.")

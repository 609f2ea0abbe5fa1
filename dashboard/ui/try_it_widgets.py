"""The Try it yourself page's pieces: the preprocessing steps as small images, each version's answer."""

from __future__ import annotations

import numpy as np
import streamlit as st
from PIL import Image

from dashboard.lab import fmt
from dashboard.lab.measure.bench import BenchResult
from dashboard.lab.serving.preprocess import Answer, Prepared

STEP_PX = 112   # every step is shown in a square this big: small images enlarged pixel by pixel, not blurred
NBSP = "\u00a0"
PAD = 255       # around a step that is not square: the page's white, so its real shape shows
FRAME, FRAME_GREY = 2, 160   # px and grey level of the line around each step's image


def shown(image: np.ndarray, px: int = STEP_PX) -> np.ndarray:
    """A step's image in an RGB square: scaled to fit px (whole pixels when enlarging), framed, padded with white."""
    rgb = np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image
    h, w = rgb.shape[:2]
    if max(h, w) <= px:
        factor = px // max(h, w)
        rgb = np.repeat(np.repeat(rgb, factor, axis=0), factor, axis=1)
    else:
        scale = px / max(h, w)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        rgb = np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.LANCZOS))
    h, w = rgb.shape[:2]
    side = px + 2 * FRAME
    out = np.full((side, side, 3), PAD, dtype=np.uint8)
    top, left = (side - h) // 2, (side - w) // 2
    # A grey frame just outside the image: white ink at its edge must not melt into the white padding.
    out[top - FRAME:top + h + FRAME, left - FRAME:left + w + FRAME] = FRAME_GREY
    out[top:top + h, left:left + w] = rgb
    return out


def steps(prepared: Prepared) -> None:
    """Every step from the student's image to the model's input, left to right."""
    cols = st.columns(len(prepared.steps))
    for i, (col, step) in enumerate(zip(cols, prepared.steps), start=1):
        with col:
            st.image(shown(step.image), caption=f"{i}. {step.title}")
            if step.caption:
                st.caption(step.caption)


def verdict(answers: list[Answer]) -> str:
    """One sentence: do the versions agree?"""
    said = [(a.name, a.label) for a in answers if a.available and a.label is not None]
    if not said:
        return "No version could run here."
    labels = {label for _, label in said}
    if len(said) == 1:
        return f"Your model says **{said[0][1]}**."
    if len(labels) == 1:
        return f"All {len(said)} versions say **{said[0][1]}**."
    return "The versions disagree: " + ", ".join(f"{name} says **{label}**" for name, label in said) + "."


def answers_table(answers: list[Answer], results: list[BenchResult]) -> None:
    """Each version's top 3 with confidences and the latency of its call, beside its measured test accuracy."""
    accuracy = {r.name: r.accuracy for r in results}
    rows: dict[str, list[str]] = {"version": [], "says": [], "2nd": [], "3rd": [], "this call": [],
                                  "test accuracy": []}
    for a in answers:
        rows["version"].append(a.name)
        if not a.available:
            rows["says"].append(f"not available here: {a.note}")
            for col in ("2nd", "3rd", "this call"):
                rows[col].append("")
        else:
            # No line break inside "7 (99.2 %)": a wrapped confidence reads as a second answer.
            top = [f"{label} ({fmt.pct(p)})".replace(" ", NBSP) for label, p in a.top] + ["", ""]
            rows["says"].append(top[0])
            rows["2nd"].append(top[1])
            rows["3rd"].append(top[2])
            rows["this call"].append(fmt.ms(a.latency_ms).replace(" ", NBSP))
        rows["test accuracy"].append(fmt.pct(accuracy.get(a.name)) if accuracy.get(a.name) is not None else "")
    st.table(rows, hide_index=True)   # (hide_index: Streamlit 1.56+, as ui/status.py's tables need too)

"""Published figures about real AI systems, each with its source: never measured here.

The Training vs inference page puts the student's own measurements beside these, always
labelled "published, not measured here", so a student can scale their lab up to the systems
the news is about. Each figure quotes its document; the numbers are as the document states them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

WH = 3600.0  # joules per watt-hour


@dataclass(frozen=True)
class Published:
    key: str
    what: str          # one line a student reads
    joules: float | None  # an energy, when the figure is one (else None: a share, a ratio)
    value_text: str    # the figure as the source states it, with its unit
    source: str        # authors, title, venue, year
    url: str
    note: str          # what it includes and leaves out

    def to_dict(self) -> dict:
        return asdict(self)


GPT3_TRAINING = Published(
    "gpt3_training", "Training GPT-3 (175 billion parameters), once", 1_287e6 * WH, "1,287 MWh",
    "Patterson et al., 'Carbon Emissions and Large Neural Network Training', arXiv:2104.10350 (2021), Table 4",
    "https://arxiv.org/abs/2104.10350",
    "Energy of the final training run on V100 GPUs in a Microsoft data centre, PUE included; "
    "not the experiments before it, not serving it.")

INFERENCE_SHARE = Published(
    "google_inference_share", "Share of Google's machine-learning energy that went to inference (2019 to 2021)",
    None, "about 3/5 inference, 2/5 training",
    "Patterson et al., 'The Carbon Footprint of Machine Learning Training Will Plateau, Then Shrink', "
    "IEEE Computer 55(7), 2022; arXiv:2204.05149",
    "https://arxiv.org/abs/2204.05149",
    "Machine learning was under 15 % of Google's total energy use in each of those three years; "
    "of that, about three fifths served predictions.")

AI_TEXT_PROMPT = Published(
    "gemini_text_prompt", "One AI text prompt (the median Gemini Apps text prompt, May 2025)", 0.24 * WH, "0.24 Wh",
    "Elsworth et al. (Google), 'Measuring the environmental impact of delivering AI at Google Scale', "
    "arXiv:2508.15734 (2025)",
    "https://arxiv.org/abs/2508.15734",
    "Counts accelerators, host CPU and memory, idle capacity kept ready, and data-centre overhead (PUE); "
    "not training, not the user's device or the network.")

FIGURES: tuple[Published, ...] = (GPT3_TRAINING, INFERENCE_SHARE, AI_TEXT_PROMPT)

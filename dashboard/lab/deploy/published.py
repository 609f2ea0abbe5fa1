"""Published figures about real AI systems, each with its source: never measured here.

The Training vs inference page puts the student's own measurements beside these, always
labelled "published, not measured here", so a student can scale their lab up to the systems
the news is about. Each figure quotes its document; the numbers are as the document states them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from dashboard.lab.serial import Record

WH = 3600.0  # joules per watt-hour


@dataclass(frozen=True)
class Published(Record):
    key: str
    what: str          # one line a student reads
    joules: float | None  # an energy, when the figure is one (else None: a share, a ratio)
    value_text: str    # the figure as the source states it, with its unit
    source: str        # authors, title, venue, year
    url: str
    note: str          # what it includes and leaves out


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


@dataclass(frozen=True)
class TinyResult:
    """One published MLPerf Tiny result: a board, the benchmark's model on it, and what the results files state.
    Each figure is as the result's files give it; `ms_per_inference` and `power_mw` are derived, and say so."""

    key: str
    what: str                # one line a student reads
    board: str
    soc: str
    processor: str
    memory: str              # the SoC's memory and storage, as the system description states them
    runtime: str
    quantization: str
    operating: str           # the hardware notes (voltage)
    model: str
    dataset: str
    throughput_ips: float    # median throughput, inferences per second (performance run)
    energy_uj: float         # median energy per inference, µJ (energy run)
    power_uw: float          # the energy run's power in the window whose energy is the median, µW
    top1: float              # accuracy (Top-1), as a fraction
    source: str
    url: str
    files: tuple[str, ...]   # where in `url` each figure was read
    paper: str
    paper_url: str
    note: str

    @property
    def ms_per_inference(self) -> float:
        """Derived, not published: 1 / the median throughput (a single-stream benchmark: one inference at a time)."""
        return 1000.0 / self.throughput_ips

    @property
    def joules(self) -> float:
        return self.energy_uj * 1e-6

    @property
    def power_w(self) -> float:
        return self.power_uw * 1e-6

    def to_dict(self) -> dict:
        return asdict(self) | {"ms_per_inference": self.ms_per_inference}


MLPERF_TINY_IC = TinyResult(
    "mlperf_tiny_v05_ic_reference", "MLPerf Tiny image classification, the reference submission",
    board="Nucleo-L4R5ZI", soc="STM32L4R5ZIT6",
    processor="Arm Cortex-M4 with FPU at 120 MHz", memory="640KB SRAM, 2MB eFlash",
    runtime="TensorFlow Lite for Microcontrollers v2.3.1", quantization="TensorFlow int8 quantization",
    operating="operating at 1.8 V",
    model="the benchmark's ResNet (ResNet-8), int8", dataset="CIFAR-10 (32×32 colour images, 10 classes)",
    throughput_ips=1.420, energy_uj=29_207.010, power_uw=41_475.447, top1=0.865,
    source="MLCommons, MLPerf Tiny v0.5 results, closed division, 'reference' submission (2021)",
    url="https://github.com/mlcommons/tiny_results_v0.5",
    files=("closed/reference/systems/Nucleo_L4R5ZI_System_Description.json",
           "closed/reference/results/Nucleo-L4R5ZI/ic/performance/results.txt",
           "closed/reference/results/Nucleo-L4R5ZI/ic/energy/results.txt",
           "closed/reference/results/Nucleo-L4R5ZI/ic/accuracy/results.txt"),
    paper="Banbury et al., 'MLPerf Tiny Benchmark', NeurIPS Datasets and Benchmarks 2021, arXiv:2106.07597",
    paper_url="https://arxiv.org/abs/2106.07597",
    note="Median throughput 1.420 inferences/s (performance run); median energy 29,207.010 µJ per inference "
         "(energy run, 41,475.447 µW in that window); Top-1 86.5 % (accuracy run). One inference at a time "
         "(single stream). The time per inference is derived here as 1 / 1.420 inferences/s; the files state "
         "no latency of their own.")

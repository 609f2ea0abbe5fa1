"""Published peak rates of accelerators, each with its source, and the student's training scaled onto them.

    scale_up(train_flops, utilisation=0.4) -> [ScaleUp]   # seconds on each, an estimate

Nothing here is measured: each peak is as the vendor states it (dense, no sparsity), and a time is
training FLOPs / (peak x utilisation). Real training keeps a chip busy only part of the time
(waiting on memory, on the host, on small layers), so the utilisation is an assumption, stated
with every figure. The int8 chips are inference engines: they cannot run this training at all, and
their figure only shows the scale of their arithmetic.

Left out on purpose: a plain Cortex-M microcontroller without an NPU. Vendors publish its speed in
CoreMark or DMIPS, not in operations per second, and a figure derived from clock x SIMD width would
be ours, not published.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

UTILISATION = 0.4   # share of the peak a well-fed training run sustains (an assumption, said so)
LABEL = "estimate from published peaks, not measured here"


@dataclass(frozen=True)
class Accelerator:
    key: str
    name: str
    kind: str                 # "datacenter GPU", "cloud TPU", ...
    ops_per_s: float          # the published peak, dense
    format: str               # the number format that peak is for
    value_text: str           # the figure as the source states it
    source: str               # who publishes it, which document, year
    url: str
    can_train: bool           # False for inference-only chips
    note: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


H100 = Accelerator(
    "h100_sxm", "NVIDIA H100 SXM", "datacenter GPU", 989e12, "bf16",
    "989 TFLOP/s bf16 dense (NVIDIA quotes 1,979 with sparsity, twice the dense rate)",
    "NVIDIA, H100 Tensor Core GPU product page (2022)",
    "https://www.nvidia.com/en-us/data-center/h100/", True)

TPU_V5E = Accelerator(
    "tpu_v5e", "Google TPU v5e (one chip)", "cloud TPU", 197e12, "bf16",
    "197 TFLOP/s bf16 per chip",
    "Google Cloud, 'TPU v5e' system architecture documentation (2023)",
    "https://cloud.google.com/tpu/docs/v5e", True)

A17_PRO = Accelerator(
    "apple_a17_pro_ne", "Apple A17 Pro Neural Engine", "phone NPU (iPhone 15 Pro)", 35e12, "not stated",
    "35 trillion operations/s (format not stated)",
    "Apple Newsroom, iPhone 15 Pro announcement (September 2023)",
    "https://www.apple.com/newsroom/2023/09/apple-unveils-iphone-15-pro-and-iphone-15-pro-max/", False,
    "Apple does not say in which number format; the Neural Engine runs trained models, it does not train them")

CORAL = Accelerator(
    "coral_edge_tpu", "Google Coral Edge TPU", "edge NPU", 4e12, "int8",
    "4 TOPS int8, at 2 W",
    "Coral (Google), USB Accelerator product page (2019)",
    "https://coral.ai/products/accelerator/", False,
    "runs 8-bit TensorFlow Lite models only: inference, not training")

STM32N6 = Accelerator(
    "stm32n6_npu", "ST STM32N6 microcontroller NPU", "microcontroller (Cortex-M55 + Neural-ART NPU)", 600e9, "int8",
    "600 GOPS, 8-bit (its Neural-ART NPU)",
    "STMicroelectronics, STM32N6 series product page (2024)",
    "https://www.st.com/en/microcontrollers-microprocessors/stm32n6-series.html", False,
    "the NPU runs 8-bit inference; the Cortex-M55 beside it is far slower")

ACCELERATORS: tuple[Accelerator, ...] = (H100, TPU_V5E, A17_PRO, CORAL, STM32N6)


@dataclass
class ScaleUp:
    accelerator: Accelerator
    seconds: float            # train_flops / (peak x utilisation)
    utilisation: float


def training_flops(trained) -> float:
    """FLOPs the student's training did: training FLOPs per image (forward + backward) x images seen."""
    return float(trained.cost.train_flops_per_image) * trained.samples_seen


def scale_up(train_flops: float, utilisation: float = UTILISATION,
             accelerators: tuple[Accelerator, ...] = ACCELERATORS) -> list[ScaleUp]:
    """How long `train_flops` would take on each accelerator at `utilisation` of its published peak."""
    if not 0 < utilisation <= 1:
        raise ValueError("utilisation must be above 0 and at most 1")
    return [ScaleUp(a, train_flops / (a.ops_per_s * utilisation), utilisation) for a in accelerators]


__all__ = ["ACCELERATORS", "LABEL", "UTILISATION", "Accelerator", "ScaleUp", "scale_up", "training_flops"]

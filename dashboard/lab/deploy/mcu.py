"""What the student's int8 model would need on a microcontroller, against the memory of real ones: an estimate.

    need = estimate(variant, example)      # McuNeed: flash = its saved file, RAM = its peak activations at batch 1
    need = from_fit(fit)                   # the same, read off a device profile measured at 1 image per call
    rooms(need, NRF52840)                  # [Room flash, Room RAM]: fits or not, by how much

The split is the one a microcontroller runtime makes (TensorFlow Lite for Microcontrollers, CMSIS-NN):
the weights stay in flash and are read from there, the activations live in SRAM. So flash must hold
the version's weights as deployed (the file lab.measure.bench measures as its size) and SRAM the
largest set of activations alive at once at one image per call (lab.deploy.edge.activation_peak, 8-bit
tensors counted at 1 byte a number). It is an estimate and leaves out: the runtime's own code (in
flash) and its arena's bookkeeping (in SRAM), the input image's buffer kept while the next layers
run, padding to word alignment, the difference between this PyTorch file and the format a
microcontroller loads (a .tflite or C array), and the rest of the firmware that shares the chip. A
model that does not fit here does not fit there; one that fits here needs that room on top.

The budgets are the chips' memories as their makers or the benchmark's files state them
(microcontroller "KB" and "MB" are binary: 256 KB = 256 x 1,024 bytes).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from dashboard.lab import claims, fmt
from dashboard.lab.deploy import edge
from dashboard.lab.deploy.edge import KiB, MiB
from dashboard.lab.deploy.published import MLPERF_TINY_IC
from dashboard.lab.measure.bench import BenchResult
from dashboard.lab.serial import Record
from dashboard.lab.training.variant import Variant

LABEL = "estimate, not measured on a microcontroller"
LEAVES_OUT = ("the runtime's own code and its arena's bookkeeping, the input image's buffer kept while the next "
              "layers run, padding to word alignment, the file format a microcontroller loads (a .tflite or C "
              "array, not this PyTorch file) and the rest of the firmware")


@dataclass(frozen=True)
class McuBudget(Record):
    """A microcontroller's memory: SRAM for the activations, flash for the weights."""

    key: str
    name: str
    chip: str
    ram_bytes: int
    flash_bytes: int
    value_text: str       # the memory as the source states it
    source: str
    url: str
    note: str = ""


NRF52840 = McuBudget(
    "nrf52840", "Arduino Nano 33 BLE Sense", "nRF52840, 64 MHz Cortex-M4", 256 * KiB, 1 * MiB,
    "256 KB RAM, 1 MB flash",
    "Arduino, 'Nano 33 BLE Sense' (product documentation and datasheet)",
    "https://docs.arduino.cc/hardware/nano-33-ble-sense/",
    "the chip the Microcontroller-class profile stands for; a typical small microcontroller")

NUCLEO_L4R5ZI = McuBudget(
    "nucleo_l4r5zi", "Nucleo-L4R5ZI (MLPerf Tiny's board)", "STM32L4R5ZIT6, 120 MHz Cortex-M4",
    640 * KiB, 2 * MiB, MLPERF_TINY_IC.memory,
    MLPERF_TINY_IC.source, MLPERF_TINY_IC.url,
    "the board MLPerf Tiny's reference result ran on (its system description)")

BUDGETS: tuple[McuBudget, ...] = (NRF52840, NUCLEO_L4R5ZI)


@dataclass(frozen=True)
class McuNeed(Record):
    """What one int8 version would need on a microcontroller (an estimate: see the module doc)."""

    version: str
    flash_bytes: int      # its weights as deployed: the saved file
    ram_bytes: int        # its peak activations at 1 image per call
    how: str              # how the activations were measured


@dataclass(frozen=True)
class Room:
    """One memory of one microcontroller against what the version needs there."""

    what: str             # "flash" or "RAM"
    need: int
    budget: int

    @property
    def fits(self) -> bool:
        return self.need <= self.budget

    @property
    def margin(self) -> int:
        """Bytes left when it fits, negative bytes (over) when it does not."""
        return self.budget - self.need

    def share(self) -> str:
        """'2.3 % of 1 MiB', from the two values (lab.claims.share), digits enough to show it."""
        r = self.need / self.budget
        digits = 0 if r >= 0.1 else 1 if r >= 0.01 else 2
        return claims.share(self.need, self.budget, fmt.size(self.budget), digits)

    def text(self) -> str:
        """'fits: 2.3 % of 1 MiB, 1,000 KiB left' or 'does not fit: 150 % of 256 KiB, 128 KiB over': the
        words follow the two values."""
        if self.fits:
            return f"fits: {self.share()}, {fmt.size(self.margin)} left"
        return f"does not fit: {self.share()}, {fmt.size(-self.margin)} over"


def rooms(need: McuNeed, budget: McuBudget) -> tuple[Room, Room]:
    """Flash for the weights, RAM for the activations."""
    return Room("flash", need.flash_bytes, budget.flash_bytes), Room("RAM", need.ram_bytes, budget.ram_bytes)


def fits(need: McuNeed, budget: McuBudget) -> bool:
    return all(r.fits for r in rooms(need, budget))


def estimate(variant: Variant, example: torch.Tensor) -> McuNeed:
    """Flash and RAM one integer-only version would need: its saved file and its peak activations on the first
    image of `example` (normalised fp32 images, as the test tensors). ValueError for a float version: a
    microcontroller runtime runs 8-bit integer kernels."""
    if not edge.integer_only(variant):
        raise ValueError(f"{variant.name} computes in floating point: a microcontroller estimate needs an int8 version")
    ram, how = edge.activation_peak(variant, example[:1])
    return McuNeed(variant.name, len(variant.saved_bytes()), ram, how)


def from_fit(fit: edge.Fit, result: BenchResult) -> McuNeed | None:
    """The need read off a device profile's measurement (lab.deploy.edge.Fit: the saved file's size and the peak
    activations, measured at the profile's batch): None unless the version is integer-only (`result`, its
    benchmark figures, says how it was made) and was measured at 1 image per call."""
    if (not fit.runnable or fit.batch != 1 or fit.weights_bytes is None or fit.activation_bytes is None
            or result.name != fit.name or not edge.integer_only(result)):
        return None
    return McuNeed(fit.name, fit.weights_bytes, fit.activation_bytes, fit.activations_how)


__all__ = ["BUDGETS", "LABEL", "LEAVES_OUT", "NRF52840", "NUCLEO_L4R5ZI", "McuBudget", "McuNeed", "Room",
           "estimate", "fits", "from_fit", "rooms"]

"""Shared fixtures. Tests run on the bundled digits only: no network anywhere."""

from __future__ import annotations

import pytest

import dashboard  # noqa: F401  first: its OpenMP default must precede torch
import torch
from dashboard.lab.data import load_dataset


@pytest.fixture(scope="session")
def digits():
    return load_dataset("digits")


@pytest.fixture(autouse=True)
def _torch_threads():
    # The suite must fit 2 cores; one thread keeps tests from fighting each other.
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)

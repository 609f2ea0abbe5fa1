"""Train & Infer Lab: train a small vision model live, compress it, measure inference.

Importing this package sets one OpenMP default before torch loads its OpenMP runtime (every
entry point imports it first: the app, the CLI, the benchmarks, the tests' conftest).
GNU libgomp, torch's OpenMP on Linux, lets an idle worker thread spin 300,000 times before it
sleeps. A small model's forward pass is many short parallel regions; on a 2-vCPU VM the second
thread sometimes fell asleep between them and a whole process then ran the 50 %-pruned CNN at
~40k instead of ~63k images/s at batch 256: one speed or the other per process, so two runs of
a benchmark disagreed by 25-30 %. Ten times the spin (measured cost: ~70 ms of one spinning
thread after the last burst, then it sleeps) removed the slow mode. A value set by the user
wins; libomp (macOS) and Intel's OpenMP ignore this variable.
"""

import os

os.environ.setdefault("GOMP_SPINCOUNT", "3000000")

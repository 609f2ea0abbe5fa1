"""Compression: every way the lab makes a trained model smaller or faster, in one registry (compress),
and the techniques behind it: pruning, int8 quantization (quantize, the only module that touches
torch's quantization stacks), lower precision, distillation, per-layer pruning sensitivity.

May import: the common ground of dashboard.lab, inputs/, training/, serving/ (ONNX Runtime versions).
"""

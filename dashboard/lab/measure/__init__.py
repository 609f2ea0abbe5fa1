"""Measuring: one honest benchmark for every version (bench), checked for quiet windows (quiet), and
what is built on it: one figure per measured thing (figures), a whole run as plain data (record),
memory of training against inference, FLOPs per layer, this machine's peak and the roofline,
published accelerators, and the cost of one image in training against inference.

May import: the common ground of dashboard.lab, inputs/, training/, energy/, compression/ (peak's int8).
"""

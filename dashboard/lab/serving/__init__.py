"""Serving: the model in runtimes built for inference. ONNX export with torch's exporter (onnx_export),
ONNX Runtime sessions (runtimes), and a student's own image prepared for every version (preprocess).

May import: the common ground of dashboard.lab, inputs/, training/.
"""

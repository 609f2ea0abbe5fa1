"""Training: the model registry (models), the one training loop (train), what became of a run (outcome),
a run metered in pieces (metered_training), a look inside a trained model (inspect), and a Variant: a
model ready for inference, the unit every later room works on (variant).

May import: the common ground of dashboard.lab, inputs/, energy/ (metered_training only).
"""

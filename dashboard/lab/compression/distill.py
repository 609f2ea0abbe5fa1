"""Distillation: a small student learns from the teacher's softened outputs (Hinton et al. 2015),
next to the same student trained from the labels alone, so the teacher is the only difference."""

from __future__ import annotations

from dataclasses import replace

import torch
import torch.nn.functional as F
from torch import nn

from dashboard.lab.fmt import plural
from dashboard.lab.training.train import Training, cpu_precision
from dashboard.lab.training.variant import Variant, with_stats


def kd_loss(teacher: nn.Module, temperature: float, alpha: float):
    """Hinton-style distillation: alpha * T^2 * KL(teacher_T || student_T) + (1 - alpha) * CE(labels)."""
    teacher = teacher.eval()

    def loss_fn(outputs: torch.Tensor, labels: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            soft_targets = F.softmax(teacher(inputs) / temperature, dim=1)
        soft = F.kl_div(F.log_softmax(outputs / temperature, dim=1), soft_targets,
                        reduction="batchmean") * temperature ** 2
        return alpha * soft + (1 - alpha) * F.cross_entropy(outputs, labels)

    return loss_fn


def student(b, *, distill: bool) -> Variant:
    """The student model trained from the labels (baseline) or from the teacher too (distilled):
    same architecture, epochs, seed and schedule, so the difference is the teacher alone."""
    trained, settings, name = b.trained, b.settings, b.name
    epochs = settings.distill_epochs or trained.config.epochs
    config = replace(trained.config, model=settings.student_model, epochs=epochs, device="cpu",
                     precision=cpu_precision(trained.config))
    loss = kd_loss(trained.module, settings.distill_temperature, settings.distill_alpha) if distill else None
    # Training builds the student from the run's own init stream: both students start from the
    # same weights for one seed, whatever other threads draw from torch's global RNG.
    run = Training(config, b.dataset, loss_fn=loss)
    for event in run:
        b.progress(event.progress, f"{name}: epoch {event.epoch}/{epochs}")
        if b.should_stop():
            run.stop()
    module = run.result().module
    how = (f"{settings.student_model} trained {plural(epochs, 'epoch')} on the teacher's softened outputs "
           f"(T={settings.distill_temperature:g}, alpha={settings.distill_alpha:g}) and the labels"
           if distill else f"{settings.student_model} trained {plural(epochs, 'epoch')} on the labels only "
                           "(same seed and schedule as distilled)")
    v = Variant(name, module.eval(), how,
                note="compare distilled with student-baseline: the teacher is the only difference",
                details={"student": settings.student_model, "epochs": epochs,
                         **({"temperature": settings.distill_temperature, "alpha": settings.distill_alpha}
                            if distill else {})})
    return with_stats(v, module, trained.spec.in_shape)

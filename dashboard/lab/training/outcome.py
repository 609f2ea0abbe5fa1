"""What became of a training, named from its real history: ok, diverged, collapsed or barely learned.

    outcome = judge(evidence)      # Training.result() does this; TrainedModel.outcome holds it
    outcome.kind                   # "ok", "diverged", "collapsed" or "barely learned"
    outcome.title, outcome.explanation, outcome.advice   # plain words, in the run's own numbers

A test accuracy alone hides a failed run: 10 % on 10 classes is a model that answers one class
for everything, and a green "finished" next to it reads as a success. So the run is judged on
what a model that knows nothing scores: accuracy 1/C and cross-entropy ln C (every class
equally likely), C being the number of classes.

Thresholds, from runs of this engine on the bundled digits (10 classes: ln 10 = 2.30; cnn unless
named, 3 epochs, batch 64, one-cycle schedule, seed 0, all 8,000 training images):

| settings                            | test acc. | test loss | highest step loss | top class share | outcome        |
|-------------------------------------|-----------|-----------|-------------------|-----------------|----------------|
| Adam 0.003 (the default)            | 97.6 %    | 0.08      | 2.23 (the first)  | 11 %            | ok             |
| Adam 0.0001                         | 90.5 %    | 0.34      | 2.30 (the first)  | 11 %            | ok (a hint)    |
| SGD 0.1 / 0.03                      | 97.9 / 96.7 % | 0.09 / 0.10 | the first   | 11 %            | ok             |
| SGD 0.0001                          | 42.0 %    | 2.24      | 2.30 (the first)  | 32 %            | barely learned |
| SGD 1.0                             | 10.0 %    | 2.30      | 7.9               | 100 %           | collapsed      |
| SGD 0.3 (seed 0 / seed 1)           | 11.2 / 10.2 % | 2.30  | 3.7 / 7.1         | 100 %           | collapsed      |
| SGD 0.3 (seed 2)                    | 10.0 %*   | nan       | 2.7e14, then nan  | 100 %           | diverged       |
| Adam 1.0                            | 10.0 %    | 2.30      | 22                | 100 %           | collapsed      |
| Adam 0.1                            | 11.3 %    | 2.30      | 3.0               | 100 %           | collapsed      |
| 1 epoch on 500 images: mlp          | 64.1 %    | 1.50      | 1.94 (the first)  | 20 %            | ok             |
| 1 epoch on 500 images: cnn          | 59.2 %    | 1.87      | 2.13 (the first)  | 30 %            | barely learned |
| 1 epoch on 500 images: tiny-cnn     | 20.8 %    | 2.24      | 2.29 (the first)  | 87 %            | collapsed      |
| 1 epoch on 2,000 images: mlp, Adam 1.0 | 10.7 % | 75        | 42                | 99 %            | diverged       |
| 1 epoch on 1,000 images: mlp, SGD 1.0, batch 16 | 8.6 %* | 2.7e25 | 7e16, then nan | 100 %     | diverged       |

(* the model at its last finite state.) Healthy runs: the loss never rises above its first
value, one class takes 11-12 % of the answers, the test loss ends at 0.03-0.15 x ln C. Hence:

- diverged: the loss became nan/inf (the engine stops there), or it exploded above
  EXPLODED x ln C during training and the test loss is still above that at the end;
- collapsed: one class takes at least DOMINANT_SHARE of the test answers (5x its fair share
  with 10 classes; healthy runs 11-12 %, under-trained ones up to 32 %, collapsed 87-100 %);
- barely learned: the test loss is above LITTLE_LEARNED x ln C (it fell less than a quarter
  of the way from a guess to a perfect model), or the accuracy is below LOW_ACCURACY of the
  way from chance to 100 % (32.5 % for 10 classes);
- ok: none of these.

What to try comes from the measured learning rates that train well (GOOD_LR), whether the loss
rose during training, and how many updates the run made. The thresholds are relative to ln C
and 1/C, not to the digits, so they carry to the other datasets; not measured here (CIFAR-10
cannot be downloaded on this machine), but a small CNN's usual test loss after a few CIFAR-10
epochs, 1.0-1.3, is 0.45-0.55 x ln 10: "ok".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from dashboard.lab.serial import from_plain, to_plain

KINDS = ("ok", "diverged", "collapsed", "barely learned")

EXPLODED = 2.0          # a loss above 2 x ln C (4.6 for 10 classes): far worse than guessing
DOMINANT_SHARE = 0.5    # one class takes half of the answers or more: the model collapsed onto it
LITTLE_LEARNED = 0.75   # test loss still above 3/4 of a guess's: the loss fell little
LOW_ACCURACY = 0.25     # accuracy below chance + 1/4 of the way to 100 %
NEAR_CHANCE = 1.5       # accuracy up to 1.5 x chance (15 % for 10 classes) is "what guessing gives"
ROSE = 1.2              # a loss window 20 % above the first one: the loss went up, not down
FEW_UPDATES = 150       # fewer optimizer steps than this: "train longer" is worth saying

# Learning rates that train well, measured on the bundled digits (cnn, 3 epochs, one-cycle):
# Adam 0.001-0.03 reach 96.7-97.9 % (0.1 and above collapse); SGD with momentum 0.01-0.1 reach
# 95.0-97.9 % (0.3 and above collapse or diverge, 0.0001 gives 42 %).
GOOD_LR = {"adam": (0.001, 0.03), "sgd": (0.01, 0.1)}
SUGGEST_LR = {"adam": "0.003 (the default)", "sgd": "0.03 to 0.1"}
OPTIMIZER_NAMES = {"adam": "Adam", "sgd": "SGD with momentum"}


@dataclass(frozen=True)
class Evidence:
    """What the engine saw of a run: its settings, its loss windows and its final evaluation."""

    classes: tuple[str, ...]
    optimizer: str
    lr: float
    schedule: str
    test_accuracy: float
    test_loss: float | None                 # None where it was not evaluated
    predicted_counts: tuple[int, ...] | None  # test images per predicted class
    first_loss: float | None                # the first logged training-loss window
    peak_loss: float | None                 # the highest finite window
    steps: int                              # optimizer updates made
    total_steps: int
    samples_seen: int
    stopped: bool = False                   # the caller stopped it before the end
    overflow: str | None = None             # "nan" or "inf": the loss stopped being finite
    overflow_step: int | None = None
    overflow_epoch: int | None = None
    kept_step: int | None = None            # the step whose weights were kept (known to give a finite loss)


@dataclass(frozen=True)
class Outcome:
    """A run's outcome in plain words, with the figures it was judged on."""

    kind: str              # one of KINDS
    title: str             # "The model collapsed onto one answer ('0')"
    summary: str           # one line with the key numbers, for a notice or a table
    explanation: str       # what happened, in the run's numbers
    advice: str            # what to try ("" when it worked, or a hint when it worked slowly)
    test_accuracy: float
    test_loss: float | None
    chance_accuracy: float
    chance_loss: float     # ln C
    top_class: str | None = None
    top_share: float | None = None
    peak_loss: float | None = None

    @property
    def ok(self) -> bool:
        return self.kind == "ok"

    @property
    def level(self) -> str:
        """How a page shows it: "success", "warning" or "error"."""
        return {"ok": "success", "diverged": "error"}.get(self.kind, "warning")

    @property
    def message(self) -> str:
        """Title, what happened and what to try, as one paragraph."""
        return " ".join(x for x in (f"{self.title}.", self.explanation, self.advice) if x)

    def to_dict(self) -> dict:
        return to_plain(self)

    @classmethod
    def from_dict(cls, d: dict) -> Outcome:
        return from_plain(cls, d)


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def _loss(x: float) -> str:
    return f"{x:.2f}" if x < 100 else f"{x:.3g}"


def judge(e: Evidence) -> Outcome:
    """Name the outcome of a run from its evidence; see the module docstring for the thresholds."""
    n = max(len(e.classes), 2)
    chance, ln_c = 1.0 / n, math.log(n)
    acc, loss = e.test_accuracy, e.test_loss
    loss_known = loss is not None and math.isfinite(loss)
    counts = e.predicted_counts or ()
    total = sum(counts)
    top = max(range(len(counts)), key=counts.__getitem__) if total else None
    top_class = e.classes[top] if top is not None and top < len(e.classes) else None
    share = counts[top] / total if top is not None else None

    exploded = e.peak_loss is not None and e.peak_loss > EXPLODED * ln_c
    rose = (e.peak_loss is not None and e.first_loss is not None
            and e.peak_loss > ROSE * e.first_loss and e.peak_loss > ln_c)
    lo, hi = GOOD_LR.get(e.optimizer, (0.0, math.inf))
    too_high = e.lr > hi or exploded or rose or e.overflow is not None
    too_low = e.lr < lo
    short = e.steps < FEW_UPDATES

    if e.overflow is not None or (exploded and loss_known and loss > EXPLODED * ln_c):
        kind = "diverged"
    elif share is not None and share >= DOMINANT_SHARE:
        kind = "collapsed"
    elif (loss_known and loss > LITTLE_LEARNED * ln_c) or acc < chance + LOW_ACCURACY * (1 - chance):
        kind = "barely learned"
    else:
        kind = "ok"

    opt = OPTIMIZER_NAMES.get(e.optimizer, e.optimizer)
    guess = (f"what guessing gives for {n} classes" if acc <= NEAR_CHANCE * chance
             else f"guessing gives {_pct(chance)} for {n} classes")
    answers = (f"the model answers '{top_class}' for {100 * share:.0f} % of the test images"
               if share is not None else "")
    # A student does not know "ln 10": the loss of a blind guess is named for what it is, with its value.
    loss_line = ""
    if loss_known:
        same = f"{loss:.2f}" == f"{ln_c:.2f}"
        loss_line = (f"the test loss sits at {_loss(loss)}, {'exactly' if same else 'about'} the {ln_c:.2f} of a "
                     f"blind guess (a model that gives all {n} classes the same chance)"
                     if abs(loss - ln_c) <= 0.1 * ln_c
                     else f"the test loss is {_loss(loss)} (a blind guess scores {ln_c:.2f})")
    rise = ""
    if rose:
        rise = f"During training the loss rose from {_loss(e.first_loss)} to {_loss(e.peak_loss)}: the updates were too large"
    elif exploded:
        rise = (f"The training loss shot up to {_loss(e.peak_loss)} at once (a blind guess scores {ln_c:.2f}): the updates "
                "were too large")
    spike = f"{rise}. " if rise else ""

    lower = (f"Lower the learning rate: {e.lr:g} is too high for {opt}; try {SUGGEST_LR.get(e.optimizer, 'a tenth of it')}."
             + (" The 'warm up, then anneal' schedule also helps: it starts with small steps."
                if e.schedule == "constant" else ""))
    raise_lr = (f"Raise the learning rate: with {e.lr:g} each update of {opt} barely moves the weights; "
                f"try {SUGGEST_LR.get(e.optimizer, 'ten times more')}.")
    longer = (f"Let it run to the end: you stopped it after {e.steps:,} updates on {e.samples_seen:,} images."
              if e.stopped else
              f"Train longer: it made only {e.steps:,} updates on {e.samples_seen:,} images; give it more epochs "
              "or more training images (under More settings).")

    if kind == "diverged":
        title = "Training diverged"
        if e.overflow is not None:
            summary = f"the loss exploded to {e.overflow} at step {e.overflow_step:,} of {e.total_steps:,}"
            explanation = (f"{spike}The loss became {e.overflow} at step {e.overflow_step:,} of {e.total_steps:,} "
                           f"(epoch {e.overflow_epoch}): the weights grew until the numbers overflowed, so the "
                           "training stopped there. The curves show the run up to that point. The model kept is "
                           f"the one from step {e.kept_step or 0:,}, the last known to give a finite loss: "
                           f"{_pct(acc)} test accuracy ({guess}).")
        else:
            summary = f"the loss rose to {_loss(e.peak_loss)}; {_pct(acc)} test accuracy"
            explanation = (f"The training loss climbed as high as {_loss(e.peak_loss)} (a blind guess scores "
                           f"{ln_c:.2f}) and the test loss ends at {_loss(loss)}: the model is confidently wrong. "
                           f"{_pct(acc)} test accuracy ({guess})" + (f"; {answers}." if answers else "."))
        advice = lower
    elif kind == "collapsed":
        title = f"The model collapsed onto one answer ('{top_class}')"
        summary = f"{_pct(acc)} test accuracy, {guess}; {answers}"
        explanation = (f"{_pct(acc)} test accuracy — {guess}; " + (f"{loss_line}; " if loss_line else "")
                       + f"{answers}. " + (f"{rise} and threw the weights into a state where one answer is "
                                           "the safest bet." if rise else ""))
        advice = lower if too_high else raise_lr if too_low else (
            longer if short or e.stopped else "Try a lower learning rate or another seed.")
    elif kind == "barely learned":
        title = "The model barely learned"
        summary = f"{_pct(acc)} test accuracy; the loss hardly fell"
        fell = ""
        if loss_known and loss >= ln_c * 0.995:
            fell = f"The test loss is still {_loss(loss)}, no lower than the {ln_c:.2f} of a guess: the loss curve stays flat. "
        elif loss_known:
            fell = (f"The test loss fell only from {ln_c:.2f} (a guess) to {_loss(loss)}, "
                    f"{100 * (1 - loss / ln_c):.0f} % of the way to a perfect model: the loss curve stays nearly flat. ")
        explanation = (f"{_pct(acc)} test accuracy after {e.steps:,} updates on {e.samples_seen:,} images "
                       f"({guess}). {fell}{spike}").strip()
        advice = lower if too_high else raise_lr if too_low else longer
    else:
        title = "Training worked"
        summary = f"{_pct(acc)} test accuracy"
        explanation = (f"{_pct(acc)} test accuracy ({guess}); the test loss fell to {_loss(loss)} from the "
                       f"{ln_c:.2f} of a guess." if loss_known else f"{_pct(acc)} test accuracy ({guess}).")
        # It worked, yet a learning rate outside what trains well here leaves accuracy on the table
        # (Adam 0.0001: 90.5 % where 0.003 gives 97.6 %).
        advice = (f"It learned, but slowly: {e.lr:g} is low for {opt}; {SUGGEST_LR[e.optimizer]} reaches more "
                  "in the same time." if too_low and e.optimizer in SUGGEST_LR else "")
    return Outcome(kind, title, summary, explanation.strip(), advice, acc, loss if loss_known else None,
                   chance, ln_c, top_class, share, e.peak_loss)

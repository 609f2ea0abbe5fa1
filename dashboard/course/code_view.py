"""The lab's own code, shown as it is: one training step and one inference, read from the source files.

    for title, source in training_and_inference():
        print(title); print(source)

The source is read with inspect when asked, so it is always the code that runs, never a copy that
could drift from it. Never imports streamlit.
"""

from __future__ import annotations

import inspect
import textwrap
from typing import NamedTuple

from dashboard.lab.measure import bench
from dashboard.lab.training import train, variant

# The training step lives inside Training._run (one loop, shared by the app and the CLI): the step is
# the loop's body from the batch loop's header down to the scheduler's step; the rest logs and evaluates.
STEP_START = 'for x, y in self.dataset.batches("train"'
STEP_END = "self.scheduler.step()"


class Snippet(NamedTuple):
    title: str    # what it is and where it lives: file and lines
    source: str   # the code, dedented


def _where(obj: object, first: int, last: int) -> str:
    path = inspect.getmodule(obj).__name__.replace(".", "/") + ".py"
    return f"{path}, lines {first}–{last}"


def _whole(obj: object, what: str) -> Snippet:
    lines, start = inspect.getsourcelines(obj)
    return Snippet(f"{what}: `{obj.__qualname__}` in {_where(obj, start, start + len(lines) - 1)}",
                   textwrap.dedent("".join(lines)).rstrip())


def training_step() -> Snippet:
    """The lines of Training._run that take one batch through forward, loss, backward and update."""
    lines, start = inspect.getsourcelines(train.Training._run)
    first = next((i for i, line in enumerate(lines) if STEP_START in line), None)
    last = next((i for i, line in enumerate(lines) if STEP_END in line and first is not None and i > first), None)
    if first is None or last is None:   # the loop was reshaped: show all of it rather than a wrong cut
        return _whole(train.Training._run, "The training loop")
    code = textwrap.dedent("".join(lines[first:last + 1])).rstrip()
    return Snippet(f"One training step: the batch loop of `Training._run` in "
                   f"{_where(train.Training._run, start + first, start + last)}", code)


def inference() -> list[Snippet]:
    """The inference call: the test set through a model without gradients, and one call of a Variant."""
    return [_whole(bench.predictions, "One inference over the test images"),
            _whole(variant.Variant.__call__, "What calling a model version does")]


def training_and_inference() -> list[Snippet]:
    """The snippets the Train page shows: one training step, then one inference."""
    return [training_step(), *inference()]

"""The Train page's "show me the code": the real source of one training step and of one inference.

Checked by what runs, not by reading the files again: a real (tiny) training and a real inference are
traced, and the lines the title names must be the lines that called backward, the optimizer's step and
the model; the code shown must parse, and make those calls. Reformatting the engine moves the lines and
the titles with them; a code view that showed a stale copy, the wrong lines or a wrong file would fail."""

from __future__ import annotations

import ast
import inspect
import re
import sys
import textwrap
from contextlib import contextmanager

import torch

from dashboard.course import code_view
from dashboard.lab.measure import bench
from dashboard.lab.training import variant
from dashboard.lab.training.train import TrainConfig, Training


def lines_named(title: str) -> range:
    first, last = map(int, re.search(r"lines (\d+)–(\d+)", title).groups())
    return range(first, last + 1)


def calls_in(source: str) -> set[str]:
    """The names of the functions and methods the shown code calls (from its syntax tree, not its text)."""
    tree = ast.parse(textwrap.dedent(source))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            out.add(f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", ""))
    return out


@contextmanager
def lines_run(code):
    """The line numbers of `code` (a function's code object) that ran, and for each call made from it, the
    callee's name and the caller's line: [(line, callee name)]."""
    ran: set[int] = set()
    calls: list[tuple[int, str]] = []

    def tracer(frame, event, arg):
        caller = frame.f_back
        if event == "call" and caller is not None and caller.f_code is code:
            calls.append((caller.f_lineno, frame.f_code.co_name))
        if frame.f_code is code:
            def local(frame, event, arg):
                if event == "line":
                    ran.add(frame.f_lineno)
                return local
            return local
        return None

    old = sys.gettrace()
    sys.settrace(tracer)
    try:
        yield ran, calls
    finally:
        sys.settrace(old)


def test_the_training_step_shown_is_the_lines_that_run_forward_loss_backward_update(tiny_digits):
    title, source = code_view.training_step()
    shown = lines_named(title)
    assert len(source.splitlines()) == len(shown)                      # whole lines, as many as named
    assert not source.startswith(" ")                                  # dedented
    assert {"backward", "step", "zero_grad", "loss_fn"} <= calls_in(source)
    run = Training(TrainConfig(model="mlp", epochs=1, batch_size=128, threads=1, train_images=256), tiny_digits)
    code = Training._run.__code__
    assert code.co_filename.endswith("dashboard/lab/training/train.py")
    assert "dashboard/lab/training/train.py" in title and "Training._run" in title
    with lines_run(code) as (ran, calls):
        for _ in run:
            pass
    # The Python-level calls one step makes from the loop by name: the tensor's backward, the optimizer's step.
    step_calls = {name: line for line, name in calls if name in ("backward", "step")}
    assert set(step_calls) == {"backward", "step"}, calls
    assert all(line in shown for line in step_calls.values()), (step_calls, shown)
    assert ran & set(shown)                                            # the lines named are lines that ran
    # It begins at the batch loop's header (the line that asks the data for its batches), and the shown
    # code's first call is that one.
    assert [line for line, name in calls if name == "batches"][0] == shown.start
    assert "batches" in calls_in(source.splitlines()[0] + "\n    pass")


def test_inference_runs_without_gradients_and_calls_the_model_version(tiny_trained, tiny_digits):
    snippets = code_view.inference()
    assert [s.title.split(":")[0] for s in snippets] == ["One inference over the test images",
                                                        "What calling a model version does"]
    assert "inference_mode" in snippets[0].source or "no_grad" in snippets[0].source \
        or "predictions" in snippets[0].title
    assert "backward" not in calls_in(snippets[0].source) | calls_in(snippets[1].source)
    v = variant.Variant("fp32", tiny_trained.module, "")
    for snippet, fn in zip(snippets, (inspect.unwrap(bench.predictions), variant.Variant.__call__)):
        assert fn.__code__.co_filename.endswith(re.search(r"in (dashboard/\S+\.py)", snippet.title).group(1))
        assert fn.__qualname__ in snippet.title
        compile(textwrap.dedent(snippet.source), "<shown>", "exec")      # what is shown is whole Python
        with lines_run(fn.__code__) as (ran, _):
            bench.predictions(v, tiny_digits)
        # Every line that ran is within the lines the title names, and the first line named is the def.
        named = lines_named(snippet.title)
        assert ran and ran <= set(named), (snippet.title, sorted(ran))
        assert named.start == fn.__code__.co_firstlineno
    with torch.enable_grad():
        out = bench.predictions(v, tiny_digits)
    assert not out.requires_grad   # what the first snippet claims: no gradients


def test_the_page_gets_the_training_step_first_then_the_inference():
    snippets = code_view.training_and_inference()
    assert [type(s) for s in snippets] == [code_view.Snippet] * 3
    assert snippets == [code_view.training_step(), *code_view.inference()]
    assert "backward" in calls_in(snippets[0].source)


def test_a_reshaped_loop_falls_back_to_the_whole_function(monkeypatch):
    monkeypatch.setattr(code_view, "STEP_START", "no such line in the loop")
    title, source = code_view.training_step()
    assert title.startswith("The training loop")
    tree = ast.parse(source)                                            # the whole function, as Python
    assert [n.name for n in tree.body] == ["_run"] and "backward" in calls_in(source)
    assert lines_named(title).start == Training._run.__code__.co_firstlineno

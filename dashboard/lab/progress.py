"""The command line's progress bar: rich.progress on stderr, so stdout stays clean for results.

    with progress_bar("train cnn on digits", quiet=args.quiet) as bar:
        bar.update(0.4, "loss 0.31")   # fraction done, and what is happening
        bar.log("epoch 1/3: ...")       # a line above the bar
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn, TimeElapsedColumn


class Bar:
    def __init__(self, progress: Progress, task: TaskID):
        self._progress, self._task = progress, task

    def update(self, fraction: float, detail: str = "") -> None:
        self._progress.update(self._task, completed=100 * min(max(fraction, 0.0), 1.0), detail=escape(detail))

    def log(self, message: str) -> None:
        self._progress.console.print(message, markup=False, highlight=False)


@contextmanager
def progress_bar(label: str, *, quiet: bool = False, console: Console | None = None) -> Iterator[Bar]:
    console = console or Console(stderr=True, quiet=quiet)
    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
               TextColumn("{task.fields[detail]}"))
    with Progress(*columns, console=console) as progress:
        yield Bar(progress, progress.add_task(escape(label), total=100, detail=""))

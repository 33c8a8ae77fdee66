"""Progress of pulls and pushes: one bar per layer on a terminal, plain status lines otherwise.

Pull and push report through the ``Progress`` methods below, from several threads at once:

- ``status(digest, text, total=None)``: a layer's state changed (``Pulling fs layer``,
  ``Downloading``, ``Download complete``, ``Already exists``, ``Pushed``, ...);
- ``advance(digest, n)``: ``n`` more bytes moved;
- ``message(text)``: a line about the whole operation (``Digest: sha256:...``).

``PlainProgress`` prints docker's non-terminal lines (``<12-hex>: Pull complete``) when a state
changes, never per chunk; ``RichProgress`` draws a bar per layer (rich is imported only then).
``make_progress`` picks one by whether the stream is a terminal.
"""

from __future__ import annotations

import sys
import threading

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TextIO

    from rich.progress import TaskID


DONE = ("Download complete", "Pull complete", "Already exists", "Pushed", "Layer already exists")


def short(digest: str) -> str:
    return digest.split(":", 1)[-1][:12]


class Progress:
    """Reports nothing (the library default); the base of the others."""

    def status(self, digest: str, text: str, total: int | None = None) -> None:
        pass

    def advance(self, digest: str, n: int) -> None:
        pass

    def message(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass


class PlainProgress(Progress):
    """``<id>: <status>`` lines, one per change of state."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self._lock = threading.Lock()
        self._last: dict[str, str] = {}

    def status(self, digest: str, text: str, total: int | None = None) -> None:
        with self._lock:
            if self._last.get(digest) == text:
                return
            self._last[digest] = text
            self.stream.write(f"{short(digest)}: {text}\n")
            self.stream.flush()

    def message(self, text: str) -> None:
        with self._lock:
            self.stream.write(text + "\n")
            self.stream.flush()


class RichProgress(Progress):
    """A live bar per layer (size, speed) drawn with rich."""

    def __init__(self, stream: TextIO | None = None) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            TextColumn,
            TransferSpeedColumn,
        )
        from rich.progress import Progress as Bars

        self.console = Console(file=stream or sys.stdout)
        self.bars = Bars(
            TextColumn("{task.fields[layer]}"),
            TextColumn("{task.description:<18}"),
            BarColumn(bar_width=30),
            DownloadColumn(),
            TransferSpeedColumn(),
            console=self.console,
            transient=False,
        )
        self._tasks: dict[str, TaskID] = {}
        self._lock = threading.Lock()
        self.bars.start()

    def _task(self, digest: str, total: int | None) -> TaskID:
        with self._lock:
            task = self._tasks.get(digest)
            if task is None:
                task = self.bars.add_task("", total=total, layer=short(digest))
                self._tasks[digest] = task
            return task

    def status(self, digest: str, text: str, total: int | None = None) -> None:
        task = self._task(digest, total)
        if total is not None:
            self.bars.update(task, total=total, description=text)
        else:
            self.bars.update(task, description=text)
        if text in DONE or text.startswith("Mounted from"):
            for t in self.bars.tasks:
                if t.id == task and t.total is not None:
                    self.bars.update(task, completed=t.total)

    def advance(self, digest: str, n: int) -> None:
        self.bars.advance(self._task(digest, None), n)

    def message(self, text: str) -> None:
        self.bars.console.print(text, highlight=False, markup=False)

    def close(self) -> None:
        self.bars.stop()


def make_progress(stream: TextIO | None = None, *, quiet: bool = False) -> Progress:
    """Bars when ``stream`` (stdout) is a terminal, plain lines when not, nothing when ``quiet``."""
    if quiet:
        return Progress()
    out = stream or sys.stdout
    isatty = getattr(out, "isatty", None)
    if isatty is not None and isatty():
        return RichProgress(out)
    return PlainProgress(out)

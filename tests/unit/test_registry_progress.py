"""Progress output: plain lines (one per change of state) off a terminal, rich bars on one."""

from __future__ import annotations

import io

from pallet.image.registry.progress import PlainProgress, Progress, RichProgress, make_progress

D = "sha256:" + "ab" * 32


def test_plain_lines_once_per_state() -> None:
    out = io.StringIO()
    p = PlainProgress(out)
    p.status(D, "Pulling fs layer", 10)
    p.status(D, "Downloading", 10)
    p.advance(D, 5)
    p.status(D, "Downloading", 10)
    p.status(D, "Download complete", 10)
    p.message("Digest: sha256:x")
    assert out.getvalue().splitlines() == [
        "abababababab: Pulling fs layer", "abababababab: Downloading", "abababababab: Download complete",
        "Digest: sha256:x",
    ]


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_make_progress_picks_by_terminal() -> None:
    assert type(make_progress(io.StringIO())) is PlainProgress
    assert type(make_progress(io.StringIO(), quiet=True)) is Progress
    bars = make_progress(Tty())
    assert isinstance(bars, RichProgress)
    bars.status(D, "Downloading", 2048)
    bars.advance(D, 2048)
    bars.status(D, "Download complete")
    bars.close()
    out = bars.console.file.getvalue()  # type: ignore[attr-defined]
    assert "abababababab" in out and "Download complete" in out and "2.0/2.0 kB" in out

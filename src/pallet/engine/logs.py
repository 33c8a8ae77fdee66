"""Container logs in docker's json-file format, with rotation (--log-opt max-size, max-file).

One line per chunk of output: ``{"log":"text\\n","stream":"stdout","time":"2024-...Z"}``.  The file
is ``<container dir>/<id>-json.log``; rotated files get ``.1``, ``.2``... (``.1`` the newest), as
docker's.  Reading (``pallet logs``) walks the rotated files oldest first, then the live one.
"""

from __future__ import annotations

import os

from pallet import fastjson
from pallet.errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator


def parse_size(value: str, opt: str) -> int:
    """max-size values like 10m, 1k, 512 (docker's binary units)."""
    units = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
    text = value.strip().lower()
    num = text.rstrip("bkmg")
    unit = text[len(num):].rstrip("b") if text[len(num):] not in ("b",) else ""
    try:
        n = float(num)
    except ValueError:
        n = -1
    if n <= 0 or unit not in units:
        raise ConfigError(f"invalid --log-opt {opt}={value!r}: expected a positive size like 10m, 512k or 1g")
    return int(n * units[unit])


def check_log_config(log_type: str, opts: dict[str, str]) -> None:
    """Validate --log-driver and --log-opt values before anything is created."""
    if log_type not in ("json-file", "none"):
        raise ConfigError(f"invalid --log-driver {log_type!r} (allowed: json-file, none)")
    for key, value in opts.items():
        if log_type == "none":
            raise ConfigError(f"invalid --log-opt {key}: the none log driver takes no options")
        if key == "max-size":
            parse_size(value, key)
        elif key == "max-file":
            if not value.isdigit() or int(value) < 1:
                raise ConfigError(f"invalid --log-opt max-file={value!r}: expected a positive integer")
        elif key not in ("compress", "labels", "env", "tag"):
            raise ConfigError(f"unknown log opt {key!r} for json-file log driver (allowed: max-size, max-file)")


class LogWriter:
    """Appends docker json-file lines to ``path``, rotating at ``max_size`` bytes into ``max_file`` files."""

    def __init__(self, path: str, max_size: int = 0, max_file: int = 1) -> None:
        self.path = path
        self.max_size = max_size
        self.max_file = max(1, max_file)
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        self.size = os.fstat(self.fd).st_size
        self.partial: dict[str, bytes] = {}

    @classmethod
    def for_config(cls, path: str, log_config: dict) -> LogWriter | None:  # type: ignore[type-arg]
        if (log_config.get("Type") or "json-file") == "none":
            return None
        opts = log_config.get("Config") or {}
        size = parse_size(opts["max-size"], "max-size") if opts.get("max-size") else 0
        return cls(path, size, int(opts.get("max-file", "1")))

    def write(self, stream: str, data: bytes) -> None:
        """Log ``data`` read from ``stream``: one entry per line, a trailing partial line kept for later."""
        from pallet.engine.store import now_iso

        data = self.partial.pop(stream, b"") + data
        lines = data.split(b"\n")
        tail = lines.pop()
        chunks = [line + b"\n" for line in lines]
        if tail:
            if len(tail) < 16384:
                self.partial[stream] = tail
            else:
                chunks.append(tail)
        stamp = now_iso()
        self._append_lines([
            fastjson.dumps({"log": chunk.decode(errors="replace"), "stream": stream, "time": stamp}).encode() + b"\n"
            for chunk in chunks
        ])

    def flush(self) -> None:
        """Write what is left of unterminated lines (at the container's exit)."""
        from pallet.engine.store import now_iso

        for stream, tail in list(self.partial.items()):
            self._append(fastjson.dumps({"log": tail.decode(errors="replace"), "stream": stream,
                                     "time": now_iso()}).encode() + b"\n")
        self.partial.clear()

    def _append_lines(self, lines: list[bytes]) -> None:
        """Write whole entries, rotating between two entries where the next would pass max-size."""
        if not self.max_size:
            if lines:
                self._append(b"".join(lines))
            return
        batch: list[bytes] = []
        size = self.size
        for line in lines:
            if size + len(line) > self.max_size and size > 0 and batch:
                self._append(b"".join(batch))
                batch, size = [], 0
            batch.append(line)
            size += len(line)
        if batch:
            self._append(b"".join(batch))

    def _append(self, out: bytes) -> None:
        if self.max_size and self.size + len(out) > self.max_size and self.size > 0:
            self._rotate()
        os.write(self.fd, out)
        self.size += len(out)

    def _rotate(self) -> None:
        os.close(self.fd)
        if self.max_file > 1:
            for i in range(self.max_file - 1, 0, -1):
                src = self.path if i == 1 else f"{self.path}.{i - 1}"
                if os.path.exists(src):
                    os.replace(src, f"{self.path}.{i}")
            self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        else:
            self.fd = os.open(self.path, os.O_WRONLY | os.O_TRUNC | os.O_CREAT | os.O_CLOEXEC, 0o640)
        self.size = 0

    def close(self) -> None:
        self.flush()
        os.close(self.fd)


def log_files(path: str) -> list[str]:
    """The log files of a container, oldest first."""
    rotated = []
    i = 1
    while os.path.exists(f"{path}.{i}"):
        rotated.append(f"{path}.{i}")
        i += 1
    return [*reversed(rotated), path] if os.path.exists(path) else list(reversed(rotated))


def read_entries(path: str) -> Iterator[dict]:  # type: ignore[type-arg]
    for name in log_files(path):
        with open(name, "rb") as f:
            for line in f:
                try:
                    yield fastjson.loads(line)  # type: ignore[misc]
                except ValueError:
                    continue

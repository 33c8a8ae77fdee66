"""`ps`, `images` and `stats` through the CLI: docker's exact layouts, flags, filters and formats."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

from tests.helpers.cli import Pallet
from tests.helpers.terminal import PtyReader, spawn_in_pty


def columns(header: str, headers: list[str]) -> list[int]:
    """Start offsets of each header in a docker table line (headers in order)."""
    starts, pos = [], 0
    for h in headers:
        pos = header.index(h, pos)
        starts.append(pos)
        pos += len(h)
    return starts


def cells(line: str, starts: list[int]) -> list[str]:
    bounds = [*starts[1:], None]
    return [line[a:b].strip() for a, b in zip(starts, bounds, strict=True)]


def check_aligned(text: str, headers: list[str]) -> list[list[str]]:
    """Every row's cells start where their header does, 3 spaces apart at least: Go's tabwriter."""
    lines = text.rstrip("\n").split("\n")
    starts = columns(lines[0], headers)
    assert cells(lines[0], starts) == headers
    for a, b, h in zip(starts, starts[1:], headers, strict=False):
        assert b - a >= max(10, len(h) + 3)
    rows = [cells(line, starts) for line in lines[1:]]
    for line in lines[1:]:
        for s in starts[1:]:
            assert line[s - 1] == " "
    return rows


PS_HEADERS = ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]


def test_ps_layout_and_flags(pallet: Pallet) -> None:
    first = pallet.out("create", "--name", "first", "-l", "tier=db", "busybox", "true")
    pallet("run", "--name", "done", "busybox", "sh", "-c", "exit 3", check=False)
    web = pallet.out("run", "-d", "--name", "web", "-l", "tier=front", "-l", "env=prod",
                     "busybox", "sh", "-c", "exec sleep 60 # a long command line")
    text = pallet.out("ps")
    rows = check_aligned(text, PS_HEADERS)
    assert rows == [[web[:12], "busybox", '"sh -c exec sleep 60…"', rows[0][3], rows[0][4], "", "web"]]
    assert rows[0][3].endswith(" ago") and rows[0][4].startswith("Up ")
    rows = check_aligned(pallet.out("ps", "-a"), PS_HEADERS)
    assert [r[6] for r in rows] == ["web", "done", "first"]  # newest first
    assert rows[1][4].startswith("Exited (3) ") and rows[2][4] == "Created"
    assert pallet.out("ps", "-q").split() == [web[:12]]
    assert len(pallet.out("ps", "-aq").split()) == 3
    assert pallet.out("ps", "-aq", "--no-trunc").split()[2] == first
    assert pallet.out("ps", "-lq") == web[:12]
    assert pallet.out("ps", "-n", "2", "--format", "{{.Names}}").split() == ["web", "done"]
    full = pallet.out("ps", "--no-trunc", "--format", "{{.ID}} {{.Command}}")
    assert full == f'{web} "sh -c exec sleep 60 # a long command line"'
    # filters
    def q(*f: str) -> list[str]:
        return pallet.out("ps", "-a", "--format", "{{.Names}}", *f).split()

    assert q("--filter", "status=exited") == ["done"]
    assert q("-f", "status=created") == ["first"]
    assert q("-f", "name=fir") == ["first"]
    assert q("-f", f"id={web[:6]}") == ["web"]
    assert q("-f", "label=tier") == ["web", "first"]
    assert q("-f", "label=tier=db") == ["first"]
    assert q("-f", "label=tier", "-f", "label=env=prod") == ["web"]
    assert q("-f", "exited=3") == ["done"]
    assert q("-f", "exited=0") == []
    assert q("-f", "ancestor=busybox") == ["web", "done", "first"]
    assert q("-f", "ancestor=nosuchimage") == []
    assert pallet.out("ps", "--filter", "status=exited", "-q") != ""  # status implies -a, as docker
    # templates
    assert pallet.out("ps", "--format", '{{.Names}}:{{.Label "tier"}}:{{.State}}') == "web:front:running"
    assert pallet.out("ps", "--format", "{{.Labels}}") == "env=prod,tier=front"
    table = pallet.out("ps", "-a", "--format", "table {{.Names}}\\t{{.Status}}")
    rows = check_aligned(table, ["NAMES", "STATUS"])
    assert [r[0] for r in rows] == ["web", "done", "first"]
    line = json.loads(pallet.out("ps", "--format", "json"))
    assert line["Names"] == "web" and line["ID"] == web[:12] and line["State"] == "running"
    assert list(line) == sorted(line)
    # -s: the writable layer and, in parentheses, with the image
    pallet("exec", "web", "sh", "-c", "head -c 5000 /dev/zero > /data")
    rows = check_aligned(pallet.out("ps", "-s"), [*PS_HEADERS, "SIZE"])
    assert rows[0][7] == "5kB (virtual 2.14MB)" or re.fullmatch(r"5kB \(virtual [\d.]+MB\)", rows[0][7])


def test_ps_bad_input(pallet: Pallet) -> None:
    for flags, named in ((["-f", "colour=red"], "colour=red"), (["-f", "status=sleeping"], "status=sleeping"),
                         (["--format", "{{.Nope"], "template")):
        proc = pallet("ps", *flags, check=False)
        assert proc.returncode == 1 and named in proc.stderr, proc.stderr  # docker: 1 for an error outside run (125: flags, run)
    proc = pallet("ps", "--format", "{{.NoSuchField}}", check=False)
    assert proc.returncode == 0  # no rows: nothing is executed


def test_images_layout(pallet: Pallet) -> None:
    text = pallet.out("images")
    rows = check_aligned(text, ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"])
    assert rows[0][:2] == ["busybox", "latest"]
    image_id = json.loads(pallet.out("image", "inspect", "busybox"))[0]["Id"]
    assert rows[0][2] == image_id.removeprefix("sha256:")[:12]
    assert re.fullmatch(r"[\d.]+MB", rows[0][4])
    assert pallet.out("images", "-q") == rows[0][2]
    assert pallet.out("images", "--format", "{{.Repository}}:{{.Tag}}") == "busybox:latest"


STATS_HEADERS = ["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS"]


def _mem_total() -> int:
    return int(Path("/proc/meminfo").read_text().split()[1]) * 1024


def test_stats_no_stream_layout_cpu_and_memory(pallet: Pallet) -> None:
    busy = pallet.out("run", "-d", "--name", "busy", "-m", "64m", "busybox", "sh", "-c",
                      "sleep 30 & sleep 30 & while :; do :; done")
    pallet("run", "-d", "--name", "mem", "busybox", "sh", "-c",
           "head -c 20000000 /dev/zero > /dev/shm/f; exec sleep 60")
    pallet("create", "--name", "stopped", "busybox", "true")
    time.sleep(0.6)
    text = pallet.out("stats", "--no-stream")
    rows = check_aligned(text, STATS_HEADERS)
    by_name = {r[1]: r for r in rows}
    assert set(by_name) == {"busy", "mem"}  # running ones only without -a
    b = by_name["busy"]
    assert b[0] == busy[:12]
    cpu = float(b[2].rstrip("%"))
    # one busy loop: up to 100% of a CPU (docker's formula multiplies by the online CPUs); less when
    # the host is busy with other work, never 0 and never above all CPUs
    assert 10 < cpu <= 100 * (os.cpu_count() or 1) + 5, b
    usage, limit = b[3].split(" / ")
    assert limit == "64MiB" and re.fullmatch(r"[\d.]+(KiB|MiB|B)", usage)
    assert b[7] == "3"  # sh and its two sleeps
    m = by_name["mem"]
    used = m[3].split(" / ")[0]
    assert used.endswith("MiB") and 18 < float(used[:-3]) < 40, m  # /dev/shm pages count, inactive file does not
    mem_limit = m[3].split(" / ")[1]
    assert mem_limit.endswith("GiB") and abs(float(mem_limit[:-3]) * 1024**3 - _mem_total()) / _mem_total() < 0.01
    assert re.fullmatch(r"\d+\.\d\d%", m[4])
    assert re.fullmatch(r"[\d.]+k?B / [\d.]+k?B", m[5]) and re.fullmatch(r"[\d.]+[kMG]?B / [\d.]+[kMG]?B", m[6])
    rows = check_aligned(pallet.out("stats", "--no-stream", "-a"), STATS_HEADERS)
    stopped = next(r for r in rows if r[1] == "stopped")
    assert stopped[2:] == ["0.00%", "0B / 0B", "0.00%", "0B / 0B", "0B / 0B", "0"]
    one = pallet.out("stats", "--no-stream", "--no-trunc", "--format", "{{.ID}} {{.Name}} {{.PIDs}}", "busy")
    assert one == f"{busy} busy 3"
    objs = [json.loads(line) for line in pallet.out("stats", "--no-stream", "--format", "json").splitlines()]
    assert {o["Name"] for o in objs} == {"busy", "mem"}
    assert set(objs[0]) == {"BlockIO", "CPUPerc", "Container", "ID", "MemPerc", "MemUsage", "Name", "NetIO", "PIDs"}
    rows = check_aligned(pallet.out("stats", "--no-stream", "--format", "table {{.Name}}\\t{{.PIDs}}", "mem"),
                         ["NAME", "PIDS"])
    assert rows == [["mem", "1"]]
    proc = pallet("stats", "--no-stream", "nosuch", check=False)
    assert proc.returncode != 0 and "No such container: nosuch" in proc.stderr


def test_stats_live_refreshes_in_a_terminal(pallet: Pallet) -> None:
    pallet("run", "-d", "--name", "live", "busybox", "sleep", "60")
    pid, fd = spawn_in_pty(pallet.argv("stats"), pallet.env)
    term = PtyReader(fd)
    try:
        assert term.read_until(lambda out: out.count(b"\x1b[2J\x1b[H") >= 3), term.out
    finally:
        os.kill(pid, signal.SIGINT)
        os.waitpid(pid, 0)
        os.close(fd)
    frames = term.out.split(b"\x1b[2J\x1b[H")[1:]
    assert len(frames) >= 2
    for frame in frames[:2]:
        lines = frame.decode().replace("\r\n", "\n").strip("\n").split("\n")
        assert lines[0].startswith("CONTAINER ID   NAME") and "live" in lines[1]
    # piped, stats prints once and returns (docker streams, but a pipe here is the scripted case)
    proc = subprocess.run(pallet.argv("stats", "--format", "{{.Name}}"), env=pallet.env, capture_output=True,
                          text=True, timeout=20)
    assert proc.stdout == "live\n"

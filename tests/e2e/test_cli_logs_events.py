"""`logs` (follow, tail, timestamps, since/until, rotation, the none driver), `events`, `info`, `version`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

from tests.helpers.cli import Pallet
from tests.helpers.wait import until

STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z"


def test_logs_follow_tail_timestamps_since_until(pallet: Pallet) -> None:
    pallet("run", "-d", "--name", "talk", "busybox", "sh", "-c",
           "for i in 1 2 3; do echo line$i; done; echo oops >&2; sleep 0.6; "
           "for i in 4 5 6; do echo line$i; sleep 0.2; done")
    follower = subprocess.Popen(pallet.argv("logs", "-f", "talk"), env=pallet.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    try:
        out, err = follower.communicate(timeout=20)  # -f ends when the container exits
    finally:
        follower.kill()
    assert out == "".join(f"line{i}\n" for i in range(1, 7))
    assert err == "oops\n"
    assert pallet.out("inspect", "-f", "{{.State.Status}}", "talk") == "exited"
    assert pallet.out("logs", "--tail", "2", "talk") == "line5\nline6"
    assert pallet("logs", "--tail", "0", "talk").stdout == ""
    assert pallet("logs", "-n", "1", "talk").stdout == "line6\n"
    stamped = pallet.out("logs", "-t", "--tail", "1", "talk")
    assert re.fullmatch(STAMP + " line6", stamped), stamped
    times = {m.group(2): m.group(1) for m in re.finditer(rf"({STAMP}) (\S+)", pallet.out("logs", "-t", "talk"))}
    # line3 was written ~0.6 s before line4: split the log at a time between them
    split = times["line4"]
    assert pallet.out("logs", "--since", split, "talk").split() == ["line4", "line5", "line6"]
    assert pallet.out("logs", "--until", times["line3"], "talk").split() == ["line1", "line2", "line3"]
    assert pallet.out("logs", "--since", "1h", "talk").count("line") == 6
    assert pallet("logs", "--since", "0s", "talk").stdout == ""
    proc = pallet("logs", "--since", "yesterday", "talk", check=False)
    assert proc.returncode == 1 and "--since" in proc.stderr and "yesterday" in proc.stderr  # docker: 1 for an error outside run (125: flags, run)
    proc = pallet("logs", "--tail", "many", "talk", check=False)
    assert proc.returncode == 1 and "many" in proc.stderr
    proc = pallet("logs", "nosuch", check=False)
    assert proc.returncode != 0 and "No such container: nosuch" in proc.stderr


def test_logs_follow_sees_new_lines_live(pallet: Pallet) -> None:
    pallet("run", "-d", "--name", "slow", "busybox", "sh", "-c", "echo a; sleep 0.5; echo b; sleep 0.5; echo c")
    follower = subprocess.Popen(pallet.argv("logs", "-f", "--tail", "0", "slow"), env=pallet.env,
                                stdout=subprocess.PIPE, text=True)
    try:
        assert follower.stdout is not None
        first = follower.stdout.readline()
        assert first in ("b\n", "c\n")  # something written after logs -f began, printed while it runs
        assert follower.wait(timeout=10) == 0
    finally:
        follower.kill()
        follower.wait()


def test_log_rotation_really_rotates(pallet: Pallet) -> None:
    script = "i=0; while [ $i -lt 300 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; i=$((i+1)); done"
    pallet("run", "--name", "rot", "--log-opt", "max-size=2k", "--log-opt", "max-file=3", "busybox", "sh", "-c", script)
    log = Path(pallet.out("inspect", "-f", "{{.LogPath}}", "rot"))
    files = sorted(p.name for p in log.parent.glob(log.name + "*"))
    assert files == [log.name, log.name + ".1", log.name + ".2"]
    for p in log.parent.glob(log.name + "*"):
        assert p.stat().st_size <= 2048
    lines = pallet.out("logs", "rot").splitlines()
    assert lines[-1] == "line-299-" + "x" * 32
    numbers = [int(line.split("-")[1]) for line in lines]
    assert numbers == list(range(numbers[0], 300)) and numbers[0] > 200  # oldest dropped, the rest in order
    proc = pallet("run", "--log-opt", "max-size=big", "busybox", "true", check=False)
    assert proc.returncode == 125 and "max-size" in proc.stderr and "big" in proc.stderr


def test_log_driver_none(pallet: Pallet) -> None:
    proc = pallet("run", "--name", "quiet", "--log-driver", "none", "busybox", "echo", "hello")
    assert proc.stdout == "hello\n"  # attached output still reaches the terminal
    pallet("run", "-d", "--name", "quiet2", "--log-driver", "none", "busybox", "echo", "hello")
    until(lambda: pallet.out("inspect", "-f", "{{.State.Status}}", "quiet2") == "exited")
    doc = pallet.inspect("quiet2")
    assert doc["LogPath"] == "" and doc["HostConfig"]["LogConfig"]["Type"] == "none"
    assert not list(Path(pallet.root, "containers", doc["Id"]).glob("*-json.log*"))
    proc = pallet("logs", "quiet2", check=False)
    assert proc.returncode != 0 and "does not support reading" in proc.stderr
    proc = pallet("run", "--log-driver", "syslog", "busybox", "true", check=False)
    assert proc.returncode == 125 and "syslog" in proc.stderr


def _events(p: Pallet, *args: str) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in p.out("events", "--since", "1h", "--until", "0s", "--format", "json",
                                               *args).splitlines()]


def test_events_of_a_lifecycle(pallet: Pallet) -> None:
    cid = pallet.out("run", "-d", "--name", "ev", "-l", "team=a", "busybox", "sleep", "60")
    pallet("pause", "ev")
    pallet("unpause", "ev")
    pallet("kill", "-s", "USR1", "ev")  # sleep as PID 1 ignores it
    pallet("stop", "-t", "0", "ev")
    pallet("rename", "ev", "ev2")
    pallet("rm", "ev2")
    pallet("run", "--name", "oomer", "-m", "8m", "--memory-swap", "8m", "busybox", "sh", "-c",
           "x=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa; while true; do x=$x$x; done", check=False)
    evs = _events(pallet, "--filter", f"container={cid[:10]}")
    actions = [e["Action"] for e in evs]
    assert actions == ["create", "start", "pause", "unpause", "kill", "kill", "kill", "die", "stop", "rename", "destroy"]
    kill = evs[4]
    assert kill["Actor"]["Attributes"]["signal"] == "10" and kill["Actor"]["Attributes"]["team"] == "a"
    assert [e["Actor"]["Attributes"]["signal"] for e in evs[5:7]] == ["15", "9"]
    assert evs[7]["Actor"]["Attributes"]["exitCode"] == "137"
    assert all(e["id"] == cid and e["Type"] == "container" and e["from"] == "busybox" for e in evs)
    assert evs[-2]["Actor"]["Attributes"]["oldName"] == "/ev"
    oom = [e["Action"] for e in _events(pallet, "--filter", "container=oomer")]
    assert "oom" in oom and oom.index("oom") < oom.index("die")
    # filters: by event (several values: any), by label, by image, combined keys: all
    assert [e["Action"] for e in _events(pallet, "-f", "event=start", "-f", "event=destroy")] == \
        ["start", "destroy", "start"]
    assert {e["id"] for e in _events(pallet, "-f", "label=team=a")} == {cid}
    assert {e["Action"] for e in _events(pallet, "-f", "image=busybox", "-f", "event=die")} == {"die"}
    # default line layout and templates
    line = pallet.out("events", "--since", "1h", "--until", "0s", "-f", "event=create", "-f", "container=ev")
    assert re.fullmatch(STAMP + f" container create {cid} \\(image=busybox, name=ev, team=a\\)", line), line
    assert pallet.out("events", "--since", "1h", "--until", "0s", "-f", "container=oomer",
                      "--format", "{{.Action}}/{{.Actor.Attributes.name}}").splitlines()[0] == "create/oomer"
    # --until in the past: only what happened before
    stamp = str(evs[2]["timeNano"] / 1e9)
    assert [e["Action"] for e in _events(pallet, "-f", f"container={cid}", "--until", stamp)] == \
        ["create", "start", "pause"]
    assert [e["Action"] for e in json.loads("[" + ",".join(pallet.out(
        "events", "--since", stamp, "--until", "0s", "--format", "{{json .}}", "-f", f"container={cid}").splitlines())
        + "]")][:2] == ["pause", "unpause"]
    proc = pallet("events", "--filter", "colour=red", "--until", "0s", check=False)
    assert proc.returncode == 1 and "colour=red" in proc.stderr  # docker: 1 for an error outside run (125: flags, run)


def test_events_stream_live(pallet: Pallet) -> None:
    watcher = subprocess.Popen(pallet.argv("events", "--format", "{{.Action}} {{.Actor.Attributes.name}}",
                                           "--until", str(time.time() + 8)), env=pallet.env,
                               stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(0.3)
        pallet("run", "--rm", "--name", "live", "busybox", "true")
        assert watcher.stdout is not None
        seen = [watcher.stdout.readline().strip() for _ in range(4)]
        assert seen == ["create live", "start live", "die live", "destroy live"]
    finally:
        watcher.kill()
        watcher.wait()


def test_info_and_version(pallet: Pallet) -> None:
    pallet("run", "-d", "--name", "aa", "busybox", "sleep", "60")
    pallet("run", "-d", "--name", "bb", "busybox", "sleep", "60")
    pallet("pause", "bb")
    pallet("create", "--name", "cc", "busybox", "true")
    text = pallet.out("info")
    for expected in (" Containers: 3", "  Running: 1", "  Paused: 1", "  Stopped: 1", " Images: 1",
                     " Storage Driver: overlay2", " Cgroup Driver: cgroupfs", " Logging Driver: json-file",
                     f" Kernel Version: {os.uname().release}", " Security Options:", "  seccomp",
                     f" Pallet Root Dir: {pallet.root}", f" Pallet Run Root Dir: {pallet.runroot}"):
        assert expected + "\n" in text + "\n", (expected, text)
    version = "2" if Path("/sys/fs/cgroup/cgroup.controllers").exists() else "1"
    assert f" Cgroup Version: {version}\n" in text
    out = pallet.out("info", "--format", "{{.ContainersRunning}} {{.ContainersPaused}} {{.ContainersStopped}} "
                     "{{.Images}} {{.Driver}} {{.CgroupVersion}} {{json .SecurityOptions}} {{.DockerRootDir}}")
    assert out == f'1 1 1 1 overlay2 {version} ["name=seccomp,profile=builtin"] {pallet.root}'
    pallet("unpause", "bb")
    proc = pallet("info", "--format", "{{.Nope", check=False)
    assert proc.returncode == 1 and "template" in proc.stderr  # docker: 1 for an error outside run (125: flags, run)
    text = pallet.out("version")
    assert text.startswith("Client:\n Version:") and "\nServer:\n" in text
    assert f" KernelVersion:  {os.uname().release}" in text
    from pallet import __version__

    assert pallet.out("version", "--format", "{{.Client.Version}} {{.Server.Os}}") == f"{__version__} linux"
    assert json.loads(pallet.out("version", "--format", "{{json .Server}}"))["Version"] == __version__

"""`inspect` fields (and that they are real), `top`, `wait`, `rename`, `update`, `restart`, `pause`, `kill -s`,
`container prune`, `system prune`, `rm -v`, `start -a/-i`, and `volume` commands through the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from tests.helpers.cli import Pallet
from tests.helpers.leaks import TEST_CGROUP_PARENT
from tests.helpers.wait import until


def test_inspect_document_is_real(pallet: Pallet, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "marker").write_text("")
    cid = pallet.out("run", "-d", "--name", "web", "-e", "A=1", "-l", "k=v", "-v", f"{src}:/src:ro",
                     "-v", "data:/data", "--memory", "32m", "busybox", "sh", "-c",
                     "echo hi > /written; exec sleep 60")
    doc = pallet.inspect("web")
    assert doc["Id"] == cid and doc["Name"] == "/web" and doc["Path"] == "sh"
    assert doc["Args"] == ["-c", "echo hi > /written; exec sleep 60"]
    state = doc["State"]
    assert list(state) == ["Status", "Running", "Paused", "Restarting", "OOMKilled", "Dead", "Pid", "ExitCode",
                           "Error", "StartedAt", "FinishedAt"]
    assert state["Status"] == "running" and state["Running"] and state["FinishedAt"] == "0001-01-01T00:00:00Z"
    pid = state["Pid"]
    # the pid is the container's init, in the cgroup the engine names
    assert Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:2] == [b"sleep", b"60"]
    cgroups = Path(f"/proc/{pid}/cgroup").read_text()
    assert f"/{TEST_CGROUP_PARENT}/{cid}" in cgroups
    limit = Path(f"/sys/fs/cgroup/memory/{TEST_CGROUP_PARENT}/{cid}/memory.limit_in_bytes")
    if limit.exists():
        assert int(limit.read_text()) == doc["HostConfig"]["Memory"] == 32 * 1024 * 1024
    # nsenter with the pid from inspect reaches the container's namespaces
    out = subprocess.run(
        ["nsenter", "-t", pallet.out("inspect", "-f", "{{.State.Pid}}", "web"), "-n", "-p", "-m", "-u", "sh", "-c",
         "hostname; cat /written; ls /src; ip -o -4 addr show eth0 | wc -l"],
        capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [doc["Config"]["Hostname"], "hi", "marker", "1"]
    # Config and HostConfig
    assert "A=1" in doc["Config"]["Env"] and doc["Config"]["Labels"] == {"k": "v"}
    assert doc["Config"]["Cmd"] == ["sh", "-c", "echo hi > /written; exec sleep 60"]
    assert doc["Config"]["Image"] == "busybox" and doc["Image"].startswith("sha256:")
    assert doc["HostConfig"]["Binds"] == [f"{src}:/src:ro", "data:/data"]
    # GraphDriver: the real overlay directories of the running container
    gd = doc["GraphDriver"]
    assert gd["Name"] == "overlay2" and set(gd["Data"]) == {"LowerDir", "UpperDir", "MergedDir", "WorkDir"}
    assert (Path(gd["Data"]["UpperDir"]) / "written").read_text() == "hi\n"
    assert (Path(gd["Data"]["MergedDir"]) / "written").read_text() == "hi\n"
    assert all(Path(d, "bin").exists() or Path(d).is_dir() for d in gd["Data"]["LowerDir"].split(":"))
    assert Path(gd["Data"]["WorkDir"]).is_dir()
    mounts = {m["Destination"]: m for m in doc["Mounts"]}
    assert mounts["/src"]["Type"] == "bind" and mounts["/src"]["Source"] == str(src) and mounts["/src"]["RW"] is False
    vol = mounts["/data"]
    assert vol["Type"] == "volume" and vol["Name"] == "data" and vol["RW"] is True
    pallet("exec", "web", "sh", "-c", "echo v > /data/f")
    assert Path(vol["Source"], "f").read_text() == "v\n"
    ns = doc["NetworkSettings"]
    assert set(ns) >= {"Networks", "IPAddress", "Ports", "SandboxKey"}
    # -f, -s, --type
    assert pallet.out("inspect", "-f", "{{.Name}} {{.Config.Labels.k}} {{json .State.Running}}", "web") == "/web v true"
    sized = json.loads(pallet.out("inspect", "-s", "web"))[0]
    assert sized["SizeRw"] == 3 and sized["SizeRootFs"] > 1_000_000  # /written ("hi\n"); the volume is not in it
    assert "SizeRw" not in doc
    assert pallet.out("inspect", "--type", "image", "-f", "{{.Id}}", "busybox") == doc["Image"]
    proc = pallet("inspect", "--type", "container", "busybox", check=False)
    assert proc.returncode == 1 and "No such container: busybox" in proc.stderr
    proc = pallet("inspect", "-f", "{{.Nope}}", "web", check=False)
    assert proc.returncode != 0 and "Nope" in proc.stderr
    assert pallet.out("container", "inspect", "-f", "{{.Id}}", "web") == cid


def test_top_wait_rename_kill_restart(pallet: Pallet) -> None:
    pallet("run", "-d", "--name", "topper", "busybox", "sh", "-c", "sleep 61 & exec sleep 62")
    top = pallet.out("top", "topper")
    assert top.splitlines()[0].split()[:3] == ["UID", "PID", "PPID"]
    cmds = [line.split(None, 7)[-1] for line in top.splitlines()[1:]]
    assert sorted(cmds) == ["sleep 61", "sleep 62"]
    top = pallet.out("top", "topper", "-o", "pid,comm")
    assert top.splitlines()[0].split() == ["PID", "COMMAND"] and len(top.splitlines()) == 3
    top = pallet.out("top", "topper", "aux")
    assert top.splitlines()[0].split()[:2] == ["USER", "PID"]
    proc = pallet("top", "topper", "--no-such-ps-flag", check=False)
    assert proc.returncode != 0
    # kill -s delivers that signal: a trap in the container sees it
    pallet("run", "-d", "--name", "trapper", "busybox", "sh", "-c",
           "trap 'echo got-usr1' USR1; trap 'exit 9' TERM; echo ready; while :; do sleep 0.1; done")
    until(lambda: pallet.out("logs", "trapper") == "ready")
    pallet("kill", "-s", "USR1", "trapper")
    until(lambda: "got-usr1" in pallet.out("logs", "trapper"))
    pallet("kill", "--signal", "SIGTERM", "trapper")
    assert pallet.out("wait", "trapper") == "9"
    proc = pallet("kill", "-s", "NOPE", "topper", check=False)
    assert proc.returncode != 0 and "NOPE" in proc.stderr
    # wait: several containers, an unknown one
    pallet("run", "-d", "--name", "w1", "busybox", "sh", "-c", "sleep 0.3; exit 4")
    pallet("run", "-d", "--name", "w2", "busybox", "sh", "-c", "exit 2")
    proc = pallet("wait", "w1", "w2", "nosuch", check=False)
    assert proc.stdout.split() == ["4", "2"] and proc.returncode == 1 and "No such container: nosuch" in proc.stderr
    # rename frees the old name
    pallet("rename", "w1", "w1b")
    assert pallet.inspect("w1b")["Name"] == "/w1b"
    pallet("create", "--name", "w1", "busybox", "true")
    proc = pallet("rename", "w1b", "w2", check=False)
    assert proc.returncode != 0 and "already in use" in proc.stderr
    # restart: a new process, same container
    old_pid = pallet.inspect("topper")["State"]["Pid"]
    started = time.monotonic()
    pallet("restart", "-t", "1", "topper")
    assert time.monotonic() - started < 8
    doc = pallet.inspect("topper")
    assert doc["State"]["Running"] and doc["State"]["Pid"] != old_pid
    assert not Path(f"/proc/{old_pid}").exists() or Path(f"/proc/{old_pid}/cmdline").read_bytes() == b""
    pallet("restart", "w2")  # a stopped container is started
    assert pallet.out("wait", "w2") == "2"


def test_stop_signal_and_timeout(pallet: Pallet) -> None:
    pallet("run", "-d", "--name", "sig", "--stop-signal", "USR2", "--stop-timeout", "1", "busybox", "sh", "-c",
           "trap 'exit 12' USR2; echo ready; while :; do sleep 0.1; done")
    until(lambda: pallet.out("logs", "sig") == "ready")
    started = time.monotonic()
    pallet("stop", "sig")
    assert time.monotonic() - started < 1
    assert pallet.out("inspect", "-f", "{{.State.ExitCode}} {{.Config.StopSignal}} {{.Config.StopTimeout}}",
                      "sig") == "12 USR2 1"
    pallet("run", "-d", "--name", "deaf", "--stop-timeout", "1", "busybox", "sleep", "60")
    started = time.monotonic()
    pallet("stop", "deaf")  # sleep as PID 1 ignores SIGTERM: --stop-timeout, then SIGKILL
    assert 0.9 < time.monotonic() - started < 5
    assert pallet.out("inspect", "-f", "{{.State.ExitCode}}", "deaf") == "137"
    proc = pallet("run", "--stop-signal", "SIGNOPE", "busybox", "true", check=False)
    assert proc.returncode == 125 and "SIGNOPE" in proc.stderr


def test_update_changes_the_live_cgroup(pallet: Pallet) -> None:
    cid = pallet.out("run", "-d", "--name", "upd", "busybox", "sleep", "60")
    pallet("update", "--cpus", "0.5", "--cpu-shares", "256", "--memory", "48m", "--memory-swap", "96m",
           "--memory-reservation", "10m", "--pids-limit", "20", "--cpuset-cpus", "0", "--cpuset-mems", "0",
           "--device-write-bps", "/dev/vda:2mb", "--device-read-iops", "/dev/vda:300",
           "--restart", "on-failure:3", "upd")
    cg = Path("/sys/fs/cgroup")
    rel = f"{TEST_CGROUP_PARENT}/{cid}"
    if (cg / "memory").is_dir():
        assert (cg / "cpu" / rel / "cpu.cfs_quota_us").read_text().strip() == "50000"
        assert (cg / "cpu" / rel / "cpu.shares").read_text().strip() == "256"
        assert int((cg / "memory" / rel / "memory.limit_in_bytes").read_text()) == 48 << 20
        assert int((cg / "memory" / rel / "memory.memsw.limit_in_bytes").read_text()) == 96 << 20
        assert int((cg / "memory" / rel / "memory.soft_limit_in_bytes").read_text()) == 10 << 20
        assert (cg / "pids" / rel / "pids.max").read_text().strip() == "20"
        assert (cg / "cpuset" / rel / "cpuset.cpus").read_text().strip() == "0"
        assert (cg / "blkio" / rel / "blkio.throttle.write_bps_device").read_text().split() == ["254:0", "2097152"]
        assert (cg / "blkio" / rel / "blkio.throttle.read_iops_device").read_text().split() == ["254:0", "300"]
    hc = pallet.inspect("upd")["HostConfig"]
    assert hc["NanoCpus"] == 500_000_000 and hc["PidsLimit"] == 20
    assert hc["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    # the pids limit holds: a fork beyond it fails (counted from a subshell, see FIELD-NOTES)
    out = pallet("exec", "upd", "sh", "-c", "for i in $(seq 40); do sleep 5 & done 2>/dev/null; "
                 "jobs -p | wc -l", check=False).stdout
    assert int(out.strip() or 0) < 20
    for flags, named in ((["--memory", "1m"], "6MB"), (["--cpus", "99"], "--cpus"), (["--restart", "maybe"], "maybe"),
                         (["--blkio-weight", "5"], "--blkio-weight")):
        proc = pallet("update", *flags, "upd", check=False)
        assert proc.returncode != 0 and named in proc.stderr, proc.stderr
    assert pallet.inspect("upd")["HostConfig"]["Memory"] == 48 << 20  # nothing changed by bad input
    proc = pallet("update", "upd", check=False)
    assert proc.returncode == 1 and "flags" in proc.stderr  # docker: 1 for an error outside run (125: flags, run)


def test_start_attach_and_interactive(pallet: Pallet) -> None:
    pallet("create", "--name", "att", "busybox", "sh", "-c", "echo out; echo err >&2; exit 4")
    proc = pallet("start", "-a", "att", check=False)
    assert (proc.returncode, proc.stdout, proc.stderr) == (4, "out\n", "err\n")
    pallet("create", "-i", "--name", "cat", "busybox", "sh", "-c", "tr a-z A-Z")
    proc = pallet("start", "-a", "-i", "cat", input="hello\n", check=False)
    assert (proc.returncode, proc.stdout) == (0, "HELLO\n")
    assert pallet.out("start", "att") == "att"  # detached start prints the name
    assert pallet.out("wait", "att") == "4"


def test_restart_policies_always_and_unless_stopped(pallet: Pallet) -> None:
    pallet("run", "-d", "--name", "always", "--restart", "always", "busybox", "sh", "-c", "sleep 0.2; exit 0")
    until(lambda: pallet.inspect("always")["RestartCount"] >= 2)
    pallet("run", "-d", "--name", "unless", "--restart", "unless-stopped", "busybox", "sh", "-c", "sleep 0.2; exit 1")
    until(lambda: pallet.inspect("unless")["RestartCount"] >= 1)
    pallet("stop", "-t", "1", "unless")  # stopped by the user: no more restarts
    count = pallet.inspect("unless")["RestartCount"]
    time.sleep(0.8)
    doc = pallet.inspect("unless")
    assert doc["State"]["Status"] == "exited" and doc["RestartCount"] == count
    pallet("stop", "-t", "1", "always")
    assert pallet.inspect("always")["State"]["Running"] is False
    proc = pallet("run", "--restart", "always", "--rm", "busybox", "true", check=False)
    assert proc.returncode == 125 and "--rm" in proc.stderr


def test_prune_and_rm_v(pallet: Pallet) -> None:
    pallet("run", "-d", "--name", "alive", "busybox", "sleep", "60")
    pallet("run", "--name", "dead1", "-l", "keep=no", "busybox", "sh", "-c", "head -c 3000 /dev/zero > /f")
    pallet("run", "--name", "dead2", "-l", "keep=yes", "busybox", "true")
    out = pallet.out("container", "prune", "-f", "--filter", "label=keep=no")
    dead1 = out.splitlines()[1]
    assert out.splitlines()[0] == "Deleted Containers:" and len(dead1) == 64
    assert out.splitlines()[-1] == "Total reclaimed space: 3kB"
    assert sorted(pallet.out("ps", "-a", "--format", "{{.Names}}").split()) == ["alive", "dead2"]
    # rm -v: the anonymous volume goes, the named one stays
    pallet("run", "--name", "vols", "-v", "/anon", "-v", "named:/named", "busybox", "sh", "-c",
           "echo a > /anon/a; echo n > /named/n")
    mounts = {m["Destination"]: m for m in pallet.inspect("vols")["Mounts"]}
    anon = Path(mounts["/anon"]["Source"])
    assert (anon / "a").read_text() == "a\n"
    assert sorted(pallet.out("volume", "ls", "-q").split()) == sorted([mounts["/anon"]["Name"], "named"])
    pallet("rm", "-v", "vols")
    assert not anon.exists()
    assert pallet.out("volume", "ls", "-q") == "named"
    pallet("run", "--name", "vols2", "-v", "/anon2", "busybox", "true")
    out = pallet.out("system", "prune", "-f", "--volumes")
    assert "Deleted Containers:" in out and "Deleted Volumes:" in out
    assert pallet.out("ps", "-a", "--format", "{{.Names}}") == "alive"
    assert pallet.out("volume", "ls", "-q") == "named"  # named volumes survive prune without -a
    proc = pallet("rm", "alive", check=False)
    assert proc.returncode != 0 and "cannot remove a running container" in proc.stderr
    pallet("rm", "-f", "alive")
    assert pallet.out("ps", "-aq") == ""


def test_volume_commands(pallet: Pallet) -> None:
    assert pallet.out("volume", "create", "--label", "team=db", "vol1") == "vol1"
    assert pallet.out("volume", "create", "vol1") == "vol1"  # idempotent, as docker
    doc = json.loads(pallet.out("volume", "inspect", "vol1"))[0]
    assert doc["Name"] == "vol1" and doc["Driver"] == "local" and doc["Labels"] == {"team": "db"}
    assert doc["Scope"] == "local" and Path(doc["Mountpoint"]).is_dir()
    pallet("run", "--rm", "-v", "vol1:/v", "busybox", "sh", "-c", "echo persisted > /v/file")
    assert Path(doc["Mountpoint"], "file").read_text() == "persisted\n"
    assert pallet.out("run", "--rm", "--mount", "type=volume,source=vol1,target=/w,readonly", "busybox",
                      "cat", "/w/file") == "persisted"
    pallet("volume", "create", "vol2")
    lines = pallet.out("volume", "ls").splitlines()
    assert lines[0].split() == ["DRIVER", "VOLUME", "NAME"] and [line.split() for line in lines[1:]] == \
        [["local", "vol1"], ["local", "vol2"]]
    assert pallet.out("volume", "ls", "-q", "-f", "label=team=db") == "vol1"
    assert pallet.out("volume", "ls", "--format", "{{.Name}}:{{.Label \"team\"}}").splitlines() == ["vol1:db", "vol2:"]
    pallet("create", "--name", "user", "-v", "vol2:/x", "busybox", "true")
    assert pallet.out("volume", "ls", "-q", "-f", "dangling=true") == "vol1"
    proc = pallet("volume", "rm", "vol2", check=False)
    assert proc.returncode == 1 and "volume is in use" in proc.stderr
    proc = pallet("volume", "inspect", "nosuch", check=False)
    assert proc.returncode == 1 and "no such volume" in proc.stderr
    assert pallet("volume", "rm", "-f", "nosuch").returncode == 0
    out = pallet.out("volume", "prune", "-f", "-a")
    assert "vol1" in out and "vol2" not in out
    pallet("rm", "user")
    assert pallet.out("volume", "rm", "vol2") == "vol2"
    assert pallet.out("volume", "ls", "-q") == ""
    proc = pallet("volume", "create", "bad/name", check=False)
    assert proc.returncode == 1 and "bad/name" in proc.stderr  # docker: 1 for an error outside run (125: flags, run)
    assert os.listdir(pallet.root / "volumes") == []

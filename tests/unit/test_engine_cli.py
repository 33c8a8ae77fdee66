"""The CLI framework: the command table, global flags, help without imports, the exit-code ladder."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from pallet.cli import main as cli
from pallet.errors import CommandNotFound, ConflictError, NotFoundError


def test_every_command_module_is_named_in_the_package() -> None:
    for name, (module, text) in cli.COMMANDS.items():
        assert module.startswith("pallet.cli.commands."), name
        assert text and "\n" not in text


def test_help_lists_commands_without_importing_them() -> None:
    code = (
        "import sys; from pallet.cli.main import main; main(['--help']);"
        "print(sorted(m for m in sys.modules if m.startswith('pallet.cli.commands.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "Usage:  pallet [OPTIONS] COMMAND" in out
    assert "  run         Create and run a new container from an image" in out
    assert "  container   Manage containers" in out
    assert out.strip().splitlines()[-1] == "[]"


def test_find_command_prefers_management_subcommands() -> None:
    assert cli.find_command(["container", "ls", "-a"]) == ("container ls", ["-a"])
    assert cli.find_command(["ps", "-a"]) == ("ps", ["-a"])
    assert cli.find_command(["run", "busybox", "ls"]) == ("run", ["busybox", "ls"])
    assert cli.find_command(["nosuch"]) is None


def test_global_flags(capsys: pytest.CaptureFixture[str]) -> None:
    opts, rest = cli._parse_globals(["--root", "/a", "--runroot=/b", "-D", "ps", "-a"])
    assert opts == {"root": "/a", "runroot": "/b", "log_level": "debug"}
    assert rest == ["ps", "-a"]
    assert cli.main(["--log-level", "loud", "ps"]) == 1  # docker: "Unable to parse logging level", 1
    assert 'invalid --log-level "loud"' in capsys.readouterr().err
    assert cli.main(["--bogus"]) == 125
    assert "unknown flag: --bogus" in capsys.readouterr().err


def test_unknown_command_exits_1_and_bad_flag_125(capsys: pytest.CaptureFixture[str]) -> None:
    # docker 28: "docker frobnicate" and "docker container frob" exit 1 (unknown command), an
    # unknown flag 125, a wrong number of arguments 1 ("'docker rm' requires at least 1 argument").
    assert cli.main(["frobnicate"]) == 1
    assert "'frobnicate' is not a pallet command" in capsys.readouterr().err
    assert cli.main(["container", "frob"]) == 1
    assert "'container frob' is not a pallet command" in capsys.readouterr().err
    assert cli.main(["version", "--nope"]) == 125
    err = capsys.readouterr().err
    assert "unrecognized arguments: --nope" in err and "pallet version --help" in err
    for line in (["rm"], ["run"], ["rename", "a"], ["stop", "-t", "x", "c"], ["version", "extra"]):
        code = cli.main(line)
        err = capsys.readouterr().err
        assert code == (125 if "-t" in line else 1), (line, code, err)
        assert f"pallet {line[0]} --help" in err, err


def test_exit_code_ladder() -> None:
    # run: every failure 125 (126/127 for the container's command), as docker run
    assert cli.exit_code_for(NotFoundError("No such container: x"), "run") == (125, "Error: No such container: x")
    assert cli.exit_code_for(ConflictError("busy"), "container run")[0] == 125
    assert cli.exit_code_for(CommandNotFound("no sh"), "run")[0] == 127
    assert cli.exit_code_for(ValueError("x"), "run")[0] == 125
    assert cli.exit_code_for(OSError(5, "EIO"), "run")[0] == 125
    # every other command: 1 (docker's CLI exits 1 for any error without a status of its own)
    for command in ("stop", "rm", "inspect", "create", "pull", "network create", "cp", ""):
        assert cli.exit_code_for(NotFoundError("No such container: x"), command) == (1, "Error: No such container: x")
        assert cli.exit_code_for(ConflictError("busy"), command)[0] == 1
        assert cli.exit_code_for(ValueError("x"), command)[0] == 1
        assert cli.exit_code_for(PermissionError(13, "EACCES"), command)[0] == 1
    assert cli.exit_code_for(CommandNotFound("no sh"), "exec")[0] == 127  # exec's own status
    assert cli.exit_code_for(KeyboardInterrupt(), "stop")[0] == 130
    assert cli.exit_code_for(cli.UsageError("unknown flag: --x", "rm"), "rm")[0] == 125


def test_daemon_errors_exit_1_outside_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    roots = ["--root", str(tmp_path / "root"), "--runroot", str(tmp_path / "run")]
    for line in (["stop", "nosuch"], ["rm", "nosuch"], ["inspect", "nosuch"], ["kill", "nosuch"],
                 ["logs", "nosuch"], ["wait", "nosuch"], ["rename", "nosuch", "other"],
                 ["create", "nosuchimage"], ["rmi", "nosuchimage"], ["image", "inspect", "nosuchimage"]):
        assert cli.main([*roots, *line]) == 1, line
        assert "nosuch" in capsys.readouterr().err, line
    assert cli.main([*roots, "run", "nosuchimage"]) == 125
    assert "nosuchimage" in capsys.readouterr().err
    # a flag's value that does not parse: 125 for create and update too, as docker's flag errors
    assert cli.main([*roots, "create", "--memory", "lots", "busybox"]) == 125
    assert "lots" in capsys.readouterr().err
    assert cli.main([*roots, "update", "--memory", "lots", "nosuch"]) == 125
    assert "lots" in capsys.readouterr().err
    assert cli.main([*roots, "update", "nosuch"]) == 1  # no flag given: a plain error in docker
    capsys.readouterr()


def test_roots_from_environment(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    seen = {}

    class Probe:
        @staticmethod
        def configure(parser: object) -> None:
            pass

        @staticmethod
        def run(args: object, ctx: cli.Context) -> int:
            seen.update(root=ctx.root, runroot=ctx.runroot)
            return 3

    monkeypatch.setitem(sys.modules, "pallet.cli.commands._probe", Probe)  # type: ignore[arg-type]
    monkeypatch.setitem(cli.COMMANDS, "probe", ("pallet.cli.commands._probe", "probe"))
    monkeypatch.setenv("PALLET_ROOT", "/env/root")
    monkeypatch.setenv("PALLET_RUNROOT", "/env/run")
    assert cli.main(["probe"]) == 3
    assert seen == {"root": "/env/root", "runroot": "/env/run"}
    assert cli.main(["--root", "/flag", "probe"]) == 3
    assert seen["root"] == "/flag"


def test_version_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert importlib.util.find_spec("pallet.cli.commands.version") is not None
    assert cli.main(["version"]) == 0
    assert "Version:" in capsys.readouterr().out

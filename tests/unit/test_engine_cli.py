"""The CLI framework: the command table, global flags, help without imports, the exit-code ladder."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

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
    assert cli.main(["--log-level", "loud", "ps"]) == 125
    assert 'invalid --log-level "loud"' in capsys.readouterr().err
    assert cli.main(["--bogus"]) == 125
    assert "unknown flag: --bogus" in capsys.readouterr().err


def test_unknown_command_and_bad_flag_exit_125(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["frobnicate"]) == 125
    assert "'frobnicate' is not a pallet command" in capsys.readouterr().err
    assert cli.main(["version", "--nope"]) == 125
    err = capsys.readouterr().err
    assert "unrecognized arguments: --nope" in err and "pallet version --help" in err


def test_exit_code_ladder() -> None:
    assert cli.exit_code_for(NotFoundError("No such container: x")) == (125, "Error: No such container: x")
    assert cli.exit_code_for(ConflictError("busy"))[0] == 125
    assert cli.exit_code_for(CommandNotFound("no sh"))[0] == 127
    assert cli.exit_code_for(KeyboardInterrupt())[0] == 130
    assert cli.exit_code_for(ValueError("x"))[0] == 125


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

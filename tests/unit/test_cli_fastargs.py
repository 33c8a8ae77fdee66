"""pallet.cli.fastargs gives argparse's namespace for the command lines it parses, and leaves the rest
to argparse (returns None) instead of guessing."""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys

import pytest

from pallet.cli.fastargs import FastParser, Namespace, Unsupported
from pallet.cli.main import COMMANDS, UsageError, build_parser

RUN_LINES = [
    ["busybox"],
    ["busybox", "true"],
    ["--rm", "busybox", "true"],
    ["--rm", "--network", "none", "busybox", "true"],
    ["--rm", "--network=none", "busybox", "true"],
    ["--net", "host", "busybox"],
    ["-it", "--rm", "busybox", "sh"],
    ["-dit", "busybox", "sh"],
    ["-d", "-i", "-t", "busybox"],
    ["-e", "A=1", "-e", "B=2", "-eC=3", "-e=D", "--env", "E=5", "--env=F=6", "busybox", "env"],
    ["-p", "8080:80", "-p8081:81/udp", "--publish", "1.2.3.4:90:90", "busybox"],
    ["--name", "web", "-h", "host1", "-w", "/tmp", "-u", "1000:1000", "busybox", "id"],
    ["--oom-score-adj", "-500", "--cpu-shares", "512", "--stop-timeout", "3", "busybox"],
    ["--oom-score-adj=-500", "--pids-limit", "-1", "busybox"],
    ["--cpus", "1.5", "-m", "64m", "--memory-swap", "-1", "busybox"],
    ["--entrypoint", "", "busybox", "ls"],
    ["--name", "", "busybox"],
    ["-v", "/tmp:/tmp:ro", "--mount", "type=tmpfs,dst=/x", "--tmpfs", "/run", "busybox"],
    ["busybox", "sh", "-c", "echo hi; exit 3"],
    ["busybox", "-it", "--rm"],
    ["busybox", "--", "ls"],
    ["--cap-add", "NET_ADMIN", "--cap-drop=ALL", "--security-opt", "seccomp=unconfined", "busybox"],
    ["--label", "a=b", "-l", "c=d", "--privileged", "--read-only", "--init", "busybox"],
    ["--restart", "on-failure:3", "--log-driver", "none", "--log-opt", "max-size=1m", "busybox"],
    ["busybox", "-"],
    ["--name", "x", "-", "y"],
    # what the fast parser leaves to argparse (the result must still be argparse's)
    ["--help"],
    ["--rm"],
    [],
    ["--nam", "web", "busybox"],
    ["--name", "-x", "busybox"],
    ["--rm=true", "busybox"],
    ["--cpu-shares", "many", "busybox"],
    ["--no-such-flag", "busybox"],
    ["-Z", "busybox"],
    ["--", "busybox"],
    ["-itz", "busybox"],
    ["--name"],
    ["-e"],
    ["--name", "a b", "busybox"],
    ["--oom-score-adj", "-5.5", "busybox"],
]


def _argparse(name: str, argv: list[str]) -> object:
    module = importlib.import_module(COMMANDS[name][0])
    try:
        return build_parser(name, module).parse_args(argv)
    except (UsageError, SystemExit) as exc:
        return type(exc).__name__


def _fast(name: str, argv: list[str]) -> Namespace | None:
    module = importlib.import_module(COMMANDS[name][0])
    parser = FastParser()
    module.configure(parser)
    return parser.parse(argv)


@pytest.mark.parametrize("argv", RUN_LINES, ids=[" ".join(a) or "(empty)" for a in RUN_LINES])
def test_run_lines_as_argparse(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    fast = _fast("run", argv)
    expected = _argparse("run", argv)
    capsys.readouterr()
    if fast is None:
        return  # argparse decides (its result or error is what the CLI gives)
    assert isinstance(expected, argparse.Namespace), f"fast parsed {argv} that argparse refuses: {fast}"
    assert vars(fast) == vars(expected)


def test_common_lines_take_the_fast_path() -> None:
    for argv in (["--rm", "busybox", "true"], ["--rm", "--network", "none", "busybox", "true"],
                 ["-it", "--rm", "busybox", "sh"], ["-d", "--name", "web", "-p", "80:80", "busybox", "sleep", "9"]):
        assert _fast("run", argv) is not None, argv


OTHER_LINES = {
    "rm": [["-f", "a", "b"], ["a"], ["a", "-f"], [], ["-fv", "x"]],
    "ps": [[], ["-a"], ["-aq", "--no-trunc"], ["--filter", "name=x", "-a"], ["--format", "{{.ID}}"]],
    "stop": [["-t", "3", "a"], ["a", "b"], ["--time=0", "a"]],
    "logs": [["-f", "a"], ["--tail", "5", "a"], ["a", "b"]],
    "exec": [["a", "ls"], ["-it", "a", "sh"], ["-e", "A=1", "a", "env", "-i"], ["-u", "1", "-w", "/", "a", "id"]],
    "inspect": [["a"], ["-f", "{{.Id}}", "a", "b"], ["--type", "container", "a"]],
    "images": [[], ["-q"], ["busybox"], ["-a", "busybox", "x"]],
    "image build-busybox": [[], ["x:y"], ["a", "b"]],
    "volume create": [[], ["v"], ["--label", "a=b", "v"]],
    "stats": [[], ["--no-stream"], ["--no-stream", "a", "b"]],
    "top": [["a"], ["a", "-ef"], ["a", "aux"]],
}


@pytest.mark.parametrize("name,argv", [(n, a) for n, lines in OTHER_LINES.items() for a in lines],
                         ids=[f"{n}: {' '.join(a)}" for n, lines in OTHER_LINES.items() for a in lines])
def test_other_commands_as_argparse(name: str, argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    try:
        fast = _fast(name, argv)
    except Unsupported:
        return  # this command is always parsed by argparse
    expected = _argparse(name, argv)
    capsys.readouterr()
    if fast is not None:
        assert isinstance(expected, argparse.Namespace), f"fast parsed {name} {argv} that argparse refuses: {fast}"
        assert vars(fast) == vars(expected)


def test_declarations_it_does_not_know_are_refused() -> None:
    with pytest.raises(Unsupported):
        FastParser().add_argument("--x", nargs=2)
    with pytest.raises(Unsupported):
        FastParser().add_argument("--x", action="count")
    with pytest.raises(Unsupported):
        FastParser().add_argument("--x", required=True)
    with pytest.raises(Unsupported):
        FastParser().add_argument("--x", type=int, default="5")
    with pytest.raises(Unsupported):
        FastParser().add_mutually_exclusive_group()  # type: ignore[operator]
    p = FastParser()
    p.add_argument("-x")
    with pytest.raises(Unsupported):
        p.add_argument("-x")


def test_run_does_not_import_argparse(tmp_path: object) -> None:
    code = ("import sys; from pallet.cli.main import dispatch\n"
            "try:\n    dispatch(['--root', '/nonexistent-pallet-root', 'run', '--rm', 'no-such-image-x', 'true'])\n"
            "except Exception as e:\n    print(type(e).__name__)\n"
            "print('argparse' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["NotFoundError", "False"]

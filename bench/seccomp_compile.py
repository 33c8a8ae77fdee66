"""How long the default seccomp profile takes to resolve, compile and load, and what it costs a syscall.

    .venv/bin/python bench/seccomp_compile.py [--runs N]

Prints medians in milliseconds:
- cold: a fresh interpreter that imports pallet's seccomp code, loads libseccomp and compiles the
  default profile (what one `pallet-runtime run` pays);
- resolve: docker profile -> OCI linux.seccomp for the 14 default capabilities (engine side);
- compile: OCI linux.seccomp -> BPF through libseccomp (runtime parent), warm, and a cache hit;
- load: seccomp(2) of the program in a forked child;
- getppid: nanoseconds per getppid() in a child with and without the filter.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

from pallet._linux.prctl import set_no_new_privs
from pallet.engine.security.capabilities import DEFAULT_CAPABILITIES
from pallet.engine.security.seccomp_profile import default_seccomp
from pallet.runtime.seccomp import compile_filter, load_filter

COLD = (
    "import time; t=time.perf_counter();"
    "from pallet.runtime.seccomp import compile_filter;"
    "import json,sys; s=json.loads(sys.stdin.read());"
    "compile_filter(s); print((time.perf_counter()-t)*1000)"
)


def median_ms(fn: object, runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def per_call_ns(program: bytes | None, flags: int, calls: int = 200_000) -> float:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            if program is not None:
                from pallet._linux.seccomp import load_bpf

                set_no_new_privs()
                load_bpf(program, flags)
            getppid = os.getppid
            t = time.perf_counter_ns()
            for _ in range(calls):
                getppid()
            os.write(w, str((time.perf_counter_ns() - t) / calls).encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r) as f:
        value = float(f.read())
    os.waitpid(pid, 0)
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    import json

    seccomp = default_seccomp(DEFAULT_CAPABILITIES)
    doc = json.dumps(seccomp)
    cold = []
    for _ in range(max(5, args.runs // 3)):
        out = subprocess.run([sys.executable, "-c", COLD], input=doc, capture_output=True, text=True, check=True)
        cold.append(float(out.stdout))
    resolve = median_ms(lambda: default_seccomp(DEFAULT_CAPABILITIES), args.runs)
    compiled = compile_filter(seccomp)
    assert compiled is not None
    compile_ms = median_ms(lambda: compile_filter(seccomp), args.runs)
    import tempfile

    with tempfile.TemporaryDirectory() as cache:
        compile_filter(seccomp, cache_dir=cache)
        cached_ms = median_ms(lambda: compile_filter(seccomp, cache_dir=cache), args.runs)

    def load_once() -> None:
        pid = os.fork()
        if pid == 0:
            set_no_new_privs()
            load_filter(compiled)
            os._exit(0)
        os.waitpid(pid, 0)

    fork_only = median_ms(lambda: os.waitpid(_fork_exit(), 0), args.runs)
    load = median_ms(load_once, args.runs) - fork_only
    names = sum(len(r["names"]) for r in seccomp["syscalls"])  # type: ignore[attr-defined]
    print(f"default profile: {names} names in {len(seccomp['syscalls'])} rules, "  # type: ignore[arg-type]
          f"{compiled.instructions} BPF instructions")
    print(f"cold import+compile  {statistics.median(cold):7.2f} ms")
    print(f"resolve profile      {resolve:7.2f} ms")
    print(f"compile (warm)       {compile_ms:7.2f} ms")
    print(f"compile (cache hit)  {cached_ms:7.2f} ms")
    print(f"load in child        {max(load, 0):7.3f} ms")
    print(f"getppid unfiltered   {per_call_ns(None, 0):7.0f} ns")
    print(f"getppid filtered     {per_call_ns(compiled.program, compiled.flags):7.0f} ns")


def _fork_exit() -> int:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    return pid


if __name__ == "__main__":
    main()

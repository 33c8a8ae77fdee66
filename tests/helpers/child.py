"""Run a function in a forked child (to change its credentials, capabilities or seccomp filter
without touching the test process) and bring its JSON-able result back."""

from __future__ import annotations

import json
import os
from collections.abc import Callable


def run_in_child(body: Callable[[], object]) -> tuple[object, int]:
    """Fork; the child runs ``body`` and sends its result back.  Returns (result, raw wait status);
    the result is None when the child died before it could send one (killed by a filter, say).  An
    exception in the child fails the test with its repr."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            out = json.dumps({"result": body()})
        except BaseException as e:
            out = json.dumps({"error": repr(e)})
        os.write(w, out.encode())
        os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read()
    _, status = os.waitpid(pid, 0)
    if not data:
        return None, status
    doc = json.loads(data)
    assert "error" not in doc, doc["error"]
    return doc["result"], status


def errno_of(call: Callable[[], object]) -> int:
    """The errno ``call`` fails with, 0 if it succeeds."""
    try:
        call()
    except OSError as e:
        return e.errno or 0
    return 0

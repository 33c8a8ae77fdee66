"""The intermediate child forked at the start of ``create``, before the parent reads the config.

The children's path (their own imports: ctypes, the root filesystem and namespace code; then the
namespaces, the init and its root filesystem) used to start only once the parent had read and
checked the config, worked out the plan and made the state directory.  Forked first, the child
imports on the machine's other CPU while the parent does that work, then waits; the parent hands it
the Setup over the channel (``setup``: marshal data and the fds, see process.setup.to_wire) and
drives it exactly as one it had forked then (process.parent).  A parent that fails or finishes
without it (bad config, `--help`) discards it: killed and reaped.

Forked from a small process (before the parent's own imports and config), the child also has fewer
pages to copy on write, and so has the init it forks.  Only for the real system: a create given
another ``System`` (the recording fake of the tests) forks its children as before, and so does a
create whose early child died before the hand-over.  Only where the parent has little left to do
after the fork: `pallet-runtime create`/`run`.  (The engine's `pallet run` does not: its ~40 ms of
work after the fork would pay a copy-on-write fault on every page it touches, measured 7.9 ms
slower.)
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pallet.runtime.process.channel import Channel
    from pallet.runtime.process.setup import Setup


class Prefork:
    """A forked child waiting for its Setup."""

    def __init__(self, pid: int, chan: Channel) -> None:
        self.pid = pid
        self.chan = chan

    def hand(self, setup: Setup) -> tuple[int, Channel]:
        """Send the child its Setup: from now on it is the intermediate (pid, channel)."""
        from pallet.runtime.process.setup import to_wire

        blob, fds = to_wire(setup)
        self.chan.send_blob("setup", blob, fds)
        return self.pid, self.chan

    def discard(self) -> None:
        """Kill and reap the child that was never handed a Setup."""
        try:
            os.kill(self.pid, 9)  # SIGKILL
        except ProcessLookupError:
            pass
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass
        self.chan.close()


_waiting: Prefork | None = None


def start() -> None:
    """Fork the child now (it imports, then waits for its Setup); take() gives it to the create."""
    global _waiting
    from pallet.runtime.process.channel import Channel

    if _waiting is not None:
        return
    parent, child = Channel.pair()
    pid = os.fork()
    if pid == 0:
        parent.close()
        try:
            from pallet.runtime.process import init

            init.preforked(child)
        finally:
            os._exit(1)
    child.close()
    _waiting = Prefork(pid, parent)


def take() -> Prefork | None:
    """The waiting child, now the caller's (to hand or to discard), or None."""
    global _waiting
    waiting, _waiting = _waiting, None
    return waiting


def discard() -> None:
    """Discard the child if nobody took it (the command failed before its create forked)."""
    waiting = take()
    if waiting is not None:
        waiting.discard()

"""The intermediate child forked early in ``create``, where the container needs one: once the
config is checked and the namespace plan says so (a user or time namespace, a mount or cgroup
namespace joined by path: see NamespacePlan.runtime_forks_init; elsewhere the runtime forks the
init itself, with no intermediate), before the parent makes the state directory and hands the
Setup over.

The children's path (their own imports: the C calls, the root filesystem and namespace code; then
the namespaces, the init and its root filesystem) used to start only once the parent had done all
of that.  Forked early, the child imports on the machine's other CPU meanwhile, then waits; the
parent hands it the Setup over the channel (``setup``: marshal data and the fds, see
process.setup.to_wire) and drives it exactly as one it had forked then (process.parent).  A parent
that fails or finishes without it discards it: killed and reaped.

When to fork was measured (bench/runtime_run.py, paired A/B, when every container had an
intermediate): at the start of the command line the child's imports ran beside the parent's for
the whole config step and slowed both (the two vCPUs share more than they give, and every page
either touches after the fork is copied): 1.5 ms slower once the children's imports got cheap
(pallet._linux.ffi); after the config is checked, 3.1 ms faster than at the start; after the plan
(where it is now, since the plan decides whether there is an intermediate at all), about 1 ms
slower than right after the checks.  A config that fails its checks never forks it.

Only for the command line's `pallet-runtime create`/`run` (``enable``) and the real system: a create
given another ``System`` (the recording fake of the tests) forks its children as before, and so does
a create whose early child died before the hand-over.  (The engine's `pallet run` does not: its
~40 ms of work after the fork would pay a copy-on-write fault on every page it touches, measured
7.9 ms slower.)
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
_enabled = False


def enable() -> None:
    """The command line's create/run: from now on ``start`` forks the child."""
    global _enabled
    _enabled = True


def start() -> None:
    """Fork the child now, if enabled (it imports, then waits for its Setup); take() gives it to
    the create."""
    global _waiting
    if not _enabled or _waiting is not None:
        return
    # What both processes import next, once before the fork instead of twice after it (the
    # parent's copy would pay a copy-on-write fault on every shared page it touched): hooks (the
    # parent's waits_late, the child's work).  The plan, made before, brought the rest.
    from pallet.runtime import hooks  # noqa: F401
    from pallet.runtime.process.channel import Channel

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

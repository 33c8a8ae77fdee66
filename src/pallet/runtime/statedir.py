"""The runtime's state on disk: <root>/<id>/{state.json, exec.fifo}.

state.json is written to a temporary file, fsynced and renamed.  A container's directory is made
with one mkdir, which is what makes ids unique: two ``create`` of the same id race on it and
exactly one wins.  Operations on a container take an flock on <root>/<id>/lock.
"""

from __future__ import annotations

import os

from pallet import fastjson
from pallet.errors import ConflictError, NotFoundError
from pallet.filelock import FileLock

STATE_FILE = "state.json"
# Compiled seccomp filters, shared by the containers of a root ('@' is never in a container id).
SECCOMP_CACHE = "@seccomp-cache"
FIFO = "exec.fifo"
LOCK = "lock"


def container_dir(root: str, cid: str) -> str:
    return os.path.join(root, cid)


def make_container_dir(root: str, cid: str) -> str:
    """Create the directory of a new container; a second one of the same id is a conflict."""
    os.makedirs(root, mode=0o711, exist_ok=True)
    path = container_dir(root, cid)
    try:
        os.mkdir(path, 0o711)
    except FileExistsError:
        raise ConflictError(f"container with id {cid!r} already exists (in {root})") from None
    return path


def read_state(root: str, cid: str) -> dict[str, object]:
    path = os.path.join(container_dir(root, cid), STATE_FILE)
    try:
        with open(path, "rb") as f:
            data = fastjson.loads(f.read())
    except FileNotFoundError:
        if os.path.isdir(container_dir(root, cid)):
            return {"id": cid, "creating": True}
        raise NotFoundError(f"container {cid!r} does not exist (in {root})") from None
    except ValueError as exc:
        raise NotFoundError(f"state of container {cid!r} is corrupt ({path}: {exc})") from None
    if not isinstance(data, dict):
        raise NotFoundError(f"state of container {cid!r} is corrupt ({path})")
    return data


def list_ids(root: str) -> list[str]:
    try:
        names = os.listdir(root)
    except FileNotFoundError:
        return []
    return sorted(n for n in names if not n.startswith("@") and os.path.isdir(os.path.join(root, n)))


class Lock(FileLock):
    """An exclusive flock on a container's lock file, held for one operation."""

    def __init__(self, root: str, cid: str) -> None:
        super().__init__(os.path.join(container_dir(root, cid), LOCK))
        self.cid = cid

    def __enter__(self) -> Lock:
        try:
            super().__enter__()
        except FileNotFoundError:
            raise NotFoundError(f"container {self.cid!r} does not exist") from None
        return self


def remove_container_dir(root: str, cid: str) -> None:
    path = container_dir(root, cid)
    for name in (STATE_FILE, FIFO, LOCK):
        try:
            os.unlink(os.path.join(path, name))
        except FileNotFoundError:
            pass
    try:
        for name in os.listdir(path):
            os.unlink(os.path.join(path, name))
        os.rmdir(path)
    except FileNotFoundError:
        pass

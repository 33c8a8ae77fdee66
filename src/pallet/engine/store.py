"""Container records on disk: one directory per container, names unique, writes atomic, locks per container.

Layout under the state root::

    <root>/containers/<id>/config.json       the record (docker's inspect shape, without HostConfig)
    <root>/containers/<id>/hostconfig.json   HostConfig
    <root>/containers/<id>/lock              flock held while a command changes the record
    <root>/containers/names/<name> -> <id>   symlink: creating it is the atomic claim of the name

A name is claimed with symlink(2), which fails with EEXIST when another container holds it: of
parallel ``run --name x`` exactly one wins, with no global lock.  Every write goes to a temporary
file that is fsynced and renamed over the old one, so a reader never sees half a record.
"""

from __future__ import annotations

import errno
import os
import time

from pallet import fastjson
from pallet.atomicfile import write_json_atomic
from pallet.errors import ConfigError, ConflictError, NotFoundError
from pallet.filelock import FileLock

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

    Record = dict[str, Any]  # a container record: docker's inspect document (JSON-able)

_NAME_FIRST = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_NAME_CHARS = _NAME_FIRST + "_.-"

_ADJECTIVES = (
    "brave", "calm", "eager", "fancy", "gentle", "happy", "jolly", "keen", "lucid", "merry", "nifty",
    "proud", "quirky", "sharp", "tender", "vivid", "witty", "zen", "bold", "clever", "dreamy", "epic",
)
_NOUNS = (
    "curie", "darwin", "euler", "fermi", "gauss", "hopper", "kepler", "lovelace", "noether", "pascal",
    "ritchie", "shannon", "turing", "volta", "wozniak", "yalow", "babbage", "bohr", "dijkstra", "knuth",
)


def now_iso(ns: int | None = None) -> str:
    """A UTC time as docker writes it: 2024-01-02T03:04:05.123456789Z."""
    ns = time.time_ns() if ns is None else ns
    sec, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + f".{frac:09d}Z"


ZERO_TIME = "0001-01-01T00:00:00Z"


def parse_iso(value: str) -> float:
    """Seconds since the epoch of a time written by now_iso (0.0 for docker's zero time)."""
    if not value or value.startswith("0001-"):
        return 0.0
    import calendar

    base, _, frac = value.rstrip("Z").partition(".")
    secs = calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S"))
    return secs + (int(frac[:9].ljust(9, "0")) / 1e9 if frac else 0.0)


def check_name(name: str, source: str = "--name") -> str:
    """A container name as docker allows it ([a-zA-Z0-9][a-zA-Z0-9_.-]+), without a leading '/'."""
    bare = name[1:] if name.startswith("/") else name
    if len(bare) < 2 or bare[0] not in _NAME_FIRST or any(c not in _NAME_CHARS for c in bare):
        raise ConfigError(
            f'Invalid container name ({name}) from {source}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed '
            "(at least 2 characters)"
        )
    return bare


def read_json(path: str) -> Record:
    with open(path, "rb") as f:
        doc = fastjson.loads(f.read())
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: expected a JSON object")
    return doc


class ContainerLock(FileLock):
    """An exclusive flock on a container's lock file, as a context manager."""

    def __enter__(self) -> ContainerLock:
        try:
            super().__enter__()
        except FileNotFoundError:
            raise NotFoundError(f"No such container: {os.path.basename(os.path.dirname(self.path))}") from None
        return self


class ContainerStore:
    """The records of every container under ``<root>/containers``."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.dir = os.path.join(root, "containers")
        self.names_dir = os.path.join(self.dir, "names")

    # -- paths -------------------------------------------------------------------------------
    def path(self, cid: str, *parts: str) -> str:
        return os.path.join(self.dir, cid, *parts)

    def lock(self, cid: str) -> ContainerLock:
        return ContainerLock(self.path(cid, "lock"))

    # -- names ---------------------------------------------------------------------------------
    def claim_name(self, name: str, cid: str) -> None:
        """Make ``name`` point at ``cid``; ConflictError (docker's message) if it is taken."""
        os.makedirs(self.names_dir, exist_ok=True)
        link = os.path.join(self.names_dir, name)
        try:
            os.symlink(cid, link)
        except FileExistsError:
            try:
                holder = os.readlink(link)
            except FileNotFoundError:
                return self.claim_name(name, cid)
            if not os.path.isdir(self.path(holder)):
                # A stale claim of a container that no longer exists (a crash between the steps).
                os.unlink(link)
                return self.claim_name(name, cid)
            raise ConflictError(
                f'Conflict. The container name "/{name}" is already in use by container "{holder}". '
                "You have to remove (or rename) that container to be able to reuse that name."
            ) from None

    def release_name(self, name: str, cid: str) -> None:
        link = os.path.join(self.names_dir, name)
        try:
            if os.readlink(link) == cid:
                os.unlink(link)
        except OSError:
            pass

    def random_name(self, cid: str) -> str:
        for attempt in range(20):
            # os.urandom, not secrets: secrets imports hashlib and hmac (~5 ms on every run).
            a, b, c = os.urandom(3)
            name = f"{_ADJECTIVES[a % len(_ADJECTIVES)]}_{_NOUNS[b % len(_NOUNS)]}"
            if attempt > 5:
                name += str(c % 100)
            try:
                self.claim_name(name, cid)
                return name
            except ConflictError:
                continue
        raise ConflictError("could not find a free random container name")

    # -- records -------------------------------------------------------------------------------
    def new_id(self) -> str:
        """64 random hex digits whose first 12, the short id and the container's hostname, are not
        all decimal digits: to the C library's resolver such a name is an address, never looked up
        in /etc/hosts (`hostname -i` fails in the container), as docker avoids too."""
        while True:
            cid = os.urandom(32).hex()
            if not cid[:12].isdigit():
                return cid

    def write(self, record: Record, durable: bool = True) -> None:
        """Write the record (config.json and hostconfig.json) atomically; fsynced if ``durable``.

        Not durable: the state changes of a --rm container (started, exited), which are removed with
        it; its creation is durable, and a state lost in a crash is put right by reconcile."""
        cid = record["Id"]
        doc = {k: v for k, v in record.items() if k != "HostConfig"}
        write_json_atomic(self.path(cid, "hostconfig.json"), record.get("HostConfig", {}), durable=durable)
        write_json_atomic(self.path(cid, "config.json"), doc, durable=durable)

    def read(self, cid: str) -> Record:
        try:
            record = read_json(self.path(cid, "config.json"))
            record["HostConfig"] = read_json(self.path(cid, "hostconfig.json"))
        except FileNotFoundError:
            raise NotFoundError(f"No such container: {cid}") from None
        return record

    def ids(self) -> list[str]:
        try:
            entries = os.listdir(self.dir)
        except FileNotFoundError:
            return []
        return [e for e in entries if len(e) == 64 and os.path.exists(self.path(e, "config.json"))]

    def resolve(self, ref: str) -> str:
        """The id of the container named ``ref``, or whose id is ``ref`` or starts with it."""
        if not ref:
            raise NotFoundError("No such container: (empty name)")
        name = ref[1:] if ref.startswith("/") else ref
        if "/" not in name and name not in (".", ".."):
            try:
                cid = os.readlink(os.path.join(self.names_dir, name))
                if os.path.exists(self.path(cid, "config.json")):
                    return cid
            except OSError:
                pass
        if all(c in "0123456789abcdef" for c in ref):
            if len(ref) == 64 and os.path.exists(self.path(ref, "config.json")):
                return ref  # a full id: no need to list every container
            matches = [i for i in self.ids() if i.startswith(ref)]
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise ConflictError(f"Multiple IDs found with provided prefix: {ref}")
        raise NotFoundError(f"No such container: {ref}")

    def iter_records(self) -> Iterator[Record]:
        for cid in self.ids():
            try:
                yield self.read(cid)
            except (NotFoundError, ValueError):
                continue

    def create_dir(self, cid: str) -> str:
        path = self.path(cid)
        os.makedirs(self.dir, exist_ok=True)
        os.mkdir(path, 0o700)
        return path

    def remove_dir(self, cid: str) -> None:
        from pallet.fstree import remove_tree

        path = self.path(cid)
        # config.json goes first: a half-removed directory is no longer listed as a container.
        for name in ("config.json", "hostconfig.json"):
            try:
                os.unlink(os.path.join(path, name))
            except FileNotFoundError:
                pass
        remove_tree(path, ignore_errors=True)
        if os.path.exists(path):
            raise OSError(errno.EBUSY, f"could not remove {path}")

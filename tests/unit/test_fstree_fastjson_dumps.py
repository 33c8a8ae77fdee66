"""pallet.fstree.remove_tree (rm -rf through dir fds, symlinks not followed), pallet.fstree.usage
(one walk: apparent bytes, blocks, inodes) and the json.dumps forms of pallet.fastjson.dumps (sorted keys, indent) that the stores write."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

from pallet.fastjson import dumps
from pallet.fstree import remove_tree, usage


def test_usage_counts_each_inode_once_and_follows_no_link(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "big").write_bytes(b"x" * 100_000)
    top = tmp_path / "top"
    (top / "d" / "e").mkdir(parents=True)
    (top / "a").write_bytes(b"a" * 5000)
    (top / "d" / "e" / "b").write_bytes(b"b" * 3000)
    os.link(top / "a", top / "d" / "a-again")  # a hard link: counted once
    (top / "d" / "empty").touch()
    os.symlink(outside, top / "link")  # a link: its own few bytes, never what it names
    u = usage(str(top))
    link_size = os.lstat(top / "link").st_size
    assert u.apparent == 5000 + 3000 + link_size
    assert u.inodes == 6  # a (also d/a-again), d, d/e, d/e/b, d/empty, link
    expected = sum(os.lstat(p).st_blocks * 512 for p in
                   (top / "a", top / "d", top / "d" / "e", top / "d" / "e" / "b", top / "d" / "empty", top / "link"))
    assert u.allocated == expected
    assert usage(str(tmp_path / "missing")).inodes == 0


def test_remove_tree_removes_everything_and_follows_no_symlink(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("x")
    top = tmp_path / "top"
    (top / "a" / "b" / "c").mkdir(parents=True)
    (top / "a" / "file").write_text("1")
    (top / "a" / "b" / "c" / "deep").write_text("2")
    (top / "link-dir").symlink_to(outside)
    (top / "a" / "link-file").symlink_to(outside / "keep")
    (top / "dangling").symlink_to(tmp_path / "nowhere")
    os.mkfifo(top / "fifo")
    remove_tree(str(top))
    assert not os.path.lexists(top)
    assert (outside / "keep").read_text() == "x"
    remove_tree(str(top))  # missing: no error
    f = tmp_path / "plain"
    f.write_text("y")
    remove_tree(str(f))
    assert not f.exists()
    link = tmp_path / "l"
    link.symlink_to(outside)
    remove_tree(str(link))
    assert not os.path.lexists(link) and (outside / "keep").exists()


def test_remove_tree_errors(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_text("z")
    bad = str(f / "below-a-file")
    try:
        remove_tree(bad)
    except NotADirectoryError:
        pass
    else:
        raise AssertionError("an error on the way is raised")
    remove_tree(bad, ignore_errors=True)
    assert f.read_text() == "z"


def _random_doc(rnd: random.Random, depth: int = 0) -> object:
    leaves: list[object] = [1, -2.5, 1e300, "s\"\\\n\t", "\u00fc\u20ac\U0001f600", None, True, False, ""]
    kind = rnd.random()
    if depth > 3 or kind > 0.6:
        return rnd.choice(leaves)
    if kind < 0.3:
        return {rnd.choice("abcxyz") + str(rnd.randint(0, 20)): _random_doc(rnd, depth + 1) for _ in range(rnd.randint(0, 4))}
    return [_random_doc(rnd, depth + 1) for _ in range(rnd.randint(0, 4))]


def test_dumps_forms_equal_json_dumps() -> None:
    rnd = random.Random(7)
    docs = [{}, [], {"b": 1, "a": {"d": [], "c": {}}}, [[{}]], "x", 3, None] + [_random_doc(rnd) for _ in range(300)]
    for doc in docs:
        assert dumps(doc) == json.dumps(doc, separators=(",", ":"))
        assert dumps(doc, sort_keys=True) == json.dumps(doc, separators=(",", ":"), sort_keys=True)
        for indent in (1, 2):
            for sort_keys in (False, True):
                assert dumps(doc, indent=indent, sort_keys=sort_keys) == json.dumps(doc, indent=indent,
                                                                                    sort_keys=sort_keys)
    # keys json converts (numbers, None, booleans) follow its rules
    assert dumps({1: "a", "b": {None: 2}}, indent=1) == json.dumps({1: "a", "b": {None: 2}}, indent=1)

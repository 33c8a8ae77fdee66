"""load_config: reading <bundle>/config.json with errors that say which file, where and why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pallet.errors import ConfigError, ValidationError
from pallet.oci.defaults import default_spec
from pallet.oci.validate import load_config


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    (tmp_path / "rootfs").mkdir()
    (tmp_path / "config.json").write_text(json.dumps(default_spec()))
    return tmp_path


def test_loads_a_valid_bundle(bundle: Path) -> None:
    assert load_config(str(bundle)) == default_spec()


def test_missing_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(str(tmp_path))
    assert str(info.value) == (
        f"{tmp_path}/config.json does not exist: a bundle needs a config.json (`pallet-runtime spec` writes one)"
    )


def test_missing_bundle(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^bundle .*/nope does not exist or is not a directory$"):
        load_config(str(tmp_path / "nope"))


def test_invalid_json_names_line_and_column(bundle: Path) -> None:
    (bundle / "config.json").write_text('{\n  "ociVersion": "1.2.0",\n  "root": {"path": "rootfs",}\n}\n')
    with pytest.raises(ConfigError) as info:
        load_config(str(bundle))
    assert not isinstance(info.value, ValidationError)
    assert str(info.value) == (
        f"{bundle}/config.json is not valid JSON: Expecting property name enclosed in double quotes "
        "at line 3, column 29"
    )


def test_not_utf8(bundle: Path) -> None:
    (bundle / "config.json").write_bytes(b'{"ociVersion": "\xff"}')
    with pytest.raises(ConfigError, match=r"is not valid JSON: it is not UTF-8 text"):
        load_config(str(bundle))


def test_validation_errors_name_the_field_and_the_file(bundle: Path) -> None:
    doc = default_spec()
    doc["process"]["args"] = []
    (bundle / "config.json").write_text(json.dumps(doc))
    with pytest.raises(ValidationError) as info:
        load_config(str(bundle))
    assert info.value.path == "process.args"
    assert str(info.value) == f"process.args must not be empty (in {bundle}/config.json)"


def test_root_path_is_resolved_in_the_bundle(bundle: Path) -> None:
    (bundle / "rootfs").rmdir()
    with pytest.raises(ValidationError, match=r'^root.path "rootfs" does not exist \(looked for .*/rootfs\)'):
        load_config(str(bundle))


def test_a_top_level_array_is_refused(bundle: Path) -> None:
    (bundle / "config.json").write_text("[]")
    with pytest.raises(ValidationError, match=r"^config must be a JSON object, got \[\] \(an array\)"):
        load_config(str(bundle))

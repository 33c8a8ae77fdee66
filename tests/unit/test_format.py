"""docker's listing formats: tabwriter alignment, table headers, json lines, errors."""

from __future__ import annotations

import json

import pytest

from pallet.cli import format as fmt
from pallet.cli.gotemplate import Struct
from pallet.errors import ConfigError

ROWS = [
    {"ID": "3f2a1b4c5d6e", "Image": "busybox", "Command": '"sh"', "RunningFor": "2 minutes ago",
     "Status": "Up 2 minutes", "Ports": "", "Names": "web", "Labels": "a=b",
     "Label": lambda key: {"a": "b"}.get(key, "")},
    {"ID": "aaaaaaaaaaaa", "Image": "pallet/a-very-long-image:latest", "Command": '"sleep 100"',
     "RunningFor": "About an hour ago", "Status": "Exited (0) 5 seconds ago", "Ports": "", "Names": "db",
     "Labels": "", "Label": lambda key: ""},
]  # fmt: skip


def test_tabwriter_matches_go() -> None:
    # Go: tabwriter.NewWriter(out, 10, 1, 3, ' ', 0); the text after the last tab is not a column
    text = "a\tbb\tccc\nxxxxxxxxxxxxxxx\ty\tz\n"
    assert fmt.tabwrite(text) == "a" + " " * 17 + "bb        ccc\nxxxxxxxxxxxxxxx   y         z\n"
    # a line without tabs ends the column block: widths are computed per block
    assert fmt.tabwrite("a\tb\nplain line\nlonger-cell\tc\n") == (
        "a         b\nplain line\nlonger-cell   c\n"
    )
    # empty cells are padded too; lines with fewer cells end inner blocks only
    assert fmt.tabwrite("a\t\tc\nb\td\n") == "a                   c\nb         d\n"
    assert fmt.tabwrite("") == ""


def test_default_ps_table() -> None:
    out = fmt.render_list("", ROWS, fmt.PS)
    lines = out.splitlines()
    assert lines[0].split("   ")[0] == "CONTAINER ID"
    assert lines[0] == (
        "CONTAINER ID   IMAGE                             COMMAND       CREATED             "
        "STATUS                     PORTS     NAMES"
    )
    assert lines[1] == (
        '3f2a1b4c5d6e   busybox                           "sh"          2 minutes ago       '
        "Up 2 minutes                         web"
    )
    # every column starts at the same offset in every line
    for header in ("IMAGE", "COMMAND", "CREATED", "STATUS", "NAMES"):
        col = lines[0].index(header)
        assert lines[1][col - 3 : col] == "   " and lines[1][col] != " "
    assert out.endswith("db\n")


def test_table_keyword_alone_and_empty_listing_print_the_header() -> None:
    assert fmt.render_list("table", [], fmt.PS) == fmt.render_list("", [], fmt.PS)
    assert fmt.render_list("", [], fmt.IMAGES) == "REPOSITORY   TAG       IMAGE ID   CREATED   SIZE\n"
    assert fmt.render_list("", [], fmt.STATS).startswith(
        "CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT"
    )


def test_custom_table_with_escaped_tabs_and_methods() -> None:
    out = fmt.render_list('table {{.ID}}\\t{{.Names}}\\t{{.Label "a"}}', ROWS, fmt.PS)
    # headers of unknown fields print what Go prints for a missing map key; methods with args stop it
    assert out.splitlines()[1] == "3f2a1b4c5d6e   web       b"
    assert out.splitlines()[0].startswith("CONTAINER ID   NAMES")


def test_header_functions_return_their_argument() -> None:
    out = fmt.render_list("table {{.Names | upper}}\t{{pad .ID 1 1}}", ROWS[:1], fmt.PS)
    assert out.splitlines() == ["NAMES     CONTAINER ID", "WEB        3f2a1b4c5d6e "]


def test_plain_template_one_line_per_row() -> None:
    assert fmt.render_list("  {{.Names}}: {{.Status}}\\n  ", ROWS, fmt.PS) == (
        "web: Up 2 minutes\n\ndb: Exited (0) 5 seconds ago\n\n"
    )


def test_quiet_uses_ids_unless_a_format_is_given() -> None:
    assert fmt.render_list("", ROWS, fmt.PS, quiet=True) == "3f2a1b4c5d6e\naaaaaaaaaaaa\n"
    assert fmt.render_list("{{.Names}}", ROWS, fmt.PS, quiet=True) == "web\ndb\n"


def test_json_lines() -> None:
    out = fmt.render_list("json", ROWS, fmt.PS)
    lines = out.splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert first["ID"] == "3f2a1b4c5d6e" and first["Names"] == "web" and "Label" not in first
    assert list(first) == sorted(first)  # Go encodes maps with sorted keys
    assert lines[0].startswith('{"Command":"\\"sh\\"","ID":')
    assert fmt.render_json_lines(ROWS) == out


def test_errors_are_config_errors_with_dockers_wording() -> None:
    with pytest.raises(ConfigError) as e:
        fmt.render_list("{{.Nope}}", ROWS, fmt.PS)
    assert str(e.value) == (
        'template parsing error: template: :1:2: executing "" at <.Nope>: '
        "can't evaluate field Nope in type *formatter.ContainerContext"
    )
    with pytest.raises(
        ConfigError, match=r'^template parsing error: template: :1: unexpected "}" in operand$'
    ):
        fmt.render_list("{{.ID}", ROWS, fmt.PS)


def test_render_each_for_inspect() -> None:
    items = [
        {"State": {"Pid": 42, "Running": True}, "Config": {"Env": ["A=1"], "Labels": {"b": "2", "a": "1"}}}
    ]
    assert fmt.render_each("{{.State.Pid}} {{json .Config}}", items) == (
        '42 {"Env":["A=1"],"Labels":{"a":"1","b":"2"}}\n'
    )
    assert fmt.render_each("{{range $k, $v := .Config.Labels}}{{$k}}={{$v}} {{end}}", items) == "a=1 b=2 \n"
    with pytest.raises(ConfigError) as e:
        fmt.render_each("{{.State.Nope}}", items)
    assert str(e.value).endswith('executing "" at <.State.Nope>: map has no entry for key "Nope"')


def test_struct_rows_keep_their_type() -> None:
    row = Struct({"ID": "x"}, type_name="*formatter.ImageContext")
    with pytest.raises(ConfigError, match=r"in type \*formatter.ImageContext"):
        fmt.render_list("{{.Tag}}", [row], fmt.PS)

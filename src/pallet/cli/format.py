"""Output formatting of the ``pallet`` CLI, as docker's formatter package does it.

- :class:`TabWriter`: Go's text/tabwriter (docker uses minwidth 10, tabwidth 1, padding 3, ' ').
- :func:`render_list`: a listing (``ps``, ``images``, ``stats``, ``network ls``, ...) with
  ``--format``: ``""``/``table`` (the command's default table), ``json`` (one JSON object per
  line), ``table <template>`` (a header row from docker's column names, then the rows, aligned)
  or any other template (one line per row).
- :func:`render_each`: ``inspect -f``: a template per object, missing keys are errors.
- The default layouts (:data:`PS`, :data:`IMAGES`, :data:`STATS`, ...) with docker's headers.

Rows are mappings of field name to value (a :class:`~pallet.cli.gotemplate.Struct` gives Go's
struct semantics: an unknown field is an error naming the type, as docker's).  A callable value
is a method: ``{{.Label "com.example"}}`` calls ``row["Label"]("com.example")``.
"""

from __future__ import annotations

from pallet.errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any

    from pallet.cli.gotemplate import Template

TABLE_KEY = "table"
JSON_KEY = "json"
JSON_FORMAT = "{{json .}}"
QUIET_FORMAT = "{{.ID}}"


class TabWriter:
    """Go's text/tabwriter with a space pad character and no flags.

    Cells are tab-terminated; the text after a line's last tab is not part of a column.  A
    column block is a run of consecutive lines that have a cell in that column; its width is
    the widest cell plus ``padding``, at least ``minwidth``.
    """

    def __init__(self, minwidth: int = 10, padding: int = 3) -> None:
        self.minwidth = minwidth
        self.padding = padding
        self._text: list[str] = []

    def write(self, text: str) -> None:
        self._text.append(text)

    def flush(self) -> str:
        """The aligned text of everything written; the writer is empty again afterwards."""
        text, self._text = "".join(self._text), []
        self._lines = [line.split("\t") for line in text.split("\n")]
        self._widths: list[int] = []
        self._out: list[str] = []
        self._format(0, len(self._lines))
        return "".join(self._out)

    def _format(self, line0: int, line1: int) -> None:
        column = len(self._widths)
        lines = self._lines
        this = line0
        while this < line1:
            if column >= len(lines[this]) - 1:
                this += 1
                continue
            self._write_lines(line0, this)
            line0 = this
            width = self.minwidth
            while this < line1 and column < len(lines[this]) - 1:
                width = max(width, len(lines[this][column]) + self.padding)
                this += 1
            self._widths.append(width)
            self._format(line0, this)
            self._widths.pop()
            line0 = this
        self._write_lines(line0, line1)

    def _write_lines(self, line0: int, line1: int) -> None:
        widths = self._widths
        last = len(self._lines) - 1
        for i in range(line0, line1):
            for j, cell in enumerate(self._lines[i]):
                self._out.append(cell)
                if j < len(widths):
                    self._out.append(" " * (widths[j] - len(cell)))
            if i != last:
                self._out.append("\n")


def tabwrite(text: str, minwidth: int = 10, padding: int = 3) -> str:
    """Align tab-separated ``text`` as docker's tables are aligned."""
    tw = TabWriter(minwidth, padding)
    tw.write(text)
    return tw.flush()


class Layout:
    """A listing's default table, its column headers and the Go type name its errors show."""

    __slots__ = ("default", "headers", "quiet", "type_name")

    def __init__(
        self, default: str, headers: Mapping[str, str], type_name: str, quiet: str = QUIET_FORMAT
    ) -> None:
        self.default = default
        self.headers = headers
        self.type_name = type_name
        self.quiet = quiet


CONTAINER_HEADERS = {
    "ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
    "RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE", "Status": "STATUS", "Size": "SIZE",
    "Names": "NAMES", "Labels": "LABELS", "Mounts": "MOUNTS", "LocalVolumes": "LOCAL VOLUMES",
    "Networks": "NETWORKS", "Platform": "PLATFORM",
}  # fmt: skip
IMAGE_HEADERS = {
    "ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST",
    "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE", "Containers": "CONTAINERS",
    "VirtualSize": "VIRTUAL SIZE", "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE",
}  # fmt: skip
STATS_HEADERS = {
    "Container": "CONTAINER", "ID": "CONTAINER ID", "Name": "NAME", "CPUPerc": "CPU %",
    "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O",
    "PIDs": "PIDS",
}  # fmt: skip
NETWORK_HEADERS = {
    "ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE", "IPv6": "IPV6",
    "Internal": "INTERNAL", "Labels": "LABELS", "CreatedAt": "CREATED AT",
}  # fmt: skip
VOLUME_HEADERS = {
    "Name": "VOLUME NAME", "Driver": "DRIVER", "Scope": "SCOPE", "Mountpoint": "MOUNTPOINT",
    "Labels": "LABELS", "Links": "LINKS", "Size": "SIZE",
}  # fmt: skip
HISTORY_HEADERS = {
    "ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "CreatedBy": "CREATED BY",
    "Size": "SIZE", "Comment": "COMMENT",
}  # fmt: skip

_PS = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
PS = Layout(_PS, CONTAINER_HEADERS, "*formatter.ContainerContext")
PS_SIZE = Layout(_PS + "\t{{.Size}}", CONTAINER_HEADERS, "*formatter.ContainerContext")
IMAGES = Layout(
    "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}",
    IMAGE_HEADERS,
    "*formatter.ImageContext",
)
IMAGES_DIGESTS = Layout(
    "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}",
    IMAGE_HEADERS,
    "*formatter.ImageContext",
)
STATS = Layout(
    "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}",
    STATS_HEADERS,
    "*container.statsContext",
)
NETWORKS = Layout(
    "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}", NETWORK_HEADERS, "*network.networkContext"
)
VOLUMES = Layout("table {{.Driver}}\t{{.Name}}", VOLUME_HEADERS, "*volume.volumeContext", "{{.Name}}")
HISTORY = Layout(
    "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}",
    HISTORY_HEADERS,
    "*image.historyContext",
)


def final_format(fmt: str) -> str:
    """docker's preFormat: drop ``table``, ``json`` becomes ``{{json .}}``, trim spaces, and
    the two-character sequences ``\\t`` and ``\\n`` become a tab and a newline."""
    if fmt.startswith(TABLE_KEY):
        fmt = fmt[len(TABLE_KEY) :]
    elif fmt == JSON_KEY:
        fmt = JSON_FORMAT
    return fmt.strip(" ").replace("\\t", "\t").replace("\\n", "\n")


def parse_template(fmt: str) -> Template:
    """Parse a user's template; a bad one is a ConfigError with docker's wording."""
    from pallet.cli.gotemplate import TemplateError, parse

    try:
        return parse(fmt)
    except TemplateError as e:
        raise ConfigError(f"template parsing error: {e}") from None


def _struct(row: Mapping[str, Any], type_name: str) -> Any:
    from pallet.cli.gotemplate import Struct

    if isinstance(row, Struct):
        return row
    return Struct(row, type_name=type_name)


def _json_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """What docker's ``{{json .}}`` prints for a listing row: every field, keys sorted."""
    return {k: v for k, v in row.items() if not callable(v)}


def choose_format(fmt: str, layout: Layout, quiet: bool = False) -> str:
    """The format a listing uses: the user's, or the default table (``-q``: the quiet one)."""
    if fmt in ("", TABLE_KEY):
        return layout.quiet if quiet else layout.default
    return fmt


def render_list(fmt: str, rows: Iterable[Mapping[str, Any]], layout: Layout, quiet: bool = False) -> str:
    """Render a listing as docker does: every row through the template, a header for tables."""
    from pallet.cli.gotemplate import TemplateError

    fmt = choose_format(fmt, layout, quiet)
    is_json = fmt == JSON_KEY
    is_table = fmt.startswith(TABLE_KEY)
    tmpl = parse_template(final_format(fmt))
    out: list[str] = []
    for row in rows:
        data = _json_row(row) if is_json else _struct(row, layout.type_name)
        try:
            tmpl.execute_into(out, data)
        except TemplateError as e:
            raise ConfigError(f"template parsing error: {e}") from None
        out.append("\n")
    if not is_table:
        return "".join(out)
    header: list[str] = []
    from pallet.cli.gotemplate import funcs as _funcs

    try:
        tmpl.with_funcs(_funcs.HEADER).execute_into(header, dict(layout.headers))
    except TemplateError:
        pass  # docker ignores errors in the header row and keeps what was written
    return tabwrite("".join(header) + "\n" + "".join(out))


def render_each(fmt: str, items: Iterable[Any]) -> str:
    """``inspect -f``: the template once per object, each followed by a newline.

    Like docker's fallback on raw JSON, a key missing from the data is an error
    (``map has no entry for key "Foo"``).  ``--format json`` (indented JSON) is the caller's."""
    from pallet.cli.gotemplate import TemplateError

    tmpl = parse_template(fmt).option("error")  # used as given: no table/\\t handling
    out: list[str] = []
    for item in items:
        try:
            tmpl.execute_into(out, item)
        except TemplateError as e:
            raise ConfigError(f"template parsing error: {e}") from None
        out.append("\n")
    return "".join(out)


def render_json_lines(rows: Iterable[Mapping[str, Any]]) -> str:
    """``--format json``: one compact JSON object per line, as docker prints it."""
    from pallet.cli.gotemplate.funcs import to_json

    return "".join(to_json(_json_row(row)) + "\n" for row in rows)

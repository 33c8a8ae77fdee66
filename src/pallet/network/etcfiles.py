"""Content of a container's /etc/hosts, /etc/hostname and /etc/resolv.conf, as docker writes them."""

from __future__ import annotations

from pallet.errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

HOSTS_HEADER = (
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "ff00::0\tip6-mcastprefix\n"
    "ff02::1\tip6-allnodes\n"
    "ff02::2\tip6-allrouters\n"
)


def parse_add_host(spec: str, gateway: str = "") -> tuple[str, str]:
    """``--add-host name:ip`` (or ``name=ip``; ``host-gateway`` is the gateway) -> (name, ip)."""
    sep = "=" if "=" in spec else ":"
    name, _, ip = spec.partition(sep)
    if not name or not ip:
        raise ConfigError(f"invalid --add-host {spec!r}: expected name:ip (or name=ip)")
    if ip == "host-gateway":
        if not gateway:
            raise ConfigError(f"invalid --add-host {spec!r}: host-gateway needs a network with a gateway")
        ip = gateway
    if ":" not in ip:
        from pallet.network.addr import ip_to_int  # only for --add-host: not on every run's path

        ip_to_int(ip, f"--add-host {spec!r}")
    return name, ip


def build_hosts(hostname: str, addresses: list[str], *, domainname: str = "",
                extra_hosts: Sequence[str] = (), gateway: str = "",
                aliases: Sequence[str] = ()) -> str:
    """/etc/hosts: the localhost lines, ``--add-host`` entries, then the container's own addresses."""
    out = [HOSTS_HEADER]
    for spec in extra_hosts:
        name, ip = parse_add_host(spec, gateway)
        out.append(f"{ip}\t{name}\n")
    names = f"{hostname}.{domainname} {hostname}" if domainname else hostname
    extra = " ".join(a for a in aliases if a != hostname)
    for ip in addresses:
        out.append(f"{ip}\t{names}{' ' + extra if extra else ''}\n")
    return "".join(out)


def build_hostname(hostname: str) -> str:
    return hostname + "\n"


def _is_loopback(server: str) -> bool:
    return server.startswith("127.") or server in ("::1", "0:0:0:0:0:0:0:1")


def build_resolv_conf(host_text: str, *, dns: Sequence[str] = (),
                      dns_search: Sequence[str] = (),
                      dns_options: Sequence[str] = (),
                      embedded: str = "") -> str:
    """/etc/resolv.conf from the host's (``host_text``) with loopback resolvers left out.

    ``--dns``, ``--dns-search`` and ``--dns-option`` replace the host's lines of the same kind.
    ``embedded`` (a user network's DNS responder address) goes first, as docker's 127.0.0.11 does.
    With no resolver left, docker's public defaults are written, as docker does.
    """
    servers: list[str] = []
    search: list[str] = []
    options: list[str] = []
    for line in host_text.splitlines():
        fields = line.split()
        if not fields or fields[0].startswith(("#", ";")):
            continue
        if fields[0] == "nameserver" and len(fields) > 1 and not _is_loopback(fields[1]):
            servers.append(fields[1])
        elif fields[0] in ("search", "domain"):
            search = fields[1:]
        elif fields[0] == "options":
            options += fields[1:]
    for server in dns:
        if ":" not in server:
            from pallet.network.addr import ip_to_int

            ip_to_int(server, f"--dns {server!r}")
    if dns:
        servers = list(dns)
    if dns_search:
        search = [] if list(dns_search) == ["."] else list(dns_search)
    if dns_options:
        options = list(dns_options)
    if embedded:
        servers = [embedded] + [s for s in servers if s != embedded]
    elif not servers:
        servers = ["8.8.8.8", "8.8.4.4"]
    lines = [f"nameserver {s}" for s in servers]
    if search:
        lines.append("search " + " ".join(search))
    if options:
        lines.append("options " + " ".join(options))
    return "\n".join(lines) + "\n"


def read_host_resolv_conf(path: str = "/etc/resolv.conf") -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""

"""Published ports: ``-p`` parsing, host port choice and checks, docker's ``Ports`` shape.

A binding is a dict (JSON-ready, stored as is)::

    {"proto": "tcp", "container_port": 80, "host_ip": "0.0.0.0", "host_port": 8080, "host_port_end": 8080}

``host_port`` 0 means "any free port"; a range ``host_port``..``host_port_end`` means "a free one of
these". After allocation ``host_port == host_port_end`` is the port in use.
"""

from __future__ import annotations

from pallet.errors import ConfigError, ConflictError
from pallet.network.addr import ip_to_int

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    Binding = dict[str, Any]

PROTOCOLS = ("tcp", "udp", "sctp")


def _port(text: str, spec: str, what: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ConfigError(f"invalid {what} {text!r} in -p {spec!r}: a port must be a number from 1 to 65535")
    return int(text)


def _port_range(text: str, spec: str, what: str) -> tuple[int, int]:
    first, sep, last = text.partition("-")
    lo = _port(first, spec, what)
    hi = _port(last, spec, what) if sep else lo
    if hi < lo:
        raise ConfigError(f"invalid {what} range {text!r} in -p {spec!r}: the end is below the start")
    return lo, hi


def parse_publish(spec: str) -> list[Binding]:
    """``[ip:][hostPort:]containerPort[/proto]`` (each port may be a range ``a-b``) -> bindings."""
    body, _, proto = spec.partition("/")
    proto = proto.lower() or "tcp"
    if proto not in PROTOCOLS:
        raise ConfigError(f"invalid protocol {proto!r} in -p {spec!r}: use tcp, udp or sctp")
    if body.startswith("["):
        raise ConfigError(f"invalid -p {spec!r}: IPv6 host addresses are not supported (IPv4 only)")
    parts = body.split(":")
    if len(parts) > 3 or not parts[-1]:
        raise ConfigError(f"invalid -p {spec!r}: expected [ip:][hostPort:]containerPort[/protocol]")
    host_ip = parts[0] if len(parts) == 3 else ""
    host_text = parts[-2] if len(parts) >= 2 else ""
    if host_ip:
        ip_to_int(host_ip, f"-p {spec!r}")
    c_lo, c_hi = _port_range(parts[-1], spec, "container port")
    h_lo, h_hi = _port_range(host_text, spec, "host port") if host_text else (0, 0)
    count = c_hi - c_lo + 1
    out: list[Binding] = []
    if h_lo and count > 1:
        if h_hi - h_lo + 1 != count:
            raise ConfigError(f"invalid -p {spec!r}: the host range {host_text} and the container range "
                              f"{parts[-1]} have different lengths")
        for i in range(count):
            out.append(_binding(proto, c_lo + i, host_ip, h_lo + i, h_lo + i))
    else:
        for i in range(count):
            out.append(_binding(proto, c_lo + i, host_ip, h_lo, h_hi))
    return out


def _binding(proto: str, cport: int, host_ip: str, h_lo: int, h_hi: int) -> Binding:
    return {"proto": proto, "container_port": cport, "host_ip": host_ip or "0.0.0.0",
            "host_port": h_lo, "host_port_end": h_hi}


def parse_expose(spec: str) -> list[str]:
    """``80``, ``80/udp`` or ``8000-8002/tcp`` (EXPOSE, ``--expose``) -> ["80/tcp", ...]."""
    body, _, proto = spec.partition("/")
    proto = proto.lower() or "tcp"
    if proto not in PROTOCOLS:
        raise ConfigError(f"invalid protocol {proto!r} in exposed port {spec!r}: use tcp, udp or sctp")
    lo, hi = _port_range(body, spec, "exposed port")
    return [f"{p}/{proto}" for p in range(lo, hi + 1)]


def _conflicts(a: Binding, proto: str, host_ip: str, port: int) -> bool:
    return (a["proto"] == proto and a["host_port"] == port
            and (a["host_ip"] == host_ip or "0.0.0.0" in (a["host_ip"], host_ip)))


def host_port_free(proto: str, host_ip: str, port: int) -> bool:
    """True if no socket of the host holds ``host_ip:port`` (a bind test; sctp is not checked)."""
    import socket

    if proto == "sctp":
        return True
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as s:
        if proto == "tcp":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host_ip, port))
        except OSError:
            return False
    return True


def _ephemeral(proto: str, host_ip: str) -> int:
    import socket

    kind = socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((host_ip, 0))
        port: int = s.getsockname()[1]
        return port


def allocate(bindings: list[Binding], taken: list[Binding]) -> list[Binding]:
    """Choose the host port of each binding: not held by another container nor by a host socket.

    Raises ConflictError naming the port when a fixed one is in use; nothing is reserved on failure.
    """
    done: list[Binding] = []
    for b in bindings:
        proto, host_ip = b["proto"], b["host_ip"]
        busy = taken + done
        if b["host_port"] == 0:
            for _ in range(64):
                port = _ephemeral(proto, host_ip)
                if not any(_conflicts(t, proto, host_ip, port) for t in busy):
                    break
            else:
                raise ConflictError(f"no free host port for container port {b['container_port']}/{proto}")
        else:
            port = 0
            reason = ""
            for candidate in range(b["host_port"], b["host_port_end"] + 1):
                holder = next((t for t in busy if _conflicts(t, proto, host_ip, candidate)), None)
                if holder is not None:
                    reason = f"already published by container {holder.get('container', '?')[:12]}"
                elif not host_port_free(proto, host_ip, candidate):
                    reason = "already in use by a process of the host"
                else:
                    port = candidate
                    break
            if not port:
                shown = (f"{b['host_port']}" if b["host_port"] == b["host_port_end"]
                         else f"{b['host_port']}-{b['host_port_end']}")
                raise ConflictError(
                    f"cannot publish {host_ip}:{shown} -> {b['container_port']}/{proto}: host port {reason}; "
                    "choose another host port or leave it out for a free one"
                )
        done.append({**b, "host_port": port, "host_port_end": port})
    return done


def ports_view(bindings: list[Binding], exposed: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """docker's NetworkSettings.Ports: {"80/tcp": [{"HostIp": ..., "HostPort": "8080"}], "443/tcp": None}."""
    out: dict[str, Any] = {key: None for key in exposed}
    for b in bindings:
        key = f"{b['container_port']}/{b['proto']}"
        entry = {"HostIp": b["host_ip"], "HostPort": str(b["host_port"])}
        if out.get(key) is None:
            out[key] = []
        out[key].append(entry)
    return out

"""Loaded by a Python process started with this folder on PYTHONPATH: every attempt to reach an address
beyond the loopback interface (a connect, a datagram, a name lookup) is refused and written, one line each,
to the file named by $SHIFTLAB_NETGUARD_LOG. The quiet-start test runs the app's server so."""

import ipaddress
import os
import socket

_LOG = os.environ.get("SHIFTLAB_NETGUARD_LOG")
_LOCAL_NAMES = {"localhost", "127.0.0.1", "::1", "0.0.0.0", "::", "", None}


def _is_local(host) -> bool:
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    if host in _LOCAL_NAMES or host == socket.gethostname():
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _refuse(what: str, host) -> None:
    with open(_LOG, "a") as log:
        log.write(f"{what} {host}\n")
    raise OSError(f"netguard: {what} to {host} refused")


def _guard(method_name: str):
    original = getattr(socket.socket, method_name)

    def guarded(self, address, *args):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address[0]):
            _refuse(method_name, address[0])
        return original(self, address, *args)

    return guarded


def _guard_lookup(original):
    def guarded(host, *args, **kwargs):
        if not _is_local(host):
            _refuse("getaddrinfo", host)
        return original(host, *args, **kwargs)

    return guarded


if _LOG:
    socket.socket.connect = _guard("connect")
    socket.socket.connect_ex = _guard("connect_ex")
    socket.getaddrinfo = _guard_lookup(socket.getaddrinfo)

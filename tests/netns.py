"""Hosts as Linux network namespaces, for tests and benchmarks that need real networks.

A :class:`Network` is a bridge in the root namespace (holding the ``.1`` address, so the test
process itself is a client on that network) and one namespace per :class:`Host`, joined to the
bridge by a veth pair. Cutting a host (:meth:`Host.cut`) takes its bridge-side end down: its
packets are dropped both ways without a reset, as a pulled cable or a partition would.

Needs root and ``ip``; :func:`check_support` says why not otherwise (callers skip, or fail in
CI). Everything made is removed by :meth:`Network.destroy`, which is safe to call twice.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path


class NoNamespace(Exception):
    """Why a network namespace could not be made here."""


def ip(*args) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *map(str, args)], capture_output=True, text=True, timeout=30)


def check_support() -> None:
    """Raise :class:`NoNamespace` with the reason when namespaces cannot be made here."""
    if os.geteuid() != 0:
        raise NoNamespace("not root")
    if shutil.which("ip") is None:
        raise NoNamespace("no `ip` command")


def free_subnet(prefix: str) -> int:
    """A third octet ``n`` with no address of ``<prefix>.<n>.*`` on this machine."""
    used = set(re.findall(rf"inet {re.escape(prefix)}\.(\d+)\.", ip("-o", "-4", "addr").stdout))
    free = [n for n in range(1, 255) if str(n) not in used]
    if not free:
        raise NoNamespace(f"no free {prefix}.<n>.0/24 subnet")
    return random.choice(free)


def _must(*args) -> None:
    done = ip(*args)
    if done.returncode:
        raise NoNamespace(f"`ip {' '.join(map(str, args))}` failed: {done.stderr.strip()}")


class Host:
    """One namespace on the network: its address, and how to run a process there."""

    def __init__(self, network: "Network", name: str, ns: str, address: str, bridge_veth: str,
                 ns_veth: str):
        self.network, self.name, self.ns, self.address = network, name, ns, address
        self.bridge_veth, self.ns_veth = bridge_veth, ns_veth
        self.processes: list[subprocess.Popen] = []

    def cmd(self, args) -> list[str]:
        return ["ip", "netns", "exec", self.ns, *map(str, args)]

    def run(self, args, timeout: float = 60, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(self.cmd(args), capture_output=True, text=True, timeout=timeout,
                              **kwargs)

    def start(self, args, env: dict, log: Path) -> subprocess.Popen:
        """Start a process in its own session (``ip netns exec`` execs it: the PID is the
        process's own), its output appended to ``log``; :meth:`kill` ends it."""
        with open(log, "ab") as out:
            proc = subprocess.Popen(self.cmd(args), env=env, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append(proc)
        return proc

    def kill(self, sig=signal.SIGKILL, timeout: float = 10) -> None:
        """Kill every process started here (each one's whole process group)."""
        procs, self.processes = self.processes, []
        for proc in procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, sig)
                except ProcessLookupError:
                    pass
        for proc in procs:
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)

    def signal(self, sig) -> None:
        """Send ``sig`` to every process group started here (SIGSTOP/SIGCONT: a pause)."""
        for proc in self.processes:
            if proc.poll() is None:
                os.killpg(proc.pid, sig)

    def cut(self) -> float:
        """Partition the host: its link goes down, nothing crosses either way. Returns the
        ``time.monotonic()`` of the cut."""
        _must("link", "set", self.bridge_veth, "down")
        return time.monotonic()

    def restore(self) -> None:
        _must("link", "set", self.bridge_veth, "up")

    def tcp_peers(self) -> list[str]:
        """Remote addresses of this host's TCP connections (``ss``), IPv4 mapped or not."""
        out = self.run(["ss", "-Htn"]).stdout
        peers = []
        for line in out.splitlines():
            fields = line.split()
            if len(fields) >= 5:
                peers.append(fields[4].rsplit(":", 1)[0].strip("[]").removeprefix("::ffff:"))
        return peers


class Network:
    """A bridge and its hosts on ``10.232.<n>.0/24`` (a free ``n``)."""

    PREFIX = "10.232"

    def __init__(self):
        check_support()
        self.tag = uuid.uuid4().hex[:5]
        self.bridge = f"p2b{self.tag}"
        self.hosts: list[Host] = []
        self.subnet = free_subnet(self.PREFIX)
        self.gateway = f"{self.PREFIX}.{self.subnet}.1"
        try:
            _must("link", "add", self.bridge, "type", "bridge")
            _must("addr", "add", f"{self.gateway}/24", "dev", self.bridge)
            _must("link", "set", self.bridge, "up")
        except NoNamespace:
            self.destroy()
            raise

    def contains(self, address: str) -> bool:
        return address.startswith(f"{self.PREFIX}.{self.subnet}.")

    def add_host(self, name: str) -> Host:
        i = len(self.hosts) + 2
        ns = f"p2ng-{self.tag}-{name}"
        host = Host(self, name, ns, f"{self.PREFIX}.{self.subnet}.{i}",
                    f"p2v{self.tag}{i}", f"p2n{self.tag}{i}")
        self.hosts.append(host)
        _must("netns", "add", ns)
        _must("link", "add", host.bridge_veth, "type", "veth", "peer", "name", host.ns_veth)
        _must("link", "set", host.ns_veth, "netns", ns)
        _must("link", "set", host.bridge_veth, "master", self.bridge)
        _must("link", "set", host.bridge_veth, "up")
        _must("-n", ns, "addr", "add", f"{host.address}/24", "dev", host.ns_veth)
        _must("-n", ns, "link", "set", host.ns_veth, "up")
        _must("-n", ns, "link", "set", "lo", "up")
        return host

    def destroy(self) -> None:
        """Kill every host's processes, then delete the namespaces, veths and bridge."""
        for host in self.hosts:
            host.kill()
        for host in self.hosts:
            ip("netns", "del", host.ns)  # takes its veth end, and with it the other
            ip("link", "del", host.bridge_veth)  # in case the pair was never moved
        self.hosts = []
        ip("link", "del", self.bridge)

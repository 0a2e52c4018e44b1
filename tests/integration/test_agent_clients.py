"""Issue 19, acceptance 1 end to end: the real consumer agent (``pulp2ng-agent run``, a
separate process with the real handlers) on a consumer host of its own, and the real clients
there driven only by what the agent wrote.

The consumer host is a network namespace joined to this host by a veth pair: the stack
listens on the host side's address (10.231.<n>.1) and the agent, its CLI, pip, ostree and
skopeo run inside (``ip netns exec``, address .2), so everything they fetch crosses the veth
(its byte counters are checked). Without root, ``ip`` or namespace support the module falls
back to loopback and says why (stdout and a warning in the summary); under ``CI=true`` the
namespace is required.

One module-scoped stack (HTTPS on, a non-default admin password since it binds beyond
loopback) and one agent serve every test; each test uses repositories of its own.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import uuid
import warnings
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, in_ci, require_tool
from tests.integration.test_docker import create_repo as docker_repo
from tests.integration.test_ostree import X86, ostree_repo, synced
from tests.integration.test_ostree import upstream_src  # noqa: F401  (fixture)
from tests.integration.test_python import dist, python_repo  # noqa: F401  (fixture)
from tests.netns import NoNamespace, check_support, free_subnet, ip
from tests.stack import Stack
from tests.unit.docker.conftest import images, registry  # noqa: F401  (fixtures)

API = "/pulp/api/v2"
#: Environment a client must not inherit: the tests' pip settings and the machine's CA
#: bundles (which would make a missing CA in the written config go unnoticed).
_SCRUB = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR")


def client_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PIP_") and k not in _SCRUB}
    return env | {"PIP_DISABLE_PIP_VERSION_CHECK": "1"} | extra


# -- the consumer host's network ------------------------------------------------------------


class ConsumerNet:
    """Where the consumer host lives: ``ns`` (None on loopback), the address the stack binds
    to and the consumer reaches (``server_ip``), and how to run a command there."""

    def __init__(self, ns=None, server_ip="127.0.0.1", host_veth=None, ns_veth=None,
                 reason=None):
        self.ns, self.server_ip = ns, server_ip
        self.host_veth, self.ns_veth, self.reason = host_veth, ns_veth, reason

    def cmd(self, args) -> list[str]:
        args = [str(a) for a in args]
        return ["ip", "netns", "exec", self.ns, *args] if self.ns else args

    def run(self, args, env=None, timeout=300, check=True) -> subprocess.CompletedProcess:
        done = subprocess.run(self.cmd(args), env=env or client_env(), capture_output=True,
                              text=True, timeout=timeout)
        assert not check or done.returncode == 0, (args, done.stdout, done.stderr)
        return done

    def rx_bytes(self) -> int:
        """Bytes the consumer host received over the veth (0 on loopback)."""
        if not self.ns:
            return 0
        return int(self.run(["cat", f"/sys/class/net/{self.ns_veth}/statistics/rx_bytes"])
                   .stdout)


def _make_namespace() -> ConsumerNet:
    check_support()
    n, tag = free_subnet("10.231"), uuid.uuid4().hex[:6]
    ns, host_veth, ns_veth = f"p2ng-{tag}", f"p2h{tag}", f"p2c{tag}"
    added = ip("netns", "add", ns)
    if added.returncode:
        raise NoNamespace(f"`ip netns add` failed: {added.stderr.strip()}")
    net = ConsumerNet(ns, f"10.231.{n}.1", host_veth, ns_veth)
    steps = [("link", "add", host_veth, "type", "veth", "peer", "name", ns_veth),
             ("link", "set", ns_veth, "netns", ns),
             ("addr", "add", f"10.231.{n}.1/30", "dev", host_veth),
             ("link", "set", host_veth, "up"),
             ("-n", ns, "addr", "add", f"10.231.{n}.2/30", "dev", ns_veth),
             ("-n", ns, "link", "set", ns_veth, "up"),
             ("-n", ns, "link", "set", "lo", "up")]
    for step in steps:
        done = ip(*step)
        if done.returncode:
            _remove_namespace(net)
            raise NoNamespace(f"`ip {' '.join(step)}` failed: {done.stderr.strip()}")
    return net


def _remove_namespace(net: ConsumerNet) -> None:
    ip("netns", "del", net.ns)  # takes its end of the pair, and with it the other
    ip("link", "del", net.host_veth)  # in case the pair was never moved


@pytest.fixture(scope="module")
def consumer_net():
    try:
        net = _make_namespace()
    except NoNamespace as exc:
        if in_ci():
            pytest.fail(f"CI needs the consumer's network namespace: {exc}")
        reason = f"consumer agent on loopback, not in a network namespace: {exc}"
        print(reason)
        warnings.warn(pytest.PytestWarning(reason))
        yield ConsumerNet(reason=str(exc))
        return
    print(f"consumer host: namespace {net.ns}, server at {net.server_ip}")
    try:
        yield net
    finally:
        _remove_namespace(net)


@pytest.fixture(scope="module")
def stack(consumer_net, database, tmp_path_factory):
    s = Stack(tmp_path_factory.mktemp("agent-clients-stack"), database, workers=2,
              scheduler=True, https=True, host=consumer_net.server_ip,
              admin_password=f"pw-{uuid.uuid4().hex}")
    yield s
    s.stop()


# -- the agent --------------------------------------------------------------------------------


class Agent:
    """The consumer: its CLI and daemon (inside the namespace), its state dir and root."""

    OSTREE_REPO = "srv/ostree/repo"  # set with `handler-config`: not the handler's default

    def __init__(self, net: ConsumerNet, stack: Stack, base: Path):
        self.net, self.stack = net, stack
        self.state, self.root, self.log = base / "state", base / "root", base / "agent.log"
        self.id = f"c-{uuid.uuid4().hex[:8]}"
        self.proc = None
        # The real handlers only (no test plugin), and the machine's CA bundles out of reach.
        self.env = {k: v for k, v in client_env().items() if k != "PULP2NG_TEST_PLUGINS"}

    def cli(self, *args) -> str:
        return self.net.run([sys.executable, "-m", "pulp2ng.agent.cli", "--state-dir",
                             self.state, *args], env=self.env, timeout=60).stdout

    def start(self) -> None:
        out = open(self.log, "ab")
        self.proc = subprocess.Popen(
            self.net.cmd([sys.executable, "-m", "pulp2ng.agent.cli", "--state-dir",
                          self.state, "run", "--root", self.root]),
            env=self.env, stdout=out, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def request(self, *args) -> dict:
        """Run ``bind``/``unbind`` with the CLI; the agent's finished task report."""
        (task_id,) = re.findall(r"[0-9a-f]{8}-[0-9a-f-]{27}", self.cli(*args))
        report = self.stack.api.wait_task(task_id, 60)
        assert report["state"] == "finished", (report, self.log.read_text()[-3000:])
        return report

    def binding(self, repo_id: str, distributor_id: str):
        return self.stack.api.get(f"{API}/consumers/{self.id}/bindings/{repo_id}/"
                                  f"{distributor_id}/")


@pytest.fixture(scope="module")
def agent(consumer_net, stack, tmp_path_factory):
    a = Agent(consumer_net, stack, tmp_path_factory.mktemp("consumer"))
    password = a.state.parent / "password"
    password.write_text(stack.api.session.auth[1] + "\n")
    a.cli("register", "--id", a.id, "--server", stack.https_base, "--ca", stack.ca_cert,
          "--password-file", password)
    assert f"ostree.repo = '{Agent.OSTREE_REPO}'" in a.cli("handler-config", "ostree.repo",
                                                           Agent.OSTREE_REPO)
    a.start()
    yield a
    a.stop()


def finished(reports) -> list[dict]:
    assert all(r["state"] == "finished" for r in reports), [
        (r["task_type"], r["state"], r["error"]) for r in reports]
    return reports


def delete_repository(api, repo_id: str) -> list[dict]:
    """Delete ``repo_id`` and wait for the agent requests (unbinds) it spawned."""
    response = api.delete(f"{API}/repositories/{repo_id}/")
    assert response.status_code == 202, response.text
    return finished(api.wait_all(response.json()["spawned_tasks"][0]["task_id"], 60))


# -- python -----------------------------------------------------------------------------------


def test_python_binding_pip_rebind_unbind_and_repository_deletion(
        stack, api, agent, consumer_net, dist, serve, tmp_path):  # noqa: F811
    tree = tmp_path / "pypi"
    tree.mkdir()
    feed, _ = serve(tree)
    subprocess.run([sys.executable, str(FIXTURES / "make_simple_index.py"), str(dist),
                    str(tree), "--base-url", feed], check=True, capture_output=True)
    repo_id = python_repo(api, feed, includes=["shelf-reader==0.2", "scipy>=1.0"])
    finished(api.sync(repo_id, timeout=120))

    report = agent.request("bind", repo_id, "python_distributor")
    conf, bundle = agent.root / "pip" / "pip.conf", agent.root / "pip" / "ca.pem"
    index = f"{stack.https_base}/pulp/python/web/{repo_id}/simple/"
    assert report["result"] == {"pip_conf": str(conf), "index_url": index, "mode": "index"}
    assert index.startswith(
        f"https://{consumer_net.server_ip}:")
    assert f"index-url = {index}" in conf.read_text()
    assert f"cert = {bundle}" in conf.read_text()
    # pip >= 24.2 ignores ``cert`` (truststore): the handler documents SSL_CERT_FILE too.
    pip_env = client_env(PIP_CONFIG_FILE=str(conf), SSL_CERT_FILE=str(bundle))

    def pip(*args, wheels) -> str:
        before = consumer_net.rx_bytes()
        got = consumer_net.run([sys.executable, "-m", "pip", *args, "-v", "--no-cache-dir",
                                "--only-binary", ":all:"], env=pip_env)
        # What pip fetched came over the veth: at least the wheels themselves.
        size = sum((dist / f"{w}-py3-none-any.whl").stat().st_size for w in wheels)
        assert not consumer_net.ns or consumer_net.rx_bytes() - before > size
        return got.stdout

    out = pip("download", "--no-deps", "scipy==1.1", "-d", tmp_path / "dl",
              wheels=["scipy-1.1"])
    assert f"Looking in indexes: {index}" in out
    assert (tmp_path / "dl" / "scipy-1.1-py3-none-any.whl").read_bytes() == (
        dist / "scipy-1.1-py3-none-any.whl").read_bytes()
    pip("install", "shelf-reader==0.2", "--target", tmp_path / "site",
              wheels=["shelf_reader-0.2", "scipy-1.1"])
    installed = {p.name.lower() for p in (tmp_path / "site").iterdir()}
    assert {"shelf_reader-0.2.dist-info", "scipy-1.1.dist-info"} <= installed, installed

    # A relative_url change: the update spawns a bind for the agent, which rewrites pip.conf.
    moved = f"moved/{repo_id}"
    response = api.put(f"{API}/repositories/{repo_id}/distributors/python_distributor/",
                       json={"distributor_config": {"relative_url": moved}})
    assert response.status_code == 202, response.text
    reports = finished(api.wait_all(response.json()["spawned_tasks"][0]["task_id"], 60))
    assert len(reports) == 2  # the update and the agent's bind
    new_index = f"{stack.https_base}/pulp/python/web/{moved}/simple/"
    assert f"index-url = {new_index}" in conf.read_text() and index not in conf.read_text()
    response = api.post(f"{API}/repositories/{repo_id}/actions/publish/",
                        json={"id": "python_distributor"})
    finished(api.wait_report(response, 60))
    out = pip("download", "--no-deps", "scipy==1.0", "-d", tmp_path / "dl",
              wheels=["scipy-1.0"])
    assert f"Looking in indexes: {new_index}" in out
    assert (tmp_path / "dl" / "scipy-1.0-py3-none-any.whl").is_file()

    agent.request("unbind", repo_id, "python_distributor")
    assert not any(p.exists() for p in (conf, bundle, agent.root / "pip" / "bindings.json"))
    assert agent.binding(repo_id, "python_distributor").status_code == 404

    # Deleting a bound repository unbinds it: the agent removes the config.
    agent.request("bind", repo_id, "python_distributor")
    assert conf.exists()
    reports = delete_repository(api, repo_id)
    assert [r["task_type"] for r in reports[1:]] == ["pulp2ng.agent.unbind"], reports
    assert not conf.exists() and not bundle.exists()
    assert agent.binding(repo_id, "python_distributor").status_code == 404


# -- ostree -----------------------------------------------------------------------------------


def test_ostree_binding_pull_unbind_and_repository_deletion(
        stack, api, agent, consumer_net, upstream_src, serve, tmp_path):  # noqa: F811
    ostree = require_tool("ostree")
    src, heads = upstream_src
    up = tmp_path / "up" / "repo"
    shutil.copytree(src, up, symlinks=True)
    feed, _ = serve(up.parent)
    repo_id = ostree_repo(api, feed + "repo/", depth=-1)
    synced(api, repo_id)

    report = agent.request("bind", repo_id, "ostree_web_distributor")
    repo = agent.root / Agent.OSTREE_REPO  # the configured repository, not the default one
    url = f"{stack.https_base}/pulp/ostree/web/{repo_id}/"
    assert report["result"] == {"repo": str(repo), "remote": repo_id, "url": url}
    assert not (agent.root / "ostree" / "repo").exists()

    def run(*args) -> str:
        return consumer_net.run([ostree, f"--repo={repo}", *args]).stdout

    assert run("remote", "show-url", repo_id).strip() == url
    before = consumer_net.rx_bytes()
    run("pull", repo_id, X86)  # through the remote the agent added (its tls-ca-path)
    assert run("rev-parse", f"{repo_id}:{X86}").strip() == heads[X86]
    assert not consumer_net.ns or consumer_net.rx_bytes() - before > 1000

    agent.request("unbind", repo_id, "ostree_web_distributor")
    assert run("remote", "list").strip() == ""
    assert agent.binding(repo_id, "ostree_web_distributor").status_code == 404

    agent.request("bind", repo_id, "ostree_web_distributor")
    assert run("remote", "list").split() == [repo_id]
    delete_repository(api, repo_id)
    assert run("remote", "list").strip() == ""
    assert agent.binding(repo_id, "ostree_web_distributor").status_code == 404


# -- docker -----------------------------------------------------------------------------------


def test_docker_binding_skopeo_unbind_and_repository_deletion(
        stack, api, agent, consumer_net, registry, tmp_path):  # noqa: F811
    skopeo = require_tool("skopeo")
    name = f"test/app-{uuid.uuid4().hex[:6]}"
    repo_id = docker_repo(api, registry.url, name, upstream_name="fixtures/app", tags=["v1"])
    finished(api.sync(repo_id))

    agent.request("bind", repo_id, "docker_web")
    host = f"{consumer_net.server_ip}:{stack.https_port}"
    dropin = agent.root / "containers" / "registries.conf.d" / f"pulp2ng-{repo_id}.conf"
    certs = agent.root / "containers" / "certs.d" / host
    assert f'location = "{host}"' in dropin.read_text()
    assert "insecure = false" in dropin.read_text()
    assert (certs / "ca.crt").read_text() == stack.ca_cert.read_text()

    # skopeo 1.9 ignores CONTAINERS_REGISTRIES_CONF: --registries-conf, and the CA directory
    # the handler wrote (what /etc/containers/certs.d would hold with root=/etc).
    before = consumer_net.rx_bytes()
    got = consumer_net.run([skopeo, "--registries-conf", dropin, "inspect", "--cert-dir",
                            certs, f"docker://{host}/{name}:v1"], timeout=120)
    assert not consumer_net.ns or consumer_net.rx_bytes() - before > 1000
    upstream = subprocess.run([skopeo, "inspect", "--tls-verify=false",
                               f"docker://{registry.url.split('://')[1]}/fixtures/app:v1"],
                              capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(got.stdout)["Digest"] == json.loads(upstream.stdout)["Digest"]

    agent.request("unbind", repo_id, "docker_web")
    assert not dropin.exists() and not certs.exists()
    assert agent.binding(repo_id, "docker_web").status_code == 404

    agent.request("bind", repo_id, "docker_web")
    assert dropin.exists()
    delete_repository(api, repo_id)
    assert not dropin.exists() and not (certs / "ca.crt").exists()
    assert agent.binding(repo_id, "docker_web").status_code == 404

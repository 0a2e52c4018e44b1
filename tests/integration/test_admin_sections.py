"""``pulp2ng-admin``'s shared type-section commands (sync schedules, content copy, remove and
upload) and the docker, ostree and rpm sections, driven as a subprocess against the stack."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import pty
import re
import select
import subprocess
import termios
import time
import uuid

import pytest

from tests.integration.test_admin_cli import ADMIN, Cli, error_line
from tests.integration.test_iso import unique_upstream

API = "/pulp/api/v2"


@pytest.fixture
def cli(stack, tmp_path):
    return Cli(tmp_path / "config", stack.api.base)


def unit_names(api, repo_id, type_id="iso"):
    found = api.post(f"{API}/repositories/{repo_id}/search/units/",
                     json={"criteria": {"type_ids": [type_id]}}).json()
    return sorted(a["metadata"].get("name") for a in found)


def test_iso_content_copy_remove_and_sync_schedules(cli, api, serve, tmp_path):
    unique_upstream(tmp_path / "up", count=3)
    feed, _ = serve(tmp_path / "up")
    src, dst = f"iso-{uuid.uuid4().hex[:8]}", f"iso-{uuid.uuid4().hex[:8]}"
    cli("iso", "repo", "create", "--repo-id", src, "--feed", feed)
    cli("iso", "repo", "create", "--repo-id", dst)
    try:
        cli("iso", "sync", "run", "--repo-id", src)
        out = cli("iso", "content", "copy", "--from-repo-id", src, "--to-repo-id", dst,
                  "--str-eq", "name=file-1.iso").stdout
        assert f"Copy from repository {src} into repository {dst}: finished (1 units)" in out
        assert unit_names(api, dst) == ["file-1.iso"]
        finals = cli.json("iso", "content", "copy", "--from-repo-id", src, "--to-repo-id",
                          dst, "--match", "name=^file-[23]")
        assert [t["state"] for t in finals] == ["finished"]
        assert finals[0] == api.task(finals[0]["task_id"])
        assert unit_names(api, dst) == ["file-1.iso", "file-2.iso", "file-3.iso"]

        out = cli("iso", "content", "remove", "--repo-id", dst, "--str-eq",
                  "name=file-2.iso").stdout
        assert f"Unassociate of repository {dst}: finished (removed 1)" in out
        assert unit_names(api, dst) == ["file-1.iso", "file-3.iso"]
        refused = cli("iso", "content", "remove", "--repo-id", dst, ok=False)
        assert refused.returncode == 2 and "--all" in error_line(refused)
        assert unit_names(api, dst) == ["file-1.iso", "file-3.iso"]
        cli("iso", "content", "remove", "--repo-id", dst, "--all")
        assert unit_names(api, dst) == []
        assert unit_names(api, src) == ["file-1.iso", "file-2.iso", "file-3.iso"]

        made = cli.json("iso", "sync", "schedules", "create", "--repo-id", src,
                        "--schedule", "2030-01-01T00:00Z/P1D", "--failure-threshold", "3")
        assert made["schedule"] == "2030-01-01T00:00Z/P1D" and made["failure_threshold"] == 3
        base = f"{API}/repositories/{src}/importers/iso_importer/schedules/sync/"
        assert cli.json("iso", "sync", "schedules", "list", "--repo-id", src) == api.get(
            base).json()
        assert made["_id"] in cli("iso", "sync", "schedules", "list", "--repo-id", src).stdout
        cli("iso", "sync", "schedules", "delete", "--repo-id", src, "--schedule-id",
            made["_id"])
        assert api.get(base).json() == []
        assert "No sync schedules" in cli("iso", "sync", "schedules", "list", "--repo-id",
                                          src).stdout
        bad = cli("iso", "sync", "schedules", "create", "--repo-id", src, "--schedule",
                  "tomorrow", ok=False)
        assert "HTTP 400" in error_line(bad)
    finally:
        for repo_id in (src, dst):
            api.delete(f"{API}/repositories/{repo_id}/")


def test_iso_upload_is_chunked_and_resumes_an_interrupted_upload(cli, api, tmp_path):
    repo_id = f"iso-{uuid.uuid4().hex[:8]}"
    cli("iso", "repo", "create", "--repo-id", repo_id)
    try:
        first = tmp_path / f"up-{uuid.uuid4().hex[:6]}.iso"
        first.write_bytes(os.urandom(300_000))
        out = cli("iso", "content", "upload", "--repo-id", repo_id, "--file", str(first),
                  "--chunk-size", "65536").stdout
        assert re.search(rf"Uploaded {first.name}: 300\.0 kB in [\d.]+ s \([\d.]+ \w?B/s\)",
                         out), out
        assert f"Import upload of repository {repo_id}: finished" in out
        found = cli.json("iso", "content", "search", "--repo-id", repo_id)
        assert [(a["metadata"]["name"], a["metadata"]["checksum"]) for a in found] == [
            (first.name, hashlib.sha256(first.read_bytes()).hexdigest())]

        # An upload interrupted after 100 000 bytes: the resume point the client keeps.
        second = tmp_path / f"up-{uuid.uuid4().hex[:6]}.iso"
        data = os.urandom(250_000)
        second.write_bytes(data)
        upload_id = api.post(f"{API}/content/uploads/").json()["upload_id"]
        assert api.put(f"{API}/content/uploads/{upload_id}/0/",
                       data=data[:100_000]).status_code == 200
        state = cli.home / "pulp2ng" / "uploads.json"
        state.parent.mkdir(parents=True, exist_ok=True)
        st = second.stat()
        key = f"{api.base}|{second.resolve()}|{st.st_size}|{st.st_mtime_ns}"
        state.write_text(json.dumps({key: {"upload_id": upload_id, "offset": 100_000}}))
        done = cli.json("iso", "content", "upload", "--repo-id", repo_id, "-f", str(second))
        assert [t["state"] for t in done] == ["finished"]
        human = cli("iso", "content", "search", "--repo-id", repo_id, "--str-eq",
                    f"name={second.name}").stdout
        assert second.name in human
        stored = cli.json("iso", "content", "search", "--repo-id", repo_id, "--str-eq",
                          f"name={second.name}")
        assert stored[0]["metadata"]["checksum"] == hashlib.sha256(data).hexdigest()
        assert upload_id not in api.get(f"{API}/content/uploads/").json()["upload_ids"]
        assert json.loads(state.read_text()) == {}

        resumed_text = tmp_path / f"up-{uuid.uuid4().hex[:6]}.iso"
        resumed_text.write_bytes(os.urandom(1000))
        upload_id = api.post(f"{API}/content/uploads/").json()["upload_id"]
        st = resumed_text.stat()
        state.write_text(json.dumps({f"{api.base}|{resumed_text.resolve()}|{st.st_size}|"
                                     f"{st.st_mtime_ns}": {"upload_id": upload_id,
                                                           "offset": 0}}))
        out = cli("iso", "content", "upload", "--repo-id", repo_id, "-f",
                  str(resumed_text)).stdout
        assert f"Resuming the upload of {resumed_text.name} at byte 0 of 1000." in out
    finally:
        api.delete(f"{API}/repositories/{repo_id}/")


def test_docker_ostree_and_rpm_create_with_their_options(cli, api):
    ids = {t: f"{t}-{uuid.uuid4().hex[:8]}" for t in ("docker", "ostree", "rpm")}
    try:
        cli("docker", "repo", "create", "--repo-id", ids["docker"],
            "--feed", "https://registry.example.com", "--upstream-name", "library/busybox",
            "--tags", "1.36,latest", "--exclude-tags", "*-musl", "--remove-missing",
            "--repo-registry-id", f"admin/{ids['docker']}")
        repo = api.get(f"{API}/repositories/{ids['docker']}/", params={"details": "true"}
                       ).json()
        assert repo["notes"]["_repo-type"] == "docker-repo"
        assert repo["importers"][0]["config"] == {
            "feed": "https://registry.example.com", "upstream_name": "library/busybox",
            "tags": ["1.36", "latest"], "exclude_tags": ["*-musl"], "remove_missing": True}
        assert repo["distributors"][0]["id"] == "docker_web_distributor_name_cli"
        assert repo["distributors"][0]["config"] == {"repo-registry-id":
                                                     f"admin/{ids['docker']}"}
        assert ids["docker"] in [r["id"] for r in cli.json("docker", "repo", "list")]

        cli("ostree", "repo", "create", "--repo-id", ids["ostree"], "--feed",
            "http://127.0.0.1:9/", "--branches", "fedora/39/x86_64/silverblue",
            "--depth", "2", "--publish-depth", "1")
        repo = api.get(f"{API}/repositories/{ids['ostree']}/", params={"details": "true"}
                       ).json()
        assert repo["importers"][0]["config"] == {
            "feed": "http://127.0.0.1:9/", "branches": ["fedora/39/x86_64/silverblue"],
            "depth": 2}
        assert repo["distributors"][0]["config"] == {"depth": 1}
        cli("ostree", "repo", "update", "--repo-id", ids["ostree"], "--branches", "")
        assert "branches" not in api.get(
            f"{API}/repositories/{ids['ostree']}/importers/ostree_web_importer/"
        ).json()["config"]

        created = cli.json("rpm", "repo", "create", "--repo-id", ids["rpm"], "--feed",
                           "http://127.0.0.1:9/", "--skip", "erratum,drpm",
                           "--require-signature", "--allowed-keys", "abcd1234",
                           "--serve-http")
        assert created["id"] == ids["rpm"] and created["notes"]["_repo-type"] == "rpm-repo"
        repo = api.get(f"{API}/repositories/{ids['rpm']}/", params={"details": "true"}
                       ).json()
        assert repo["importers"][0]["config"] == {
            "feed": "http://127.0.0.1:9/", "skip": ["erratum", "drpm"],
            "require_signature": True, "allowed_keys": ["abcd1234"]}
        assert repo["distributors"][0]["config"] == {"relative_url": ids["rpm"],
                                                     "http": True, "https": True}
        usage = cli("rpm", "repo", "update", "--repo-id", ids["rpm"], "--skip", "rpms",
                    ok=False)
        assert usage.returncode == 2 and "--skip" in error_line(usage)
    finally:
        for repo_id in ids.values():
            api.delete(f"{API}/repositories/{repo_id}/")


def test_rpm_upload_search_copy(cli, api, rpm_upstream):
    package = next(p for p in sorted(rpm_upstream["path"].rglob("*.rpm"))
                   if not p.name.endswith(".src.rpm"))
    src, dst = f"rpm-{uuid.uuid4().hex[:8]}", f"rpm-{uuid.uuid4().hex[:8]}"
    for repo_id in (src, dst):
        cli("rpm", "repo", "create", "--repo-id", repo_id)
    try:
        out = cli("rpm", "content", "upload", "--repo-id", src, "--file", str(package)).stdout
        assert f"Import upload of repository {src}: finished" in out
        found = cli.json("rpm", "content", "search", "--repo-id", src)
        assert [a["metadata"]["filename"] for a in found] == [package.name]
        name = found[0]["metadata"]["name"]
        assert name in cli("rpm", "content", "search", "--repo-id", src).stdout
        cli("rpm", "content", "copy", "--from-repo-id", src, "--to-repo-id", dst,
            "--str-eq", f"name={name}")
        assert [a["metadata"]["filename"] for a in cli.json(
            "rpm", "content", "search", "--repo-id", dst)] == [package.name]
        publish = cli("rpm", "publish", "run", "--repo-id", dst).stdout
        assert f"Publish of repository {dst}: finished" in publish

        # Another of the section's types: --type selects it, and its table has its fields.
        source = next(p for p in sorted(rpm_upstream["path"].rglob("*.src.rpm")))
        cli("rpm", "content", "upload", "--repo-id", src, "--file", str(source))
        srpms = cli.json("rpm", "content", "search", "--repo-id", src, "--type", "srpm")
        assert [a["metadata"]["filename"] for a in srpms] == [source.name]
        assert [a["metadata"]["filename"] for a in cli.json(
            "rpm", "content", "search", "--repo-id", src)] == [package.name]
        human = cli("rpm", "content", "search", "--repo-id", src, "--type", "srpm").stdout
        assert srpms[0]["metadata"]["name"] in human and "Name" in human
        assert "No erratum units." in cli("rpm", "content", "search", "--repo-id", src,
                                          "--type", "erratum").stdout
    finally:
        for repo_id in (src, dst):
            api.delete(f"{API}/repositories/{repo_id}/")


def _take_terminal():
    """In the child, before exec: the pty (its stdin) becomes the controlling terminal of a
    new session, so ^C written to the master reaches it as SIGINT, as at a real terminal."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def run_in_pty(argv, env, timeout=120, replies=()) -> tuple[int, str]:
    """Run ``argv`` with a pseudo-terminal as its controlling terminal and stdin/stdout/stderr:
    what an admin sees. ``replies`` are ``(regex, bytes)`` pairs typed in order: each once the
    output after the previous reply's match matches its regex (``b"\\x03"`` is Ctrl-C)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                            close_fds=True, start_new_session=True, preexec_fn=_take_terminal)
    os.close(slave)
    pending, seen = list(replies), 0
    chunks, deadline = [], time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
                screen = b"".join(chunks).decode("utf-8", "replace")
                if pending and (found := re.search(pending[0][0], screen[seen:])):
                    seen += found.end()
                    os.write(master, pending.pop(0)[1])
            elif proc.poll() is not None:
                break
        else:
            proc.kill()
            raise AssertionError("the command did not end in time: "
                                 + b"".join(chunks).decode("utf-8", "replace")[-2000:])
    finally:
        os.close(master)
    screen = b"".join(chunks).decode("utf-8", "replace")
    assert not pending, f"never saw {pending[0][0]!r} to answer: {screen[-2000:]}"
    return proc.wait(10), screen


def plain(screen: str) -> str:
    """A terminal's output without its escape sequences (colours, cursor moves)."""
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen)


def terminal_env(cli) -> dict:
    return {**cli.env, "TERM": "xterm-256color", "COLUMNS": "160", "LINES": "40"}


def slow_iso_repo(cli, serve, tmp_path, count=8, max_speed=300_000) -> str:
    """An iso repository whose sync downloads ``count`` files of 128 KiB one at a time at
    ``max_speed`` bytes/s (8 at 300 000: ~3.5 s); the caller deletes it."""
    unique_upstream(tmp_path / "up", count=count, size=128 * 1024)
    feed, _ = serve(tmp_path / "up")
    repo_id = f"iso-{uuid.uuid4().hex[:8]}"
    cli("iso", "repo", "create", "--repo-id", repo_id, "--feed", feed,
        "--max-downloads", "1", "--max-speed", str(max_speed))
    return repo_id


def test_a_long_sync_shows_live_progress_on_a_terminal(cli, api, serve, tmp_path):
    repo_id = slow_iso_repo(cli, serve, tmp_path)
    try:
        code, screen = run_in_pty([ADMIN, "iso", "sync", "run", "--repo-id", repo_id],
                                  terminal_env(cli))
        assert code == 0, screen
        assert "\x1b[" in screen  # redrawn in place (cursor moves), not printed line by line
        assert "━" in screen  # the bar
        counts = set(re.findall(r"(\d)/8 isos", screen))
        assert len(counts) >= 3 and "8" in counts, screen  # the count moved while it ran
        percents = {int(p) for p in re.findall(r"(\d{1,3})%", screen)}
        assert len(percents) >= 3 and 100 in percents and min(percents) < 100, percents
        assert re.search(r"\d+(\.\d)? kB/1\.0 MB", screen)  # bytes of the total
        text = plain(screen)
        assert f"Sync of repository {repo_id}: finished (added 8, removed 0" in text
        assert f"Publish of repository {repo_id}: finished" in text
    finally:
        api.delete(f"{API}/repositories/{repo_id}/")


@pytest.mark.parametrize("answer", ["y", "n"])
def test_ctrl_c_during_a_sync_asks_whether_to_cancel_its_task(cli, api, serve, tmp_path,
                                                              answer):
    repo_id = slow_iso_repo(cli, serve, tmp_path, count=8, max_speed=150_000)  # ~7 s
    try:
        code, screen = run_in_pty(
            [ADMIN, "iso", "sync", "run", "--repo-id", repo_id], terminal_env(cli),
            replies=[(r"[1-7]/8 isos", b"\x03"),  # once it is under way: Ctrl-C
                     (r"Cancel task \S+\? \[y/N\]: ", f"{answer}\n".encode())])
        text = plain(screen)
        assert code == 130, text
        task_id = re.search(r"Cancel task (\S+)\?", text).group(1)
        assert f"Sync of repository {repo_id}" not in text  # stopped following before the end
        if answer == "y":
            assert f"Error: task {task_id} canceled" in text
            assert api.wait_task(task_id, timeout=30)["state"] == "canceled"
            assert len(unit_names(api, repo_id)) < 8
        else:
            assert f"Error: stopped following; task {task_id} goes on in the background" in text
            assert api.wait_task(task_id, timeout=60)["state"] == "finished"
            assert len(unit_names(api, repo_id)) == 8
    finally:
        api.delete(f"{API}/repositories/{repo_id}/")


def test_an_upload_on_a_terminal_shows_its_transfer_speed(cli, api, tmp_path):
    repo_id = f"iso-{uuid.uuid4().hex[:8]}"
    cli("iso", "repo", "create", "--repo-id", repo_id)
    try:
        file = tmp_path / f"big-{uuid.uuid4().hex[:6]}.iso"
        file.write_bytes(os.urandom(4 * 1024 * 1024))
        code, screen = run_in_pty([ADMIN, "iso", "content", "upload", "--repo-id", repo_id,
                                   "--file", str(file), "--chunk-size", str(256 * 1024)],
                                  terminal_env(cli))
        text = plain(screen)
        assert code == 0, text
        # The bar's line: the file, the bar, bytes of the total, then rich's transfer speed.
        bars = re.findall(rf"{file.name} +━+ +([\d.]+)/4\.2 MB +([\d.]+ [kMG]?B/s)", text)
        assert bars and bars[-1][0] == "4.2", text
        assert re.search(rf"Uploaded {file.name}: 4\.2 MB in [\d.]+ s \([\d.]+ [kMG]?B/s\)\.",
                         text), text
        assert f"Import upload of repository {repo_id}: finished" in text
        assert unit_names(api, repo_id) == [file.name]
    finally:
        api.delete(f"{API}/repositories/{repo_id}/")

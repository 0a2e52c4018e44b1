"""The web dashboard at ``/pulp/ui/``: sessions, CSRF, permissions, live tasks.

Plain HTTP (requests) for the login flow and the refusals, then a real headless Chromium
(Playwright driving the system's ``/usr/bin/chromium``; never a downloaded browser) that
logs in, presses Sync and watches the task finish. ``PULP2NG_DASHBOARD_SCREENSHOTS=1``
saves each page into docs/ (how docs/dashboard-*.png are made).
"""

from __future__ import annotations

import os
import re
import time
import uuid
from pathlib import Path

import pytest
import requests

from tests.conftest import require_tool
from tests.integration.test_iso import iso_repo, unique_upstream
from tests.stack import Stack

API = "/pulp/api/v2"
UI = "/pulp/ui"
DOCS = Path(__file__).resolve().parents[2] / "docs"
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def users(api):
    """Users with unique names and the grants given them; deleted afterwards."""
    made = []

    class Users:
        def user(self, *grants: tuple[str, list[str]]) -> tuple[str, str]:
            login, password = f"ui-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
            r = api.post(f"{API}/users/", json={"login": login, "password": password})
            assert r.status_code == 201, r.text
            made.append(login)
            for resource, operations in grants:
                r = api.post(f"{API}/permissions/actions/grant_to_user/",
                             json={"login": login, "resource": resource,
                                   "operations": operations})
                assert r.status_code == 200, r.text
            return login, password

    yield Users()
    for login in made:
        api.delete(f"{API}/users/{login}/")


def token(html: str) -> str:
    match = _TOKEN.search(html)
    assert match, html[:500]
    return match.group(1)


def browser_session(api, login: str, password: str) -> tuple[requests.Session, str]:
    """A cookie session logged in through the form, and its CSRF token."""
    s = requests.Session()
    form = s.get(f"{api.base}{UI}/login/")
    r = s.post(f"{api.base}{UI}/login/", data={"username": login, "password": password,
                                                "csrf_token": token(form.text)},
               allow_redirects=False)
    assert r.status_code == 302, r.text
    page = s.get(f"{api.base}{UI}/")
    assert page.status_code == 200 and login in page.text
    return s, token(page.text)


def refused(response) -> bool:
    return response.status_code == 403 and response.json()["error"]["code"] == "PLP0026"


def repo_tasks(api, repo_id: str) -> list[dict]:
    return api.get(f"{API}/tasks/", params={"tag": f"pulp:repository:{repo_id}"}).json()


def test_anonymous_visits_get_the_login_page_never_a_401(api):
    for path in ("/", "/tasks/", "/workers/", "/consumers/", "/repositories/nope/",
                 "/tasks.json"):
        r = requests.get(f"{api.base}{UI}{path}", allow_redirects=False)
        assert r.status_code == 302, (path, r.status_code)
        assert r.headers["Location"].startswith(f"{UI}/login/?next=")
        followed = requests.get(f"{api.base}{UI}{path}")
        assert followed.status_code == 200 and 'id="login-form"' in followed.text
    r = requests.get(f"{api.base}{UI}/login/")
    assert "default-src 'self'" in r.headers["Content-Security-Policy"]
    assert "https://" not in r.text  # nothing from a CDN
    css = requests.get(f"{api.base}{UI}/static/dashboard.css")
    assert css.status_code == 200 and "text/css" in css.headers["Content-Type"]
    # Unknown dashboard URLs are 404s for every method (the published-content route skips ui/).
    assert requests.post(f"{api.base}{UI}/nothing/here").status_code == 404


def test_login_sets_a_protected_cookie_and_goes_where_it_was_asked(api, users):
    login, password = users.user()
    s = requests.Session()
    form = s.get(f"{api.base}{UI}/login/", params={"next": f"{UI}/workers/"})
    csrf = token(form.text)
    bad = s.post(f"{api.base}{UI}/login/", data={"username": login, "password": "wrong",
                                                  "csrf_token": csrf})
    assert bad.status_code == 200 and "Invalid username or password" in bad.text
    assert refused(s.post(f"{api.base}{UI}/login/",
                          data={"username": login, "password": password}))
    r = s.post(f"{api.base}{UI}/login/", allow_redirects=False,
               data={"username": login, "password": password, "csrf_token": csrf,
                     "next": f"{UI}/workers/"})
    assert r.status_code == 302 and r.headers["Location"] == f"{UI}/workers/"
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith("pulp2ng_ui=") and "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie and f"Path={UI}/" in cookie
    workers = s.get(f"{api.base}{UI}/workers/")
    assert workers.status_code == 200 and "@" in workers.text  # live worker names
    # The CSRF token changed at login (no fixation), and an off-site next is ignored.
    assert token(workers.text) != csrf
    fresh = requests.Session()
    fresh_token = token(fresh.get(f"{api.base}{UI}/login/").text)
    again = fresh.post(f"{api.base}{UI}/login/", allow_redirects=False,
                       data={"username": login, "password": password,
                             "next": "//evil.example/", "csrf_token": fresh_token})
    assert again.headers["Location"] == f"{UI}/"
    # The REST API ignores the cookie: it is no credential there.
    assert s.get(f"{api.base}{API}/repositories/").status_code == 401
    # Logging out ends the session.
    assert s.post(f"{api.base}{UI}/logout/", data={"csrf_token": token(workers.text)},
                  allow_redirects=False).status_code == 302
    assert s.get(f"{api.base}{UI}/", allow_redirects=False).status_code == 302


def test_a_password_change_ends_the_session(api, users):
    login, password = users.user()
    s, _ = browser_session(api, login, password)
    assert api.put(f"{API}/users/{login}/",
                   json={"delta": {"password": "changed"}}).status_code == 200
    r = s.get(f"{api.base}{UI}/", allow_redirects=False)
    assert r.status_code == 302 and "/login/" in r.headers["Location"]


def test_csrf_and_execute_are_required_to_sync(api, users, tmp_path, serve):
    unique_upstream(tmp_path / "up", count=1)
    feed, _ = serve(tmp_path / "up")
    repo_id = iso_repo(api, feed)
    try:
        admin, admin_token = browser_session(api, "admin", "admin")
        url = f"{api.base}{UI}/repositories/{repo_id}/sync/"
        assert refused(admin.post(url, data={"csrf_token": "forged"}))
        assert refused(admin.post(url))
        other, other_token = browser_session(api, "admin", "admin")
        assert other_token != admin_token
        assert refused(requests.post(url, data={"csrf_token": admin_token}))  # no cookie
        assert repo_tasks(api, repo_id) == []

        reader, password = users.user((f"/v2/repositories/{repo_id}/", ["READ"]))
        s, reader_token = browser_session(api, reader, password)
        page = s.get(f"{api.base}{UI}/")
        assert f'data-repo-id="{repo_id}"' in page.text and 'class="sync"' not in page.text
        detail = s.get(f"{api.base}{UI}/repositories/{repo_id}/")
        assert detail.status_code == 200 and 'class="sync"' not in detail.text
        assert 'class="publish"' not in detail.text
        assert refused(s.post(url, data={"csrf_token": reader_token}))
        assert refused(s.post(f"{api.base}{UI}/repositories/{repo_id}/publish/iso_distributor/",
                              data={"csrf_token": reader_token}))
        assert repo_tasks(api, repo_id) == []

        r = admin.post(url, data={"csrf_token": admin_token}, allow_redirects=False)
        assert r.status_code == 302 and "/tasks/?task=" in r.headers["Location"]
        task_id = r.headers["Location"].rsplit("=", 1)[1]
        sync_task = api.wait_task(task_id)
        assert sync_task["state"] == "finished", sync_task
        assert sync_task["tags"] == [f"pulp:repository:{repo_id}", "pulp:action:sync"]
        detail = admin.get(f"{api.base}{UI}/repositories/{repo_id}/").text
        assert "success" in detail and 'id="sync-history"' in detail
    finally:
        api.delete(f"{API}/repositories/{repo_id}/")


def test_pages_show_only_what_the_user_may_read(api, users):
    mine = iso_repo(api, "http://127.0.0.1:9/", basic_auth_username="u",
                    basic_auth_password="s3cret-pw")
    theirs = iso_repo(api, "http://127.0.0.1:9/")
    consumer = f"ui-c-{uuid.uuid4().hex[:8]}"
    assert api.post(f"{API}/consumers/", json={"id": consumer}).status_code == 201
    try:
        r = api.post(f"{API}/consumers/{consumer}/bindings/",
                     json={"repo_id": mine, "distributor_id": "iso_distributor",
                           "notify_agent": False})
        assert r.status_code == 200, r.text
        theirs_task = api.post(f"{API}/repositories/{theirs}/actions/sync/").json()
        theirs_task = theirs_task["spawned_tasks"][0]["task_id"]
        reader, password = users.user((f"/v2/repositories/{mine}/", ["READ"]))
        s, _ = browser_session(api, reader, password)
        listing = s.get(f"{api.base}{UI}/").text
        assert mine in listing and theirs not in listing
        assert refused(s.get(f"{api.base}{UI}/repositories/{theirs}/"))
        detail = s.get(f"{api.base}{UI}/repositories/{mine}/").text
        assert "s3cret-pw" not in detail and "*****" in detail  # the API's masking
        polled = s.get(f"{api.base}{UI}/tasks.json").json()
        assert theirs_task not in {t["task_id"] for t in polled["tasks"]}
        assert consumer not in s.get(f"{api.base}{UI}/consumers/").text

        admin, _ = browser_session(api, "admin", "admin")
        consumers = admin.get(f"{api.base}{UI}/consumers/").text
        assert f'data-consumer-id="{consumer}"' in consumers and f"{mine} / iso_distributor" \
            in consumers
        seen = admin.get(f"{api.base}{UI}/tasks.json").json()
        assert theirs_task in {t["task_id"] for t in seen["tasks"]}
        assert "kwargs" not in str(seen)
        bad = admin.get(f"{api.base}{UI}/tasks.json", params={"since": "yesterday"})
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "PLP1010"
        # A poll since the last answer's "now" carries only active and newly finished tasks.
        assert api.wait_task(theirs_task)["state"] == "error"  # nothing listens on port 9
        listing = admin.get(f"{api.base}{UI}/").text
        row = listing[listing.index(f'data-repo-id="{theirs}"'):]
        row = row[:row.index("</tr>")]
        assert '<span class="result error">error</span>' in row and "never" in row  # publish
        time.sleep(6)  # past the poll overlap
        later = admin.get(f"{api.base}{UI}/tasks.json", params={"since": seen["now"]}).json()
        time.sleep(0.1)
        quiet = admin.get(f"{api.base}{UI}/tasks.json", params={"since": later["now"]}).json()
        assert theirs_task not in {t["task_id"] for t in quiet["tasks"]}
    finally:
        api.delete(f"{API}/consumers/{consumer}/")
        for repo_id in (mine, theirs):
            api.delete(f"{API}/repositories/{repo_id}/")


# -- a real browser ------------------------------------------------------------------------


@pytest.fixture
def chromium():
    path = require_tool("chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])
        yield browser
        browser.close()


def _shot(page, name: str, tmp_path: Path) -> None:
    """Every page renders (a non-empty screenshot); saved into docs/ on request."""
    target = tmp_path / f"dashboard-{name}.png"
    page.screenshot(path=str(target), full_page=True)
    assert target.stat().st_size > 1000
    if os.environ.get("PULP2NG_DASHBOARD_SCREENSHOTS") == "1":
        (DOCS / target.name).write_bytes(target.read_bytes())


def _log_in(page, base: str, login: str, password: str, path: str = "/") -> None:
    page.goto(f"{base}{UI}{path}")
    assert page.locator("#login-form").is_visible()  # anonymous: the login page
    page.fill("input[name=username]", login)
    page.fill("input[name=password]", password)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(f"{base}{UI}{path}")


def test_browser_logs_in_syncs_and_watches_the_task(api, users, chromium, tmp_path, serve):
    unique_upstream(tmp_path / "up", count=5, size=256 * 1024)
    feed, _ = serve(tmp_path / "up")
    repo_id = iso_repo(api, feed, basic_auth_username="u", basic_auth_password="hidden-pw")
    consumer = f"ui-c-{uuid.uuid4().hex[:8]}"
    api.post(f"{API}/consumers/", json={"id": consumer, "description": "a web server"})
    api.post(f"{API}/consumers/{consumer}/bindings/", json={
        "repo_id": repo_id, "distributor_id": "iso_distributor", "notify_agent": False})
    api.post(f"{API}/consumers/{consumer}/profiles/", json={
        "content_type": "iso", "profile": [{"name": "file-1.iso", "checksum": "0" * 64,
                                            "size": 1}]})
    api.post(f"{API}/repositories/{repo_id}/importers/iso_importer/schedules/sync/",
             json={"schedule": "2031-01-01T03:00:00Z/P1D"})
    base = api.base
    try:
        context = chromium.new_context(viewport={"width": 1280, "height": 720})
        page = context.new_page()
        page.goto(f"{base}{UI}/")
        _shot(page, "login", tmp_path)
        _log_in(page, base, "admin", "admin", "/")
        row = page.locator(f'tr[data-repo-id="{repo_id}"]')
        assert row.is_visible() and "iso_importer" in row.inner_text()
        row.locator("button.sync").click()
        page.wait_for_url(re.compile(r".*/tasks/\?task="))
        task_id = page.url.rsplit("=", 1)[1]
        task_row = page.locator(f'tr[data-task-id="{task_id}"]')
        task_row.wait_for()
        states = set()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # updated by polling, never by reloading
            state = task_row.get_attribute("data-state")
            states.add(state)
            if state == "finished":
                break
            time.sleep(0.1)
        assert "finished" in states, states
        assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
        assert f"repository:{repo_id}" in task_row.inner_text()
        assert task_row.locator("td.worker").inner_text().strip()
        bar = task_row.locator("progress")
        assert bar.get_attribute("value") == bar.get_attribute("max") == "5"
        # The auto-publish the sync spawned shows up too, without a reload.
        auto = page.locator(f'tr[data-state="finished"]:has-text("publish")'
                            f':has-text("repository:{repo_id}")').first
        auto.wait_for(timeout=30000)
        # The ISO distributor reports one step, no counts: its bar is that step, full.
        assert auto.locator("td.progress").inner_text().strip() == "1/1"
        _shot(page, "tasks", tmp_path)

        page.goto(f"{base}{UI}/")
        listed = page.locator(f'tr[data-repo-id="{repo_id}"]').inner_text()
        assert "success" in listed and "sync: 1, next 2031-01-01T03:00:00Z" in listed
        _shot(page, "repositories", tmp_path)
        page.click(f'tr[data-repo-id="{repo_id}"] a')
        assert "hidden-pw" not in page.content() and "*****" in page.content()
        assert page.locator("#sync-history tbody tr").count() == 1
        assert page.locator("button.publish").is_visible()
        _shot(page, "repository", tmp_path)
        # Publish from the repository page: nothing changed since the auto-publish, so the
        # task finishes at once with no step to show (no bar), and the history says why.
        page.click("button.publish")
        page.wait_for_url(re.compile(r".*/tasks/\?task="))
        publish_id = page.url.rsplit("=", 1)[1]
        published = page.locator(f'tr[data-task-id="{publish_id}"][data-state="finished"]')
        published.wait_for(timeout=30000)
        assert "action:publish" in published.inner_text()
        assert published.locator("td.progress").inner_text().strip() == ""
        page.goto(f"{base}{UI}/repositories/{repo_id}/")
        assert "skipped" in page.locator("#publish-history").inner_text()
        page.goto(f"{base}{UI}/workers/")
        assert page.locator("#workers tbody tr").count() >= 2
        _shot(page, "workers", tmp_path)
        assert api.post(f"{API}/consumers/content/applicability/", json={
            "criteria": {"filters": {"id": consumer}}}).status_code == 200
        page.goto(f"{base}{UI}/consumers/")
        shown = page.locator(f'tr[data-consumer-id="{consumer}"]')
        assert f"{repo_id} / iso_distributor" in shown.inner_text()
        assert "a web server" in shown.inner_text()  # the consumer's description
        assert shown.locator("td.applicability").inner_text().strip() == "iso: 1"
        _shot(page, "consumers", tmp_path)

        # A form whose CSRF token was tampered with is refused.
        page.goto(f"{base}{UI}/repositories/{repo_id}/")
        page.eval_on_selector("#importer form input[name=csrf_token]", "e => e.value = 'x'")
        with page.expect_response(lambda r: r.request.method == "POST") as posted:
            page.click("#importer button.sync")
        assert posted.value.status == 403
        context.close()

        # A user who may read but not execute sees no button, and a forged POST fails.
        reader, password = users.user((f"/v2/repositories/{repo_id}/", ["READ"]))
        context = chromium.new_context()
        page = context.new_page()
        _log_in(page, base, reader, password, "/")
        assert page.locator(f'tr[data-repo-id="{repo_id}"]').is_visible()
        assert page.locator("button.sync").count() == 0
        page.goto(f"{base}{UI}/repositories/{repo_id}/")
        assert page.locator("button.sync, button.publish").count() == 0
        status = page.evaluate("""async (url) => {
            const token = document.querySelector('input[name=csrf_token]').value;
            const r = await fetch(url, {method: 'POST', body: new URLSearchParams(
                {csrf_token: token})});
            return r.status;
        }""", f"{UI}/repositories/{repo_id}/sync/")
        assert status == 403
        context.close()
        syncs = [t for t in repo_tasks(api, repo_id) if "pulp:action:sync" in t["tags"]]
        assert len(syncs) == 1  # only the admin's press ran
    finally:
        api.delete(f"{API}/consumers/{consumer}/")
        api.delete(f"{API}/repositories/{repo_id}/")


# -- schedules, applicability, certificates ------------------------------------------------


def _text(html: str) -> str:
    """What a browser would show of an HTML fragment: tags out, whitespace squeezed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split()).replace(" ,", ",")


def _row(html: str, marker: str) -> str:
    """The row whose opening tag carries ``marker`` (its attributes included, its cells)."""
    start = html.index(marker)
    return html[start:html.index("</tr>", start)]


def _cell(row: str, cls: str) -> str:
    """The shown text of a row's cell of class ``cls``."""
    start = row.index(f'class="{cls}"')
    return _text(row[row.index(">", start) + 1:row.index("</td>", start)])


def test_repository_listing_and_page_show_schedules(api):
    repo_id = iso_repo(api, "http://127.0.0.1:9/")
    bare = iso_repo(api, "http://127.0.0.1:9/")
    base = f"{API}/repositories/{repo_id}"

    def schedule(path: str, **body) -> str:
        r = api.post(f"{base}/{path}", json=body)
        assert r.status_code == 201, r.text
        return r.json()["_id"]

    try:
        sync_path = "importers/iso_importer/schedules/sync/"
        made = [schedule(sync_path, schedule="2031-05-01T00:00:00Z/P1D"),
                schedule(sync_path, schedule="2032-01-01T00:00:00Z/PT6H"),
                # Disabled: its earlier next run is no next run.
                schedule(sync_path, schedule="2030-01-01T00:00:00Z/PT1H", enabled=False),
                schedule("distributors/iso_distributor/schedules/publish/",
                         schedule="R2/2033-03-03T00:00:00Z/P7D")]
        admin, _ = browser_session(api, "admin", "admin")
        listing = admin.get(f"{api.base}{UI}/").text
        cell = _cell(_row(listing, f'data-repo-id="{repo_id}"'), "schedules")
        assert "sync: 3 (1 disabled), next 2031-05-01T00:00:00Z" in cell, cell
        assert "publish (iso_distributor): 1, next 2033-03-03T00:00:00Z" in cell, cell
        assert _cell(_row(listing, f'data-repo-id="{bare}"'), "schedules") == "none"

        page = admin.get(f"{api.base}{UI}/repositories/{repo_id}/").text
        table = page[page.index('id="schedules"'):page.index("</table>",
                                                               page.index('id="schedules"'))]
        assert re.findall(r'data-schedule-id="([^"]+)"', table) == \
            [made[2], made[0], made[1], made[3]]  # by first run
        def shown(schedule_id: str) -> str:
            row = _row(table, f'data-schedule-id="{schedule_id}"')
            return _text(row[row.index(">") + 1:])

        assert shown(made[2]).startswith("sync iso_importer 2030-01-01T00:00:00Z/PT1H no ")
        publish = shown(made[3])
        assert publish.startswith("publish iso_distributor R2/2033-03-03T00:00:00Z/P7D yes "
                                  "2033-03-03T00:00:00Z never 0 (2 left) 0"), publish
        assert "No schedule." in admin.get(f"{api.base}{UI}/repositories/{bare}/").text
    finally:
        for r in (repo_id, bare):
            api.delete(f"{API}/repositories/{r}/")


def test_consumers_page_counts_applicable_units_from_the_stored_results(api, tmp_path, serve):
    rows = unique_upstream(tmp_path / "up", count=3)
    feed, _ = serve(tmp_path / "up")
    repo_id = iso_repo(api, feed)
    tag = uuid.uuid4().hex[:8]
    profiled, bound_only, unbound = (f"ui-a{i}-{tag}" for i in range(3))
    stale_two = [{"name": "file-1.iso", "checksum": "0" * 64, "size": 4096},
                 {"name": "file-2.iso", "checksum": "1" * 64, "size": 4096},
                 {"name": "file-3.iso", "checksum": rows["file-3.iso"][0], "size": 4096}]
    try:
        assert [t["state"] for t in api.sync(repo_id)] == ["finished", "finished"]
        for consumer in (profiled, bound_only, unbound):
            assert api.post(f"{API}/consumers/", json={"id": consumer}).status_code == 201
        for consumer in (profiled, bound_only):
            assert api.post(f"{API}/consumers/{consumer}/bindings/", json={
                "repo_id": repo_id, "distributor_id": "iso_distributor",
                "notify_agent": False}).status_code == 200
        for consumer in (profiled, unbound):
            assert api.post(f"{API}/consumers/{consumer}/profiles/", json={
                "content_type": "iso", "profile": stale_two}).status_code == 201
        admin, _ = browser_session(api, "admin", "admin")

        def cells() -> dict[str, tuple[str, str]]:
            html = admin.get(f"{api.base}{UI}/consumers/").text
            out = {}
            for consumer in (profiled, bound_only, unbound):
                row = _row(html, f'data-consumer-id="{consumer}"')
                status = re.search(r'data-status="([^"]*)"', row).group(1)
                out[consumer] = (status, _cell(row, "applicability"))
            return out

        # Nothing stored yet: the page says so rather than computing for every consumer.
        seen = cells()
        assert seen[profiled] == ("missing", "none applicable (not computed yet)")
        assert seen[bound_only] == ("", "—") and seen[unbound] == ("", "—")
        r = api.post(f"{API}/consumers/content/applicability/",
                     json={"criteria": {"filters": {"id": profiled}}})
        assert r.status_code == 200 and len(r.json()[0]["applicability"]["iso"]) == 2
        assert cells()[profiled] == ("current", "iso: 2")

        # The repository's content changes: the old counts show, marked stale.
        r = api.post(f"{API}/repositories/{repo_id}/actions/unassociate/", json={
            "criteria": {"type_ids": ["iso"], "filters": {"unit": {"name": "file-1.iso"}}}})
        assert [t["state"] for t in api.wait_report(r)] == ["finished"]
        assert cells()[profiled] == ("stale", "iso: 2 (stale: a repository changed since)")
        api.post(f"{API}/consumers/content/applicability/",
                 json={"criteria": {"filters": {"id": profiled}}})
        assert cells()[profiled] == ("current", "iso: 1")
    finally:
        for consumer in (profiled, bound_only, unbound):
            api.delete(f"{API}/consumers/{consumer}/")
        api.delete(f"{API}/repositories/{repo_id}/")


@pytest.fixture(scope="module")
def https_stack(database, tmp_path_factory):
    """A private stack with the HTTPS listener (no workers: nothing here runs a task)."""
    s = Stack(tmp_path_factory.mktemp("ui-https"), database, workers=0, https=True)
    yield s
    s.stop()


def test_a_login_certificate_logs_in_to_the_dashboard_over_https(https_stack, tmp_path):
    api = https_stack.api
    login, password = f"ui-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    assert api.post(f"{API}/users/", json={"login": login, "password": password}
                    ).status_code == 201
    repo_id = iso_repo(api, "http://127.0.0.1:9/")
    try:
        assert api.post(f"{API}/permissions/actions/grant_to_user/", json={
            "login": login, "resource": f"/v2/repositories/{repo_id}/",
            "operations": ["READ", "EXECUTE"]}).status_code == 200
        r = requests.post(f"{api.base}{API}/actions/login/", auth=(login, password))
        assert r.status_code == 200, r.text
        cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
        cert.write_text(r.json()["certificate"])
        key.write_text(r.json()["key"])
        ui = f"{https_stack.https_base}{UI}"
        ca = str(https_stack.ca_cert)
        s = requests.Session()
        s.cert = (str(cert), str(key))

        page = s.get(f"{ui}/", allow_redirects=False, verify=ca)
        assert page.status_code == 200, page.headers.get("Location")
        assert f"{login} (certificate)" in page.text and 'id="login-form"' not in page.text
        assert f'data-repo-id="{repo_id}"' in page.text and 'class="sync"' in page.text
        polled = s.get(f"{ui}/tasks.json", verify=ca)
        assert polled.status_code == 200 and "tasks" in polled.json()
        # The login form itself sends a certificate holder on to where it was going.
        r = s.get(f"{ui}/login/", params={"next": f"{UI}/workers/"}, allow_redirects=False,
                  verify=ca)
        assert r.status_code == 302 and r.headers["Location"] == f"{UI}/workers/"
        # Forms still need the CSRF token the page carries (the cookie came with the page).
        sync_url = f"{ui}/repositories/{repo_id}/sync/"
        assert refused(s.post(sync_url, data={"csrf_token": "forged"}, verify=ca))
        r = s.post(sync_url, data={"csrf_token": token(page.text)}, allow_redirects=False,
                   verify=ca)
        assert r.status_code == 302 and "/tasks/?task=" in r.headers["Location"]
        task_id = r.headers["Location"].rsplit("=", 1)[1]
        assert api.task(task_id)["tags"] == [f"pulp:repository:{repo_id}", "pulp:action:sync"]
        api.delete(f"{API}/tasks/{task_id}/")  # no worker here: cancel it

        # Without the certificate, and over plain HTTP, it is the login form as before.
        anonymous = requests.get(f"{ui}/", verify=ca,
                                 allow_redirects=False)
        assert anonymous.status_code == 302 and "/login/" in anonymous.headers["Location"]
        plain = requests.get(f"{api.base}{UI}/", cert=(str(cert), str(key)),
                             allow_redirects=False)
        assert plain.status_code == 302
        # A password change revokes the certificate: the login form again, never a 401.
        assert api.put(f"{API}/users/{login}/",
                       json={"delta": {"password": "changed"}}).status_code == 200
        r = s.get(f"{ui}/", allow_redirects=False, verify=ca)
        assert r.status_code == 302 and "/login/" in r.headers["Location"]
        assert 'id="login-form"' in s.get(f"{ui}/login/", verify=ca).text
    finally:
        api.delete(f"{API}/repositories/{repo_id}/")
        api.delete(f"{API}/users/{login}/")


# -- cost: 1 000 tasks in history, 20 running; pages without N+1 reads ---------------------


@pytest.fixture(scope="module")
def quiet_stack(database, tmp_path_factory):
    """A private stack without workers or scheduler: the only client of its database is
    the API, so the database profiler counts exactly what a page or a poll reads."""
    s = Stack(tmp_path_factory.mktemp("ui-quiet"), database, workers=0)
    yield s
    s.stop()


class Profiler:
    """Counts the database operations of one stack's database (SecantusDB's profiler,
    level 2: every operation on that database only, with its duration)."""

    def __init__(self, database_url: str, name: str):
        import pymongo

        self.client = pymongo.MongoClient(database_url)
        self.db = self.client[name]
        self.db.command("profile", 2)

    def mark(self):
        last = list(self.db["system.profile"].find({}, {"_id": 1}).sort("_id", -1).limit(1))
        return last[0]["_id"] if last else None

    def since(self, mark) -> list[dict]:
        query = {"_id": {"$gt": mark}} if mark is not None else {}
        return [op for op in self.db["system.profile"].find(query)
                if not op.get("ns", "").endswith("system.profile")]


def _finished_task(i: int, at) -> dict:
    import datetime as dt

    repo = f"hist-{i % 40}"
    publish = i % 3 == 0
    failed = i % 17 == 0
    start = at - dt.timedelta(seconds=20 + i % 50)
    doc = {
        "_id": f"hist-{uuid.uuid4()}", "task_type": "pulp2ng.tasks.repository." + (
            "publish" if publish else "sync"),
        "state": "error" if failed else "finished",
        "tags": [f"pulp:repository:{repo}", "pulp:action:" + ("publish" if publish else "sync")],
        "resource": f"repository:{repo}", "seq": 10_000 + i, "worker_name": "w1@hist",
        "queue": None, "created": start, "start_time": start, "finish_time": at,
        "progress_report": {"iso_distributor": {"state": "complete"}} if publish else {
            "iso_importer": {"state": "complete", "num_isos": 12, "num_isos_finished": 12,
                             "total_bytes": 12 << 20, "finished_bytes": 12 << 20,
                             "iso_error_messages": [], "state_times": {}}},
        "result": {"result": "success", "summary": {"num_units": 12}},
        "error": {"code": "PLP0000", "description": "Connection refused"} if failed else None,
        "exception": None, "traceback": "Traceback …" if failed else None,
        "spawned_tasks": [], "kwargs": {"repo_id": repo},
    }
    doc["task_id"] = doc["_id"]
    return doc


#: The 20 running tasks: five of each publish/sync progress shape the plugins report, and
#: the bar each must show.
_RUNNING = [
    ("rpm publish", {"yum_distributor": {"state": "IN_PROGRESS", "items_total": 1000,
                                         "num_processed": 250, "error_message": None}},
     "250/1000"),
    ("ostree publish", {"ostree_web_distributor": [
        {"step_type": "ostree_publish_main", "state": "FINISHED"},
        {"step_type": "ostree_publish_over_http", "state": "IN_PROGRESS"}]}, "1/2"),
    ("iso publish", {"iso_distributor": {"state": "in_progress", "error_message": None}},
     "0/1"),
    ("iso sync", {"iso_importer": {"state": "isos_in_progress", "num_isos": 10,
                                   "num_isos_finished": 3, "total_bytes": 10 << 20,
                                   "finished_bytes": 3 << 20}}, "3/10"),
]


def _running_task(i: int, at) -> dict:
    kind, report, _ = _RUNNING[i % 4]
    doc = _finished_task(i, at)
    doc.update({"_id": f"run-{uuid.uuid4()}", "state": "running", "finish_time": None,
                "seq": 20_000 + i, "worker_name": f"w{i % 3}@busy", "error": None,
                "result": None, "traceback": None, "progress_report": report,
                "task_type": "pulp2ng.tasks.repository." + kind.split()[1],
                "tags": [f"pulp:repository:live-{i}", f"pulp:action:{kind.split()[1]}"]})
    doc["task_id"] = doc["_id"]
    return doc


def _ops_summary(ops: list[dict]) -> str:
    by = {}
    for op in ops:
        fields = ",".join(sorted(((op.get("command") or {}).get("filter") or {}).keys()))
        key = f"{op.get('op')} {op.get('ns', '').split('.', 1)[-1]}{{{fields}}}"
        n, ms = by.get(key, (0, 0))
        by[key] = (n + 1, ms + (op.get("millis") or 0))
    return ", ".join(f"{k} ×{n} ({ms} ms)" for k, (n, ms) in sorted(by.items()))


def test_task_page_with_1000_tasks_in_history_and_20_running(quiet_stack, database,
                                                              chromium):
    """Acceptance 3 of issue 21: the page shows the running tasks and their bars, and a
    refresh reads the active tasks and the newly finished ones, never the history."""
    import datetime as dt

    import pymongo

    api = quiet_stack.api
    db = pymongo.MongoClient(database)[quiet_stack.name]
    moment = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    # History over the last day (one every ~86 s), so a dozen fall in the page's window.
    history = [_finished_task(i, moment - dt.timedelta(seconds=86 * i + 30))
               for i in range(1000)]
    running = [_running_task(i, moment) for i in range(20)]
    db["task_status"].insert_many(history + running)
    assert db["task_status"].count_documents({}) >= 1020

    s, _ = browser_session(api, "admin", "admin")
    first_answer = s.get(f"{api.base}{UI}/tasks.json")
    assert first_answer.status_code == 200, first_answer.text
    assert {d["_id"] for d in running} <= {t["task_id"] for t in first_answer.json()["tasks"]}

    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    _log_in(page, api.base, "admin", "admin", "/tasks/")
    page.locator("#tasks tbody tr").first.wait_for()
    for doc in running:
        row = page.locator(f'tr[data-task-id="{doc["_id"]}"]')
        assert row.get_attribute("data-state") == "running"
        _, _, shown = _RUNNING[int(doc["seq"]) % 4]
        assert row.locator("td.progress").inner_text().strip() == shown, doc["progress_report"]
    shown_rows = page.locator("#tasks tbody tr").count()
    assert 20 < shown_rows <= 20 + 50  # the running ones and the recent window, not 1 020
    # Polling goes on (the status line changes) without a reload.
    first = page.locator("#poll-status").inner_text()
    page.wait_for_function(
        "s => document.getElementById('poll-status').textContent !== s", arg=first,
        timeout=10000)
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
    # A running task finishing turns up on the next poll, bar full.
    done = running[0]
    db["task_status"].update_one({"_id": done["_id"]}, {"$set": {
        "state": "finished", "finish_time": dt.datetime.now(dt.timezone.utc)}})
    row = page.locator(f'tr[data-task-id="{done["_id"]}"][data-state="finished"]')
    row.wait_for(timeout=10000)
    assert row.locator("progress").get_attribute("value") == "1000"
    context.close()

    # The API's cost per refresh: what one poll reads, and how long it takes end to end.
    profiler = Profiler(database, quiet_stack.name)
    try:
        since = s.get(f"{api.base}{UI}/tasks.json").json()["now"]
        polls, times, sizes = 20, [], []
        mark = profiler.mark()
        for _ in range(polls):
            started = time.perf_counter()
            r = s.get(f"{api.base}{UI}/tasks.json", params={"since": since})
            times.append(time.perf_counter() - started)
            assert r.status_code == 200
            sizes.append(len(r.content))
            since = r.json()["now"]
            assert {t["task_id"] for t in r.json()["tasks"]} >= {d["_id"] for d in running[1:]}
        ops = profiler.since(mark)
        mark = profiler.mark()
        started = time.perf_counter()
        assert s.get(f"{api.base}{UI}/tasks/").status_code == 200
        page_time = time.perf_counter() - started
        page_ops = profiler.since(mark)
    finally:
        profiler.db.command("profile", 0)
    times.sort()
    print(f"\n[tasks.json?since= with 1 000 finished and 19 running tasks] "
          f"{polls} polls: median {times[polls // 2] * 1000:.1f} ms, "
          f"max {times[-1] * 1000:.1f} ms, {sum(sizes) / polls / 1024:.1f} KiB a poll; "
          f"{len(ops) / polls:.1f} database operations a poll: {_ops_summary(ops)}")
    print(f"[GET /pulp/ui/tasks/] {page_time * 1000:.1f} ms, {len(page_ops)} database "
          f"operations: {_ops_summary(page_ops)}")
    # Not timed: what a poll reads. The tasks are two reads (active, finished since), and
    # the session and the auth cache one each; nothing grows with the history.
    task_reads = [op for op in ops if op.get("ns", "").endswith(".task_status")]
    assert len(task_reads) == 2 * polls, _ops_summary(ops)
    assert len(ops) <= 5 * polls, _ops_summary(ops)
    db.client.close()


def _page_ops(profiler, session, url) -> list[dict]:
    mark = profiler.mark()
    assert session.get(url).status_code == 200
    return profiler.since(mark)


def test_listings_read_the_same_whatever_the_number_of_rows(quiet_stack, database):
    """The repositories and consumers pages read each collection once, not once a row."""
    api = quiet_stack.api
    tag = uuid.uuid4().hex[:6]
    s, _ = browser_session(api, "admin", "admin")
    profiler = Profiler(database, quiet_stack.name)
    counts = []
    try:
        for n in (1, 6):
            for i in range(len(counts) and 5 or 1):  # 1 of each, then 5 more
                repo_id = iso_repo(api, "http://127.0.0.1:9/")
                assert api.post(
                    f"{API}/repositories/{repo_id}/importers/iso_importer/schedules/sync/",
                    json={"schedule": "2031-01-01T00:00:00Z/P1D"}).status_code == 201
                consumer = f"ui-n-{tag}-{n}-{i}"
                assert api.post(f"{API}/consumers/", json={"id": consumer}).status_code == 201
                assert api.post(f"{API}/consumers/{consumer}/bindings/", json={
                    "repo_id": repo_id, "distributor_id": "iso_distributor",
                    "notify_agent": False}).status_code == 200
                assert api.post(f"{API}/consumers/{consumer}/profiles/", json={
                    "content_type": "iso", "profile": []}).status_code == 201
            counts.append((_page_ops(profiler, s, f"{api.base}{UI}/"),
                           _page_ops(profiler, s, f"{api.base}{UI}/consumers/")))
    finally:
        profiler.db.command("profile", 0)
    (repos_1, consumers_1), (repos_6, consumers_6) = counts
    print(f"\n[GET /pulp/ui/ ] {len(repos_1)} operations for 1 repository, {len(repos_6)} "
          f"for 6: {_ops_summary(repos_6)}")
    print(f"[GET /pulp/ui/consumers/] {len(consumers_1)} operations for 1 consumer, "
          f"{len(consumers_6)} for 6: {_ops_summary(consumers_6)}")
    assert len(repos_6) == len(repos_1), _ops_summary(repos_6)
    assert len(consumers_6) == len(consumers_1), _ops_summary(consumers_6)

"""The Swagger UI works offline: a real Chromium loads it, authorizes and lists repositories.

Every request the page makes to a host other than the API's is aborted, so a page that still
fetched its assets from a CDN would stay blank and fail this test.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import requests

from tests.conftest import in_ci, require_tool

DOCS = "/pulp/api/v2/docs"


def _chromium() -> str:
    path = require_tool("chromium")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        if in_ci():
            pytest.fail("playwright (the Python package) is required in CI")
        pytest.skip("the playwright Python package is not installed")
    return path


def test_docs_are_public_and_declare_basic_auth(api):
    spec = requests.get(f"{api.base}{DOCS}/openapi.json", timeout=10)
    assert spec.status_code == 200
    body = spec.json()
    assert body["components"]["securitySchemes"]["basicAuth"] == {
        "type": "http", "scheme": "basic"}
    assert body["security"] == [{"basicAuth": []}]
    assert body["paths"]["/pulp/api/v2/status/"]["get"]["security"] == []
    page = requests.get(f"{api.base}{DOCS}/swagger-ui", timeout=10)
    assert page.status_code == 200
    assert "cdn." not in page.text and f"{DOCS}/swagger-ui-assets/" in page.text
    asset = requests.get(f"{api.base}{DOCS}/swagger-ui-assets/swagger-ui-bundle.js", timeout=10)
    assert asset.status_code == 200 and len(asset.content) > 100_000
    # The rest of the API still needs a login.
    assert requests.get(f"{api.base}/pulp/api/v2/repositories/", timeout=10).status_code == 401


def test_swagger_ui_authorizes_and_lists_repositories(api, repo_factory):
    chromium = _chromium()
    from playwright.sync_api import sync_playwright

    repo_id = repo_factory(display_name="seen through Swagger UI")["id"]
    api_host = urlsplit(api.base).netloc
    foreign = []

    def only_local(route):
        if urlsplit(route.request.url).netloc == api_host:
            route.continue_()
        else:
            foreign.append(route.request.url)
            route.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"])
        try:
            page = browser.new_page()
            page.route("**/*", only_local)
            page.goto(f"{api.base}{DOCS}/swagger-ui")
            page.locator("button.authorize").first.click()
            page.locator("input[name=username]").fill("admin")
            page.locator("input[name=password]").fill("admin")
            page.locator(".auth-btn-wrapper button.authorize").click()
            page.locator(".auth-btn-wrapper button.btn-done").click()

            listing = page.locator(".opblock-get").filter(
                has=page.locator(".opblock-summary-path",
                                 has_text="/pulp/api/v2/repositories/")).filter(
                has_not=page.locator(".opblock-summary-path",
                                     has_text="/pulp/api/v2/repositories/{")).first
            listing.locator(".opblock-summary").click()
            listing.locator("button.try-out__btn").click()
            listing.locator("button.execute").click()
            response = listing.locator(".live-responses-table tbody .response-col_status").first
            response.wait_for()
            assert response.inner_text().strip().startswith("200")
            body = listing.locator(".live-responses-table tbody .response-col_description pre").first
            assert repo_id in body.inner_text()
        finally:
            browser.close()
    assert foreign == []

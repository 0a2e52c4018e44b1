"""The pulp2ng REST API v2 as the configured user: :class:`Client`, its :class:`Settings` and
the errors it raises. It stands apart so that talking to the server (HTTP errors turned into
one-line :class:`AdminError` messages, TLS and connection failures explained) needs neither
click nor rich, and every other module here builds on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

import requests

API = "/pulp/api/v2"


class AdminError(Exception):
    """A failure shown as one line on stderr; the command exits with ``exit_code``."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


class ApiError(AdminError):
    """An HTTP error answer; the message carries the status, the PLP code and the description."""

    def __init__(self, response: requests.Response, hint: str = ""):
        self.response = response
        self.status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = None
        error = (body.get("error") or {}) if isinstance(body, dict) else {}
        self.code = error.get("code")
        text = (error.get("description") or (body or {}).get("error_message")
                if isinstance(body, dict) else None) or response.reason or response.text[:200]
        label = f"HTTP {self.status}" + (f" {self.code}" if self.code else "")
        super().__init__(f"{label}: {text}{hint}")


@dataclass
class Settings:
    """Where and as whom to call: admin.conf, then the environment, then global flags."""

    server: str = "http://localhost:24817"
    ca: str | None = None
    username: str | None = None
    password: str | None = None
    #: ``(certificate, key)`` files stored by ``login``, used when no password is given.
    cert: tuple[str, str] | None = None
    #: Where client state lives (the resume points of interrupted uploads); None: nowhere.
    state_dir: str | None = None


class Client:
    """The pulp2ng REST API v2 as the configured user.

    ``verify`` is passed with every request: requests lets ``REQUESTS_CA_BUNDLE`` beat a
    session's ``verify``, and ``--ca`` must win.
    """

    def __init__(self, settings: Settings):
        self.settings = settings
        self.base = settings.server.rstrip("/")
        self.session = requests.Session()
        if settings.password is not None:
            self.auth, self.cert = (settings.username or "", settings.password), None
        else:
            self.auth, self.cert = None, settings.cert

    def url(self, path: str) -> str:
        if path.startswith("http"):
            return path
        return self.base + (path if path.startswith("/pulp/") else API + path)

    def request(self, method: str, path: str, *, ok: Iterable[int] = (200, 201, 202, 204),
                timeout: float = 60, **kwargs) -> requests.Response:
        url = self.url(path)
        try:
            response = self.session.request(method, url, auth=self.auth, cert=self.cert,
                                            verify=self.settings.ca or True, timeout=timeout,
                                            **kwargs)
        except requests.exceptions.SSLError as exc:
            raise AdminError(f"TLS failure talking to {self.base}: {_reason(exc)} "
                             f"(is --ca the server's CA?)") from None
        except requests.exceptions.ConnectionError as exc:
            raise AdminError(f"cannot connect to {self.base}: {_reason(exc)}") from None
        except requests.exceptions.Timeout:
            raise AdminError(f"{self.base} did not answer within {timeout:g}s") from None
        except requests.exceptions.RequestException as exc:
            raise AdminError(f"bad request to {url}: {exc}") from None
        if response.status_code not in ok:
            hint = ""
            if response.status_code == 401 and self.cert and not url.startswith("https:"):
                hint = " (the login certificate is only presented over HTTPS)"
            elif response.status_code == 401 and not (self.auth or self.cert):
                hint = " (give --username/--password or run 'pulp2ng-admin login')"
            raise ApiError(response, hint)
        return response

    def call(self, method: str, path: str, **kwargs) -> Any:
        """The parsed JSON body (None when empty)."""
        response = self.request(method, path, **kwargs)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise AdminError(f"{method} {path} answered {response.status_code} with a body "
                             f"that is not JSON (is {self.base} a pulp2ng server?)") from None

    def get(self, path: str, **kwargs) -> Any:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs) -> Any:
        return self.call("POST", path, json=json, **kwargs)

    def put(self, path: str, json: Any = None, **kwargs) -> Any:
        return self.call("PUT", path, json=json, **kwargs)

    def delete(self, path: str, **kwargs) -> Any:
        return self.call("DELETE", path, **kwargs)


def _reason(exc: Exception) -> str:
    """The innermost cause of a requests error, without urllib3's object reprs."""
    text = str(exc.args[0] if exc.args else exc)
    for marker in ("Connection refused", "Name or service not known", "timed out",
                   "CERTIFICATE_VERIFY_FAILED", "No route to host"):
        if marker in text:
            return marker.lower().replace("_", " ")
    return text.rsplit(": ", 1)[-1].rstrip(")'\"")[:200]

"""HTTPS calls to the pulp2ng API as the consumer (its certificate) or as a user (basic auth).

``verify`` is passed with every request: requests lets ``REQUESTS_CA_BUNDLE`` beat a
session's ``verify``, and the agent must trust exactly the server's CA.
"""

from __future__ import annotations

import requests

API = "/pulp/api/v2"


class ApiError(RuntimeError):
    def __init__(self, response: requests.Response):
        self.response = response
        try:
            error = response.json().get("error") or {}
        except ValueError:
            error = {}
        self.code = error.get("code")
        super().__init__(f"HTTP {response.status_code} {self.code or ''}: "
                         f"{error.get('description') or response.text[:300]}".strip())


class Client:
    def __init__(self, server: str, ca: str, cert: str | None = None, auth=None):
        self.base = server.rstrip("/") + API
        self.ca, self.cert, self.auth = ca, cert, auth
        self.session = requests.Session()

    def request(self, method: str, path: str, timeout: float = 60, ok=(200, 201, 202),
                **kwargs):
        response = self.session.request(method, self.base + path, verify=self.ca,
                                        cert=self.cert, auth=self.auth, timeout=timeout,
                                        **kwargs)
        if response.status_code not in ok:
            raise ApiError(response)
        return response.json() if response.content else None

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, json=None, **kw):
        return self.request("POST", path, json=json, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def close(self) -> None:
        self.session.close()

"""Serve a local PEP 503 tree (a ``file://`` feed) to the index client as if over HTTP.

The client reads pages through a ``requests.Session``; mounting this adapter for ``file://``
lets it parse a directory tree (``simple/<name>/index.html``, optionally ``index.json``
next to it, and the ``pypi/<name>/json`` API files) with the same code, status codes and
content types as a static web server, so the link-safety rules apply unchanged. Distribution
files themselves are read by the downloader's own ``file://`` support.
"""

from __future__ import annotations

import io
import mimetypes
import os
import urllib.parse
import urllib.request

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from .index import PEP691_JSON

__all__ = ["LocalIndexAdapter", "url_path"]


def url_path(url: str) -> str:
    """The local path of a ``file://`` URL."""
    return urllib.request.url2pathname(urllib.parse.urlsplit(url).path)


class LocalIndexAdapter(BaseAdapter):
    """Answer GETs below ``root`` from the filesystem; anything outside it is a 404.

    A directory URL is answered with its ``index.json`` (as PEP 691 JSON) when the request
    accepts PEP 691 JSON or there is no ``index.html``, else with ``index.html``, the way
    ``serve_static.py`` and Apache's ``DirectoryIndex`` do.
    """

    def __init__(self, root: str):
        super().__init__()
        self.root = os.path.realpath(root)

    def send(self, request, **kwargs):
        path = os.path.realpath(url_path(request.url))
        if path != self.root and not path.startswith(self.root + os.sep):
            return _response(request, 404, "Not Found")
        if os.path.isdir(path):
            html = os.path.join(path, "index.html")
            json_ = os.path.join(path, "index.json")
            wants_json = PEP691_JSON in request.headers.get("Accept", "")
            if os.path.isfile(json_) and (wants_json or not os.path.isfile(html)):
                return _file_response(request, json_, PEP691_JSON)
            return _file_response(request, html, "text/html")
        if os.path.basename(path) == "json":
            return _file_response(request, path, "application/json")
        ctype = mimetypes.guess_type(path)[0] or "application/octet-stream"
        return _file_response(request, path, ctype)

    def close(self):
        pass


def _file_response(request, path: str, ctype: str) -> requests.Response:
    try:
        fh = open(path, "rb")
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return _response(request, 404, "Not Found")
    except OSError as exc:
        return _response(request, 403, exc.strerror or "Forbidden")
    return _response(request, 200, "OK", _Raw(fh), {"Content-Type": ctype})


def _response(request, status: int, reason: str, raw=None, headers=None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.reason = reason
    response.url = request.url
    response.request = request
    response.headers = CaseInsensitiveDict(headers or {})
    response.raw = raw or _Raw(io.BytesIO())
    return response


class _Raw:
    """The slice of urllib3's response API the index client and requests use."""

    def __init__(self, fh):
        self._fh = fh

    def read(self, amt=None, decode_content=False):
        return self._fh.read(-1 if amt is None else amt)

    def stream(self, amt=65536, decode_content=False):
        while chunk := self._fh.read(amt):
            yield chunk

    def close(self):
        self._fh.close()

    def release_conn(self):
        self._fh.close()

"""Safe extraction of an uploaded tarball holding an OSTree archive repository."""
from __future__ import annotations

import os
import posixpath
import tarfile

from pulp2ng.plugin import UploadError, safe_relative_path


def extract(tar_path: str, dest: str) -> None:
    """Extract regular files and directories of ``tar_path`` into ``dest``.

    Members with absolute paths, ``..`` components, device nodes or FIFOs are rejected, and
    so are hard or symbolic links whose target leaves the archive. Links inside the archive
    are not needed by an archive repository and are skipped rather than created.

    Raises:
        UploadError: the file is not a tarball or a member is unsafe.
    """
    try:
        tar = tarfile.open(tar_path, "r:*")
    except (tarfile.TarError, OSError) as exc:
        raise UploadError(f"the upload is not a readable tarball: {exc}") from None
    with tar:
        for member in tar:
            name = member.name.rstrip("/")
            while name.startswith("./"):
                name = name[2:]
            if name in ("", "."):
                continue
            if safe_relative_path(name) is None:
                raise UploadError(f"unsafe path in tarball: {member.name!r}")
            if member.issym() or member.islnk():
                base = "" if member.islnk() else posixpath.dirname(name)
                target = posixpath.normpath(posixpath.join(base, member.linkname))
                if member.linkname.startswith("/") or target.split("/")[0] == "..":
                    raise UploadError(
                        f"link {member.name!r} points outside the tarball: {member.linkname!r}")
                continue
            path = os.path.join(dest, name)
            if member.isdir():
                os.makedirs(path, exist_ok=True)
            elif member.isfile():
                os.makedirs(os.path.dirname(path), exist_ok=True)
                src = tar.extractfile(member)
                with src, open(path, "wb") as out:
                    while chunk := src.read(1 << 20):
                        out.write(chunk)
            else:
                raise UploadError(f"unsupported member type in tarball: {member.name!r}")


def find_repo_root(root: str, repository_name: str | None) -> str:
    """The directory of the extracted tree that holds the repository's ``config``.

    ``repository_name`` (Pulp 3's name for the tarball's top directory) wins; otherwise the
    root itself or its single top-level directory is used.
    """
    if repository_name:
        if safe_relative_path(repository_name) is None:
            raise UploadError(f"invalid repository_name {repository_name!r}")
        candidates = [os.path.join(root, repository_name)]
    else:
        tops = [os.path.join(root, n) for n in sorted(os.listdir(root))]
        candidates = [root] + [t for t in tops if os.path.isdir(t)]
    for candidate in candidates:
        if os.path.isfile(os.path.join(candidate, "config")):
            return candidate
    raise UploadError("the tarball holds no OSTree repository (no config file found)")


def local_refs(repo_dir: str) -> list[str]:
    """Every ref under ``refs/heads`` of an extracted repository."""
    heads = os.path.join(repo_dir, "refs", "heads")
    found = []
    for dirpath, _dirs, files in os.walk(heads):
        for name in files:
            found.append(os.path.relpath(os.path.join(dirpath, name), heads).replace(os.sep, "/"))
    return sorted(found)

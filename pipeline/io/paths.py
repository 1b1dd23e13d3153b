"""What a path is: the one definition of URIs, local paths and gzip names.

A path is *local* when it has no scheme or the `file://` scheme; everything
else (`gs://`, `s3://`, ...) goes through Beam's `FileSystems`. Beam has no
filesystem for `file://`, so `local_path` strips it: callers hand Beam and
`os` plain paths. Standard library only, so the config and the CLI can use
it without importing Beam.
"""
import os
import posixpath

GZIP_SUFFIXES = (".gz", ".gzip")
LOCAL_SCHEMES = ("", "file")
_FILE_PREFIX = "file://"


def scheme(path: str) -> str:
    """'gs' for 'gs://b/x', '' for a path without a scheme (lower case)."""
    return path.split("://", 1)[0].lower() if "://" in path else ""


def is_uri(path: str) -> bool:
    """True when `path` names a scheme (`gs://...`, `file://...`)."""
    return "://" in path


def is_local(path: str) -> bool:
    """True for a path on this machine's disk: no scheme, or file://."""
    return scheme(path) in LOCAL_SCHEMES


def local_path(path: str) -> str:
    """`path` with a `file://` scheme removed ('file:///tmp/x' -> '/tmp/x');
    other paths as given."""
    if scheme(path) == "file":
        return path[len(_FILE_PREFIX):] or "/"
    return path


def is_gzip(path: str) -> bool:
    """True when the file name says gzip (.gz or .gzip, any case)."""
    return path.lower().endswith(GZIP_SUFFIXES)


def join(folder: str, *names: str) -> str:
    """os.path.join for local folders, '/'-joined for URIs."""
    return (os.path.join(folder, *names) if not is_uri(folder)
            else posixpath.join(folder, *names))


def split(path: str) -> tuple:
    """(folder, name) of `path`, for local paths and URIs."""
    return os.path.split(path) if not is_uri(path) else posixpath.split(path)

"""The files a config names: read as text, and paths resolved against the
config's folder (local or on an object store).

A local file is read here with the standard library; only one on another
filesystem (gs://) imports `pipeline.io.files` (Beam, pyarrow), for it.
"""
import os
import posixpath
from typing import Optional

from pipeline.io.paths import is_local, is_uri, local_path


def read_text(path):
    """A UTF-8 text file (the config, a vocabulary file) without a leading
    byte-order mark (an editor's BOM would otherwise stick to the first
    vocabulary word), as `pipeline.io.files.read_text` reads it: local ones
    here, others through it (Beam's FileSystems)."""
    if is_local(path):
        with open(local_path(path), encoding="utf-8-sig") as f:
            return f.read()
    # Imported here, not with the module: it imports Beam and pyarrow (seconds),
    # which loading a local config does not need.
    from pipeline.io.files import read_text
    return read_text(path)


def resolve_path(path: str, base_dir: Optional[str]) -> str:
    """`path` against the config's folder; URIs and absolute paths as given.
    A `file://` path is a local one: it comes back without the scheme; a
    leading `~` or `~user` is that home folder, as a shell would read it (else
    a folder named `~` would be made)."""
    path = local_path(path)
    if not is_uri(path):
        path = os.path.expanduser(path)
    if base_dir is None or is_uri(path) or os.path.isabs(path):
        return path
    if not is_local(base_dir):
        # Object stores do not resolve `..` or `.`: normalise here, within
        # the bucket (gs://b/cfg + ../data/x -> gs://b/data/x).
        scheme, rest = base_dir.split("://", 1)
        bucket, _, prefix = rest.partition("/")
        inside = posixpath.normpath(posixpath.join(prefix, path))
        if inside == ".." or inside.startswith("../"):
            raise ValueError("%r climbs above the bucket of %s://%s" % (path, scheme, bucket))
        return "%s://%s/%s" % (scheme, bucket, "" if inside == "." else inside)
    return os.path.normpath(os.path.join(local_path(base_dir), path))


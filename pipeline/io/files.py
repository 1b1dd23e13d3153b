"""Files on any filesystem Beam knows (local, gs://, ...): matching and
opening inputs, listing and removing folders, Parquet and JSON.

What a path is (URI, local, gzip) is `pipeline.io.paths`.
"""
import glob
import gzip
import json
import math
import os
import shutil
import socket
import stat
import urllib.parse
import urllib.request

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from pipeline.errors import NoMatchError, UnreadableInputError
from pipeline.io.paths import is_gzip, is_uri, local_path, scheme


# -- Matching and opening input files ---------------------------------------------

def match_files(pattern: str) -> list:
    """Paths matching a file pattern (local or gs://...), sorted.

    Raises NoMatchError naming the pattern when nothing matches or it
    matches a folder, and UnreadableInputError naming a local match that
    cannot be read as a file: a link to nothing (Beam's match leaves those
    out silently), a FIFO or device (reading one would hang), no
    permission; and UnreadableInputError for a gs:// pattern when Cloud
    Storage cannot be reached.
    """
    pattern = local_path(pattern)
    if scheme(pattern) == "gs":
        _check_reachable(pattern)
    try:
        results = FileSystems.match([pattern])
    except Exception as e:  # Beam raises BeamIOError for a folder that does not exist
        raise NoMatchError("input.pattern %r matches no files (%s)" % (pattern, e),
                           pattern) from e
    paths = sorted(m.path for m in results[0].metadata_list)
    if not is_uri(pattern):
        paths = sorted(set(paths) | set(glob.glob(pattern)))  # glob keeps broken links
    if not paths:
        raise NoMatchError("input.pattern %r matches no files" % pattern, pattern)
    folders = [p for p in paths if not is_uri(p) and os.path.isdir(p)]
    if folders:
        raise NoMatchError("input.pattern %r matches the folder %s; match its files instead, "
                           "e.g. %r" % (pattern, folders[0], os.path.join(folders[0], "*")),
                           pattern)
    for path in paths:
        if not is_uri(path):
            _check_readable(pattern, path)
    return paths


GCS_HOST = "storage.googleapis.com"
REACH_TIMEOUT_S = 10


def _gcs_endpoint():
    """(host, port, what) that a Cloud Storage request connects to first:
    the emulator of STORAGE_EMULATOR_HOST (google-cloud-storage's own
    setting), else the https proxy (unless no_proxy exempts Cloud Storage),
    else Cloud Storage itself."""
    emulator = os.environ.get("STORAGE_EMULATOR_HOST")
    if emulator:
        url = urllib.parse.urlsplit(emulator if "://" in emulator else "http://" + emulator)
        return url.hostname, url.port or (443 if url.scheme == "https" else 80), \
            "the storage emulator (STORAGE_EMULATOR_HOST) at"
    proxy = urllib.request.getproxies().get("https")
    if proxy and not urllib.request.proxy_bypass_environment(GCS_HOST):
        url = urllib.parse.urlsplit(proxy if "://" in proxy else "http://" + proxy)
        return url.hostname, url.port or 80, "the https proxy at"
    return GCS_HOST, 443, ""


def _check_reachable(pattern):
    """UnreadableInputError unless Cloud Storage (or the proxy or emulator
    in between) takes a TCP connection within REACH_TIMEOUT_S. Without one,
    Beam's client looks for credentials for about 26 s, retries the listing
    for 120 s, and the pattern then 'matches no files'."""
    host, port, what = _gcs_endpoint()
    try:
        socket.create_connection((host, port), timeout=REACH_TIMEOUT_S).close()
    except OSError as e:
        raise UnreadableInputError(
            "input.pattern %r cannot be matched: Cloud Storage could not be reached (%s%s:%d: "
            "%s); check the network connection" % (pattern, what + " " if what else "", host,
                                                  port, e.strerror or e),
            pattern) from e


def _check_readable(pattern, path):
    """UnreadableInputError unless the local `path` is a regular file we may read."""
    def fail(why):
        raise UnreadableInputError("input.pattern %r matches %s, %s; remove it or narrow the "
                                   "pattern" % (pattern, path, why), path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        fail("a link to %s, which does not exist" % os.readlink(path)
             if os.path.islink(path) else "which no longer exists")
    except OSError as e:
        fail("which cannot be read (%s)" % e.strerror)
    if not stat.S_ISREG(mode):
        fail("which is not a regular file (a FIFO, socket or device: reading it could wait "
             "forever)")
    if not os.access(path, os.R_OK):
        fail("which this process may not read (permission denied)")


def open_records(path: str):
    """(stream, raw): a binary stream of the file's TFRecord bytes (gunzipped
    when `is_gzip`), and the raw file under a gzip stream (None otherwise),
    for the caller to close. Python's gzip, not Beam's CompressedFile: it is
    faster and raises EOFError on a truncated stream, which Beam's does not."""
    raw = FileSystems.open(path, mime_type="application/octet-stream",
                           compression_type=CompressionTypes.UNCOMPRESSED)
    if is_gzip(path):
        return _GzipStream(gzip.GzipFile(fileobj=raw, mode="rb")), raw
    return raw, None


class _GzipStream:
    """A GzipFile whose `read(n)` returns the data decompressed before an
    error and raises the error on the next call. GzipFile.read(n) drops
    what it decompressed in the call that fails, so a reader could only
    blame the error on where it stood before that call (record 0 of a small
    file with trailing garbage); this way it blames the right record."""

    def __init__(self, gz):
        self._gz = gz
        self._error = None

    def read(self, n: int) -> bytes:
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        parts, got = [], 0
        try:
            while got < n:
                part = self._gz.read1(n - got)  # what one block of input gives
                if not part:
                    break
                parts.append(part)
                got += len(part)
        except Exception as e:  # EOFError, zlib.error, BadGzipFile
            if not parts:
                raise
            self._error = e
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def close(self):
        self._gz.close()


def read_text(path: str) -> str:
    """A UTF-8 text file, local or on any filesystem Beam knows, without a
    leading byte-order mark (an editor's BOM is not part of the text)."""
    path = local_path(path)
    if not is_uri(path):
        with open(path, encoding="utf-8-sig") as f:
            return f.read()
    with FileSystems.open(path) as f:
        return f.read().decode("utf-8-sig")


# -- Folders ---------------------------------------------------------------------

def files_under(folder: str) -> list:
    """Every file below `folder` (recursively), sorted; [] when it does not exist."""
    if not is_uri(folder):
        if not os.path.isdir(folder):
            return []
        return sorted(os.path.join(root, name) for root, _, names in os.walk(folder)
                      for name in names)
    prefix = folder.rstrip("/") + "/"
    try:
        result = FileSystems.match([prefix + "**"])[0]
    except Exception:  # BeamIOError: nothing there
        return []
    return sorted(m.path for m in result.metadata_list)


def remove_tree(folder: str) -> None:
    """Deletes `folder` and everything below it (local or on any Beam
    filesystem); nothing there is fine."""
    if not is_uri(folder):
        shutil.rmtree(folder, ignore_errors=True)
        return
    files = files_under(folder)
    if files:
        FileSystems.delete(files)


# -- Parquet and JSON -------------------------------------------------------------

def write_table(table: pa.Table, path: str) -> None:
    """`table` as Parquet at `path` (any Beam filesystem). Encoded in memory
    first and written in one call: through Beam's file object, pyarrow's
    many small writes took twice as long."""
    encoded = pa.BufferOutputStream()
    # Page checksums: a report damaged on disk or in a copy fails to read
    # (read_table verifies them) instead of showing other numbers.
    pq.write_table(table, encoded, write_page_checksum=True)
    with FileSystems.create(path, mime_type="application/octet-stream",
                            compression_type=CompressionTypes.UNCOMPRESSED) as f:
        f.write(encoded.getvalue())


def read_table(path: str) -> pa.Table:
    """A Parquet file as a pyarrow Table, its page checksums verified where
    it has them. Single-threaded: with pyarrow's reader threads the process
    aborted at exit ("terminate called without an active exception") in
    about half the runs here; report files are small."""
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        return pq.read_table(f, use_threads=False, page_checksum_verification=True)


def jsonable(value) -> object:
    """numpy scalars/arrays, tuples, non-finite floats -> plain JSON data."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [jsonable(v) for v in (value.tolist() if isinstance(value, np.ndarray)
                                      else value)]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def write_json(data, path: str) -> None:
    """run.json and the like: indented, NaN/inf as null."""
    text = json.dumps(jsonable(data), indent=2, allow_nan=False) + "\n"
    with FileSystems.create(path, mime_type="application/json",
                            compression_type=CompressionTypes.UNCOMPRESSED) as f:
        f.write(text.encode("utf-8"))


def read_json(path: str):
    """A JSON file from any Beam filesystem."""
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        return json.loads(f.read().decode("utf-8"))

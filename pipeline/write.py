"""Write a report: metrics.parquet, curves.parquet and run.json (SPEC §4).

Everything goes through Beam's `FileSystems`, so an output on gs:// works as
a local one does. A report is written into a temporary sibling folder and
moved into place only when complete (`ReportOutput`), so a run that fails
half-way never leaves a complete-looking report, and an existing report is
replaced only when the caller says `overwrite=True`. (Beam's WriteToParquet
deletes an existing file before its rename: NOTES.md.)
"""
import json
import math
import os
import posixpath
import shutil
import uuid

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from pipeline.errors import OutputExistsError

METRICS_FILE = "metrics.parquet"
CURVES_FILE = "curves.parquet"
RUN_FILE = "run.json"
REJECTED_DIR = "rejected"
REPORT_FILES = (METRICS_FILE, CURVES_FILE, RUN_FILE)

METRICS_SCHEMA = pa.schema([
    pa.field("head", pa.string(), nullable=False),
    pa.field("slice", pa.string(), nullable=False),
    pa.field("metric", pa.string(), nullable=False),
    pa.field("class", pa.string(), nullable=True),
    pa.field("threshold", pa.float64(), nullable=True),
    pa.field("value", pa.float64(), nullable=False),
    pa.field("key", pa.string(), nullable=False),
])

CURVES_SCHEMA = pa.schema(
    [pa.field("head", pa.string(), nullable=False),
     pa.field("slice", pa.string(), nullable=False),
     pa.field("class", pa.string(), nullable=True),
     pa.field("curve", pa.string(), nullable=False),
     pa.field("threshold", pa.float64(), nullable=False)]
    + [pa.field(name, pa.float64(), nullable=False)
       for name in ("tp", "fp", "tn", "fn", "precision", "recall", "fpr")])

CURVE_KINDS = ("roc", "pr")


def _is_local(path):
    return "://" not in path


def join(folder, *names):
    """os.path.join for local folders, '/'-joined for URIs."""
    return os.path.join(folder, *names) if _is_local(folder) else posixpath.join(folder, *names)


# -- Tables ---------------------------------------------------------------------

def rows_to_table(rows, schema):
    """Row dicts -> a pyarrow Table of exactly `schema`.

    Every row must have exactly the schema's columns; non-nullable columns
    must hold no None. Raises ValueError naming the row and column.
    """
    names = set(schema.names)
    for i, row in enumerate(rows):
        if set(row) != names:
            missing, extra = sorted(names - set(row)), sorted(set(row) - names)
            raise ValueError("row %d must have exactly the columns %s; missing %s, unexpected "
                             "%s" % (i, schema.names, missing, extra))
    try:
        table = pa.Table.from_pylist(list(rows), schema=schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
        raise ValueError("rows do not fit the schema %s: %s" % (schema, e)) from e
    for field in schema:
        column = table.column(field.name)
        if not field.nullable and column.null_count:
            first = next(i for i, v in enumerate(column.to_pylist()) if v is None)
            raise ValueError("row %d: column %r must not be null; got None"
                             % (first, field.name))
    return table


def columns_to_table(columns, schema):
    """{column: list, numpy or pyarrow array} -> a pyarrow Table of exactly `schema`;
    raises ValueError naming a missing, unexpected or null column."""
    if set(columns) != set(schema.names):
        raise ValueError("columns must be exactly %s; missing %s, unexpected %s"
                         % (schema.names, sorted(set(schema.names) - set(columns)),
                            sorted(set(columns) - set(schema.names))))
    try:
        table = pa.table({f.name: columns[f.name].cast(f.type)
                          if isinstance(columns[f.name], pa.Array)
                          else pa.array(columns[f.name], f.type) for f in schema},
                         schema=schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
        raise ValueError("columns do not fit the schema %s: %s" % (schema, e)) from e
    for field in schema:
        if not field.nullable and table.column(field.name).null_count:
            raise ValueError("column %r must not be null" % field.name)
    return table


def write_table(table, path):
    """`table` as Parquet at `path` (any Beam filesystem). Encoded in memory
    first and written in one call: through Beam's file object, pyarrow's
    many small writes took twice as long (curves.parquet of the benchmark:
    62-86 ms against 41-43 ms)."""
    encoded = pa.BufferOutputStream()
    pq.write_table(table, encoded)
    with FileSystems.create(path, mime_type="application/octet-stream",
                            compression_type=CompressionTypes.UNCOMPRESSED) as f:
        f.write(encoded.getvalue())


def read_table(path):
    """A Parquet file as a pyarrow Table. Single-threaded: with pyarrow's
    reader threads the process aborted at exit ("terminate called without an
    active exception") in about half the runs here; report files are small."""
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        return pq.read_table(f, use_threads=False)


def write_metrics(rows, path):
    """metrics.parquet: head, slice, metric, class, threshold, value, key."""
    write_table(rows_to_table(rows, METRICS_SCHEMA), path)


def write_curves(rows, path):
    """curves.parquet: head, slice, class, curve ('roc' | 'pr'), threshold,
    tp, fp, tn, fn, precision, recall, fpr."""
    for i, row in enumerate(rows):
        if row.get("curve") not in CURVE_KINDS:
            raise ValueError("row %d: curve must be one of %s; got %r"
                             % (i, CURVE_KINDS, row.get("curve")))
    write_table(rows_to_table(rows, CURVES_SCHEMA), path)


def _jsonable(value):
    """numpy scalars/arrays, tuples, non-finite floats -> plain JSON data."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_jsonable(v) for v in (value.tolist() if isinstance(value, np.ndarray)
                                      else value)]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def write_json(data, path):
    """run.json and the like: indented, NaN/inf as null."""
    text = json.dumps(_jsonable(data), indent=2, allow_nan=False) + "\n"
    with FileSystems.create(path, mime_type="application/json",
                            compression_type=CompressionTypes.UNCOMPRESSED) as f:
        f.write(text.encode("utf-8"))


def read_json(path):
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        return json.loads(f.read().decode("utf-8"))


# -- The output folder ------------------------------------------------------------

def _files_under(folder):
    """Every file below `folder` (recursively); [] when it does not exist."""
    if _is_local(folder):
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


def remove_tree(folder):
    """Deletes `folder` and everything below it (local or on any Beam
    filesystem); nothing there is fine."""
    if _is_local(folder):
        shutil.rmtree(folder, ignore_errors=True)
        return
    files = _files_under(folder)
    if files:
        FileSystems.delete(files)


def is_report(folder):
    """True when `folder` holds a headeval report (complete or not)."""
    return any(FileSystems.exists(join(folder, name)) for name in REPORT_FILES)


class ReportOutput:
    """The output folder of one run, written in a temporary sibling and put
    in place by `commit()`.

        with ReportOutput("out/report", overwrite=False) as out:
            write_metrics(rows, out.file(METRICS_FILE))
            ...                      # run.json last: it marks a report complete
        # committed here; on an exception the temporary folder is removed

    The constructor checks the destination at once, before any work:
    an existing report is refused unless `overwrite`, and a non-empty folder
    that is not a report is always refused (it may be anything; we will not
    delete it). On gs:// the final move is object by object: the old
    report's run.json is deleted first and the new one copied last, so a
    folder with a run.json is always a complete report.
    """

    def __init__(self, output, overwrite=False):
        output = str(output).rstrip("/") or "/"
        if _is_local(output):
            output = os.path.abspath(output)
        self.output = output
        self.overwrite = overwrite
        self._check()
        parent, name = (os.path.split(output) if _is_local(output)
                        else posixpath.split(output))
        self.path = join(parent, ".%s.tmp-%s" % (name, uuid.uuid4().hex[:8]))
        self._done = False
        if _is_local(self.path):
            os.makedirs(self.path)

    def _check(self):
        if _is_local(self.output) and os.path.isfile(self.output):
            raise OutputExistsError("output %s is a file, not a folder; choose another output"
                                    % self.output, self.output)
        if not _files_under(self.output):
            return
        if not is_report(self.output):
            raise OutputExistsError(
                "output %s exists and is not a headeval report (no %s); it will not be "
                "replaced: choose another output" % (self.output, " or ".join(REPORT_FILES)),
                self.output)
        if not self.overwrite:
            raise OutputExistsError(
                "output %s already holds a report; pass --overwrite (overwrite=True) to "
                "replace it" % self.output, self.output)

    def file(self, *names):
        """Path of a file of the report, inside the temporary folder."""
        return join(self.path, *names)

    def commit(self):
        """Moves the finished report into place (replacing an old one)."""
        if self._done:
            return
        self._check()
        if _is_local(self.output):
            self._commit_local()
        else:
            self._commit_remote()
        self._done = True

    def _commit_local(self):
        old = None
        if os.path.exists(self.output):
            old = "%s.old-%s" % (self.output, uuid.uuid4().hex[:8])
            os.rename(self.output, old)
        os.makedirs(os.path.dirname(self.output), exist_ok=True)
        os.rename(self.path, self.output)
        if old is not None:
            shutil.rmtree(old)

    def _commit_remote(self):
        old = _files_under(self.output)
        marker = join(self.output, RUN_FILE)
        if marker in old:
            FileSystems.delete([marker])
            old.remove(marker)
        if old:
            FileSystems.delete(old)
        prefix = self.path.rstrip("/") + "/"
        new = _files_under(self.path)
        # run.json in a call of its own, last: it makes the folder a complete
        # report (GCS renames one call's files in batches, in no set order).
        for group in ([p for p in new if p != self.file(RUN_FILE)],
                      [p for p in new if p == self.file(RUN_FILE)]):
            if group:
                FileSystems.rename(group, [join(self.output, p[len(prefix):]) for p in group])

    def abort(self):
        """Removes the temporary folder (a failed run leaves no report)."""
        if self._done:
            return
        remove_tree(self.path)
        self._done = True

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.commit()
        else:
            self.abort()
        return False

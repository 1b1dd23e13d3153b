"""A report folder written whole or not at all.

A report is written into a temporary sibling folder and moved into place
only when complete (`ReportOutput`), so a run that fails half-way never
leaves a complete-looking report, and an existing report is replaced only
when the caller says `overwrite=True`. Beam's WriteToParquet deletes an
existing file before its rename, which is why nothing writes into the
destination directly. Everything goes through `pipeline.io.files`, so an
output on gs:// works as a local one does.
"""
import os
import shutil
import uuid

from apache_beam.io.filesystems import FileSystems

from pipeline.errors import OutputExistsError
from pipeline.io.files import files_under, read_json, remove_tree
from pipeline.io.paths import is_uri, join, local_path, split
from pipeline.report.schema import (CURVES_FILE, HTML_FILE, METRICS_FILE, REJECTED_DIR,
                                    REPORT_MARKER, RUN_FILE, VOCABULARY_DIR)

# What a report folder may hold: these files, and these folders of files
# ending so. Anything else means the folder is not (only) a report.
REPORT_TOP_FILES = (METRICS_FILE, CURVES_FILE, RUN_FILE, HTML_FILE)
REPORT_FOLDERS = {REJECTED_DIR: ".parquet", VOCABULARY_DIR: ".txt"}


def _foreign_local(folder):
    """The first entry under a local `folder` that no report holds, or None.
    Stops at the first one (an output of `/` must not walk the disk) and
    follows no link."""
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_file(follow_symlinks=False) and entry.name in REPORT_TOP_FILES:
                continue
            suffix = REPORT_FOLDERS.get(entry.name)
            if suffix is None or not entry.is_dir(follow_symlinks=False):
                return entry.path
            with os.scandir(entry.path) as inner:
                for item in inner:
                    if not (item.is_file(follow_symlinks=False) and item.name.endswith(suffix)):
                        return item.path
    return None


def _foreign_remote(folder):
    """`_foreign_local` for a folder on a Beam filesystem (a listing)."""
    prefix = folder.rstrip("/") + "/"
    for path in files_under(folder):
        parts = path[len(prefix):].split("/")
        if len(parts) == 1 and parts[0] in REPORT_TOP_FILES:
            continue
        suffix = REPORT_FOLDERS.get(parts[0]) if len(parts) == 2 else None
        if suffix is not None and parts[1].endswith(suffix):
            continue
        return path
    return None


def not_a_report(folder: str):
    """Why the existing folder `folder` is not a headeval report that a run
    may replace, or None when it is one: its run.json must carry our marker
    and every file in it must be one a report has."""
    try:
        run = read_json(join(folder, RUN_FILE))
    except (OSError, IOError, ValueError):
        run = None
    if not isinstance(run, dict) or REPORT_MARKER not in run:
        return "it has no %s written by headeval" % RUN_FILE
    foreign = _foreign_local(folder) if not is_uri(folder) else _foreign_remote(folder)
    if foreign is not None:
        return "it holds %s, which is not part of a report" % foreign
    return None


def _has_entries(folder):
    """True when `folder` exists and is not empty (local: one listing only)."""
    if not is_uri(folder):
        if not os.path.isdir(folder):
            return False
        with os.scandir(folder) as entries:
            return any(True for _ in entries)
    return bool(files_under(folder))


class ReportOutput:
    """The output folder of one run, written in a temporary sibling and put
    in place by `commit()`.

        with ReportOutput("out/report", overwrite=False) as out:
            write_table(metrics, out.file(METRICS_FILE))
            ...                      # run.json last: it marks a report complete
        # committed here; on an exception the temporary folder is removed

    The constructor checks the destination at once, before any work:
    an existing report is refused unless `overwrite`, and a non-empty folder
    that is not a report is always refused (it may be anything; we will not
    delete it). On gs:// the final move is object by object: the old
    report's run.json is deleted first and the new one copied last, so a
    folder with a run.json is always a complete report.
    """

    def __init__(self, output: str, overwrite: bool = False):
        output = local_path(str(output)).rstrip("/") or "/"
        if not is_uri(output):
            # Through any link: the report replaces the folder a link points
            # to, and the link then shows the new report.
            output = os.path.realpath(output)
        self.output = output
        self.overwrite = overwrite
        self._check()
        parent, name = split(output)
        self.path = join(parent, ".%s.tmp-%s" % (name, uuid.uuid4().hex[:8]))
        self._done = False
        if not is_uri(self.path):
            os.makedirs(self.path)

    def _check(self):
        if not is_uri(self.output) and os.path.isfile(self.output):
            raise OutputExistsError("output %s is a file, not a folder; choose another output"
                                    % self.output, self.output)
        if not _has_entries(self.output):
            return
        why = not_a_report(self.output)
        if why is not None:
            raise OutputExistsError(
                "output %s exists and is not a headeval report (%s); it will not be "
                "replaced: choose another output" % (self.output, why), self.output)
        if not self.overwrite:
            raise OutputExistsError(
                "output %s already holds a report; pass --overwrite (overwrite=True) to "
                "replace it" % self.output, self.output)

    def file(self, *names: str) -> str:
        """Path of a file of the report, inside the temporary folder."""
        return join(self.path, *names)

    def commit(self) -> None:
        """Moves the finished report into place (replacing an old one)."""
        if self._done:
            return
        self._check()
        if not is_uri(self.output):
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
        old = files_under(self.output)
        marker = join(self.output, RUN_FILE)
        if marker in old:
            FileSystems.delete([marker])
            old.remove(marker)
        if old:
            FileSystems.delete(old)
        prefix = self.path.rstrip("/") + "/"
        new = files_under(self.path)
        # run.json in a call of its own, last: it makes the folder a complete
        # report (GCS renames one call's files in batches, in no set order).
        for group in ([p for p in new if p != self.file(RUN_FILE)],
                      [p for p in new if p == self.file(RUN_FILE)]):
            if group:
                FileSystems.rename(group, [join(self.output, p[len(prefix):]) for p in group])

    def abort(self) -> None:
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

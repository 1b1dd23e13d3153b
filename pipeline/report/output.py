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
from pipeline.io.files import files_under, remove_tree
from pipeline.io.paths import is_uri, join, local_path, split
from pipeline.report.schema import REPORT_FILES, RUN_FILE


def is_report(folder: str) -> bool:
    """True when `folder` holds a headeval report (complete or not)."""
    return any(FileSystems.exists(join(folder, name)) for name in REPORT_FILES)


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

    def __init__(self, output, overwrite=False):
        output = local_path(str(output)).rstrip("/") or "/"
        if not is_uri(output):
            output = os.path.abspath(output)
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
        if not files_under(self.output):
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

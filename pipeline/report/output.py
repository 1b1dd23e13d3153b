"""A report folder written whole or not at all.

A report is written into a temporary sibling folder and moved into place
only when complete (`ReportOutput`), so a run that fails half-way never
leaves a complete-looking report, and an existing report is replaced only
when the caller says `overwrite=True`. Beam's WriteToParquet deletes an
existing file before its rename, which is why nothing writes into the
destination directly. Everything goes through `pipeline.io.files`, so an
output on gs:// works as a local one does.

A run killed outright (SIGKILL, power loss) cannot clean up, so the hidden
siblings it leaves are named after their owner, `.NAME.tmp-HOST-PID-RAND`
(its unfinished report) and `.NAME.old-HOST-PID-RAND` (the old report,
moved aside during the final move), and the next run to the same local
output clears those of processes of this host that are gone: an unfinished
one is deleted; an old report is moved back when the destination is empty
(the run died before its new report was in place), else deleted. Folders
of live processes, of other hosts and on gs:// are left alone: whether
their owner still runs cannot be told from here.
"""
import errno
import os
import re
import shutil
import socket
import uuid

from apache_beam.io.filesystems import FileSystems

from pipeline.errors import HeadevalError, OutputExistsError, OutputWriteError
from pipeline.io.files import files_under, read_json, remove_tree
from pipeline.io.paths import is_uri, join, local_path, split
from pipeline.report.schema import (BLESSED_FILE, COMPARISON_FILE, CURVES_FILE, HTML_FILE,
                                    METRICS_FILE, NOT_BLESSED_FILE, REJECTED_DIR, REPORT_MARKER,
                                    RUN_FILE, VALIDATION_FILE, VOCABULARY_DIR)

# What a report folder may hold: these files, and these folders of files
# ending so. Anything else means the folder is not (only) a report.
REPORT_TOP_FILES = (METRICS_FILE, CURVES_FILE, RUN_FILE, HTML_FILE, COMPARISON_FILE,
                    VALIDATION_FILE, BLESSED_FILE, NOT_BLESSED_FILE)
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


# -- owners of the hidden siblings ---------------------------------------------------

# This host's name as it goes into the siblings' names: no "-" (the field
# separator), nothing a file name should not hold.
_HOST = re.sub(r"[^A-Za-z0-9.]", "_", socket.gethostname()) or "localhost"

# What a run writes that only a failed write explains (whatever the path).
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG}


def is_write_failure(exc: BaseException) -> bool:
    """True for an OSError that only a failed write of a report explains:
    a full disk or quota, a read-only file system, or any error on a path
    in a report's temporary folder. (The CLI drops Beam's log of it: the
    run fails with `write_error`'s one line.)"""
    if not isinstance(exc, OSError):
        return False
    return exc.errno in _WRITE_ERRNOS or any(
        isinstance(n, str) and re.search(r"/\.[^/]+\.tmp-[^/-]+-\d+-[0-9a-f]{8}(/|$)", n)
        for n in (exc.filename, exc.filename2))


def _sibling(output, kind):
    """`.NAME.KIND-HOST-PID-RAND` beside `output`: this process's temporary
    (`tmp`) or set-aside (`old`) folder."""
    parent, name = split(output)
    return join(parent, ".%s.%s-%s-%d-%s" % (name, kind, _HOST, os.getpid(),
                                              uuid.uuid4().hex[:8]))


def _owner_gone(entry, name):
    """`(kind, True)` when `entry` is a `.NAME.tmp-`/`.NAME.old-` sibling of
    a process of this host that no longer runs; `(kind, False)` when its owner
    runs or may (another host, our own process); `(None, False)` for any
    other name."""
    match = re.fullmatch(r"\.%s\.(tmp|old)-([^-]+)-(\d+)-[0-9a-f]{8}" % re.escape(name), entry)
    if match is None:
        return None, False
    kind, host, pid = match.group(1), match.group(2), int(match.group(3))
    if host != _HOST or pid == os.getpid():
        return kind, False
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return kind, True
    except OSError:  # EPERM: it exists, another user's
        pass
    return kind, False


def _remove(path):
    """Removes a dead run's sibling: a link (an output that was one, moved
    aside) is unlinked, as rmtree refuses links; a folder goes whole."""
    if os.path.islink(path) or not os.path.isdir(path):
        os.unlink(path)
    else:
        shutil.rmtree(path)


def clean_dead_siblings(output: str) -> list:
    """Clears what dead runs of this host left beside the local `output`
    (see the module's docstring); returns the paths removed or restored.
    Never fails: a sibling that cannot be cleared is left."""
    parent, name = os.path.split(output)
    try:
        entries = sorted(os.listdir(parent or "."))
    except OSError:
        return []
    done, olds = [], []
    for entry in entries:
        kind, gone = _owner_gone(entry, name)
        path = os.path.join(parent, entry)
        if not gone:
            continue
        if kind == "old":
            olds.append(path)
            continue
        try:
            _remove(path)
        except OSError:
            continue
        done.append(path)
    for path in olds:
        try:
            # Moved aside, and the new report never got in: it is the report.
            if not os.path.lexists(output) and not_a_report(path) is None:
                os.rename(path, output)
            else:
                _remove(path)
            done.append(path)
        except OSError:
            pass
    return done


def _check_no_link_loop(output):
    """A link loop on the way to `output` (realpath does not say so) is
    refused: the commit would move the link aside and leave it behind."""
    try:
        os.stat(output)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise OutputWriteError("output %s is a symbolic link loop (%s); choose another "
                                   "output" % (output, e.strerror), output) from e


def _check_not_the_working_folder(output):
    """The report replaces its folder whole: never the folder a shell (or
    this process) works in, nor one holding it."""
    try:
        here = os.path.realpath(os.getcwd())
    except OSError:  # the working folder was deleted
        return
    if here == output or here.startswith(output.rstrip(os.sep) + os.sep):
        raise OutputExistsError(
            "output %s is the current working folder%s; a report replaces its folder whole: "
            "choose another output" % (output, "" if here == output else " or holds it"),
            output)


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

    Folders left by dead runs of this host are cleared first
    (`clean_dead_siblings`). A folder that cannot be created or written is
    an `OutputWriteError` naming the path and the system's reason
    (`write_error` finds it behind Beam's wrapping).
    """

    def __init__(self, output: str, overwrite: bool = False):
        if not str(output).strip():
            raise OutputWriteError("the output folder is empty (%r): name a folder"
                                   % str(output), str(output))
        output = local_path(str(output)).rstrip("/") or "/"
        if not is_uri(output):
            _check_no_link_loop(output)
            # Through any link: the report replaces the folder a link points
            # to, and the link then shows the new report.
            output = os.path.realpath(output)
        self.output = output
        self.overwrite = overwrite
        if not is_uri(output):
            clean_dead_siblings(output)
        self._check()
        self.path = _sibling(output, "tmp")
        self._old = None  # the old report while the commit moves it aside
        self._done = False
        if not is_uri(self.path):
            try:
                os.makedirs(self.path)
            except OSError as e:
                raise self._write_error(e) from e

    def _check(self):
        if not is_uri(self.output) and os.path.isfile(self.output):
            raise OutputExistsError("output %s is a file, not a folder; choose another output"
                                    % self.output, self.output)
        if not _has_entries(self.output):
            self._check_not_the_working_folder()
            return
        why = not_a_report(self.output)
        if why is None and not is_uri(self.output) and not os.access(self.output, os.W_OK):
            # Moving a folder updates its "..": it needs write permission,
            # known now rather than after the whole run.
            raise OutputWriteError("cannot replace the report %s: Permission denied (the "
                                   "folder is read-only)" % self.output, self.output)
        if why is not None:
            raise OutputExistsError(
                "output %s exists and is not a headeval report (%s); it will not be "
                "replaced: choose another output" % (self.output, why), self.output)
        if not self.overwrite:
            raise OutputExistsError(
                "output %s already holds a report; pass --overwrite (overwrite=True) to "
                "replace it" % self.output, self.output)
        self._check_not_the_working_folder()

    def _check_not_the_working_folder(self):
        if not is_uri(self.output):
            _check_not_the_working_folder(self.output)

    def file(self, *names: str) -> str:
        """Path of a file of the report, inside the temporary folder."""
        return join(self.path, *names)

    def commit(self) -> None:
        """Moves the finished report into place (replacing an old one)."""
        if self._done:
            return
        self._check()
        try:
            if not is_uri(self.output):
                self._commit_local()
            else:
                self._commit_remote()
        except BaseException as e:
            self.abort()  # an interrupt, a failed rename: the old report goes back
            if isinstance(e, OSError):
                raise self._write_error(e) from e
            raise
        self._done = True

    def _commit_local(self):
        # Two renames; between them the destination is empty and the old
        # report is in self._old, which abort() (an interrupt) or the next
        # run (a kill) moves back.
        if os.path.lexists(self.output):
            self._old = _sibling(self.output, "old")
            os.rename(self.output, self._old)
        os.makedirs(os.path.dirname(self.output), exist_ok=True)
        os.rename(self.path, self.output)
        self._done = True
        if self._old is not None:
            shutil.rmtree(self._old, ignore_errors=True)
            self._old = None

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
        """Removes the temporary folder (a failed run leaves no report); an
        old report that a commit cut short had moved aside goes back."""
        if self._done:
            return
        old = self._old
        if old is not None and os.path.lexists(old):
            if os.path.lexists(self.output):  # the new report got in: done
                self._done = True
                shutil.rmtree(old, ignore_errors=True)
                return
            os.rename(old, self.output)
        remove_tree(self.path)
        self._done = True

    def write_error(self, exc: BaseException):
        """An `OutputWriteError` for `exc` when it (or an exception it
        happened during, as Beam wraps a worker's error in a RuntimeError)
        is a failure to write the report; else None."""
        seen = set()
        while exc is not None and id(exc) not in seen and not isinstance(exc, HeadevalError):
            seen.add(id(exc))
            if isinstance(exc, OSError) and (exc.errno in _WRITE_ERRNOS or self._ours(exc)):
                return self._write_error(exc)
            exc = exc.__cause__ or exc.__context__
        return None

    def _ours(self, e):
        """True when the OSError `e` names a path of this report."""
        parent, name = split(self.output)
        mine = (self.output.rstrip("/") + "/", join(parent, ".%s." % name))
        return any(n == self.output or n.startswith(mine)
                   for n in (e.filename, e.filename2) if isinstance(n, str))

    def _write_error(self, e):
        """The one-line `OutputWriteError` for the OSError `e`."""
        reason = e.strerror or str(e)
        where = e.filename if isinstance(e.filename, str) else None
        if e.errno == errno.ENOTDIR:
            # `--output somefile/report`: name the file in the way.
            up = self.output
            while up and up != os.path.dirname(up) and not os.path.lexists(up):
                up = os.path.dirname(up)
            if os.path.lexists(up) and not os.path.isdir(up):
                return OutputWriteError("cannot write the report to %s: %s is a file, not a "
                                        "folder" % (self.output, up), self.output)
        if where and where != self.output:
            reason = "%s (%s)" % (reason, where)
        return OutputWriteError("cannot write the report to %s: %s" % (self.output, reason),
                                self.output)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.commit()
        else:
            self.abort()
        return False

"""A Beam filesystem with object-store semantics for tests: `fakegs://...`.

Paths map to files under a local root, but like GCS there are no folders:
listing is by prefix, and writing or renaming to `a/b/c` needs no `a/b`.
Registering is importing this module (Beam finds FileSystem subclasses by
their scheme); `use_root(path)` points it at a temporary folder. It lets the
gs:// code paths (URI joins, prefix listing, object-by-object moves) run
without a network.
"""
import os
import posixpath

from apache_beam.io.filesystem import CompressionTypes, FileMetadata
from apache_beam.io.localfilesystem import LocalFileSystem

SCHEME = "fakegs"
PREFIX = SCHEME + "://"


class FakeObjectStore(LocalFileSystem):
    root = None

    @classmethod
    def scheme(cls):
        return SCHEME

    # - path mapping -
    def _local(self, path):
        if FakeObjectStore.root is None:
            raise RuntimeError("call fake_object_store.use_root(folder) first")
        return os.path.join(FakeObjectStore.root, path[len(PREFIX):])

    def _uri(self, local):
        return PREFIX + os.path.relpath(local, FakeObjectStore.root).replace(os.sep, "/")

    # - no folders -
    def has_dirs(self):
        return False

    def join(self, basepath, *paths):
        return posixpath.join(basepath, *paths)

    def split(self, path):
        return posixpath.split(path)

    def mkdirs(self, path):
        pass

    def _list(self, prefix):
        start = self._local(prefix)
        for folder, _, names in os.walk(FakeObjectStore.root):
            for name in names:
                local = os.path.join(folder, name)
                if local.startswith(start):
                    yield FileMetadata(self._uri(local), os.path.getsize(local),
                                       os.path.getmtime(local))

    def exists(self, path):
        return os.path.isfile(self._local(path))

    def metadata(self, path):
        local = self._local(path)
        return FileMetadata(path, os.path.getsize(local), os.path.getmtime(local))

    def size(self, path):
        return os.path.getsize(self._local(path))

    # - objects -
    def create(self, path, mime_type="application/octet-stream",
               compression_type=CompressionTypes.AUTO):
        local = self._local(path)
        os.makedirs(os.path.dirname(local), exist_ok=True)
        return super().create(local, mime_type, compression_type)

    def open(self, path, mime_type="application/octet-stream",
             compression_type=CompressionTypes.AUTO):
        return super().open(self._local(path), mime_type, compression_type)

    def rename(self, source_file_names, destination_file_names):
        for src, dst in zip(source_file_names, destination_file_names):
            local = self._local(dst)
            os.makedirs(os.path.dirname(local), exist_ok=True)
            os.rename(self._local(src), local)
            self._prune(self._local(src))

    def delete(self, paths):
        for path in paths:
            os.remove(self._local(path))
            self._prune(self._local(path))

    @staticmethod
    def _prune(local):
        """Removes the folders left empty above a moved or deleted object: an
        object store has no folders, so none may linger once their last
        object is gone."""
        root = os.path.abspath(FakeObjectStore.root)
        folder = os.path.dirname(os.path.abspath(local))
        while folder != root and folder.startswith(root + os.sep):
            try:
                os.rmdir(folder)
            except OSError:  # not empty (or already gone)
                break
            folder = os.path.dirname(folder)


def use_root(folder):
    FakeObjectStore.root = str(folder)

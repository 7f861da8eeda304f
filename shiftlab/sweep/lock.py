"""One writer per sweep folder: a lock file naming its holder, held with ``flock`` while the sweep runs.

``SweepLock(root)`` creates ``root/.sweep.lock`` (and ``root`` where it is
new), takes an exclusive ``flock`` on it and writes the holder into it: pid,
host and start time. A second sweep on the folder gets a ``SweepStoreError``
naming that holder. The kernel drops an ``flock`` when its process dies, so a
lock file whose lock is free was left by a sweep that was killed: it is taken
over, with a warning naming the old holder. The lock is released, and its
file removed, when the ``with`` block ends, by an exception or Ctrl-C too; a
folder the lock created and nothing else used is removed with it.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import socket
import time
from pathlib import Path

from shiftlab.errors import SweepStoreError

LOCK_FILE = ".sweep.lock"
log = logging.getLogger(__name__)


def holder_text(raw: str) -> str:
    """The holder recorded in a lock file, in words (the raw text, shortened, when it is not one shiftlab wrote)."""
    try:
        holder = json.loads(raw)
        return f"pid {int(holder['pid'])} on {str(holder['host'])[:100]}, started {str(holder['started'])[:40]}"
    except (ValueError, TypeError, KeyError):
        return f"an unknown holder ({raw[:80]!r})"


class SweepLock:
    """The exclusive right to write sweep folder ``root``, as a context manager."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.path = self.root / LOCK_FILE
        self.fd: int | None = None
        self.created: list[Path] = []  # the folders the lock made, deepest first

    def __enter__(self) -> SweepLock:
        try:
            self.created = [p for p in (self.root, *self.root.parents) if not p.exists()]
            self.root.mkdir(parents=True, exist_ok=True)
            self._acquire()
        except OSError as exc:
            self._remove_new_root()
            if isinstance(exc, SweepStoreError):
                raise
            raise SweepStoreError(f"{self.path}: cannot lock the sweep folder ({exc.strerror or exc})") from None
        return self

    def _acquire(self) -> None:
        """Lock the file at ``self.path``, retrying when another writer removed it between our open and lock."""
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                raw = os.pread(fd, 4096, 0).decode(errors="replace")
                os.close(fd)
                if exc.errno not in (errno.EWOULDBLOCK, errno.EACCES):
                    raise
                raise SweepStoreError(f"{self.root}: another sweep is writing this folder ({holder_text(raw)}); wait "
                                      f"for it to end or use another --out") from None
            if os.path.exists(self.path) and os.stat(self.path).st_ino == os.fstat(fd).st_ino:
                break
            os.close(fd)  # the file we locked was removed by its last holder: lock the new one
        self.fd = fd
        stale = os.pread(fd, 4096, 0).decode(errors="replace")
        if stale.strip():
            log.warning("%s: taking over the lock of a sweep that is no longer running (%s)", self.root,
                        holder_text(stale))
        holder = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode(), 0)

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            try:
                os.unlink(self.path)  # while still holding it, so that no one locks the file we remove
            except FileNotFoundError:
                pass
            os.close(self.fd)
            self.fd = None
        self._remove_new_root()

    def _remove_new_root(self) -> None:
        """Remove the folders this lock created while they are empty (a sweep that failed before writing anything)."""
        for folder in self.created:
            try:
                folder.rmdir()
            except OSError:
                return  # it holds what the sweep wrote

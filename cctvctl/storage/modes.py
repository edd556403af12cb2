"""Permission bits of every file and folder the server writes under its storage root.

Footage of people, export clips and the audit log are personal data: by default files are
0640 and folders 0750, and ``[server] file_mode`` may give the group write access
("0660") or take its read access away ("0600"); others never get anything.

The server runs inside uvicorn in this process, so the umask is whatever the service
manager or the shell left; nothing here relies on it. Files are created with
``os.open(mode)`` (never wider than asked) and then ``fchmod``-ed to exactly the mode, and
folders are made with ``mkdir(mode)`` and then ``chmod``-ed, so there is no moment in which
a file or folder is wider than it will end up.
"""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Final

__all__ = ["DEFAULT_MODES", "FileModes"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FileModes:
    """The mode of files and of folders; folders may be entered wherever files are readable."""

    file: int = 0o640
    folder: int = 0o750

    @classmethod
    def for_file_mode(cls, file: int) -> FileModes:
        return cls(file, file | (file & 0o444) >> 2)

    def make_dirs(self, path: Path) -> None:
        """``mkdir -p path``: every folder made here gets :attr:`folder`; others are left."""
        missing: list[Path] = []
        probe = path
        while not probe.is_dir() and probe != probe.parent:
            missing.append(probe)
            probe = probe.parent
        for folder in reversed(missing):
            try:
                folder.mkdir(self.folder)
            except FileExistsError:
                if not folder.is_dir():
                    raise
                continue  # another thread made it; that thread sets its mode
            os.chmod(folder, self.folder)

    def open(self, path: Path, flags: int = os.O_WRONLY | os.O_CREAT | os.O_EXCL) -> int:
        """``os.open`` that leaves the file at exactly :attr:`file`, created or not."""
        fd = os.open(path, flags, self.file)
        try:
            os.fchmod(fd, self.file)
        except PermissionError as exc:
            # Only an existing file of another user (say, an index copied in by root):
            # it stays usable, and its owner can fix the mode.
            log.warning("cannot set %s to mode %04o: %s", path, self.file, exc.strerror)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def create_empty(self, path: Path, *, exclusive: bool = True) -> None:
        """Create ``path`` empty (truncate it when not ``exclusive``) with :attr:`file`."""
        flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
        os.close(self.open(path, flags))

    def write_text(self, path: Path, text: str) -> None:
        """Write ``path`` (replacing it) as UTF-8 with :attr:`file`."""
        fd = self.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)

    def apply(self, path: Path, *, folder: bool) -> bool:
        """Set ``path`` to this mode if it differs (files made by an older version).

        Returns True when it changed anything. A path that vanished meanwhile, or that
        belongs to another user, is left alone (the latter with a warning).
        """
        want = self.folder if folder else self.file
        try:
            st = path.lstat()
            if stat.S_ISLNK(st.st_mode) or stat.S_IMODE(st.st_mode) == want:
                return False
            os.chmod(path, want)
        except FileNotFoundError:
            return False
        except PermissionError as exc:
            log.warning("cannot set %s to mode %04o: %s", path, want, exc.strerror)
            return False
        return True

    def apply_root(self, root: Path) -> bool:
        """:meth:`apply` to a storage root, but only one this user owns that is not sticky.

        A storage root pointed at a shared folder such as /tmp must not make that folder
        unusable for everyone else; the folders below it are ours and carry the mode.
        """
        try:
            st = root.stat()
        except FileNotFoundError:
            return False
        if st.st_uid != os.geteuid() or st.st_mode & stat.S_ISVTX:
            return False
        return self.apply(root, folder=True)

    def apply_walk(self, top: Path) -> int:
        """:meth:`apply` to ``top`` and everything below it; returns how many changed."""
        changed = int(self.apply(top, folder=True))
        for folder, dirs, files in os.walk(top):
            changed += sum(self.apply(Path(folder, d), folder=True) for d in dirs)
            changed += sum(self.apply(Path(folder, f), folder=False) for f in files)
        return changed


DEFAULT_MODES: Final = FileModes()

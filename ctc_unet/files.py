"""Writing files so that a reader never sees half of one: stage in a temporary sibling, then
rename into place (``os.replace`` is atomic on POSIX file systems).

Staging names carry the host and process id (``.NAME.<host>-<pid>-XXXX.part`` for files,
``.NAME.tmp-<host>-<pid>-XXXX`` for folders), so that ``remove_stale_staging`` can tell the
litter of a killed process from the staging of one still running. Staged files and folders get
the permissions the umask gives (``mkstemp``/``mkdtemp`` alone would give 600/700, and a
colleague on a shared cluster could not read the results).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import re
import shutil
import socket
import stat
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from ctc_unet.errors import OutputError

logger = logging.getLogger(__name__)

STALE_AFTER_S = 24 * 3600  # staging of another host is removed only when this old
_STAGING_RE = re.compile(r"^\..+\.(?:tmp-)?(?P<host>[A-Za-z0-9_.-]+?)-(?P<pid>\d+)-[^.]+"
                         r"(?:\.part)?\Z")
_OLD_RE = re.compile(r"^\..+\.old-(?P<pid>\d+)(?:-[0-9a-f]+)?\Z")


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname())[:40] or "host"


def _tag() -> str:
    return f"{_host()}-{os.getpid()}-"


def umask() -> int:
    """The process's umask (read without changing it for longer than a call)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def give_umask_mode(path: Path) -> None:
    """Give a staged file 666 & ~umask, a staged folder 777 & ~umask."""
    base = 0o777 if Path(path).is_dir() else 0o666
    os.chmod(path, base & ~umask())


def make_parents(folder: Path) -> list[Path]:
    """``mkdir -p folder``; returns the folders it created, outermost first."""
    folder = Path(folder)
    missing = [p for p in (folder, *folder.parents) if not p.exists()][::-1]
    folder.mkdir(parents=True, exist_ok=True)
    return missing


def remove_empty(created: list[Path]) -> None:
    """Undo ``make_parents``: remove the folders it created, innermost first, if empty."""
    for p in reversed(created):
        with contextlib.suppress(OSError):
            p.rmdir()


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Call ``write(tmp)`` on a temporary sibling of ``path``, then rename it to ``path``;
    on any failure the temporary file and the folders made for it are removed."""
    path = Path(path)
    created = make_parents(path.parent)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{_tag()}",
                                   suffix=".part")
        os.close(fd)
        write(Path(tmp))
        give_umask_mode(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        remove_empty(created)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    """Write a small text file atomically."""
    atomic_write(Path(path), lambda p: p.write_text(text))


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``folder`` itself (no lock file is left behind); a no-op
    where the file system refuses locks."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        yield
        return
    try:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _real(path: Path) -> Path:
    return Path(os.path.realpath(Path(path).expanduser()))


def check_apart(output: Path, inputs: Iterable[Path], replaces: bool = True) -> None:
    """Refuse an output location that is an input, lies inside one, or (when the output
    is replaced as a whole, ``replaces``) contains one; symbolic links are followed.
    OutputError names both; nothing has been written yet."""
    out = _real(output)
    for given in inputs:
        inp = _real(given)
        if out == inp:
            raise OutputError(f"{output}: this output location is the input {given}; writing "
                              "it would destroy the input, choose another output")
        if inp in out.parents:
            raise OutputError(f"{output}: this output location lies inside the input "
                              f"{given}; choose an output outside it")
        if replaces and out in inp.parents:
            raise OutputError(f"{output}: this output location contains the input {given}, "
                              "which replacing it would delete; choose another output")


def holds_only(folder: Path, name_ok: Callable[[str], object]) -> bool:
    """True when ``folder`` holds something and every entry but hidden ones (staging) has a
    name that ``name_ok`` accepts: the test for an earlier output of one kind."""
    names = [p.name for p in Path(folder).iterdir() if not p.name.startswith(".")]
    return bool(names) and all(name_ok(n) for n in names)


def check_replaceable(final: Path, owned: Callable[[Path], bool] | None = None,
                      what: str = "an output of ctc-unet") -> None:
    """Refuse to replace what ctc-unet did not write: ``final`` may be absent, an empty
    folder, or (with ``owned``) a folder that ``owned`` recognizes as an earlier ``what``;
    a file, or a folder of other content, is refused with OutputError."""
    final = Path(final)
    try:
        mode = os.lstat(final).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(mode):
        raise OutputError(f"{final}: exists and is not a folder; the output is a folder "
                          f"({what}), so choose another name or remove the file")
    try:
        if owned is None or not any(final.iterdir()) or owned(final):
            return
    except FileNotFoundError:  # another publisher of the same output swapped it meanwhile
        return
    raise OutputError(f"{final}: this folder holds files that are not {what}; refusing to "
                      "replace it (choose a new or empty folder, or remove it first)")


def replace_dir(staging: Path, final: Path, attempts: int = 50) -> Path:
    """Move a completely written folder into place, replacing an older one at ``final``.

    Safe against another process publishing the same ``final`` at the same time (two batch
    jobs with one ``--out``): the swap holds a lock on the parent folder, and where locks do
    not work, a rename that another publisher overtook is retried. The last complete writer
    wins, neither fails, and no staging or old copy is left behind.
    """
    final = Path(final)
    check_replaceable(final)
    with _folder_lock(final.parent):
        for _ in range(attempts):
            old = final.with_name(f".{final.name}.old-{os.getpid()}-{os.urandom(3).hex()}")
            try:
                os.replace(final, old)
            except FileNotFoundError:
                old = None
            try:
                os.replace(staging, final)
            except OSError as exc:  # another publisher put a folder there in between
                if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST) or not final.exists():
                    raise
                if old is not None:
                    shutil.rmtree(old, ignore_errors=True)
                continue
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
            return final
    raise OSError(errno.EBUSY, f"{final}: could not be replaced ({attempts} attempts while "
                  "other processes kept publishing it)")


def make_staging_dir(final: Path) -> Path:
    """An empty staging folder beside ``final`` (mode from the umask)."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.tmp-{_tag()}"))
    give_umask_mode(staging)
    return staging


@contextlib.contextmanager
def staged_dir(final: Path, owned: Callable[[Path], bool] | None = None,
               what: str = "an output of ctc-unet") -> Iterator[Path]:
    """Yield a staging folder; when the block ends without error it replaces ``final``; on
    any error (or signal) it and the folders made for it are removed, and ``final`` stays as
    it was. ``final`` must be absent, empty or (``owned``) an earlier ``what``: anything
    else is refused before the staging folder is made, and again before it is replaced."""
    check_replaceable(final, owned, what)
    created = make_parents(Path(final).parent)
    staging = None
    try:
        staging = make_staging_dir(final)
        yield staging
        check_replaceable(final, owned, what)
        replace_dir(staging, Path(final))
    except BaseException:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        remove_empty(created)
        raise


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_stale(path: Path, locked: bool) -> bool:
    if locked:  # the caller holds the folder's lock: only this process stages there
        return f"-{os.getpid()}-" not in path.name and not path.name.endswith(f"-{os.getpid()}")
    m = _STAGING_RE.match(path.name)
    if m is None:
        old = _OLD_RE.match(path.name)
        return old is not None and not _alive(int(old.group("pid")))
    if m.group("host") == _host():
        return int(m.group("pid")) != os.getpid() and not _alive(int(m.group("pid")))
    with contextlib.suppress(OSError):
        return time.time() - path.lstat().st_mtime > STALE_AFTER_S
    return False


def remove_stale_staging(folder: Path, recursive: bool = False, locked: bool = False
                         ) -> list[Path]:
    """Remove staging files and folders that killed processes left in ``folder`` (and, with
    ``recursive``, below it); ``locked``: the caller holds the folder's lock, so all staging
    but its own is stale. Logs and returns what was removed."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = folder.rglob(".*") if recursive else folder.glob(".*")
    removed = [p for p in found if (p.name.endswith(".part") or ".tmp-" in p.name
                                    or ".old-" in p.name) and _is_stale(p, locked)]
    for p in removed:
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
    if removed:
        logger.warning("removed %d staging file(s) left by a killed run in %s: %s", len(removed),
                       folder, ", ".join(p.name for p in removed[:5]))
    return removed

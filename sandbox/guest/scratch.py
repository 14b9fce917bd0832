"""Emptying the scratch directory between runs, whatever shape a run left it in.

Runs inside the jail next to zygote.py (standard library only). A run may leave any tree: folders
nested thousands deep, paths far past PATH_MAX, folders and files with mode 0, the root itself
chmod-ed. So the wipe never builds a path and never recurses: it walks with one directory fd at a
time (``*at`` calls relative to it, ``..`` to climb back), restores each folder's mode before it
looks inside, and finishes only when a pass over the root removed every entry; then it checks that
the filesystem holds nothing.
Every process of the run is dead before the wipe starts, so nothing renames a folder under it.
"""

import errno
import os

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class ScratchNotClean(Exception):
    """The scratch directory could not be emptied: the worker must not serve another run."""


def _is_dir(entry):
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


def _empty_dir(fd):
    """Unlink the files of the directory open as fd; return the name of one subfolder that is not
    empty (None once the directory is empty). Empty subfolders are removed on the way."""
    with os.scandir(fd) as it:
        for entry in it:
            name = entry.name
            if _is_dir(entry):
                try:
                    os.chmod(name, 0o700, dir_fd=fd)
                except OSError:
                    pass
                try:
                    os.rmdir(name, dir_fd=fd)
                except OSError as exc:
                    if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                        raise
                    return name  # not empty: go in
            else:
                os.unlink(name, dir_fd=fd)
    return None


def wipe(root, mode, private_fs=False):
    """Remove everything below root (not root itself) and give root ``mode`` back.

    Iterative and fd-relative: depth and path length do not matter, and it holds two descriptors
    at most. Raises ScratchNotClean if something could not be removed or the check after fails.
    """
    fd = os.open(root, _DIR_FLAGS)
    depth = 0
    try:
        os.fchmod(fd, mode)  # first: a root the run made unreadable must be listable again
        while True:
            try:
                sub = _empty_dir(fd)
            except OSError as exc:
                raise ScratchNotClean("cannot empty a folder %d levels below the scratch root: %s"
                                      % (depth, exc)) from exc
            if sub is not None:
                try:
                    child = os.open(sub, _DIR_FLAGS, dir_fd=fd)
                except OSError as exc:
                    raise ScratchNotClean("cannot open a folder %d levels below the scratch root: %s"
                                          % (depth + 1, exc)) from exc
                os.close(fd)
                fd = child
                depth += 1
                continue
            if depth == 0:
                # A pass removed every entry it saw; one more look confirms none was missed (nothing
                # of the run is alive to add one). Then the filesystem's usage is checked.
                with os.scandir(fd) as it:
                    if next(it, None) is not None:
                        continue
                _verify_no_data(fd, private_fs)
                break
            # This folder is empty: climb back and let the parent's next pass remove it.
            parent = os.open("..", _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = parent
            depth -= 1
    finally:
        os.close(fd)


def _verify_no_data(fd, private_fs):
    """A tmpfs charges what it holds to the worker's memory: this is also the check that the memory
    is back. Only a filesystem of its own (the jail's tmpfs) is checked: a process backend's scratch
    folder shares its filesystem with the host."""
    if not private_fs:
        return
    fs = os.fstatvfs(fd)
    if fs.f_bfree != fs.f_blocks:
        raise ScratchNotClean("scratch filesystem still holds %d blocks after the wipe" % (fs.f_blocks - fs.f_bfree))

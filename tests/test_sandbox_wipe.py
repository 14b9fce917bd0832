"""The scratch wipe (sandbox/guest/scratch.py) on trees a run may leave: any depth, any path length,
any modes, links pointing out. It runs inside the jail, so it is imported here from its file."""

from __future__ import annotations

import importlib.util
import os
import stat
from pathlib import Path

import pytest

GUEST = Path(__file__).resolve().parent.parent / "sandbox" / "guest" / "scratch.py"


@pytest.fixture(scope="module")
def scratch():
    spec = importlib.util.spec_from_file_location("guest_scratch", GUEST)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _chain(root: Path, names: list[str]) -> int:
    """Folders nested along names, made fd-relative (paths past PATH_MAX); returns the deepest fd."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    for name in names:
        os.mkdir(name, dir_fd=fd)
        nfd = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = nfd
    return fd


def test_wipes_deep_long_and_locked_trees_without_following_links(scratch, tmp_path):
    root = tmp_path / "scratch"
    root.mkdir(mode=0o700)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("not the run's")
    os.close(_chain(root, ["d"] * 1500))  # deeper than any recursion limit
    fd = _chain(root, ["x" * 250] * 40)  # 10,000 characters of path
    out = os.open("bottom.bin", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=fd)
    os.write(out, b"1" * 4096)
    os.close(out)
    os.symlink(str(outside), "link", dir_fd=fd)
    os.fchmod(fd, 0)
    os.close(fd)
    (root / "top.txt").write_text("x")
    os.symlink(str(outside), root / "outlink")
    (root / "locked").mkdir()
    (root / "locked" / "f").write_text("x")
    os.chmod(root / "locked", 0)
    os.chmod(root, 0o300)  # the run made its root unlistable
    scratch.wipe(str(root), 0o700)
    assert stat.S_IMODE(os.stat(root).st_mode) == 0o700
    assert os.listdir(root) == []
    assert (outside / "keep.txt").read_text() == "not the run's"


def test_a_filesystem_that_still_holds_data_is_not_clean(scratch, tmp_path):
    # private_fs says the scratch is a filesystem of its own: data left on it means memory not given back.
    root = tmp_path / "scratch"
    root.mkdir(mode=0o700)
    (tmp_path / "elsewhere.bin").write_bytes(b"x" * 65536)  # same filesystem, outside the scratch
    scratch.wipe(str(root), 0o700, private_fs=False)
    with pytest.raises(scratch.ScratchNotClean, match="still holds"):
        scratch.wipe(str(root), 0o700, private_fs=True)

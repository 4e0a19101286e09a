"""Folders for the fault tests: one nobody can write to, the way each user can make it so."""
import contextlib
import os
import stat
import subprocess


@contextlib.contextmanager
def read_only(folder):
    """`folder` made unwritable for the block: chmod for a user, the immutable attribute for root (who ignores modes)."""
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(folder)], check=True)
        try:
            yield folder
        finally:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
    else:
        folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
        try:
            yield folder
        finally:
            folder.chmod(stat.S_IRWXU)

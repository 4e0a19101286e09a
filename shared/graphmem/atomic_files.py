"""Result files are written whole or not at all, so an interrupted run never leaves half of one."""
import json
import os
import tempfile
from pathlib import Path

UMASK = os.umask(0o022)  # read once; mkstemp makes files private, and reports are for reading
os.umask(UMASK)


def write_atomically(path, data):
    """Writes `data` (str or bytes) beside `path` and renames it into place; creates the folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
        os.chmod(temporary, 0o666 & ~UMASK)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def json_text(data):
    """`data` as the indented JSON every file of ours is written in."""
    return json.dumps(data, indent=1) + "\n"


def write_json_atomically(path, data):
    """`data` as indented JSON, written atomically."""
    write_atomically(path, json_text(data))


class NotWritable(Exception):
    """A folder results must go to cannot be written: stop before anything is measured or changed."""


def check_writable(folders):
    """Writes, syncs and removes one small file in each folder (creating it); NotWritable names the first that fails."""
    for folder in folders:
        folder = Path(folder)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".graphmem-write-check-") as probe:
                probe.write(b"x" * 4096)
                probe.flush()
                os.fsync(probe.fileno())
        except OSError as error:
            raise NotWritable(f"cannot write to {folder}: {error.strerror or error}") from None

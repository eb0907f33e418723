"""The executed log: one JSON line per command the board executed, in order, so tests can prove none was lost."""
from __future__ import annotations

import json
from pathlib import Path


class ExecutedLog:
    """Appends `{"n": line or null, "cmd": text, "t": sim seconds}` lines to a file; flushed when the board idles."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._f = open(self.path, "w", encoding="utf-8", buffering=1 << 16)  # noqa: SIM115 (lives with the log)
        self.count = 0
        self._dumps = json.JSONEncoder(ensure_ascii=True, separators=(", ", ": ")).encode

    def record(self, n: int | None, cmd: str, t: float) -> None:
        """Append one executed command."""
        self._f.write(f'{{"n": {"null" if n is None else n}, "cmd": {self._dumps(cmd)}, "t": {t:.6f}}}\n')
        self.count += 1

    def flush(self) -> None:
        """Make everything recorded so far visible to readers of the file."""
        if not self._f.closed:
            self._f.flush()

    def close(self) -> None:
        """Flush and close the file."""
        if not self._f.closed:
            self._f.flush()
            self._f.close()


def read_executed_log(path: str | Path) -> list[dict]:
    """Read an executed log back as a list of dicts (for tests and tools)."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]

"""The serving front's access log: one JSON line per request, buffered and appended.

Owns ``AccessLog``: records stamped with a millisecond UTC timestamp, kept in memory and
appended to the file at most once a second (or when the buffer is full), and flushed on close.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path
from typing import Any

import orjson

log = logging.getLogger(__name__)

_LOG_FLUSH_BYTES = 1 << 16


class AccessLog:
    """JSON lines appended to a file, buffered and written at most once a second."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._buffer = bytearray()
        self._second = -1
        self._stamp = ""

    def timestamp(self) -> str:
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._stamp}.{int((now - second) * 1000):03d}Z"

    def write(self, record: dict[str, Any]) -> None:
        record["ts"] = self.timestamp()
        self._buffer += orjson.dumps(record)
        self._buffer += b"\n"
        if len(self._buffer) >= _LOG_FLUSH_BYTES:
            self.flush()

    def flush(self) -> None:
        if self._buffer and self._fd >= 0:
            data, self._buffer = bytes(self._buffer), bytearray()
            try:
                os.write(self._fd, data)
            except OSError as exc:
                log.warning("cannot write the access log %s: %s", self.path, exc)

    async def run(self, period_s: float = 1.0) -> None:
        """Flush every ``period_s`` until cancelled."""
        while True:
            await asyncio.sleep(period_s)
            self.flush()

    def close(self) -> None:
        self.flush()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

"""Work done in a forked process while this one goes on, its answer read back when it ends."""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from typing import Any


class Forked:
    """`work()` run in a forked process, its answer written with `dumps` into a pipe; `answer` reads it.

    The forked process only works, writes and leaves (`os._exit`): nothing of this one's (buffers,
    handlers, the cache's database) runs there. A failure there is no answer, never an error here.
    """

    def __init__(self, child: int, reading: int) -> None:
        self._child: tuple[int, int] | None = (child, reading)

    @staticmethod
    def start(work: Callable[[], Any], dumps: Callable[[Any], bytes]) -> Forked | None:
        """`work` begun in a forked process; None where no process can be forked."""
        if not hasattr(os, "fork"):
            return None
        try:
            reading, writing = os.pipe()
        except OSError:
            return None
        try:
            child = os.fork()
        except OSError:
            os.close(reading)
            os.close(writing)
            return None
        if child == 0:  # pragma: no cover - the forked process answers or fails; its parent tells which
            code = 1
            try:
                os.close(reading)
                view = memoryview(dumps(work()))
                while view:
                    view = view[os.write(writing, view):]
                code = 0
            finally:
                os._exit(code)
        os.close(writing)
        return Forked(child, reading)

    def answer(self, loads: Callable[[bytes], Any]) -> Any:
        """What the work gave, read with `loads` once its process has ended; None if it failed, or was read."""
        if self._child is None:
            return None
        child, reading = self._child
        self._child = None
        parts = []
        try:
            while chunk := os.read(reading, 1 << 20):
                parts.append(chunk)
        finally:
            os.close(reading)
            _, status = os.waitpid(child, 0)
        if status != 0 or not parts:
            return None
        try:
            return loads(b"".join(parts))
        except (EOFError, ValueError, TypeError, AttributeError, ImportError, pickle.UnpicklingError):
            return None

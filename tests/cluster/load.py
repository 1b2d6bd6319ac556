"""Writers that keep brands busy while a test breaks the cluster under them (a primary killed, a
slot migrated), and what they saw: every answer, when it came, and whether it was acknowledged."""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

from brands.cache import UNAVAILABLE_WARNING, BrandCache


@dataclass
class Answer:
    at: float  # time.monotonic() when the answer came
    ok: bool  # acknowledged (set returned True / get answered without a warning)
    warning: str = ""


@dataclass
class Writer:
    """One thread calling ``step(cache, i)`` in a loop on its own BrandCache (soft failures, as
    the script runner sees them). Anything raised is a failure of the test (a 500 in a page)."""

    cache: BrandCache
    step: Callable[[BrandCache, int], bool]
    pause_s: float = 0.002
    answers: list[Answer] = field(default_factory=list)
    raised: list[BaseException] = field(default_factory=list)
    tracebacks: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Writer:
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
            assert not self._thread.is_alive(), "a writer hung"

    def _loop(self) -> None:
        i = 0
        while not self._stop.is_set():
            self.cache.warnings.clear()
            try:
                ok = bool(self.step(self.cache, i))
            except BaseException as exc:  # noqa: BLE001 - reported by the test, not swallowed
                self.raised.append(exc)
                self.tracebacks.append(traceback.format_exc())
                return
            warning = self.cache.warnings[-1] if self.cache.warnings else ""
            self.answers.append(Answer(time.monotonic(), ok and not warning, warning))
            i += 1
            time.sleep(self.pause_s)

    @property
    def unavailable(self) -> list[Answer]:
        return [a for a in self.answers if a.warning == UNAVAILABLE_WARNING]

    @property
    def other_failures(self) -> list[Answer]:
        return [a for a in self.answers if not a.ok and a.warning != UNAVAILABLE_WARNING]

    def between(self, start: float, end: float) -> list[Answer]:
        return [a for a in self.answers if start <= a.at <= end]

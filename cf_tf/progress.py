"""A small progress bar (count, rate, ETA, extra values) for every long-running cf_tf command."""

import sys
import time


class Progress:
    """Writes `desc: 120/500 [24%] 8.1 it/s ETA 47s loss=0.31` to stderr.

    On a terminal the line is redrawn in place (at most 10 times a second); in a log file a line is
    written every 10 % so CI logs stay short.
    """

    def __init__(self, total, desc, unit="it", stream=None):
        self.total, self.desc, self.unit = total, desc, unit
        self.stream = stream or sys.stderr
        self.count = 0
        self.start = self._last_draw = time.perf_counter()
        self._tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._next_decile = 1

    def update(self, n=1, **values):
        self.count += n
        now = time.perf_counter()
        if self._tty:
            if now - self._last_draw >= 0.1 or self.count >= self.total:
                self._last_draw = now
                self.stream.write("\r" + self._line(now, values))
                self.stream.flush()
        elif self.total and self.count * 10 >= self._next_decile * self.total:
            self._next_decile = self.count * 10 // self.total + 1
            self.stream.write(self._line(now, values) + "\n")
            self.stream.flush()

    def rate(self):
        return self.count / max(time.perf_counter() - self.start, 1e-9)

    def _line(self, now, values):
        rate = self.count / max(now - self.start, 1e-9)
        eta = (self.total - self.count) / rate if rate > 0 else float("inf")
        pct = 100.0 * self.count / self.total if self.total else 100.0
        extra = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items())
        return (f"{self.desc}: {self.count}/{self.total} [{pct:3.0f}%] {rate:.2f} {self.unit}/s "
                f"ETA {eta:.0f}s {extra}").rstrip()

    def close(self):
        if self._tty:
            self.stream.write("\n")
            self.stream.flush()

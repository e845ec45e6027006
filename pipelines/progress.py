"""One line per component as the local runners start and finish it, with wall time."""

import contextlib
import logging
import re
import sys
import time

# BeamDagRunner and LocalDagRunner both log these through absl.
_RUNNING = re.compile(r"(?:Component|node) (\S+) is running")
_FINISHED = re.compile(r"(?:Component|node) (\S+) is finished")


class _ProgressHandler(logging.Handler):
    def __init__(self, stream):
        super().__init__(logging.INFO)
        self._stream = stream
        self._started = {}

    def emit(self, record):
        message = record.getMessage()
        if match := _RUNNING.search(message):
            self._started[match[1]] = time.monotonic()
            print(f"[losskit] ▶ {match[1]}", file=self._stream, flush=True)
        elif match := _FINISHED.search(message):
            seconds = time.monotonic() - self._started.get(match[1], time.monotonic())
            print(f"[losskit] ✓ {match[1]} ({seconds:.0f} s)", file=self._stream, flush=True)


@contextlib.contextmanager
def component_progress(stream=sys.stderr):
    """Progress lines instead of the runners' INFO logs; warnings and errors still show.

    The absl logger gets its own level and handlers: libraries lower the root logger's level
    while components run (after Transform the runners' INFO lines would vanish).
    """
    absl_logger = logging.getLogger("absl")
    saved = (absl_logger.level, absl_logger.propagate, list(absl_logger.handlers))
    warnings = logging.StreamHandler(stream)
    warnings.setLevel(logging.WARNING)
    absl_logger.handlers = [_ProgressHandler(stream), warnings]
    absl_logger.propagate = False
    absl_logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        absl_logger.setLevel(saved[0])
        absl_logger.propagate = saved[1]
        absl_logger.handlers = saved[2]

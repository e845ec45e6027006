"""One line per component as a local run starts and finishes it, read from ML Metadata.

Watching MLMD rather than the runners' logs works the same for BeamDagRunner and
LocalDagRunner, and does not depend on which library last changed a logger's level.
"""

import contextlib
import os
import sys
import threading

from pipelines import results

_DONE = {"COMPLETE": "✓", "CACHED": "✓ cached", "FAILED": "✗ failed", "CANCELED": "✗ canceled"}


class _Watcher:
    def __init__(self, metadata_path, pipeline_name, stream):
        self._args = (metadata_path, pipeline_name)
        self._stream = stream
        self._known_ids = set(self._rows_by_id()) if os.path.exists(metadata_path) else set()
        self._announced = {}

    def _rows_by_id(self):
        return {row.id: row for row in results.executions(*self._args)}

    def poll(self):
        if not os.path.exists(self._args[0]):
            return
        try:
            rows = self._rows_by_id()
        except Exception:  # noqa: BLE001  the runner may hold the sqlite lock; try next tick
            return
        for row_id, row in sorted(rows.items()):
            if row_id in self._known_ids:
                continue
            last = self._announced.get(row_id)
            if last is None:
                self._print(f"▶ {row.component}")
            if row.state in _DONE and last not in _DONE:
                self._print(f"{_DONE[row.state]} {row.component} ({row.seconds:.0f} s)")
            self._announced[row_id] = row.state

    def _print(self, text):
        print(f"[losskit] {text}", file=self._stream, flush=True)


@contextlib.contextmanager
def component_progress(metadata_path, pipeline_name, stream=None, interval=1.0):
    """Prints progress (to `stream`, default stderr) for executions of `pipeline_name` that
    start inside the block."""
    watcher = _Watcher(metadata_path, pipeline_name, stream or sys.stderr)
    stop = threading.Event()

    def loop():
        while not stop.wait(interval):
            watcher.poll()

    thread = threading.Thread(target=loop, name="losskit-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        watcher.poll()

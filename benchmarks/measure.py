"""How the benchmarks measure: child processes, timing, peak memory and machine facts.

Child processes. Every benchmark case runs in a process of its own, so no case sees another's
allocator pools, caches or compiled functions, and a case that runs out of memory kills only
itself. Loss cases fork from a ``multiprocessing`` forkserver that has imported TensorFlow and
nothing else (no device, no eager context yet), which saves TensorFlow's ~10 s import per case
while each child still starts with an empty allocator. Beam / TFX cases use ``spawn``: Beam and
gRPC are not safe to fork.

Timing. ``time.perf_counter`` around whole calls; each repeat makes enough calls to last at least
``min_time`` seconds (timeit's autorange), so µs-scale cases are not timer-bound. On a GPU the
clock stops only after ``tf.test.experimental.sync_devices()``; on CPU a ``tf.function`` call
returns when its work is done.

Peak memory, two ways:

* ``peak_alloc_bytes`` — TensorFlow's allocator: ``reset_memory_stats`` then one steady-state
  call, ``get_memory_info(dev)['peak']`` minus the bytes live before it (the inputs). On GPU
  this is the BFC allocator; on CPU it works because TensorFlow's oneDNN build (the default on
  x86) also allocates tensors from a BFC pool that keeps statistics. Tensor bytes only.
* ``peak_rss_bytes`` (CPU) — the process's resident set: in the fresh child, after the inputs
  exist and the function has been traced, ``/proc/self/clear_refs`` ← 5 resets ``VmHWM`` (the
  peak RSS), the first call runs, and the result is ``VmHWM − VmRSS-before``. It counts what the
  OS sees, including XLA compilation (which happens in that first call) and allocator rounding.
  Only the first call can be seen: the oneDNN BFC pool keeps the pages it grew into, so later
  calls add nothing to RSS. For the same reason the inputs are drawn with NumPy and copied in
  once: temporaries freed into the pool before the baseline would hide the step's own growth.
"""

import importlib
import json
import math
import multiprocessing
import os
import platform
import statistics
import subprocess
import sys
import time
import traceback


def log(message):
    """Progress goes to stderr, so stdout stays free for what a caller pipes."""
    print(message, file=sys.stderr, flush=True)


def summarize(seconds):
    """{"median", "min", "max", "n"} of a list of per-call times (seconds)."""
    return {
        "median": statistics.median(seconds),
        "min": min(seconds),
        "max": max(seconds),
        "n": len(seconds),
    }


def time_calls(call, repeats, min_time):
    """Per-call seconds of ``call()`` for each of ``repeats`` repeats, and the calls per repeat.

    ``call`` must already be warm (traced, compiled). The number of calls per repeat is chosen
    from one extra timed call so that a repeat lasts about ``min_time`` seconds.
    """
    start = time.perf_counter()
    call()
    once = time.perf_counter() - start
    number = max(1, min(10_000, math.ceil(min_time / max(once, 1e-9))))
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            call()
        seconds.append((time.perf_counter() - start) / number)
    return seconds, number


def _status_bytes(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


def rss_peak_available():
    """Whether VmHWM can be reset (Linux ≥ 4.0 with a writable /proc/self/clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        _status_bytes("VmHWM")
    except OSError:
        return False
    return True


def rss_peak_delta(call):
    """Peak RSS growth (bytes) while ``call()`` runs: VmHWM reset, VmHWM − VmRSS before."""
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")
    before = _status_bytes("VmRSS")
    call()
    return _status_bytes("VmHWM") - before


def allocator_peak_delta(tf, device, call):
    """Peak allocator bytes above what was live before one ``call()`` on ``device``."""
    tf.config.experimental.reset_memory_stats(device)
    before = tf.config.experimental.get_memory_info(device)["current"]
    call()
    return tf.config.experimental.get_memory_info(device)["peak"] - before


def _child_main(conn, target, kwargs):
    module_name, function_name = target.split(":")
    try:
        function = getattr(importlib.import_module(module_name), function_name)
        result = {"ok": True, "value": function(**kwargs)}
    except Exception as error:  # the parent records the failure and goes on to the next case
        result = {"ok": False, "error": f"{type(error).__name__}: {error}"[:2000]}
        result["traceback"] = traceback.format_exc()[-4000:]
    conn.send(result)
    conn.close()
    # Skip the interpreter's teardown: TensorFlow's function destructors print spurious errors
    # when they run after module globals are gone, and nothing is left to clean up.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


class ChildRunner:
    """Runs the function ``target`` ("package.module:function") with ``kwargs`` in a new child
    process and returns its result. Naming the function keeps the parent from importing the
    module (and TensorFlow with it): only the children do.

    ``method`` is a multiprocessing start method; with "forkserver", ``preload`` names modules
    the fork server imports once (children then start with them already imported).
    """

    def __init__(self, method="spawn", preload=()):
        self.context = multiprocessing.get_context(method)
        if method == "forkserver" and preload:
            self.context.set_forkserver_preload(list(preload))

    def run(self, target, kwargs, timeout):
        """``{"ok": True, "value": ...}`` or ``{"ok": False, "error": ...}``; never raises for a
        failure inside the child (exception, crash, out-of-memory kill or timeout)."""
        receive, send = self.context.Pipe(duplex=False)
        process = self.context.Process(target=_child_main, args=(send, target, kwargs))
        process.start()
        send.close()
        if not receive.poll(timeout):
            process.kill()
            process.join()
            return {"ok": False, "error": f"timed out after {timeout:.0f} s"}
        try:
            result = receive.recv()
        except EOFError:  # the child died before answering
            result = None
        process.join()
        if result is None:
            code = process.exitcode
            why = " (SIGKILL: most likely out of memory)" if code == -9 else ""
            return {"ok": False, "error": f"child exited with code {code}{why}"}
        return result


def memory_available_bytes():
    """MemAvailable from /proc/meminfo (what can be allocated without swapping)."""
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    raise KeyError("MemAvailable")


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git_revision():
    """HEAD and whether the tree differs from it (results of a dirty tree are still useful,
    but the reader should know)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+dirty" if dirty else "")


def host_info():
    """Facts about this machine and its load, recorded with every result file."""
    with open("/proc/meminfo") as meminfo:
        total = int(meminfo.readline().split()[1]) * 1024
    return {
        "hostname": platform.node(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "memory_total_bytes": total,
        "memory_available_bytes": memory_available_bytes(),
        "load_average": list(os.getloadavg()),
        "python": sys.version.split()[0],
        "git": _git_revision(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def write_json(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1, sort_keys=False)
        handle.write("\n")


def read_json(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)

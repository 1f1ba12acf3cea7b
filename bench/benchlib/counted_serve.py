"""Run a `glimpse` executable's command under yappi, counting Python calls in every thread.

    <venv>/bin/python bench/benchlib/counted_serve.py CONTROL.sock <venv>/bin/glimpse serve --port P ...

Started by ``bench/calls.py`` with the interpreter of the executable under test (so the old checkout's code
runs in its own venv). A thread listens on the UNIX socket ``CONTROL.sock`` for one-line commands:
``clear`` (forget the counts so far) and ``dump PATH`` (write every function's call count and CPU time as JSON to PATH);
each is answered with ``ok``. Call counts do not depend on how busy the machine is, only on the code run
(and on the background loops' wake-ups, which ``calls.py`` measures apart while the server is idle).
"""

from __future__ import annotations

import json
import os
import runpy
import socket
import sys
import threading

import yappi


def _where(module: str) -> str:
    """A module's path without the checkout or venv it lives in, so two checkouts' functions compare."""
    for marker in ("site-packages/", "/src/"):
        if marker in module:
            return module.split(marker, 1)[1]
    if "/lib/python3." in module:  # the standard library: lib/python3.11/asyncio/tasks.py -> asyncio/tasks.py
        return module.split("/lib/python3.", 1)[1].split("/", 1)[-1]
    return module


def _dump(path: str) -> None:
    """Per function (module path and name; line numbers move between commits): calls and CPU seconds spent
    in its own code (including the C functions it calls, such as sqlite3's execute, as builtins are not
    counted apart)."""
    stats: dict[str, list[float]] = {}
    for stat in yappi.get_func_stats():
        entry = stats.setdefault(f"{_where(stat.module)}:{stat.name}", [0, 0.0])
        entry[0] += stat.ncall
        entry[1] += stat.tsub
    with open(path, "w") as handle:
        json.dump(stats, handle)


def _serve_control(path: str) -> None:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)
    while True:
        conn, _ = listener.accept()
        with conn, conn.makefile("rw") as stream:
            for line in stream:
                command, _, argument = line.strip().partition(" ")
                if command == "clear":
                    yappi.clear_stats()
                elif command == "dump":
                    yappi.stop()  # a consistent snapshot, then counting goes on
                    _dump(argument)
                    yappi.start(builtins=True, profile_threads=True)
                stream.write("ok\n")
                stream.flush()


def main() -> None:
    control, script, *args = sys.argv[1:]
    if os.path.exists(control):
        os.unlink(control)
    threading.Thread(target=_serve_control, args=(control,), daemon=True, name="counted-serve-control").start()
    yappi.set_clock_type("cpu")
    yappi.start(builtins=True, profile_threads=True)
    sys.argv = [script, *args]
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()

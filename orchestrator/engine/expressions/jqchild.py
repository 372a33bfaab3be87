"""The process that evaluates jq programs for ``jq()`` (see jqpool): run as a script.

jq's C library holds the Python interpreter while it runs, and a program such as
``def f: f; f`` never returns, so it cannot run inside the engine's process. Here it runs
under an address-space limit; the engine's side enforces the time limit by killing this
process. One request per line on stdin, ``{"program", "input"}``; one answer per line on
stdout, ``{"ok": [results]}`` or ``{"error": message}``.

It imports nothing of Choreo's (it runs with ``python -I``, no environment but PATH).
"""
from __future__ import annotations

import json
import resource
import sys
from collections import OrderedDict
from typing import Any

_PROGRAMS_KEPT = 256


def serve(memory_bytes: int, max_output: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    import jq

    programs: OrderedDict[str, Any] = OrderedDict()
    for line in sys.stdin.buffer:
        request = json.loads(line)
        try:
            program = programs.get(request["program"])
            if program is None:
                program = programs[request["program"]] = jq.compile(request["program"])
                if len(programs) > _PROGRAMS_KEPT:
                    programs.popitem(last=False)
            answer = json.dumps({"ok": program.input_text(request["input"]).all()}, ensure_ascii=False)
            if len(answer) > max_output:
                answer = json.dumps({"error": f"its results would be {len(answer):,} characters as JSON, "
                                              f"more than the limit of {max_output:,}"})
        except MemoryError:
            answer = json.dumps({"error": "it ran out of memory"})
        except Exception as exc:  # jq's compile and runtime errors are ValueErrors; anything else is the program's too
            answer = json.dumps({"error": str(exc)})
        sys.stdout.write(answer + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]))

"""Runs a `module:function` entrypoint inside a job's process and reports how it ended.

Executed as a script (`python bootstrap.py module:function`), standard library only, so a job
starts in tens of milliseconds and `import leanops` is paid only by entrypoints that use it.
Params arrive as JSON in LEANOPS_PARAMS; the outcome (an exception's class and bases, or the
numbers the function returned) is written as JSON to LEANOPS_OUTCOME for the runner to read.
SIGTERM becomes `SystemExit(143)`, so `finally` blocks and atexit hooks run within the grace
period; an entrypoint that wants to save a checkpoint may install its own handler instead.

Everything between the interpreter's start and the entrypoint's first line is on the job's
submit → start path, so this imports only what the interpreter has loaded already: `json`,
`signal` (its enums), `importlib`, `traceback` and `typing` would add tens of milliseconds.
"""

from __future__ import annotations

import _signal
import os
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import FrameType
    from typing import Any

_VARKEYWORDS = 0x08  # inspect.CO_VARKEYWORDS, without importing inspect (~20 ms)
SIGTERM = 15
TERM_EXIT = 128 + SIGTERM


def _on_term(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(TERM_EXIT)


def _accepted(fn: Callable[..., Any], params: dict[str, Any]) -> dict[str, Any]:
    """The params the function takes: all of them if it has **kwargs, else those it names."""
    code = getattr(fn, "__code__", None)
    if code is None:
        import inspect

        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError):
            return dict(params)
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values()):
            return dict(params)
        return {k: v for k, v in params.items() if k in sig.parameters}
    if code.co_flags & _VARKEYWORDS:
        return dict(params)
    names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
    return {k: v for k, v in params.items() if k in names}


def _params(text: str) -> dict[str, Any]:
    if text == "{}":
        return {}
    import json

    return dict(json.loads(text))


def _numbers(result: object) -> dict[str, float]:
    if not isinstance(result, dict):
        return {}
    import numbers

    return {str(k): float(v) for k, v in result.items() if isinstance(v, numbers.Real) and not isinstance(v, bool)}


def _peak_rss() -> int:
    """This process's high-water resident memory (VmHWM), in bytes; 0 if unknown.

    The twin of `leanops.process.peak_rss`, repeated because this script imports no leanops.
    """
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _write(path: str, outcome: dict[str, Any]) -> None:
    if not path:
        return
    import json

    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(outcome, f)
    os.replace(tmp, path)


def main() -> None:
    outcome: dict[str, Any] = {"started_at": time.time()}
    here = os.path.dirname(os.path.abspath(__file__))
    # Running a script puts its folder first on sys.path; the job's own folder belongs there.
    if sys.path and os.path.abspath(sys.path[0] or ".") == here:
        sys.path[0] = os.getcwd()
    _signal.signal(SIGTERM, _on_term)
    target = sys.argv[1]
    out_path = os.environ.get("LEANOPS_OUTCOME", "")
    code = 0
    try:
        params = _params(os.environ.get("LEANOPS_PARAMS") or "{}")
        module, _, name = target.partition(":")
        __import__(module)
        fn = getattr(sys.modules[module], name)
        outcome["metrics"] = _numbers(fn(**_accepted(fn, params)))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException as exc:  # noqa: BLE001 - reported to the runner, which classifies it
        import traceback

        traceback.print_exc()
        outcome["exception"] = type(exc).__name__
        outcome["exception_bases"] = [c.__name__ for c in type(exc).__mro__[1:] if c is not object]
        outcome["message"] = str(exc)[:2000]
        code = 1
    finally:
        outcome["ended_at"] = time.time()
        outcome["peak_rss_bytes"] = _peak_rss()
        _write(out_path, outcome)
        sys.stdout.flush()
        sys.stderr.flush()
    sys.exit(code)


if __name__ == "__main__":
    main()

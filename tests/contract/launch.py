"""Runs the schemathesis CLI with `ast.parse` serialised across threads.

CPython 3.11 keeps the AST converter's recursion depth in state shared by all threads
(gh-106905), so two workers parsing at once (Hypothesis parses lambda sources to describe
strategies) can fail with `SystemError: AST constructor recursion depth mismatch`, an error of the
interpreter, not of the API. One lock around `ast.parse` removes the race; the run is otherwise
the `schemathesis` command itself.
"""

import ast
import sys
import threading

_lock = threading.RLock()
_parse = ast.parse


def _serialised_parse(*args, **kwargs):
    with _lock:
        return _parse(*args, **kwargs)


ast.parse = _serialised_parse

from schemathesis.cli import schemathesis  # noqa: E402  (after the patch, on purpose)

if __name__ == "__main__":
    sys.argv[0] = "schemathesis"
    sys.exit(schemathesis())

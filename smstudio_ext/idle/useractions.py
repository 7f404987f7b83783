"""The user's deliberate actions through the server, recorded as they happen.

jupyter_server's ``api_last_activity`` moves with the browser's own polling (directory listings,
kernel and session lists every few seconds), so it cannot say whether someone works. What can:

* **contents actions**: the contents manager emits a ``jupyter_server`` event for every save
  (typing with autosave, an upload, a new file), rename, copy and delete, and for every read
  (``get``, which polling does). We record the deliberate ones. (jupyter_server
  ``services/contents/manager.py`` / ``filemanager.py``: ``self.emit(data={"action": ...})``,
  schema ``https://events.jupyter.org/jupyter_server/contents_service/v1``.)
* **terminal input**: jupyter_server_terminals moves a terminal's ``last_activity`` on input
  *and* on output (``TermSocket.write_message`` -> ``_update_activity``), so ``top`` left
  running looks busy forever. Keystrokes reach the shell through ``ptyproc.write`` (terminado
  ``TermSocket.stdin_to_ptyproc``): we record those.

Kernel executions need nothing new: a kernel's ``last_activity`` moves only with its own
messages (an execution, a completion), never with REST polling, and a running cell is
``busy``. Our own REST handlers never count (``_track_activity = False``), except an explicit
keep-alive.

Times are ``clock.monotonic()`` values: the monitor places them on its timeline.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .. import clock

log = logging.getLogger("smstudio_ext")

CONTENTS_SCHEMA = "https://events.jupyter.org/jupyter_server/contents_service/v1"
# reads ("get") are what the browser's polling does: never an action
DELIBERATE = frozenset({"save", "rename", "copy", "delete", "upload", "create", "new"})
_INPUT_MARK = "_smstudio_input_watched"


@dataclass
class Action:
    action: str
    path: str
    mono: float


class UserActions:
    """The latest deliberate action of each kind, and the last input of each terminal."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._actions: dict[str, Action] = {}
        self._terminal_input: dict[str, float] = {}

    def record(self, action: str, path: str = "") -> None:
        with self._lock:
            self._actions[action] = Action(action, path, clock.monotonic())

    def actions(self) -> list[Action]:
        with self._lock:
            return list(self._actions.values())

    def terminal_input(self, name: str) -> float | None:
        with self._lock:
            return self._terminal_input.get(name)

    def record_input(self, name: str) -> None:
        with self._lock:
            self._terminal_input[name] = clock.monotonic()

    def forget_terminals(self, alive: set[str]) -> None:
        with self._lock:
            for name in [n for n in self._terminal_input if n not in alive]:
                del self._terminal_input[name]

    def watch_terminal(self, name: str, terminal: Any) -> bool:
        """Record the input of ``terminal`` (terminado's ``PtyWithClients``) from now on, by
        wrapping its pty's ``write`` (what the websocket's stdin messages call). Idempotent.
        False when the terminal has no pty to watch."""
        proc = getattr(terminal, "ptyproc", None)
        write = getattr(proc, "write", None)
        if proc is None or write is None:
            return False
        if getattr(proc, _INPUT_MARK, False):
            return True

        def watched_write(data: Any, *args: Any, **kwargs: Any) -> Any:
            self.record_input(name)
            return write(data, *args, **kwargs)

        try:
            proc.write = watched_write
            setattr(proc, _INPUT_MARK, True)
        except (AttributeError, TypeError):  # a pty class with __slots__: cannot watch it
            return False
        return True


class ContentsEventHandler(logging.Handler):
    """A logging handler on the server's ``event_logger``: jupyter_events hands every emitted
    event (a dict) to its handlers synchronously, from whatever thread emitted it. A handler,
    not an async listener: a listener makes every emit schedule a task on the running event
    loop, which fails when a contents manager is used from a worker thread."""

    def __init__(self, actions: UserActions) -> None:
        super().__init__(level=logging.INFO)
        self.actions = actions

    def emit(self, record: logging.LogRecord) -> None:
        event = record.msg
        if not isinstance(event, Mapping) or event.get("__schema__") != CONTENTS_SCHEMA:
            return
        action = str(event.get("action") or "")
        if action in DELIBERATE:
            self.actions.record(action, str(event.get("path") or ""))


def watch_contents(event_logger: Any, actions: UserActions) -> bool:
    """Record deliberate contents actions of this server; False when it has no event logger."""
    register = getattr(event_logger, "register_handler", None)
    if register is None:
        return False
    try:
        register(ContentsEventHandler(actions))
    except Exception as exc:  # an event logger we do not understand: editing stays unseen
        log.warning("smstudio idle: cannot watch contents events: %s", exc)
        return False
    return True

"""Alerts: when a guild goes Degraded, Offline or Connection lost, and when it comes back.

- :class:`Alerter` decides *when* a change is announced, debounced by a hold-down, so a guild
  that flaps at 1 Hz makes one alert, not hundreds (``_alerter``).
- The sinks: the terminal bell, a desktop notification by OSC 9 / OSC 777 (``_terminal``),
  and ``--on-change COMMAND`` with the change as JSON on stdin (``_command``).
- :class:`AlertService` follows the store and fires the sinks (``_service``).
- :class:`AlertGate` holds a silenced guild's alerts back and repeats reminders (``_gate``).
- :class:`Silences` holds the operator's silences and a maintenance's (``_silence``); the
  state file keeps them over a restart (``_silence_file``).

Nothing here imports Textual: the screen and the headless view give the service a way to write
to the terminal and a way to report a problem.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from guildwatch.alerts._alerter import (
        DEFAULT_HOLD_DOWN,
        Alerter,
        AlertState,
        Change,
        alert_state,
    )
    from guildwatch.alerts._command import CommandRunner, command_env
    from guildwatch.alerts._gate import AlertGate
    from guildwatch.alerts._service import AlertService, AlertSettings
    from guildwatch.alerts._silence import (
        CHOICES,
        Silence,
        Silences,
        SilenceState,
        in_maintenance,
    )
    from guildwatch.alerts._silence_file import ReportRelay, SilenceFile
    from guildwatch.alerts._terminal import BEL, DesktopStyle, desktop_sequence, osc9, osc777

# Each name is imported from its module on first use (PEP 562): the screen's first frame needs
# only the silences and alert_state; the service, the command runner and the gate (~10 ms of
# imports) come only when alerts are on.
_MODULES = {
    "_alerter": ("DEFAULT_HOLD_DOWN", "Alerter", "AlertState", "Change", "alert_state"),
    "_command": ("CommandRunner", "command_env"),
    "_gate": ("AlertGate",),
    "_service": ("AlertService", "AlertSettings"),
    "_silence": ("CHOICES", "Silence", "Silences", "SilenceState", "in_maintenance"),
    "_silence_file": ("ReportRelay", "SilenceFile"),
    "_terminal": ("BEL", "DesktopStyle", "desktop_sequence", "osc9", "osc777"),
}
_WHERE = {name: module for module, names in _MODULES.items() for name in names}

__all__ = [
    "BEL",
    "CHOICES",
    "DEFAULT_HOLD_DOWN",
    "AlertGate",
    "AlertService",
    "AlertSettings",
    "AlertState",
    "Alerter",
    "Change",
    "CommandRunner",
    "DesktopStyle",
    "ReportRelay",
    "Silence",
    "SilenceFile",
    "SilenceState",
    "Silences",
    "alert_state",
    "command_env",
    "desktop_sequence",
    "in_maintenance",
    "osc9",
    "osc777",
]


def __getattr__(name: str) -> object:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # once: later look-ups skip this function
    return value

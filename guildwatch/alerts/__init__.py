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

from guildwatch.alerts._alerter import DEFAULT_HOLD_DOWN, Alerter, AlertState, Change, alert_state
from guildwatch.alerts._command import CommandRunner, command_env
from guildwatch.alerts._gate import AlertGate
from guildwatch.alerts._service import AlertService, AlertSettings
from guildwatch.alerts._silence import CHOICES, Silence, Silences, SilenceState, in_maintenance
from guildwatch.alerts._silence_file import ReportRelay, SilenceFile
from guildwatch.alerts._terminal import BEL, DesktopStyle, desktop_sequence, osc9, osc777

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

"""Which sections of a scenario combine: the rules, as data, in one place.

Every composable section is listed in `SECTIONS`; `REFUSED` maps a pair of
them to the reason they cannot be combined. The one simulation core builds
every combination from the same parts, so the table of refusals is empty;
what remains are rules on the run's length (`RUN_RULES`): a scenario whose
arrivals are not known in advance needs `run.duration`, not a number of
requests. The README's composition table is written from this module
(`composition_table`), and a test holds them together.
"""

from __future__ import annotations

from .config import FieldError

SECTIONS: dict[str, str] = {
    "replicas": "replicas behind a router",
    "classes": "request classes",
    "stages": "pipeline stages",
    "ensemble": "ensemble branches",
    "faults": "outages, stragglers",
    "autoscaling": "autoscaling",
    "closed": "closed-loop clients (arrival.process: closed)",
    "client_path": "client path (service.overhead, network:)",
    "real_server": "calibrated server (servers.wakeup, idle_penalty, stalls)",
    "batching": "every batching policy",
}
"""Composable sections: key -> what it is (the README table's rows and columns)."""

REFUSED: dict[frozenset[str], str] = {}
"""Pairs of sections that cannot be combined, with the reason (none)."""

RUN_RULES: dict[str, tuple[str, str]] = {
    "closed": ("run.requests", "closed-loop arrivals need run.duration"),
    "superposition": ("run.requests", "superposition arrivals need run.duration"),
}
"""Sections that forbid a run key: section -> (key, reason)."""


def present(scenario) -> set[str]:
    """The composable sections a scenario uses."""
    used = {key for key in ("replicas", "classes", "stages", "ensemble", "faults",
                            "autoscaling") if getattr(scenario, key) is not None}
    if scenario.is_closed_loop:
        used.add("closed")
    if scenario.network is not None or scenario.service.overhead is not None:
        used.add("client_path")
    servers = scenario.servers
    if servers.wakeup or servers.idle_penalty or servers.stalls:
        used.add("real_server")
    return used


def check_combinations(scenario) -> None:
    """Refuse a scenario whose sections the table says do not combine."""
    used = sorted(present(scenario))
    for i, first in enumerate(used):
        for second in used[i + 1:]:
            reason = REFUSED.get(frozenset((first, second)))
            if reason is not None:
                raise FieldError(first, f"cannot be combined with {second}: {reason}")
    arrival = getattr(scenario.arrival, "process", None)
    for section, (key, reason) in RUN_RULES.items():
        uses = section in used or arrival == section
        if uses and scenario.run.requests is not None:
            raise FieldError(key, reason, scenario.run.requests)


def composition_table() -> str:
    """The README table: every section against every other, "yes" where they combine."""
    keys = list(SECTIONS)
    head = "| | " + " | ".join(keys) + " |"
    rows = [head, "|" + " --- |" * (len(keys) + 1)]
    for first in keys:
        cells = ["—" if first == second else
                 "no" if frozenset((first, second)) in REFUSED else "yes" for second in keys]
        rows.append(f"| **{first}** | " + " | ".join(cells) + " |")
    return "\n".join(rows)

"""What status.py prints: each host's status (as ops/status.py gathers it) as a table for people or as JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime


def when(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def last_chore(chore: tuple | None, running: str | None) -> str:
    """The last chore and how it ended; "started" with no chore running is one that was killed."""
    if not chore:
        return "no chore has run"
    name, how, epoch = chore
    if how == "started" and not running:
        return f"{name} started at {when(epoch)} and never finished (killed, or the host lost power)"
    return f"{name} {how} at {when(epoch)}"


def scheduled_run(run: dict) -> str:
    """A scheduled chore's last run and next one, as the scheduler's systemd knows them."""
    if not run.get("timer"):
        return "NO TIMER on the scheduler (deploy.py puts it back)"
    if run.get("running"):
        last = f"running since {when(run['started'])}"
    elif not run.get("started"):
        last = "has not run yet"
    elif run.get("result") == "success":
        last = f"last ran {when(run['started'])}, succeeded"
    else:
        last = (f"last ran {when(run['started'])}, FAILED ({run['result']}, status {run['status']}):"
                f" journalctl -u {run['unit']} on the scheduler")
    upcoming = f"next {when(run['next'])}" if run.get("next") else "no next run"
    return f"{last}; {upcoming}" + ("" if run.get("timer") == "active" else f" (timer {run['timer']})")


def table(statuses: list[dict]) -> str:
    """A block per host, in inventory order."""
    lines = []
    for status in statuses:
        lines.append(f"{status['host']}  {', '.join(status['roles']) or 'no role'}")
        if status.get("unreachable"):
            lines.append(f"  UNREACHABLE: {status['unreachable']}")
            continue
        registry = status.get("registry")
        if registry:
            tags = registry["tags"]
            counted = f"{tags[0]} repositories with tags, {tags[1]} tags" if tags else "tags not counted"
            lines.append(f"  registry     {registry['image'] or 'no container'} ({registry['state']})")
            lines.append(f"  storage      {registry['storage']}: {registry['stored']}; {counted}")
            mode = f"READ-ONLY since {registry['read_only']}" if registry["read_only"] else "writable"
            chore = f"running: {registry['running']}" if registry["running"] else "no chore running"
            lines.append(f"  state        {mode}; {chore}")
            lines.append(f"  last chore   {last_chore(registry['last_chore'], registry['running'])}")
        for mirror in status.get("mirrors") or []:
            cached = "no cache volume" if mirror["cache_bytes"] is None else f"cache {mirror['cache_bytes']} bytes"
            lines.append(f"  mirror       {mirror['name']} of {mirror['upstream']} on :{mirror['port']}"
                         f" ({mirror['state']}), {cached}")
        for run in status.get("scheduled") or []:
            lines.append(f"  scheduled    {run['chore']} ({run['schedule']}): {scheduled_run(run)}")
        for name, state in (status.get("replicas") or {}).items():
            lines.append(f"  replica      {name} {state}")
        certificate = status.get("certificate")
        if certificate:
            lines.append(f"  certificate  {certificate['days_left']} days left (until {certificate['expires']})")
    return "\n".join(lines)


def as_json(statuses: list[dict]) -> str:
    return json.dumps({"hosts": statuses}, indent=2)

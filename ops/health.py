"""The health gate: a host passes only when its registry and UI answer as they should."""

from __future__ import annotations

import logging
import shlex

from pyinfra import host
from pyinfra.api import operation

from .facts import HttpGet

logger = logging.getLogger("pyinfra")


@operation()
def healthy(checks, containers=(), attempts=60, announce=None):
    """
    Wait, bounded, until every check answers; otherwise fail the host showing the containers' logs.

    + checks: (what, url, expected body or None) triples, each GET from the host itself
    + containers: whose last log lines to show when a check fails
    + attempts: tries per check, one second apart
    + announce: a line logged once the host is healthy (its URLs)

    A passing gate changes nothing. It is only evaluated while executing: before the deploy ran,
    a probe proves nothing.
    """
    if not host.state.is_executing:
        return
    answers = host.get_fact(HttpGet, urls=[url for _, url, _ in checks], attempts=attempts)
    failures = []
    for (what, url, body), got in zip(checks, answers or [{"status": 0, "body": "(no curl)"}] * len(checks)):
        if got["status"] != 200 or (body is not None and got["body"].strip() != body):
            answer = f"HTTP {got['status']}" if got["status"] else "no answer"
            failures.append(f"{what}: GET {url} gave {answer} {got['body'][:200]!r}")
    if not failures:
        host.noop("registry and UI are healthy")
        if announce:
            logger.info(f"{host.print_prefix}{announce}")
        return
    report = [f"echo {shlex.quote('unhealthy: ' + failure)} >&2" for failure in failures]
    for name in containers:
        report.append(f"echo {shlex.quote(f'--- last log lines of {name}:')} >&2")
        report.append(f"docker logs --tail 20 {shlex.quote(name)} >&2 2>&1")
    yield "; ".join(report + ["exit 1"])

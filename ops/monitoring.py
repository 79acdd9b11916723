"""The registry_monitor hosts' Prometheus as the deploy sees it: whether the running one loaded the files
as they are now, and a reload that waits until it has."""

from __future__ import annotations

import shlex

from pyinfra.api import FactBase, operation

RELOADED = "prometheus_config_last_reload_success_timestamp_seconds"
RELOAD_OK = "prometheus_config_last_reload_successful"


def _metric(url: str, name: str) -> str:
    """The shell expression: metric `name` of the Prometheus at `url`, as a whole number ("" when it does not
    answer)."""
    return (f"$(curl -s -m 5 {shlex.quote(url + '/metrics')}"
            f" | awk '$1 == \"{name}\" {{ printf \"%d\", $2 }}')")


def _loaded_seconds(url: str) -> str:
    """The shell expression: when the Prometheus at `url` last loaded its configuration (0: it does not
    answer, or never did)."""
    return f"$(echo {_metric(url, RELOADED)} | grep . || echo 0)"


class PrometheusStale(FactBase):
    """
    Whether the running Prometheus at `url` loaded `paths` as they are now: False when it did, True when one
    was written after its last successful load (a run killed between writing and reloading).
    """

    def command(self, url, paths) -> str:
        quoted = " ".join(shlex.quote(path) for path in paths)
        return f"loaded={_loaded_seconds(url)}; newest=$(stat -c %Y {quoted} 2>/dev/null | sort -n | tail -1);" \
               ' [ "${newest:-0}" -gt "$loaded" ] && echo stale || echo loaded'

    def process(self, output):
        return output[0] == "stale"


@operation(is_idempotent=False)
def reloaded(url: str, paths: list[str], seconds: int = 30):
    """
    Reload Prometheus (once it answers, and unless it loaded `paths` as they are now already, as a restart
    does) and wait until it says it has; fail, naming its journal, when it refuses them or does not answer
    within `seconds`.

    + url: its HTTP address, e.g. http://127.0.0.1:9090
    + paths: its configuration and rule files
    + seconds: how long to wait
    """
    quoted = " ".join(shlex.quote(path) for path in paths)
    loaded = f'[ "{_metric(url, RELOAD_OK)}" = 1 ] && [ "{_loaded_seconds(url)}" -ge "$newest" ]'
    # A Prometheus still starting (just installed or restarted) dies of a SIGHUP, and loads the files anyway.
    yield (f"for i in $(seq {seconds * 2}); do curl -sf -m 5 -o /dev/null {shlex.quote(url + '/-/ready')} && exit 0;"
           f" sleep 0.5; done; echo 'Prometheus does not answer at {url}; see: journalctl -u prometheus' >&2; exit 1")
    yield (f"newest=$(stat -c %Y {quoted} | sort -n | tail -1); {loaded} && exit 0; systemctl reload prometheus &&"
           f" for i in $(seq {seconds * 2}); do {loaded} && exit 0; sleep 0.5; done;"
           " echo 'Prometheus did not load its new configuration; see: journalctl -u prometheus' >&2; exit 1")

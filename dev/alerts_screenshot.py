"""docs/prometheus-alerts.png: Prometheus's alerts page with RegistryDown firing, on the first sandbox host
made the inventory's registry_monitor, after `make demo`.

    python -m dev.alerts_screenshot

It deploys monitoring onto that host (Prometheus stays on loopback there: the page is reached through an
SSH tunnel over the host's published SSH port), stops its registry until the alert fires, takes the
screenshot in headless Chromium, and deploys again, which starts the registry.
"""

from __future__ import annotations

import os
import select
import socket
import sys
import threading
import time
from contextlib import contextmanager

import paramiko

from dev.browser import chromium
from dev.operator import deploy, inventory_hosts, ssh_host
from sandbox.settings import KEY_FILE, ROOT

OUTPUT = ROOT / "docs/prometheus-alerts.png"
FAST = ("--data", "registry_alert_for=5s", "--data", "registry_prometheus_interval=2s")
PROMETHEUS_PORT = 9090


@contextmanager
def tunnel(ssh_port: int, remote_port: int):
    """A local port forwarded over SSH to `remote_port` on the host's loopback; yields the local port."""
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect("127.0.0.1", port=ssh_port, username="root", key_filename=str(KEY_FILE), allow_agent=False,
                   look_for_keys=False)
    listener = socket.create_server(("127.0.0.1", 0))
    transport = client.get_transport()

    def pipe(local: socket.socket):
        channel = transport.open_channel("direct-tcpip", ("127.0.0.1", remote_port), local.getpeername())
        with local, channel:
            while True:
                ready, _, _ = select.select([local, channel], [], [])
                source, target = (local, channel) if local in ready else (channel, local)
                data = source.recv(65536)
                if not data:
                    return
                target.sendall(data)

    def accept():
        while True:
            try:
                local, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=pipe, args=(local,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()
        client.close()


def main() -> int:
    hosts = inventory_hosts()
    if not hosts:
        print("no sandbox host: run `make demo` first", file=sys.stderr)
        return 1
    name, data = hosts[0]
    os.environ["SANDBOX_MONITOR"] = name
    run = deploy("--limit", name, *FAST)
    if run.returncode != 0:
        print(run.stderr[-3000:], file=sys.stderr)
        return 1
    host = ssh_host(data.ssh_port)
    host.check_output(f"docker stop {data.registry_container}")
    try:
        for _ in range(120):
            alerts = host.check_output(f"curl -s 127.0.0.1:{PROMETHEUS_PORT}/api/v1/alerts")
            if '"alertname":"RegistryDown"' in alerts and '"state":"firing"' in alerts:
                break
            time.sleep(1)
        from playwright.sync_api import sync_playwright

        with tunnel(data.ssh_port, PROMETHEUS_PORT) as port, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium(), args=["--headless", "--no-sandbox"])
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                # Debian's package serves Prometheus's classic UI only.
                page.goto(f"http://127.0.0.1:{port}/classic/alerts")
                page.get_by_text("RegistryDown").first.click()
                page.get_by_text("firing").first.wait_for(timeout=30_000)
                page.screenshot(path=str(OUTPUT))
            finally:
                browser.close()
    finally:
        deploy("--limit", name, *FAST)
    print(OUTPUT.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())

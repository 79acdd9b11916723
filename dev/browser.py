"""A real browser for the UI: Debian's headless Chromium, driven by playwright (no browser is downloaded;
Chromium is installed from Debian's archive when this machine has none)."""

from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path

from sandbox.local_docker import apt_install

CHROMIUM = "/usr/bin/chromium"


def chromium() -> str:
    if not Path(CHROMIUM).exists() or not shutil.which("chromium"):
        apt_install("chromium")
    return CHROMIUM


@contextmanager
def ui_page(user: str, password: str):
    """A page of a browser logged in as `user` (the credentials the UI's login prompt asks for). The
    sandbox's CA is not in Chromium's store: its certificate errors are ignored, TLS itself is not."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), args=["--headless", "--no-sandbox"])
        try:
            context = browser.new_context(ignore_https_errors=True, viewport={"width": 1280, "height": 720},
                                          http_credentials={"username": user, "password": password})
            yield context.new_page()
        finally:
            browser.close()

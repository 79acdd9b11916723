"""The real docker-registry-ui 2.6.0, in headless Chromium, behind TLS and a login: the catalog lists, a
repository's tags list, and a tag deleted through the page is gone from the registry."""

from dev.browser import ui_page
from sandbox.settings import SECRETS_DIR
from tests.e2e.conftest import ACCEPT, catalog, push_own, session

# True once the page shows each of these lines.
LISTED = "lines => lines.every(line => document.body.innerText.split('\\n').map(l => l.trim()).includes(line))"


def _manifest_status(t, tag: str) -> int:
    return session().head(f"{t.registry}/v2/ui-page/manifests/{tag}", headers={"Accept": ACCEPT},
                          timeout=10).status_code


def test_the_ui_lists_shows_tags_and_deletes_a_tag_in_a_real_browser(targets, hello_pushed):
    t = targets[0]
    push_own(t, "ui-page", "keep")
    push_own(t, "ui-page", "drop")
    assert "ui-page" in catalog(t.registry)
    with ui_page("admin", (SECRETS_DIR / "passwords/admin").read_text()) as page:
        page.goto(t.ui)
        page.wait_for_function(LISTED, arg=["hello", "ui-page"], timeout=30_000)
        page.goto(f"{t.ui}/#!/taglist/ui-page")
        rows = page.locator("tr", has=page.locator("remove-image"))
        rows.first.wait_for(timeout=30_000)
        tags = [rows.nth(i).locator("td").nth(2).inner_text().split("\n")[0].strip() for i in range(rows.count())]
        assert sorted(tags) == ["drop", "keep"]
        rows.nth(tags.index("drop")).locator("remove-image button").click(force=True)
        page.wait_for_function(LISTED, arg=["These images will be deleted", "ui-page:drop"], timeout=30_000)
        dialog = page.locator("confirm-delete-image .material-popup-action")
        dialog.locator("button", has_text="Delete").click(force=True)
        page.wait_for_function("() => !document.body.innerText.includes('ui-page:drop')", timeout=30_000)
    assert _manifest_status(t, "drop") == 404, "the page's delete reached the registry"
    assert _manifest_status(t, "keep") == 200

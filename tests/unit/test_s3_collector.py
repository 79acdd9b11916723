"""The S3 collector's decision (files/registry-maintenance.sh, s3_decide) run on its own, under dash and the
hosts' awk (mawk where this machine has it), on listings written here: what it keeps, what it removes, and in
which order."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from sandbox.settings import ROOT

ROOT_KEY = "docker/registry/v2"


def digest(name: str) -> str:
    return "sha256:" + (name.encode().hex() * 64)[:64]


def blob(name: str) -> str:
    hex_ = digest(name).split(":")[1]
    return f"{ROOT_KEY}/blobs/sha256/{hex_[:2]}/{hex_}/data"


def revision(repository: str, name: str) -> str:
    return f"{ROOT_KEY}/repositories/{repository}/_manifests/revisions/sha256/{digest(name).split(':')[1]}/link"


def tag_index(repository: str, tag: str, name: str) -> str:
    return f"{ROOT_KEY}/repositories/{repository}/_manifests/tags/{tag}/index/sha256/{digest(name).split(':')[1]}/link"


def current(repository: str, tag: str) -> str:
    return f"{ROOT_KEY}/repositories/{repository}/_manifests/tags/{tag}/current/link"


def layer(repository: str, name: str) -> str:
    return f"{ROOT_KEY}/repositories/{repository}/_layers/sha256/{digest(name).split(':')[1]}/link"


def listing(keys, modified="2026-12-01T00:00:00.000Z") -> str:
    return "".join(f"{key} 10 {modified} etag-{index}\n" for index, key in enumerate(keys))


def decide(tmp_path: Path, *, refs: dict, marked: list, now: list, blobs: list, tags: dict | None = None,
           changed: tuple = ()) -> dict:
    """Run s3_decide with the mark's listing `marked`, the window's `now` (keys in `changed` written again since),
    the mark's blobs (names), what each manifest names (`refs`), and with `tags` (key -> manifest name) in
    --delete-untagged mode. The keys it would remove, by file, and what it printed."""
    script = (ROOT / "files/registry-maintenance.sh").read_text()
    function = re.search(r"^s3_decide\(\) \{\n.*?^\}\n", script, re.M | re.S).group(0)
    mark = tmp_path / "mark"
    mark.mkdir()
    (tmp_path / "refs").write_text("".join(f"{digest(m)} {digest(m)}\n" + "".join(
        f"{digest(m)} {digest(n)}\n" for n in names) for m, names in refs.items()))
    (mark / "repositories").write_text(listing(marked))
    window = listing([key for key in now if key not in changed]) + listing(
        [key for key in now if key in changed], modified="2026-12-01T00:00:09.000Z")
    (tmp_path / "window").write_text(window)
    (mark / "blobs").write_text(listing([blob(name) for name in blobs]))
    (mark / "tags").write_text("".join(f"{key} e {digest(name)}\n" for key, name in (tags or {}).items()))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    mawk = shutil.which("mawk")
    if mawk:
        (bin_dir / "awk").symlink_to(mawk)
    program = (f"{function}GC_MARK={mark}; MANIFEST_REFS={tmp_path}/refs; STORE_ROOT={ROOT_KEY}\n"
               f"s3_decide '{'--delete-untagged' if tags is not None else ''}' {tmp_path}/window\n")
    done = subprocess.run(["dash" if shutil.which("dash") else "sh", "-eu", "-c", program], capture_output=True,
                          text=True, env={"PATH": f"{bin_dir}:/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    out = {name: (mark / f"doomed-{name}").read_text().split() if (mark / f"doomed-{name}").exists() else []
           for name in ("manifests", "blobs", "layers")}
    out["decided"] = (mark / "decided").read_text()
    return out


def test_a_deleted_manifests_own_blobs_and_their_layer_links_go_and_shared_ones_stay(tmp_path):
    keys = [revision("app", "m1"), layer("app", "base"), layer("app", "own1"), layer("app", "cfg1"),
            layer("gone", "base"), layer("gone", "own2")]
    out = decide(tmp_path, refs={"m1": ["cfg1", "base", "own1"], "m2": ["base", "own2"]}, marked=keys, now=keys,
                 blobs=["m1", "cfg1", "base", "own1", "m2", "own2"])
    assert sorted(out["blobs"]) == sorted([blob("m2"), blob("own2")])
    assert out["layers"] == [layer("gone", "own2")]
    assert out["manifests"] == []
    assert "2 blobs (20 bytes) and 0 manifests eligible for deletion" in out["decided"]


def test_a_manifest_pushed_after_the_mark_keeps_what_it_names_and_a_blob_the_mark_did_not_list_never_goes(tmp_path):
    marked = [layer("old", "x")]
    now = [*marked, revision("new", "m3")]
    out = decide(tmp_path, refs={"m3": ["x", "fresh"]}, marked=marked, now=now, blobs=["x", "m3", "orphan"])
    assert out["blobs"] == [blob("orphan")], "x and m3 are kept by the manifest pushed since; fresh was never listed"


def test_untagged_manifests_go_tag_history_first_and_an_index_keeps_its_untagged_platforms(tmp_path):
    keys = [revision("multi", "index"), revision("multi", "amd64"), revision("multi", "arm64"),
            revision("multi", "old"), tag_index("multi", "1", "index"), tag_index("multi", "1", "old"),
            current("multi", "1")]
    out = decide(tmp_path, refs={"index": ["amd64", "arm64"], "amd64": ["l1"], "arm64": ["l2"], "old": ["l3"]},
                 marked=keys, now=keys, blobs=["index", "amd64", "arm64", "old", "l1", "l2", "l3"],
                 tags={current("multi", "1"): "index"})
    assert out["manifests"] == [tag_index("multi", "1", "old"), revision("multi", "old")], "history first"
    assert sorted(out["blobs"]) == sorted([blob("old"), blob("l3")])


@pytest.mark.parametrize("written_again", [False, True])
def test_a_layer_link_left_to_no_blob_goes_unless_written_since_the_mark(tmp_path, written_again):
    keys = [revision("app", "m1"), layer("app", "lost")]
    out = decide(tmp_path, refs={"m1": ["c"]}, marked=keys, now=keys, blobs=["m1", "c"],
                 changed=(layer("app", "lost"),) if written_again else ())
    assert out["layers"] == ([] if written_again else [layer("app", "lost")])
    assert out["blobs"] == []

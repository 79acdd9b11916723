"""Package signing keys trusted by fingerprint, never on first download.

An OpenPGP key file names its keys by fingerprint: for a v4 key, the SHA-1 of the public-key packet
(RFC 4880, 12.2). The fingerprint is computed here, on the control machine, from the file's bytes: the
hosts need no gpg, and a key is installed only when every primary key in its file is one the inventory
names (a file with one more key appended would make apt or rpm trust that key too).
"""

from __future__ import annotations

import base64
import posixpath
from io import BytesIO

from pyinfra import host, logger
from pyinfra.api import FactBase, FunctionCommand, QuoteString, StringCommand, operation
from pyinfra.operations import files

from core.openpgp import key_fingerprints, normalise, untrusted
from ops.report import log_once


class KeyFileBytes(FactBase):
    """The bytes of a file (base64 on the wire, so binary keyrings arrive whole), or None if it is missing."""

    def command(self, path):
        quoted = QuoteString(path)
        return StringCommand("if test -f", quoted, "; then base64 <", quoted, "; else echo missing; fi")

    def process(self, output):
        text = "".join(output).strip()
        return None if text == "missing" else base64.b64decode(text)


def _check_download(state, host, staged: str, src: str, trusted: list[str]) -> bool:
    """Executed on the control machine after the download: trust the staged file, or fail the host."""
    buffer = BytesIO()
    if not host.get_file(staged, buffer):
        return False
    why = untrusted(buffer.getvalue(), trusted)
    if why is None:
        return True
    host.log_styled(f"{src} is not trusted: {why}; the download is left at {staged}", fg="red",
                    log_func=logger.error)
    return False


@operation()
def trusted_key(src: str, dest: str, fingerprints: list[str]):
    """
    Install the key file at `src` (a URL) as `dest`, only if every primary key in it has one of
    `fingerprints`. The file in place is checked on every run: kept when trusted, else removed and
    downloaded again. What is downloaded is staged beside `dest` and checked before it replaces it.

    + src: URL of the key file (armored or binary)
    + dest: where the package manager reads it
    + fingerprints: the primary key fingerprints to trust (spaces ignored)
    """
    trusted = [normalise(f) for f in fingerprints]
    have = host.get_fact(KeyFileBytes, path=dest)
    why = "it is missing" if have is None else untrusted(have, trusted)
    if why is None:
        host.noop(f"{dest} holds only trusted keys ({', '.join(key_fingerprints(have))})")
        return
    if have is not None:
        log_once(f"{dest} is not trusted ({why}): it is removed and downloaded again", warning=True)
    staged = f"{dest}.new"
    yield StringCommand("install -d -m 0755", QuoteString(posixpath.dirname(dest)))
    yield StringCommand("rm -f", QuoteString(dest), QuoteString(staged))
    yield from files.download._inner(src=src, dest=staged, mode="0644", force=True)
    yield FunctionCommand(_check_download, (staged, src, trusted), {})
    yield StringCommand("mv -f", QuoteString(staged), QuoteString(dest))

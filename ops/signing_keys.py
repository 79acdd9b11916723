"""Package signing keys trusted by fingerprint, never on first download.

An OpenPGP key file names its keys by fingerprint: for a v4 key, the SHA-1 of the public-key packet
(RFC 4880, 12.2). The fingerprint is computed here, on the control machine, from the file's bytes: the
hosts need no gpg, and a key is installed only when every primary key in its file is one the inventory
names (a file with one more key appended would make apt or rpm trust that key too).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import posixpath
from io import BytesIO

from pyinfra import host, logger
from pyinfra.api import FactBase, FunctionCommand, QuoteString, StringCommand, operation
from pyinfra.operations import files

from ops.report import log_once

ARMOR_BEGIN = "-----BEGIN PGP PUBLIC KEY BLOCK-----"
ARMOR_END = "-----END PGP PUBLIC KEY BLOCK-----"
PUBLIC_KEY, SECRET_KEY, SECRET_SUBKEY = 6, 5, 7


def normalise(fingerprint: str) -> str:
    """A fingerprint as gpg prints it with --with-colons: 40 upper-case hex digits, no spaces."""
    return "".join(fingerprint.split()).upper()


def _dearmor(data: bytes) -> bytes:
    """The binary packets of an ASCII-armored key file (every block in it), or the bytes as they are."""
    text = data.decode("ascii", "replace")
    if ARMOR_BEGIN not in text:
        return data
    packets = b""
    for block in text.split(ARMOR_BEGIN)[1:]:
        if ARMOR_END not in block:
            raise ValueError("an armored block has no END line")
        lines = block.split(ARMOR_END)[0].strip("\r\n").splitlines()
        if "" in (line.strip() for line in lines):  # armor headers ("Version: ..."), up to a blank line
            lines = lines[[line.strip() for line in lines].index("") + 1:]
        body = [line.strip() for line in lines if line.strip() and not line.startswith("=")]
        try:
            packets += base64.b64decode("".join(body), validate=True)
        except binascii.Error as e:
            raise ValueError(f"the armored block is not base64: {e}") from None
    return packets


def _packets(raw: bytes):
    """(tag, body) of each OpenPGP packet, old and new header formats (RFC 4880, 4.2)."""
    i = 0
    while i < len(raw):
        first = raw[i]
        i += 1
        if not first & 0x80:
            raise ValueError(f"byte {i - 1} does not start an OpenPGP packet")
        if first & 0x40:
            tag, octet = first & 0x3F, raw[i:i + 1]
            if not octet:
                raise ValueError("a packet header is cut short")
            i += 1
            if octet[0] < 192:
                length = octet[0]
            elif octet[0] < 224:
                length, i = ((octet[0] - 192) << 8) + raw[i] + 192, i + 1
            elif octet[0] == 255:
                length, i = int.from_bytes(raw[i:i + 4], "big"), i + 4
            else:
                raise ValueError("partial body lengths do not occur in key files")
        else:
            tag, kind = (first >> 2) & 0x0F, first & 0x03
            if kind == 3:
                raise ValueError("indeterminate packet lengths do not occur in key files")
            size = (1, 2, 4)[kind]
            length, i = int.from_bytes(raw[i:i + size], "big"), i + size
        body = raw[i:i + length]
        if len(body) != length:
            raise ValueError("the file ends inside a packet")
        i += length
        yield tag, body


def key_fingerprints(data: bytes) -> list[str]:
    """The fingerprint of every primary key in a key file (armored or binary), in file order.

    Raises ValueError for anything that is not a file of v4 public keys: a secret key, another key
    version, bytes that are not OpenPGP packets, or a file with no key at all.
    """
    found = []
    for tag, body in _packets(_dearmor(data)):
        if tag in (SECRET_KEY, SECRET_SUBKEY):
            raise ValueError("the file holds a secret key")
        if tag != PUBLIC_KEY:
            continue
        if not body or body[0] != 4:
            raise ValueError(f"a version {body[0] if body else '?'} key: only v4 keys are supported")
        found.append(hashlib.sha1(b"\x99" + len(body).to_bytes(2, "big") + body).hexdigest().upper())
    if not found:
        raise ValueError("the file holds no public key")
    return found


def untrusted(data: bytes, trusted: list[str]) -> str | None:
    """Why a key file cannot be trusted (None: every primary key in it is one of `trusted`)."""
    try:
        found = key_fingerprints(data)
    except ValueError as e:
        return str(e)
    others = [f for f in found if f not in {normalise(t) for t in trusted}]
    return f"it holds {', '.join(others)}, not one of {', '.join(trusted)}" if others else None


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

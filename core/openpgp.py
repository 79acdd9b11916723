"""OpenPGP key files named by their keys' fingerprints: for a v4 key, the SHA-1 of the public-key packet
(RFC 4880, 12.2), computed from the file's bytes, armored or binary."""

from __future__ import annotations

import base64
import binascii
import hashlib

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

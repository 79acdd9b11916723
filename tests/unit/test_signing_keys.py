"""Key fingerprints computed from a key file's bytes, checked against what gpg printed for the same keys
(`gpg --show-keys --with-colons tests/fixtures/openpgp-*.asc`): the deploy trusts a key file only when
every primary key in it is one the inventory names."""

import pytest

from core.openpgp import _dearmor, key_fingerprints, normalise, untrusted
from tests.keys import FINGERPRINT_A as A
from tests.keys import FINGERPRINT_A_SUBKEY as A_SUBKEY
from tests.keys import FINGERPRINT_B as B
from tests.keys import KEY_A, KEY_B


def test_fingerprints_match_gpgs_for_armored_keys():
    assert key_fingerprints(KEY_A) == [A]
    assert key_fingerprints(KEY_B) == [B]


def test_a_subkey_is_not_a_primary_key():
    assert A_SUBKEY not in key_fingerprints(KEY_A)


def test_binary_keyrings_and_armor_headers_read_alike():
    assert key_fingerprints(_dearmor(KEY_A)) == [A]
    begin, rest = KEY_A.split(b"\n", 1)
    assert key_fingerprints(begin + b"\nVersion: GnuPG v2\nComment: test\n" + rest) == [A]


def test_every_key_of_a_file_is_found_armored_or_binary():
    assert key_fingerprints(KEY_A + KEY_B) == [A, B]
    assert key_fingerprints(_dearmor(KEY_B) + _dearmor(KEY_A)) == [B, A]


def test_new_format_packet_headers_give_the_same_fingerprint():
    raw = _dearmor(KEY_B)
    assert raw[0] == 0x98  # old format, tag 6, one length octet
    body = raw[2:2 + raw[1]]
    assert key_fingerprints(bytes([0xC6, len(body)]) + body) == [B]


def test_a_file_with_one_more_key_is_not_trusted():
    assert untrusted(KEY_A, [A]) is None
    assert untrusted(KEY_A + KEY_B, [A]) == f"it holds {B}, not one of {A}"


def test_fingerprints_are_compared_as_gpg_and_docs_print_them():
    spaced = "69BF CC05 8EE8 AEF5 D6C5  0272 6ABD 8007 F89C FF9C".lower()
    assert normalise(spaced) == A
    assert untrusted(KEY_A, [spaced]) is None


@pytest.mark.parametrize("data,why", [
    (b"", "holds no public key"),
    (b"not a key at all", "does not start an OpenPGP packet"),
    (KEY_A[:600], "has no END line"),
    (_dearmor(KEY_A)[:300], "ends inside a packet"),
    (bytes([0x95, 0x00, 0x03, 0x04, 0x00, 0x00]), "holds a secret key"),  # tag 5, old format
    (bytes([0x98, 0x02, 0x05, 0x00]), "only v4 keys are supported"),
    (b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n%%%%\n-----END PGP PUBLIC KEY BLOCK-----\n", "is not base64"),
])
def test_anything_but_v4_public_keys_is_refused(data, why):
    with pytest.raises(ValueError, match=why):
        key_fingerprints(data)
    assert why in untrusted(data, [A])


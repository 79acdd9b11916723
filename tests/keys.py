"""The OpenPGP keys the tests sign with (tests/fixtures/), and their fingerprints as
`gpg --show-keys --with-colons tests/fixtures/openpgp-*.asc` prints them."""

from core import ROOT

KEY_A_FILE = ROOT / "tests/fixtures/openpgp-a.asc"  # RSA 3072 with an encryption subkey
KEY_B_FILE = ROOT / "tests/fixtures/openpgp-b.asc"  # Ed25519, trusted by no inventory of the tests
KEY_A, KEY_B = KEY_A_FILE.read_bytes(), KEY_B_FILE.read_bytes()
FINGERPRINT_A = "69BFCC058EE8AEF5D6C502726ABD8007F89CFF9C"
FINGERPRINT_A_SUBKEY = "CA25FE737484F8241F7164507A05F3522D6436CD"
FINGERPRINT_B = "D5AB057DAC862FACA05A56075ED5FBE83E33CF77"

"""keys/local.py: secrets sealed with Fernet keys (rotation through several keys)."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from glimpse.keys.local import SecretBox, SecretUnreadable, is_sealed, parse_keys


def test_a_sealed_secret_opens_with_its_key_and_no_other() -> None:
    key = Fernet.generate_key()
    sealed = SecretBox([key]).seal("whsec_abc")
    assert is_sealed(sealed)
    assert "whsec_abc" not in sealed
    assert SecretBox([key]).open(sealed) == "whsec_abc"
    with pytest.raises(SecretUnreadable):
        SecretBox([Fernet.generate_key()]).open(sealed)


def test_rotation_opens_with_an_old_key_and_seals_with_the_first() -> None:
    old, new = Fernet.generate_key(), Fernet.generate_key()
    sealed = SecretBox([old]).seal("whsec_abc")
    both = SecretBox([new, old])
    assert both.open(sealed) == "whsec_abc"
    assert not both.current(sealed)
    again = both.rotate(sealed)
    assert both.current(again)
    assert SecretBox([new]).open(again) == "whsec_abc"


@pytest.mark.parametrize("text", ["", " , ", "short", Fernet.generate_key().decode() + ", nope"])
def test_bad_keys_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="Fernet key"):
        parse_keys(text)


def test_keys_of_a_setting() -> None:
    one, two = Fernet.generate_key(), Fernet.generate_key()
    assert parse_keys(f" {one.decode()} ,{two.decode()}") == [one, two]

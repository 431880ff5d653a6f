"""The identity rule the mapper merges by and the target adopts by (target_pipedrive.identity)."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st
from target_pipedrive import identity

NAMES = st.lists(st.text(alphabet="abcdefghijklmnopqrstuvwxyzéüñçøåß", min_size=1, max_size=8),
                 min_size=1, max_size=4)


@pytest.mark.parametrize(("one", "other"), [
    ("Alice Anders", "ALICE ANDERS"),
    ("  Alice   Anders ", "Alice Anders"),
    ("Anders Alice", "Alice Anders"),
    ("Zoë Müller", "Zoe Muller"),
    ("Ｚｏｅ Ｍｕｌｌｅｒ", "zoe muller"),  # full-width forms (NFKC)
    ("Zoe\u0308 Mu\u0308ller", "Zoë Müller"),  # decomposed accents (NFC/NFD)
    ("Mary-Jane O'Brien", "mary jane obrien"),
    ("Smith, Ann", "Ann Smith"),
    ("Strauß", "STRAUSS"),
])
def test_the_same_name_written_differently_is_the_same_name(one, other):
    assert identity.normalise_name(one) == identity.normalise_name(other)


@pytest.mark.parametrize(("one", "other"), [
    ("Alice Anders", "Alicia Anders"),
    ("Dee Dupe", "Dee Dupe-Again"),
    ("Ann Lee", "Ann Lee Lee"),
    ("Иван", "Йван"),  # a Cyrillic breve makes another letter: not folded
    ("क्षमा", "कषमा"),  # a Devanagari virama is a combining mark too: folding it would join two names
    ("王伟", "汪伟"),  # no transliteration: two Chinese names that read alike stay two names
])
def test_different_names_stay_different(one, other):
    assert identity.normalise_name(one) != identity.normalise_name(other)


@given(NAMES, st.randoms())
def test_case_order_spacing_and_composition_never_change_a_name(tokens, rng):
    shuffled = list(tokens)
    rng.shuffle(shuffled)
    variant = "   ".join(unicodedata.normalize("NFD", token.upper()) for token in shuffled)
    assert identity.normalise_name(" ".join(tokens)) == identity.normalise_name(f"  {variant} ")


def test_emails_and_dates_are_normalised():
    assert identity.normalise_email("  ALICE@Example.com ") == "alice@example.com"
    assert identity.normalise_email("  ") is None
    assert identity.normalise_date("1985-07-14T00:00:00") == "1985-07-14"
    assert identity.normalise_date("14/07/1985 ") == "14/07/1985"  # unread: still differs from 1985-07-14
    assert identity.normalise_date(" ") is None


def test_fingerprints_hold_no_value_in_the_clear():
    found = identity.fingerprint("alice@example.com", "Alice Anders", "1985-07-14")
    text = repr(found).lower()
    assert all(secret not in text for secret in ("alice", "anders", "1985"))
    assert identity.fingerprint(None, "Alice", None) is None


def test_compare_says_which_fields_agree_and_which_differ():
    alice = identity.fingerprint("a@example.com", "Alice Anders", "1985-07-14")
    assert identity.compare(alice, identity.fingerprint("A@example.com ", "anders alice", "1985-07-14")) == \
        identity.Verdict(True, ("email", "name", "date_of_birth"), (), ())
    no_birth_date = identity.compare(alice, identity.fingerprint("a@example.com", "Alice Anders", None))
    assert no_birth_date == identity.Verdict(True, ("email", "name"), (), ("date_of_birth",))
    other_birth_date = identity.compare(alice, identity.fingerprint("a@example.com", "Alice Anders", "1986-07-14"))
    assert not other_birth_date.same and other_birth_date.differs_on == ("date_of_birth",)
    twin = identity.compare(alice, identity.fingerprint("a@example.com", "Agnes Anders", "1985-07-14"))
    assert not twin.same and twin.differs_on == ("name",) and twin.not_compared == ("date_of_birth",)
    assert identity.compare(alice, identity.fingerprint("a@example.com", "Bob", None), ("email",)).same
    assert not identity.compare(alice, alice, ()).same  # off: never the same person


def test_rules_a_mapping_file_may_name():
    assert identity.canonical_rule(["date_of_birth", "email", "name"]) == identity.DEFAULT_MATCH_ON
    assert identity.canonical_rule(["email"]) == ("email",)
    assert identity.canonical_rule(False) == identity.canonical_rule("off") == ()
    assert identity.canonical_rule(["name"]) is None  # email is the candidate key
    assert identity.canonical_rule(["email", "date_of_birth"]) is None
    assert identity.canonical_rule(["email", "email"]) is None
    assert identity.rule_name(identity.DEFAULT_MATCH_ON) == "identity"

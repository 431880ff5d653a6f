"""The SDK's standard target tests, the MeltanoLabs target-postgres way.

The SDK's sample streams (countries, `test_camelcase`, array tables...) are not target-pipedrive's input
contract, and the target refuses a stream it cannot place in Pipedrive by design. So the suite is built
with `include_target_tests=False`, keeps the SDK tests that are stream-independent (CLI prints, an invalid
SCHEMA, a RECORD before its SCHEMA), and replaces every other one with the same situation in
contract-shaped streams (`target-pipedrive/tests/sdk_streams/<name>.singer`), replayed against the Pipedrive sandbox
and checked there. `REPLACEMENTS` maps each SDK test to its replacement; a test fails if the SDK adds a
target test that has none.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from singer_sdk.testing import TargetTestRunner, get_target_test_class
from singer_sdk.testing.suites import SingerTestSuite, target_tests
from singer_sdk.testing.target_tests import (
    TargetCliPrintsTest,
    TargetInvalidSchemaTest,
    TargetRecordBeforeSchemaTest,
)
from singer_sdk.testing.templates import TargetFileTestTemplate
from target_pipedrive.target import TargetPipedrive
from testkit.target_run import ADMIN_EMAIL, live

STREAMS_DIR = Path(__file__).with_name("sdk_streams")
# Filled per test by the `resource` fixture below, before the runner is built.
SANDBOX_CONFIG: dict = {"api_token": "unset", "base_url": "http://127.0.0.1:9"}


@dataclass
class Account:
    """What a replacement test checks after its run: the sandbox and the target's state folder."""

    sandbox: object
    state_dir: Path

    def live(self, entity: str) -> list[dict]:
        return live(self.sandbox.snapshot(), entity)

    def named(self, entity: str, key: str = "name") -> dict[str, dict]:
        return {r[key]: r for r in self.live(entity)}

    def summary(self) -> dict:
        return json.loads((self.state_dir / "summary.json").read_text())

    def skips(self) -> list[dict]:
        path = self.state_dir / "skipped.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def field(self, family: str, label: str) -> dict:
        return next(f for f in self.sandbox.snapshot()["fields"][family] if f["field_name"] == label)


class ContractFileTest(TargetFileTestTemplate):
    """Replays `sdk_streams/<name>.singer`; `validate` checks what landed."""

    @property
    def singer_filepath(self) -> Path:
        return STREAMS_DIR / f"{self.name}.singer"

    @property
    def account(self) -> Account:
        return self.resource

    def validate(self) -> None:
        summary = self.account.summary()
        assert summary["status"] == "completed" and summary["reconciles"], summary["streams"]


class ContractArrayData(ContractFileTest):
    """SDK array_data: arrays (emails, phones, a set field's labels), empty arrays and nulls."""

    name = "contract_array_data"

    def validate(self) -> None:
        super().validate()
        persons = self.account.named("persons")
        one = persons["Array One"]
        assert [e["value"] for e in one["emails"]] == ["one@a.example", "one@b.example"]
        assert [p["value"] for p in one["phones"]] == ["+15550001", "+15550002"]
        tags = self.account.field("person", "Patient tags")
        labels = {o["id"]: o["label"] for o in tags["options"]}
        assert sorted(labels[i] for i in one["custom_fields"][tags["field_code"]]) == ["Recall", "VIP"]
        assert not persons["Array Two"]["emails"] and persons["Array Two"]["custom_fields"].get(tags["field_code"]) is None


class ContractCamelcase(ContractFileTest):
    """SDK camelcase: camelCase names. A camelCase custom field's logical name works; camelCase properties the
    contract does not have are not written and are reported by name (never dropped silently)."""

    name = "contract_camelcase"

    def validate(self) -> None:
        super().validate()
        person = self.account.named("persons")["Camel Case"]
        field = self.account.field("person", "Lead Source")
        assert person["custom_fields"][field["field_code"]] == "Web"
        assert set(self.account.summary()["ignored_properties"]["persons"]) == {"firstName", "homePhone"}


class ContractCamelcaseComplexSchema(ContractFileTest):
    """SDK camelcase_complex_schema: camelCase keys nested in an object: the address parts Pipedrive has land,
    the others are not sent (the spec's address has no `postalCode`)."""

    name = "contract_camelcase_complex_schema"

    def validate(self) -> None:
        super().validate()
        address = self.account.named("persons")["Nested Camel"]["postal_address"]
        assert address["value"] == "1 Main St, Springfield" and address["locality"] == "Springfield"
        assert "postalCode" not in address and "streetName" not in address


class ContractDuplicateRecords(ContractFileTest):
    """SDK duplicate_records: the same source_id several times in one run is one record, the last version."""

    name = "contract_duplicate_records"

    def validate(self) -> None:
        super().validate()
        names = sorted(p["name"] for p in self.account.live("persons"))
        assert names == ["Final Version", "Other Person"]


class ContractEncodedStringData(ContractFileTest):
    """SDK encoded_string_data: non-ASCII text (accents, CJK, Arabic, emoji ZWJ sequences) lands as sent."""

    name = "contract_encoded_string_data"

    def validate(self) -> None:
        super().validate()
        assert "Zoë Ångström-Ñúñez 李小龍 محمد 👩‍⚕️" in self.account.named("persons")
        (note,) = self.account.live("notes")
        assert note["content"] == "<p>Ünïcödé ✓ — “quotes” 日本語 \u00e9\u0301 🦷</p>"


class ContractMultipleStateMessages(ContractFileTest):
    """SDK multiple_state_messages (left out of the SDK's own suite): every STATE relayed is one that was sent,
    in order, and the last one is the input's last."""

    name = "contract_multiple_state_messages"

    def test(self) -> None:
        self.runner.sync_all()
        sent = [m["value"] for m in map(json.loads, self.singer_filepath.read_text().splitlines())
                if m["type"] == "STATE"]
        relayed = [m if isinstance(m, dict) else json.loads(m) for m in self.runner.state_messages]
        assert relayed and relayed[-1] == sent[-1]
        assert [s for s in sent if s in relayed] == relayed

    def validate(self) -> None:
        super().validate()
        org = self.account.named("organizations")["State Clinic"]
        assert {p["name"]: p["org_id"] for p in self.account.live("persons")} == {
            "State Person 1": org["id"], "State Person 2": org["id"]}


class ContractNoPrimaryKeys(ContractFileTest):
    """SDK no_primary_keys: a SCHEMA without key properties; records are still keyed on source_id."""

    name = "contract_no_primary_keys"

    def validate(self) -> None:
        super().validate()
        assert sorted(p["name"] for p in self.account.live("persons")) == ["No Keys", "No Keys Either"]


class ContractOptionalAttributes(ContractFileTest):
    """SDK optional_attributes: optional properties null, or set."""

    name = "contract_optional_attributes"

    def validate(self) -> None:
        super().validate()
        deals = self.account.named("deals", "title")
        assert deals["All optional null"]["status"] == "open" and deals["All optional null"]["currency"] == "USD"
        assert deals["Some optional set"]["value"] == 75.5 and deals["Some optional set"]["currency"] == "EUR"
        assert deals["Some optional set"]["expected_close_date"] == "2026-06-30"


class ContractPrimaryKeyUpdates(ContractFileTest):
    """SDK pk_updates: the SCHEMA's key properties change mid-stream: a record without the new key is skipped
    (missing_key_property), one that has it lands or updates by source_id."""

    name = "contract_pk_updates"

    def validate(self) -> None:
        super().validate()
        assert sorted(o["name"] for o in self.account.live("organizations")) == ["Key One Renamed", "Key Two"]
        (skip,) = self.account.skips()
        assert skip["source_id"] == "pk-3" and skip["problems"][0]["reason"] == "missing_key_property"


class ContractRecordMissingKeyProperty(ContractFileTest):
    """SDK record_missing_key_property: the SDK stops the run; the target skips the record (source_id missing or
    null) with its reason and loads the rest."""

    name = "contract_record_missing_key_property"

    def validate(self) -> None:
        super().validate()
        assert sorted(p["name"] for p in self.account.live("persons")) == ["Has Key", "Has Key Too"]
        problems = sorted((s["source_id"], p["property"], p["reason"]) for s in self.account.skips()
                          for p in s["problems"])
        assert problems == [(None, "source_id", "missing_property"), (None, "source_id", "wrong_type")]


class ContractRecordMissingRequiredProperty(ContractFileTest):
    """SDK record_missing_required_property: a deal without a title (or an empty one) is skipped."""

    name = "contract_record_missing_required_property"

    def validate(self) -> None:
        super().validate()
        assert [d["title"] for d in self.account.live("deals")] == ["Has a title"]
        reasons = {s["source_id"]: s["problems"][0]["reason"] for s in self.account.skips()}
        assert reasons == {"req-2": "missing_property", "req-3": "empty"}


class ContractRecordMissingOptionalFields(ContractFileTest):
    """SDK record_missing_fields: records with only the required properties land."""

    name = "contract_record_missing_fields"

    def validate(self) -> None:
        super().validate()
        persons = self.account.named("persons")
        assert set(persons) == {"Only A Name", "Name And Email"}
        (note,) = self.account.live("notes")
        assert note["person_id"] == persons["Only A Name"]["id"]


class ContractSchemaNoProperties(ContractFileTest):
    """SDK schema_no_properties: a SCHEMA that lists no properties; the records are checked against the
    target's contract, not the tap's schema, and land."""

    name = "contract_schema_no_properties"

    def validate(self) -> None:
        super().validate()
        org = self.account.named("organizations")["Schema Without Properties"]
        assert org["website"] == "https://np.example"


class ContractSchemaUpdates(ContractFileTest):
    """SDK schema_updates: the SCHEMA sent again with a new custom field, then with a new option: both are set up
    before the records that need them."""

    name = "contract_schema_updates"

    def validate(self) -> None:
        super().validate()
        field = self.account.field("person", "Membership")
        labels = {o["id"]: o["label"] for o in field["options"]}
        persons = self.account.named("persons")
        assert set(persons) == {"Before Update", "After Update", "After Second Update"}
        assert labels[persons["After Update"]["custom_fields"][field["field_code"]]] == "Gold"
        assert labels[persons["After Second Update"]["custom_fields"][field["field_code"]]] == "Bronze"


class ContractSpecialCharsInAttributes(ContractFileTest):
    """SDK special_chars_in_attributes: quotes, ampersands, angle brackets, emoji and punctuation in values, in a
    custom field's label and in a source id land as sent."""

    name = "contract_special_chars_in_attributes"

    def validate(self) -> None:
        super().validate()
        orgs = self.account.named("organizations")
        org = orgs["O'Brien & Sons <Dental> \"Clinic\" 🦷"]
        assert org["website"] == "https://x.example/?a=1&b=<2>"
        field = self.account.field("organization", "Référence / n° (#) & \"code\"")
        assert org["custom_fields"][field["field_code"]] == "A&B <c> \"d\" 'e' \\ / ñ"
        source_ids = self.account.field("organization", "Source ID")
        assert orgs["Colon: Slash/ Hash# Clinic"]["custom_fields"][source_ids["field_code"]] == "sc:2/ü?#&"


KEPT = [TargetCliPrintsTest, TargetInvalidSchemaTest, TargetRecordBeforeSchemaTest]
REPLACEMENTS: dict[str, type[ContractFileTest]] = {
    "array_data": ContractArrayData,
    "camelcase": ContractCamelcase,
    "camelcase_complex_schema": ContractCamelcaseComplexSchema,
    "duplicate_records": ContractDuplicateRecords,
    "encoded_string_data": ContractEncodedStringData,
    "multiple_state_messages": ContractMultipleStateMessages,
    "no_primary_keys": ContractNoPrimaryKeys,
    "optional_attributes": ContractOptionalAttributes,
    "pk_updates": ContractPrimaryKeyUpdates,
    "record_missing_key_property": ContractRecordMissingKeyProperty,
    "record_missing_required_property": ContractRecordMissingRequiredProperty,
    "record_missing_fields": ContractRecordMissingOptionalFields,
    "schema_no_properties": ContractSchemaNoProperties,
    "schema_updates": ContractSchemaUpdates,
    "special_chars_in_attributes": ContractSpecialCharsInAttributes,
}

_Suite = get_target_test_class(
    TargetPipedrive,
    config=SANDBOX_CONFIG,
    custom_suites=[SingerTestSuite(kind="target", tests=[*KEPT, *REPLACEMENTS.values()])],
    include_target_tests=False,
)


class TestTargetPipedriveStandard(_Suite):
    @pytest.fixture
    def resource(self, pipedrive_sandbox_factory, tmp_path):
        sandbox = pipedrive_sandbox_factory(fixture="empty")
        state_dir = tmp_path / "state"
        SANDBOX_CONFIG.clear()
        SANDBOX_CONFIG.update(api_token=sandbox.api_token, base_url=sandbox.base_url, fallback_owner_email=ADMIN_EMAIL,
                              state_dir=str(state_dir), plan="premium", seats=3, max_concurrency=4)
        return Account(sandbox, state_dir)

    @pytest.fixture
    def runner(self, resource):  # the SDK's runner, built once the sandbox's config is known
        return TargetTestRunner(target_class=TargetPipedrive, config=dict(SANDBOX_CONFIG), parse_env_config=True)


def test_every_sdk_target_test_runs_or_has_a_contract_shaped_replacement():
    kept = {test.name for test in KEPT}
    for test in target_tests.tests:
        assert test.name in kept or test.name in REPLACEMENTS, f"SDK target test {test.name!r} has no replacement"
    assert all(STREAMS_DIR.joinpath(f"{cls.name}.singer").is_file() for cls in REPLACEMENTS.values())
    assert not [name for name in dir(TestTargetPipedriveStandard) if name.startswith("test_") and "skip" in name]

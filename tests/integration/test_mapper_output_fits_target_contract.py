"""The mapper is the target's main producer: what it really sends passes the target's input contract."""

from __future__ import annotations

from target_pipedrive.validation import StreamContract
from testkit.mapper_run import base_config, run_mapper, singer_lines
from testkit.practice import practice


def test_the_mappers_real_output_fits_the_contract(tmp_path):
    """The transform is the contract's main producer: its output for the golden practice (PHI included, every
    stream) passes the check, so the check never skips what the mapper sends."""
    output = run_mapper(base_config(tmp_path), singer_lines(practice()))
    assert set(output.records) >= {"organizations", "persons", "deals", "activities", "notes"}
    for stream, records in output.records.items():
        message = output.schemas[stream]
        contract = StreamContract(stream, message["schema"], message.get("key_properties"))
        refused = {r["source_id"]: contract.problems(contract.coerce(r)) for r in records}
        assert not {k: v for k, v in refused.items() if v}, stream

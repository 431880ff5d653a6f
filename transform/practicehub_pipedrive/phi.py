"""The PHI gate: refuse (default), exclude PHI, or include it under a Business Associate Agreement."""

from __future__ import annotations

import click

POLICIES = ("refuse", "exclude", "include")


class PhiPolicyError(click.ClickException):
    exit_code = 2


def include_phi(config: dict, marks: list[str]) -> bool:
    """True to carry PHI, False to leave it out; raises with the fix when the run must not start."""
    policy = config.get("phi_policy") or "refuse"
    if policy not in POLICIES:
        raise PhiPolicyError(f"phi_policy {policy!r} is not one of {', '.join(POLICIES)}")
    if policy == "refuse" and marks:
        raise PhiPolicyError(
            f"phi_policy is 'refuse' and the mapping marks {len(marks)} PHI fields or streams "
            f"({', '.join(marks[:6])}{', ...' if len(marks) > 6 else ''}). Set phi_policy to 'exclude' "
            "to leave PHI out (clinical notes and attachments are skipped as phi_excluded), or to "
            "'include' with baa_reference set to your Business Associate Agreement with Pipedrive."
        )
    if policy == "include" and not str(config.get("baa_reference") or "").strip():
        raise PhiPolicyError(
            "phi_policy is 'include' but baa_reference is empty: PHI may only be moved to Pipedrive under "
            "a signed Business Associate Agreement. Set baa_reference (e.g. the agreement's id), or use "
            "phi_policy 'exclude'."
        )
    return policy == "include"

"""schemathesis over the served OpenAPI schema, against the running server: no 5xx for
any generated request (valid or not), and every response matches the schema it declares.

Driven by hand (one hypothesis test per operation and mode) rather than through
schemathesis' pytest plugin, whose lazy fixture loading needs pytest internals that
pytest 9 no longer has.
"""

from __future__ import annotations

import schemathesis  # flowy-ui[test]: a missing one is a failed install, not a skip

EXAMPLES = 8


def test_no_server_error_and_responses_conform(open_server: str) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    schema = schemathesis.openapi.from_url(f"{open_server}/api/v1/openapi.json")
    tested = []
    statuses: list[int] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def check(case) -> None:
                response = case.call_and_validate(base_url=open_server, checks=checks)
                statuses.append(response.status_code)

            try:
                check()
            except Unsatisfiable:
                continue  # no invalid request exists (an operation without parameters)
            except Exception as exc:
                raise AssertionError(f"{operation.label} ({mode.value}): {exc}") from exc
        tested.append(operation.label)
    assert len(tested) >= 15, tested
    assert len(statuses) >= 15 * EXAMPLES and max(statuses) < 500
    assert {200, 400, 404} <= set(statuses), sorted(set(statuses))

"""The OpenAPI document, exercised by schemathesis against the running scheduler: valid and
invalid inputs for every operation; no 5xx, and every answer (status, content type, headers, body)
as the document says. Bounded: a few examples per operation and mode."""
import pytest

pytestmark = [pytest.mark.sandbox, pytest.mark.needs_root]

EXAMPLES = 4


def test_schemathesis_finds_nothing(live):
    import schemathesis   # pinned in requirements/dev.txt: a missing one must fail, not skip
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (content_type_conformance, negative_data_rejection,
                                                   response_headers_conformance, response_schema_conformance,
                                                   status_code_conformance)
    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
              response_schema_conformance, negative_data_rejection]
    schema = schemathesis.openapi.from_url(live.direct + "/v1/openapi.json")
    # The service API token: mutating operations are really exercised (random plans, phases and
    # nodes do not exist, so they end in 4xx without changing anything real).
    headers = {"Authorization": f"token={live.api_token}"}
    plan_before = live.json("GET", "/v1/plans/deploy")[1]
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    for op in operations:
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            @settings(max_examples=EXAMPLES, deadline=None, database=None, phases=[Phase.generate],
                      suppress_health_check=list(HealthCheck))
            @given(case=op.as_strategy(generation_mode=mode))
            def exercise(case):
                case.call_and_validate(base_url=live.direct, headers=headers, checks=checks, timeout=30)
            try:
                exercise()
            except Unsatisfiable:
                # No invalid input exists for an operation without parameters or body.
                assert mode is schemathesis.GenerationMode.NEGATIVE, op.label
    assert live.json("GET", "/v1/plans/deploy")[1]["status"] == plan_before["status"]

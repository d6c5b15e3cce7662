"""Schemathesis against the app's own ``/openapi.json``: no 5xx, and every 422 as declared.

Every operation is called with generated input (valid and invalid) as the bootstrap admin,
in process, on each backend. Bounded and repeatable: a few examples per operation, a
fixed seed (hypothesis' derandomize), no example database.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.conftest import ADMIN_TOKEN

#: Examples per operation: enough to reach each parameter's edges, few enough for the suite.
EXAMPLES = 8


@pytest.fixture
def app(db):
    from traceability.api.main import create_app

    application = create_app(engine=db)

    return application


def _problems(operation, headers: dict[str, str]) -> list[str]:
    """What went wrong on one operation, in words."""
    found: list[str] = []

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case) -> None:
        response = case.call(headers=headers)
        where = f"{case.method} {case.formatted_path} {case.query or ''}"
        if response.status_code >= 500:
            found.append(f"{where}: {response.status_code} {response.text[:200]}")
        elif response.status_code == 422:
            try:
                case.validate_response(response, checks=[response_schema_conformance])
            except Exception as exc:  # noqa: BLE001 - schemathesis raises a group of failures
                found.append(f"{where}: 422 body off its schema: {str(exc)[:300]}")

    run()
    return found


def test_no_operation_answers_5xx_and_every_422_matches_its_schema(app):
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    problems: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        problems += _problems(operation, headers)
    assert operations >= 40  # the whole API was walked, not an empty document
    assert not problems, "\n".join(problems[:30])

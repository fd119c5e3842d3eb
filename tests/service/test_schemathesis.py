"""schemathesis against /openapi.json: no generated input, valid or not, gets a 500.

The app is the real service over a SQLite registry holding a small record; schemathesis calls it in
process (ASGI) with inputs generated from the published OpenAPI document.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok

from detente.service.app import create_app
from tests.service.scene import scene


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[schemathesis.BaseSchema]:
    folder: Path = tmp_path_factory.mktemp("schemathesis")
    with scene(folder, f"sqlite:///{folder / 'log.db'}") as s:
        yield schemathesis.openapi.from_asgi("/openapi.json", create_app(s.service))


def test_no_generated_input_gets_a_server_error(api_schema: schemathesis.BaseSchema) -> None:
    checked = []
    for result in api_schema.get_all_operations():
        assert isinstance(result, Ok), f"the OpenAPI document has an invalid operation: {result}"
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
        def call(case: schemathesis.Case[Any]) -> None:
            case.call_and_validate(checks=[not_a_server_error])

        call()
        checked.append(operation.label)
    assert len(checked) >= 15, checked  # every operation of the API was exercised

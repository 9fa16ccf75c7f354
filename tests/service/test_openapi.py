"""The OpenAPI document at /schema declares every path, field and error response of the spec."""

from __future__ import annotations

import json
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from adapters.memory import InMemoryEventBus
from adapters.paper import PaperExchange
from apps.service.app import create_app
from tests.service import api_spec as spec
from tests.service.conftest import container_for, settings_with

Client = AsyncTestClient[Any]


@pytest.fixture
async def document(api: Client) -> dict[str, Any]:
    response = await api.get("/schema/openapi.json")
    assert response.status_code == 200
    return dict(response.json())


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _types(doc: dict[str, Any], schema: dict[str, Any]) -> set[str]:
    schema = _resolve(doc, schema)
    if "oneOf" in schema:
        return set().union(*(_types(doc, s) for s in schema["oneOf"])) - {"null"}
    kind = schema.get("type")
    return set(kind) if isinstance(kind, list) else {kind} if kind else set()


def _assert_declares(doc: dict[str, Any], declared: dict[str, Any], wanted: dict[str, Any], where: str) -> None:
    declared = _resolve(doc, declared)
    if "anyOf" in declared and "properties" not in declared:  # a 422: a refused order, or a plain error
        failures = []
        for branch in declared["anyOf"]:
            try:
                _assert_declares(doc, branch, wanted, where)
            except AssertionError as e:
                failures.append(str(e))
            else:
                return
        raise AssertionError(f"{where}: no branch of anyOf declares it: {failures}")
    for name, field in wanted.get("properties", {}).items():
        assert name in declared.get("properties", {}), f"{where}: {name} is not declared"
        actual = declared["properties"][name]
        if "type" in field and field["type"] in ("number", "string", "boolean", "array", "object"):
            assert field["type"] in _types(doc, actual) or (
                field["type"] == "number" and "integer" in _types(doc, actual)
            ), f"{where}.{name}: declared {actual}, the spec says {field['type']}"
        if "enum" in field:
            assert set(_resolve(doc, actual).get("enum", [])) >= set(field["enum"]), f"{where}.{name} enum"
        if field.get("type") == "object":
            _assert_declares(doc, actual, field, f"{where}.{name}")
        if field.get("type") == "array" and "items" in field:
            _assert_declares(doc, _resolve(doc, actual)["items"], field["items"], f"{where}.{name}[]")
    for name in wanted.get("required", []):
        assert name in _resolve(doc, declared).get("required", []), f"{where}: {name} is not required"


@pytest.mark.parametrize(("method", "path"), sorted(spec.PATHS), ids=str)
def test_every_spec_endpoint_is_documented_with_its_fields(document: dict[str, Any], method: str, path: str) -> None:
    operation = document["paths"][path][method]
    success = next(code for code in operation["responses"] if code.startswith("2"))

    body = operation["responses"][success]["content"]["application/json"]["schema"]

    _assert_declares(document, body, spec.PATHS[(method, path)], f"{method.upper()} {path}")


def test_the_submit_request_is_documented_with_the_spec_fields(document: dict[str, Any]) -> None:
    body = document["paths"]["/api/v1/orders"]["post"]["requestBody"]["content"]["application/json"]["schema"]

    _assert_declares(document, body, spec.SUBMIT_REQUEST, "POST /api/v1/orders body")


@pytest.mark.parametrize(("method", "path"), sorted(spec.PATHS), ids=str)
def test_every_error_response_is_listed_in_the_one_error_shape(
    document: dict[str, Any], method: str, path: str
) -> None:
    responses = document["paths"][path][method]["responses"]
    errors = {code: r for code, r in responses.items() if code[0] in "45"}

    if path != "/health":
        assert {"400", "401", "500", "503"} <= set(errors)
    for code, response in errors.items():
        schema = response["content"]["application/json"]["schema"]
        _assert_declares(document, schema, spec.ERROR if path != "/health" else spec.HEALTH, f"{path} {code}")


def test_submit_documents_the_rejection_and_broker_failure(document: dict[str, Any]) -> None:
    responses = document["paths"]["/api/v1/orders"]["post"]["responses"]

    _assert_declares(document, responses["422"]["content"]["application/json"]["schema"], spec.REJECTION, "422")
    assert "502" in responses


def test_health_documents_503(document: dict[str, Any]) -> None:
    assert "503" in document["paths"]["/health"]["get"]["responses"]


def test_the_extra_endpoints_are_documented(document: dict[str, Any]) -> None:
    paths = document["paths"]

    assert "post" in paths["/api/v1/orders/validate"]
    assert "patch" in paths["/api/v1/orders/{orderId}"]
    assert "get" in paths["/api/v1/risk"]
    assert "post" in paths["/api/v1/risk/reset"]
    assert "get" in paths["/metrics"]


def test_optional_bodies_are_not_required(document: dict[str, Any]) -> None:
    assert document["paths"]["/api/v1/positions/{symbol}"]["delete"]["requestBody"]["required"] is False
    assert document["paths"]["/api/v1/risk/reset"]["post"]["requestBody"]["required"] is False


def _component(document: dict[str, Any], name: str) -> dict[str, Any]:
    return dict(document["components"]["schemas"][name])


def test_the_request_bodies_refuse_fields_they_do_not_name(document: dict[str, Any]) -> None:
    closed = ("SubmitOrderRequest", "ModifyOrderRequest", "ClosePositionRequest", "RiskResetRequest")

    assert {name: _component(document, name).get("additionalProperties") for name in closed} == dict.fromkeys(
        closed, False
    )


def test_the_submit_request_states_the_rules_the_engine_enforces(document: dict[str, Any]) -> None:
    body = _component(document, "SubmitOrderRequest")
    fields = body["properties"]

    assert fields["quantity"] | {"description": ""} == {
        "type": "number",
        "exclusiveMinimum": 0,
        "multipleOf": 0.0001,
        "maximum": 99999999999.9999,
        "description": "",
    }
    assert fields["symbol"]["pattern"].startswith("^[A-Z][A-Z0-9]{0,5}([./-][A-Z0-9]{1,3})?$")
    assert (fields["clientOrderId"]["minLength"], fields["clientOrderId"]["maxLength"]) == (1, 48)
    assert "48" in fields["clientOrderId"]["description"]
    assert fields["strategyId"]["pattern"].startswith("^[0-9a-fA-F]{8}-")
    rules = json.dumps(body["allOf"])
    assert '"limitPrice"' in rules
    assert '"stopPrice"' in rules
    assert '"extendedHours"' in rules


def test_a_patch_must_name_something_to_change(document: dict[str, Any]) -> None:
    body = _component(document, "ModifyOrderRequest")

    assert sorted(option["required"][0] for option in body["anyOf"]) == sorted(
        ["quantity", "limitPrice", "stopPrice", "timeInForce", "trailPrice", "trailPercent"]
    )
    assert body["not"]["required"] == ["trailPrice", "trailPercent"]  # a trail of one kind, never both


@pytest.mark.parametrize("component", ["SubmitOrderRequest", "ModifyOrderRequest"])
def test_a_trail_percent_is_documented_above_0_and_below_100(document: dict[str, Any], component: str) -> None:
    field = _component(document, component)["properties"]["trailPercent"]
    options = field.get("oneOf", [field])  # an optional field is documented as the number or null
    number = next(option for option in options if option.get("type") == "number")

    assert (number["exclusiveMinimum"], number["exclusiveMaximum"]) == (0, 100)
    assert "maximum" not in number


def test_submit_lists_the_conflict_and_the_body_limit(document: dict[str, Any]) -> None:
    responses = document["paths"]["/api/v1/orders"]["post"]["responses"]

    assert {"409", "413"} <= set(responses)


async def test_with_a_token_health_and_metrics_are_documented_open(
    exchange: PaperExchange, bus: InMemoryEventBus
) -> None:
    app = create_app(container_for(settings_with(TRADING_API_TOKEN="t"), exchange, bus))
    async with AsyncTestClient(app) as client:
        document = (await client.get("/schema/openapi.json", headers={"Authorization": "Bearer t"})).json()

    paths = document["paths"]
    assert document["security"] == [{"bearer": []}]
    assert (paths["/health"]["get"]["security"], paths["/metrics"]["get"]["security"]) == ([], [])
    assert "security" not in paths["/api/v1/orders"]["post"]  # the document's bearer applies

"""The OpenAPI document: FastAPI's, with the shared problem document every error answers with."""

from typing import Any

from fastapi import FastAPI

from app.api.schemas.problems import Problem


def install(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        document = app.openapi_schema
        if document is None:
            document = generate()  # FastAPI's, which it also keeps as app.openapi_schema
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(problem.pop("$defs", {}))
            schemas["Problem"] = problem
        return document

    # Replacing app.openapi is how FastAPI documents extending the document; mypy sees a method.
    app.openapi = openapi  # type: ignore[method-assign]

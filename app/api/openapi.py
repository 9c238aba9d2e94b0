"""The OpenAPI document: FastAPI's, with the shared problem document every error answers with."""

from typing import Any

from fastapi import FastAPI

from app.api.schemas.problems import Problem


def install(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(problem.pop("$defs", {}))
            schemas["Problem"] = problem
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

"""The OpenAPI 3.0 document of the API (`GET /api/v1/openapi.json`).

It is the contract the test suite checks every response against (schemathesis), so a change to
a route's answers is a change here first.
"""

from __future__ import annotations

from typing import Any

from app.services.prediction.intake import NAME_MAX
from app.services.prediction.results import FORMAT_MIMETYPES

STATUSES = ["queued", "running", "done", "failed"]


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _prediction(description: str, location: bool = False) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Prediction"}}},
        "links": {
            "GetPrediction": {
                "operationId": "getPrediction",
                "parameters": {"prediction_id": "$response.body#/id"},
            }
        },
    }
    if location:
        response["headers"] = {
            "Location": {"description": "The status URL", "schema": {"type": "string"}}
        }
    return response


UNAUTHORIZED = _error("No valid API token (`Authorization: Bearer <token>`)")
NOT_FOUND = _error("No such prediction, or it belongs to another company")
RATE_LIMITED = _error("Too many requests with this token; wait a minute")
PREDICTION_ID = {
    "name": "prediction_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1},
}

PREDICTION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "id",
        "name",
        "status",
        "progress",
        "error",
        "model",
        "rows",
        "churn_count",
        "created_at",
        "finished_at",
        "status_url",
        "result_url",
        "reasons",
    ],
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "status": {"type": "string", "enum": STATUSES},
        "progress": {"type": "integer", "minimum": 0, "maximum": 100},
        "error": {"type": "string", "nullable": True, "description": "Why it failed"},
        "model": {
            "type": "object",
            "additionalProperties": False,
            "required": ["id", "label"],
            "properties": {"id": {"type": "integer"}, "label": {"type": "string"}},
        },
        "rows": {"type": "integer", "minimum": 0},
        "churn_count": {
            "type": "integer",
            "nullable": True,
            "description": "Customers predicted to churn (once done)",
        },
        "created_at": {"type": "string", "format": "date-time"},
        "finished_at": {"type": "string", "format": "date-time", "nullable": True},
        "status_url": {"type": "string"},
        "result_url": {
            "type": "string",
            "nullable": True,
            "description": "The result CSV, once the status is done",
        },
        "reasons": {
            "type": "string",
            "nullable": True,
            "enum": [*STATUSES, None],
            "description": (
                "Whether the result's Reason columns are filled: `done` (they came with it), or, "
                "for a large file explained by substitution, `queued`/`running` while a second "
                "job adds them (the result is already downloadable; `result_url` then gives the "
                "file with reasons) or `failed` (the result stays without reasons); null until "
                "the status is done"
            ),
        },
    },
}


def document() -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Churn Buster API",
            "version": "1.0.0",
            "description": (
                "Churn predictions for your company's own pipelines. A developer creates tokens "
                "on the API tokens page; a token acts for that developer. Upload a customer "
                "file, poll its status URL until `status` is `done` (or `failed`, with `error`), "
                "then download the result: the file with `Churn Prediction` and `Churn "
                'Probability` added. Errors are JSON: `{"error": message}`.'
            ),
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearerAuth": []}],
        "paths": {
            "/predictions": {
                "post": {
                    "operationId": "createPrediction",
                    "summary": "Start a prediction",
                    "description": (
                        "Small files are scored at once (the answer says `done`); larger ones "
                        "are queued (`queued`, then `running` with `progress`)."
                    ),
                    "requestBody": {
                        "required": True,
                        "content": {
                            "multipart/form-data": {
                                "schema": {
                                    "type": "object",
                                    "required": ["file", "model"],
                                    "properties": {
                                        "file": {
                                            "type": "string",
                                            "format": "binary",
                                            "description": (
                                                "The customers (.csv, .csv.gz, .parquet, .xlsx)"
                                            ),
                                        },
                                        "model": {
                                            "type": "string",
                                            "minLength": 1,
                                            "description": "A model's id or label",
                                            "example": "Gradient Boosting",
                                        },
                                        "name": {"type": "string", "maxLength": NAME_MAX},
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "202": _prediction("Accepted: poll `status_url`", location=True),
                        "400": _error("The file or a field was refused; `error` says why"),
                        "401": UNAUTHORIZED,
                        "413": _error("The file is larger than the server accepts"),
                        "429": RATE_LIMITED,
                        "503": _error("The server is out of space, or the queue is down"),
                    },
                }
            },
            "/predictions/{prediction_id}": {
                "get": {
                    "operationId": "getPrediction",
                    "summary": "A prediction's status and progress",
                    "parameters": [PREDICTION_ID],
                    "responses": {
                        "200": _prediction("The prediction"),
                        "401": UNAUTHORIZED,
                        "404": NOT_FOUND,
                        "429": RATE_LIMITED,
                    },
                }
            },
            "/predictions/{prediction_id}/result": {
                "get": {
                    "operationId": "getPredictionResult",
                    "summary": "The result file",
                    "parameters": [
                        PREDICTION_ID,
                        {
                            "name": "format",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "string", "enum": sorted(FORMAT_MIMETYPES)},
                            "description": "csv (default), or xlsx for an Excel upload",
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "The upload, every row, plus the prediction columns",
                            "content": {
                                mimetype: {"schema": {"type": "string", "format": "binary"}}
                                for mimetype in FORMAT_MIMETYPES.values()
                            },
                        },
                        "401": UNAUTHORIZED,
                        "404": _error("No such prediction, or it has no result (yet)"),
                        "429": RATE_LIMITED,
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Prediction": PREDICTION_SCHEMA,
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": {"type": "string"}},
                },
            },
        },
    }

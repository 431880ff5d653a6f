"""Pipedrive's response envelope and error bodies."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

ERROR_INFO = "Please check developers.pipedrive.com for more information about Pipedrive API."


class ApiError(Exception):
    """An error Pipedrive answers with `{success: false, error, error_info, data: null, ...}`."""

    def __init__(self, status: int, error: str, error_info: str = ERROR_INFO, code: str | None = None):
        super().__init__(error)
        self.status = status
        self.error = error
        self.error_info = error_info
        self.code = code


def bad_request(error: str) -> ApiError:
    return ApiError(400, error)


def not_found(what: str) -> ApiError:
    return ApiError(404, f"{what} not found")


def error_response(error: ApiError) -> Response:
    body: dict[str, Any] = {"success": False, "error": error.error, "error_info": error.error_info,
                            "data": None, "additional_data": None}
    if error.status in (401, 429):
        body["errorCode"] = error.status
    if error.code:
        body["code"] = error.code
    response = jsonify(body)
    response.status_code = error.status
    return response


def ok(data: Any, additional_data: Any = None, status: int = 200) -> Response:
    body: dict[str, Any] = {"success": True, "data": data}
    if additional_data is not None:
        body["additional_data"] = additional_data
    response = jsonify(body)
    response.status_code = status
    return response

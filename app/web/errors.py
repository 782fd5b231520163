"""Error pages: every error a person can meet gets a page that says what to do next.

A domain error (`services.errors.DomainError`) that a view does not show on its own form reaches
this one handler, which answers with the error's status and message. Under /api/ the same
errors are JSON (`{"error": message}`), with the headers Werkzeug set (Allow on a 405,
WWW-Authenticate on a 401).
"""

from __future__ import annotations

import logging

from flask import Flask, current_app, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.wrappers import Response as BaseResponse

from app.services import storage
from app.services.errors import DomainError, NotFound

log = logging.getLogger(__name__)

MESSAGES = {
    400: ("Bad request", "The request could not be understood. Please go back and try again."),
    401: ("Not signed in", "A valid API token is needed: send it as `Authorization: Bearer …`."),
    403: ("Not allowed", "Your account cannot open this page."),
    404: ("Not found", "There is nothing here, or it belongs to someone else."),
    405: ("Not allowed", "That action is not available here."),
    429: ("Too many attempts", "Please wait a minute before trying again."),
    500: ("Something went wrong", "The error has been logged. Please try again in a moment."),
    503: ("Unavailable right now", "Something the app needs is not answering. Please try again."),
}
PLAIN_HTTP_HINT = (
    "This server runs in production mode, where the session cookie is only sent over HTTPS, "
    "but this page was opened over plain http, so the form's security token could not be "
    "checked. Open the site with https://. If it runs behind a TLS proxy, set PROXY_COUNT to "
    "the number of proxies so the app sees the original https scheme."
)


def _is_api() -> bool:
    return request.path.startswith("/api/")


def _page(title: str, message: str, code: int) -> tuple[str, int]:
    return render_template("errors/error.html", title=title, message=message, code=code), code


def _json(message: str, code: int, base: BaseResponse | None = None) -> BaseResponse:
    response = base if base is not None else jsonify()
    response.set_data(jsonify(error=message).get_data())
    response.content_type = "application/json"
    response.status_code = code
    return response


def register(app: Flask) -> None:
    @app.errorhandler(RequestEntityTooLarge)
    def too_large(_error):
        limit_mb = app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024)
        message = f"Uploads are limited to {limit_mb} MB. Please split the file and try again."
        if _is_api():
            return _json(message, 413)
        return _page("File too large", message, 413)

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        if current_app.config.get("SESSION_COOKIE_SECURE") and not request.is_secure:
            log.warning("A form was posted over plain http to a production server: %s", error)
            return _page("Form refused: HTTPS needed", PLAIN_HTTP_HINT, 400)
        return _page(
            "Form expired",
            "The form was missing its security token or it had expired. "
            "Please reload the page and submit it again.",
            400,
        )

    @app.errorhandler(DomainError)
    def domain_error(error: DomainError):
        if isinstance(error, NotFound):  # the same page whether it is missing or someone else's
            title, message = MESSAGES[404]
            if _is_api():
                message = error.message
        else:
            title, message = MESSAGES.get(error.status, MESSAGES[400])[0], error.message
        if _is_api():
            return _json(message, error.status)
        return _page(title, message, error.status)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        code = error.code or 500
        title, message = MESSAGES.get(code, (error.name, error.description))
        text = message or error.description or error.name
        if _is_api():
            return _json(error.description or text, code, error.get_response())
        return _page(title, text, code)

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):
        if storage.is_out_of_space(error):  # a write that no service turned into a message
            log.error("Out of space: %s", error)
            if _is_api():
                return _json(storage.OUT_OF_SPACE, 503)
            return _page("Out of space", storage.OUT_OF_SPACE, 503)
        log.exception("Unhandled error: %s", error)
        title, message = MESSAGES[500]
        if _is_api():
            return _json(message, 500)
        return _page(title, message, 500)

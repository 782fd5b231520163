"""Error pages: every error a person can meet gets a page that says what to do next.

A domain error (`services.errors.DomainError`) that a view does not show on its own form reaches
this one handler, which answers with the error's status and message.
"""

from __future__ import annotations

import logging

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from app.services.errors import DomainError, NotFound

log = logging.getLogger(__name__)

MESSAGES = {
    400: ("Bad request", "The request could not be understood. Please go back and try again."),
    403: ("Not allowed", "Your account cannot open this page."),
    404: ("Not found", "There is nothing here, or it belongs to someone else."),
    405: ("Not allowed", "That action is not available here."),
    429: ("Too many attempts", "Please wait a minute before trying again."),
    500: ("Something went wrong", "The error has been logged. Please try again in a moment."),
}


def register(app: Flask) -> None:
    @app.errorhandler(RequestEntityTooLarge)
    def too_large(_error):
        limit_mb = app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024)
        return render_template(
            "errors/error.html",
            title="File too large",
            message=f"Uploads are limited to {limit_mb} MB. Please split the file and try again.",
            code=413,
        ), 413

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return render_template(
            "errors/error.html",
            title="Form expired",
            message="The form was missing its security token or it had expired. "
            "Please reload the page and submit it again.",
            code=400,
        ), 400

    @app.errorhandler(DomainError)
    def domain_error(error: DomainError):
        if isinstance(error, NotFound):  # the same page whether it is missing or someone else's
            title, message = MESSAGES[404]
        else:
            title, message = MESSAGES.get(error.status, MESSAGES[400])[0], error.message
        return render_template(
            "errors/error.html", title=title, message=message, code=error.status
        ), error.status

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        title, message = MESSAGES.get(error.code or 500, (error.name, error.description))
        return render_template(
            "errors/error.html", title=title, message=message, code=error.code
        ), error.code

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):
        log.exception("Unhandled error: %s", error)
        title, message = MESSAGES[500]
        return render_template("errors/error.html", title=title, message=message, code=500), 500

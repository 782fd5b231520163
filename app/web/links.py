"""The absolute links that emails carry, built from the routes for the services that send them."""

from __future__ import annotations

from flask import url_for


class EmailLinks:
    """`services.accounts.Links`, built with `url_for` (the request's host, or SERVER_NAME)."""

    def verify(self, token: str) -> str:
        return url_for("auth.verify", token=token, _external=True)

    def approve(self, token: str) -> str:
        return url_for("auth.approve", token=token, _external=True)

    def reset(self, token: str) -> str:
        return url_for("auth.reset_password", token=token, _external=True)

    def forgot_password(self) -> str:
        return url_for("auth.forgot_password", _external=True)

    def login(self) -> str:
        return url_for("auth.login", _external=True)


email_links = EmailLinks()

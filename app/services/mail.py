"""Outgoing email: one function per kind of message, plain-text bodies.

With `MAIL_SERVER` set, messages go out over SMTP through Flask-Mail. Without it, each message is
written as an `.eml` file into `OUTBOX_DIR` (server-chosen, timestamped name, atomic write) and
its links are logged (in development only), so a local installation can still verify accounts.
Production refuses to start with neither MAIL_SERVER nor an OUTBOX_DIR of the operator's choice.
"""

from __future__ import annotations

import logging
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path

from flask import current_app
from flask_mail import BadHeaderError, Message

from app.extensions import mail
from app.services.storage import atomic_path

log = logging.getLogger(__name__)

LINK_PATTERN = re.compile(r"https?://\S+")


class MailError(Exception):
    """The message could not be handed to the mail server or written to the outbox."""


def send_company_registered(to: str, company_name: str, public_id: str, verify_url: str) -> None:
    body = f"""Hello,

{company_name} is now registered on Churn Buster.

Company ID: {public_id}

Keep this ID: your developer and your staff sign up with it.

Please confirm that this is the company's email address by opening this link:
{verify_url}

When your developer signs up, this address will receive a request to approve them.

If you did not register this company, you can ignore this email.
"""
    _deliver(f"Your Churn Buster company ID: {public_id}", to, body)


def send_account_verification(to: str, name: str, company_name: str, verify_url: str) -> None:
    body = f"""Hello {name},

Please confirm your email address for your Churn Buster account at {company_name}
by opening this link:
{verify_url}

If you did not sign up, you can ignore this email.
"""
    _deliver("Confirm your email address for Churn Buster", to, body)


def send_developer_approval_request(
    to: str,
    company_name: str,
    public_id: str,
    developer_name: str,
    developer_email: str,
    approve_url: str,
) -> None:
    body = f"""Hello,

{developer_name} <{developer_email}> has signed up as the developer of {company_name}
(Company ID: {public_id}) on Churn Buster.

The developer can retrain models and deploy them to everyone in your company. Open this link
to decide:
{approve_url}

- If you know this person and want them to be your company's developer, press "Approve".
- If you do not recognise them, press "Reject": their account is removed, and your real
  developer can sign up with the Company ID.

Until you decide, the account stays locked.
"""
    _deliver(f"Approve {developer_name} as developer of {company_name}", to, body)


def send_developer_approved(to: str, name: str, company_name: str, login_url: str) -> None:
    body = f"""Hello {name},

{company_name} has approved you as its developer on Churn Buster.
Once your own email address is confirmed you can log in:
{login_url}
"""
    _deliver("You are approved as your company's developer", to, body)


def send_password_reset(to: str, name: str, reset_url: str, minutes: int) -> None:
    body = f"""Hello {name},

Someone (we hope you) asked to reset the password of your Churn Buster account.
To choose a new password, open this link within {minutes} minutes:
{reset_url}

The link works once. Resetting the password logs you out on every device.

If you did not ask for this, you can ignore this email: your password stays as it is.
"""
    _deliver("Reset your Churn Buster password", to, body)


def send_sign_up_attempt(to: str, name: str, login_url: str, forgot_url: str) -> None:
    body = f"""Hello {name},

Someone tried to sign up for Churn Buster with this email address, which already has an
account. No new account was created.

If it was you, log in here:
{login_url}

Forgot your password? Choose a new one here:
{forgot_url}

If it was not you, you can ignore this email.
"""
    _deliver("Someone tried to sign up with your email address", to, body)


def _deliver(subject: str, to: str, body: str) -> None:
    message = Message(subject=subject, recipients=[to], body=body)
    try:
        if current_app.config.get("MAIL_SERVER"):
            mail.send(message)
            log.info("Sent email %r to %s", subject, to)
        else:
            path = _write_to_outbox(message)
            log.info("Email %r to %s written to %s", subject, to, path)
            # A link in a log is a working login for whoever reads the log: development only.
            link_level = logging.INFO if current_app.config.get("MAIL_LOG_LINKS") else logging.DEBUG
            for link in LINK_PATTERN.findall(body):
                log.log(link_level, "Link in that email: %s", link)
    except (OSError, BadHeaderError) as error:  # smtplib errors are OSError subclasses
        raise MailError(f"The email to {to} could not be sent: {error}") from error


def _write_to_outbox(message: Message) -> Path:
    outbox = Path(current_app.config["OUTBOX_DIR"])
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = outbox / f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
    with atomic_path(target) as tmp:
        tmp.write_bytes(message.as_bytes())
    return target

"""Registration and verification: companies, developers and users sign up; emailed links confirm
their addresses; the company approves (or rejects) its developer.

Every function owns its transaction and raises a typed error whose message is meant for a
person. A mail failure is logged and never undoes a registration: the person can ask for the
email again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.security import generate_password_hash

from app.extensions import db
from app.schema import Company, Developer, User, utcnow
from app.services import environment
from app.services import mail as mailer
from app.services.accounts import tokens
from app.services.accounts.rules import (
    ACCOUNT_CLASSES,
    COMPANY_ID_ATTEMPTS,
    Account,
    RegistrationError,
    TokenError,
    check_new_email,
    check_new_password,
    clean_name,
    find_account_by_email,
    find_company,
    generate_company_id,
    normalize_email,
)
from app.services.accounts.tokens import Links

log = logging.getLogger(__name__)


# --- Sending -------------------------------------------------------------------------------------


def _send_quietly(send: Callable[..., None], *args: Any) -> bool:
    try:
        send(*args)
    except mailer.MailError:
        log.exception("Email could not be sent")
        return False
    return True


def _send_company_email(company: Company, links: Links) -> bool:
    return _send_quietly(
        mailer.send_company_registered,
        company.email,
        company.name,
        company.public_id,
        links.verify(tokens.company_verification_token(company)),
    )


def _send_account_verification(account: Account, links: Links) -> bool:
    return _send_quietly(
        mailer.send_account_verification,
        account.email,
        account.name,
        account.company.name,
        links.verify(tokens.account_verification_token(account)),
    )


def _send_approval_request(developer: Developer, links: Links) -> bool:
    company = developer.company
    return _send_quietly(
        mailer.send_developer_approval_request,
        company.email,
        company.name,
        company.public_id,
        developer.name,
        developer.email,
        links.approve(tokens.approval_token(developer)),
    )


# --- Registration -------------------------------------------------------------------------------


def register_company(name: str, email: str, links: Links) -> Company:
    """Create a company with a fresh company ID and email the ID and a verification link."""
    name = clean_name(name, "Enter the company's name.")
    email = check_new_email(email)
    for _ in range(COMPANY_ID_ATTEMPTS):
        company = Company(public_id=generate_company_id(), name=name, email=email)
        db.session.add(company)
        try:
            db.session.commit()
        except IntegrityError:  # the random ID is already taken (very rare): draw again
            db.session.rollback()
            continue
        _send_company_email(company, links)
        return company
    raise RegistrationError("A company ID could not be assigned. Please try again.")


@dataclass(frozen=True)
class SignUp:
    """What the page says after a sign-up: the same whether or not the address was free, so
    the form cannot be used to learn who has an account."""

    role: str
    name: str
    email: str
    company_name: str
    company_email: str


def _checked_sign_up(
    company_id: str, name: str, email: str, password: str
) -> tuple[Company, str, str]:
    """The company, name and email of a sign-up whose every field is acceptable."""
    company = find_company(company_id)
    if company is None:
        raise RegistrationError(
            "No company has this company ID. Check the ID in the company's registration email "
            "(it looks like CB-7K3M-Q9XP-4HTW).",
            field="company_id",
        )
    name = clean_name(name, "Enter your name.")
    email = check_new_email(email)
    check_new_password(password, email)
    return company, name, email


def _address_in_use(email: str, password: str, links: Links) -> None:
    """Someone signed up with an address that has an account: tell its owner, and spend the
    time a real sign-up spends hashing the password."""
    generate_password_hash(password)
    account = find_account_by_email(email)
    if account is None:
        return
    _send_quietly(
        mailer.send_sign_up_attempt,
        account.email,
        account.name,
        links.login(),
        links.forgot_password(),
    )


def _developer_exists_error() -> RegistrationError:
    return RegistrationError(
        "This company already has a developer. Each company has exactly one; "
        "sign up as a user instead, or ask the company to contact support.",
        field="company_id",
    )


def register_developer(
    company_id: str, name: str, email: str, password: str, links: Links
) -> SignUp:
    """Create the company's developer; email them a verification link and the company a request.

    An address that already has an account gets a mail saying so instead, and the same answer."""
    company, name, email = _checked_sign_up(company_id, name, email, password)
    if company.developer is not None:
        raise _developer_exists_error()
    answer = SignUp("developer", name, email, company.name, company.email)
    if find_account_by_email(email) is not None:
        _address_in_use(email, password, links)
        return answer
    developer = Developer(
        company=company, name=name, email=email, password_hash=generate_password_hash(password)
    )
    db.session.add(developer)
    try:
        db.session.commit()
    except IntegrityError as error:  # a parallel sign-up won the race
        db.session.rollback()
        current = db.session.get(Company, company.id)
        if current is not None and current.developer is not None:
            raise _developer_exists_error() from error
        _address_in_use(email, password, links)
        return answer
    _send_account_verification(developer, links)
    _send_approval_request(developer, links)
    return answer


def register_user(company_id: str, name: str, email: str, password: str, links: Links) -> SignUp:
    """Create a user of the company and email them a verification link (an address that has
    an account gets a mail saying so instead, and the same answer)."""
    company, name, email = _checked_sign_up(company_id, name, email, password)
    answer = SignUp("user", name, email, company.name, company.email)
    if find_account_by_email(email) is not None:
        _address_in_use(email, password, links)
        return answer
    user = User(
        company=company, name=name, email=email, password_hash=generate_password_hash(password)
    )
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        _address_in_use(email, password, links)
        return answer
    _send_account_verification(user, links)
    return answer


# --- Verification and approval ------------------------------------------------------------------


@dataclass
class Outcome:
    """What a link did, ready for the page: a title, a message, and where to go next."""

    title: str
    message: str
    can_log_in: bool = False
    details: list[str] = field(default_factory=list)


def verify_email(token: str) -> Outcome:
    """Mark the company's or the account's email verified (idempotent)."""
    salt, payload = tokens.read_token(
        token, (tokens.SALT_VERIFY_COMPANY, tokens.SALT_VERIFY_ACCOUNT)
    )
    if salt == tokens.SALT_VERIFY_COMPANY:
        return _verify_company(payload)
    return _verify_account(payload)


def _verify_company(payload: dict[str, Any]) -> Outcome:
    company = db.session.get(Company, payload.get("company"))
    if company is None or not tokens.issued_for(company, payload):
        raise TokenError("This link points at a company that no longer exists.")
    if company.email_verified_at is None:
        company.email_verified_at = utcnow()
        db.session.commit()
    return Outcome(
        "Company email confirmed",
        f"Thank you: {company.email} is confirmed as the email of {company.name}. "
        f"Your developer and staff can now sign up with company ID {company.public_id}.",
    )


def _verify_account(payload: dict[str, Any]) -> Outcome:
    account_class = ACCOUNT_CLASSES.get(payload.get("role", ""))
    found = db.session.get(account_class, payload.get("id")) if account_class else None
    account = cast("Account | None", found)
    if account is None or not tokens.issued_for(account, payload):
        raise TokenError("This link points at an account that no longer exists.")
    was_active = account.is_active
    if account.email_verified_at is None:
        account.email_verified_at = utcnow()
        db.session.commit()
    if isinstance(account, Developer) and account.approved_at is None:
        return Outcome(
            "Email confirmed",
            "Your email address is confirmed. One step is left: your company must approve you. "
            f"The approval request was sent to {account.company.email}.",
        )
    _after_change(account, was_active)
    return Outcome(
        "Email confirmed", "Your email address is confirmed. You can log in now.", can_log_in=True
    )


def developer_for_approval(token: str) -> Developer:
    """The developer an approval link is about (for the page that shows the Approve button)."""
    _salt, payload = tokens.read_token(token, (tokens.SALT_APPROVE_DEVELOPER,))
    developer = db.session.get(Developer, payload.get("developer"))
    if (
        developer is None
        or not tokens.issued_for(developer, payload)
        or developer.company_id != payload.get("company")
    ):
        raise TokenError("This link points at a developer account that no longer exists.")
    return developer


def approve_developer(token: str, links: Links) -> Outcome:
    """The company approves its developer; the link also proves the company's email works."""
    developer = developer_for_approval(token)
    was_active = developer.is_active
    if developer.approved_at is None:
        developer.approved_at = utcnow()
        if developer.company.email_verified_at is None:
            developer.company.email_verified_at = developer.approved_at
        db.session.commit()
        _send_quietly(
            mailer.send_developer_approved,
            developer.email,
            developer.name,
            developer.company.name,
            links.login(),
        )
    _after_change(developer, was_active)
    waiting = (
        []
        if developer.email_verified_at
        else [f"{developer.name} must still confirm their own email address ({developer.email})."]
    )
    return Outcome(
        "Developer approved",
        f"{developer.name} is approved as the developer of {developer.company.name}.",
        details=waiting,
    )


def reject_developer(token: str) -> Outcome:
    """The company refuses a developer request: the account is removed, freeing the company's one
    developer place (someone who merely knew the company ID cannot hold it)."""
    developer = developer_for_approval(token)
    if developer.approved_at is not None:
        raise TokenError(
            f"{developer.name} was already approved, so this link can no longer reject them."
        )
    name, company = developer.name, developer.company
    db.session.delete(developer)
    db.session.commit()
    log.info("Company %s rejected a developer sign-up", company.public_id)
    return Outcome(
        "Request rejected",
        f"{name} is not the developer of {company.name}; their account has been removed. "
        f"Your developer can now sign up with the company ID {company.public_id}.",
    )


def _after_change(account: Account, was_active: bool) -> None:
    """Run the activation hook once, after the commit, when an account has just become active."""
    if not account.is_active or was_active:
        return
    try:
        if isinstance(account, Developer):
            environment.on_developer_activated(account)
        else:
            environment.on_user_activated(account)
    except Exception:  # the account change stands; setting up models can be retried
        log.exception("Setting up the models of %s %s failed", account.role, account.id)


def resend_verification(email: str, links: Links) -> None:
    """Send fresh links for whatever is still unverified at `email`; silent either way."""
    email = normalize_email(email)
    companies = db.session.scalars(
        select(Company).where(Company.email == email, Company.email_verified_at.is_(None))
    )
    for company in companies:
        _send_company_email(company, links)
    account = find_account_by_email(email)
    if account is None:
        return
    if account.email_verified_at is None:
        _send_account_verification(account, links)
    if isinstance(account, Developer) and account.approved_at is None:
        _send_approval_request(account, links)

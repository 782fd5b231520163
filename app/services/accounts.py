"""Accounts: companies, developers and users; registration, verification, approval, login.

Every function here owns its transaction and raises a typed exception whose message is meant for
a person, so the routes only parse the form, call one function and show the outcome.
(Session loading lives here so that Flask-Login asks one place who is logged in.)
"""

from __future__ import annotations

import logging
import re
import secrets
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NoReturn

from flask import current_app, url_for
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from app.extensions import db
from app.schema import Company, Developer, User, utcnow
from app.services import environment
from app.services import mail as mailer

log = logging.getLogger(__name__)

ACCOUNT_CLASSES: dict[str, type[Developer] | type[User]] = {"developer": Developer, "user": User}
Account = Developer | User

PASSWORD_MIN_LENGTH = 10
LOGIN_INCORRECT = "Email or password is incorrect."

# Crockford's base32: digits and capitals without I, L, O and U, so nothing reads as something
# else. Twelve symbols carry 60 bits; typed input maps O→0 and I/L→1 as Crockford specifies.
COMPANY_ID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
COMPANY_ID_PREFIX = "CB"
COMPANY_ID_SYMBOLS = 12
COMPANY_ID_ATTEMPTS = 5
_TYPO_MAP = str.maketrans({"O": "0", "I": "1", "L": "1"})

SALT_VERIFY_COMPANY = "verify-company"
SALT_VERIFY_ACCOUNT = "verify-account"
SALT_APPROVE_DEVELOPER = "approve-developer"


# --- Exceptions ---------------------------------------------------------------------------------


class AccountError(Exception):
    """Base class: the message is shown to the person as it is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RegistrationError(AccountError):
    """A registration was refused; `field` names the form field at fault, if one is."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class TokenError(AccountError):
    """An emailed link is expired, tampered with, or points at nothing."""

    def __init__(self, message: str, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


class LoginRefused(AccountError):
    """Login refused; `missing_steps` lists what a correct login still waits for."""

    def __init__(self, message: str, missing_steps: list[str] | None = None) -> None:
        super().__init__(message)
        self.missing_steps = missing_steps or []


class PasswordChangeError(AccountError):
    """The password was not changed; `field` names the form field at fault."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class AccountNotFound(AccountError):
    """The account does not exist or belongs to another company."""


# --- Session loading ----------------------------------------------------------------------------


def load_account_from_session(session_id: str) -> Developer | User | None:
    """Flask-Login's loader: 'role:id:session_version' → the account, if that session is current."""
    try:
        role, account_id, version = session_id.split(":")
        account_class = ACCOUNT_CLASSES[role]
        account = db.session.get(account_class, int(account_id))
    except (ValueError, KeyError):
        return None
    if account is None or account.session_version != int(version) or not account.is_active:
        return None
    return account


# --- Company IDs and small helpers --------------------------------------------------------------


def generate_company_id() -> str:
    """A fresh company ID like 'CB-7K3M-Q9XP-4HTW' (60 random bits)."""
    symbols = "".join(secrets.choice(COMPANY_ID_ALPHABET) for _ in range(COMPANY_ID_SYMBOLS))
    groups = [symbols[i : i + 4] for i in range(0, COMPANY_ID_SYMBOLS, 4)]
    return "-".join([COMPANY_ID_PREFIX, *groups])


def normalize_company_id(raw: str) -> str:
    """The canonical form of a typed company ID: any case, spaces, dashes, O/0 and I/L/1 mixups."""
    compact = re.sub(r"[\s\-_.]", "", raw or "").upper()
    if len(compact) == COMPANY_ID_SYMBOLS + len(COMPANY_ID_PREFIX) and compact.startswith(
        COMPANY_ID_PREFIX
    ):
        compact = compact[len(COMPANY_ID_PREFIX) :]
    if len(compact) != COMPANY_ID_SYMBOLS:
        return raw.strip().upper()
    body = compact.translate(_TYPO_MAP)
    groups = [body[i : i + 4] for i in range(0, COMPANY_ID_SYMBOLS, 4)]
    return "-".join([COMPANY_ID_PREFIX, *groups])


def find_company(raw_company_id: str) -> Company | None:
    candidates = {normalize_company_id(raw_company_id), (raw_company_id or "").strip().upper()}
    return db.session.scalars(select(Company).where(Company.public_id.in_(candidates))).first()


def normalize_email(email: str) -> str:
    return (email or "").strip().lower()


def clean_name(raw: str | None, empty_message: str) -> str:
    """A person's or company's name on one line: runs of white space (line breaks included)
    become one space, and other control characters are refused. Names reach email headers."""
    name = " ".join((raw or "").split())
    if not name:
        raise RegistrationError(empty_message, field="name")
    if any(unicodedata.category(character) == "Cc" for character in name):
        raise RegistrationError("The name contains characters that cannot be used.", field="name")
    return name


def _check_new_email(email: str) -> str:
    email = normalize_email(email)
    if not email or any(character.isspace() or ord(character) < 32 for character in email):
        raise RegistrationError("Enter a valid email address.", field="email")
    return email


def find_account_by_email(email: str) -> Account | None:
    email = normalize_email(email)
    for account_class in (Developer, User):
        account = db.session.scalars(
            select(account_class).where(account_class.email == email)
        ).first()
        if account is not None:
            return account
    return None


def _check_new_password(password: str) -> None:
    if len(password or "") < PASSWORD_MIN_LENGTH:
        raise RegistrationError(
            f"Choose a password of at least {PASSWORD_MIN_LENGTH} characters.", field="password"
        )


def _email_taken_error() -> RegistrationError:
    return RegistrationError(
        "An account with this email address already exists. Log in, or use another address.",
        field="email",
    )


# --- Tokens -------------------------------------------------------------------------------------


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def make_token(salt: str, payload: dict) -> str:
    return _serializer(salt).dumps(payload)


def _read_token(token: str, salts: tuple[str, ...]) -> tuple[str, dict]:
    """Return (salt, payload) of a valid token; raise TokenError for expired or bad ones."""
    max_age = current_app.config["EMAIL_TOKEN_MAX_AGE"]
    expired = False
    for salt in salts:
        try:
            payload = _serializer(salt).loads(token, max_age=max_age)
        except SignatureExpired:
            expired = True
        except BadSignature:
            continue
        else:
            if isinstance(payload, dict):
                return salt, payload
    if expired:
        raise TokenError(
            "This link has expired. Ask for a new email below and use the newest link.",
            expired=True,
        )
    raise TokenError(
        "This link is not valid: it may have been cut short or changed. "
        "Copy the whole link from the email, or ask for a new email below."
    )


def _verify_company_url(company: Company) -> str:
    token = make_token(SALT_VERIFY_COMPANY, {"company": company.id, "email": company.email})
    return url_for("auth.verify", token=token, _external=True)


def _verify_account_url(account: Account) -> str:
    token = make_token(
        SALT_VERIFY_ACCOUNT, {"role": account.role, "id": account.id, "email": account.email}
    )
    return url_for("auth.verify", token=token, _external=True)


def _approve_url(developer: Developer) -> str:
    token = make_token(
        SALT_APPROVE_DEVELOPER,
        {"developer": developer.id, "email": developer.email, "company": developer.company_id},
    )
    return url_for("auth.approve", token=token, _external=True)


# --- Sending (a mail failure is logged; the person can ask for the email again) ----------------


def _send_quietly(send, *args) -> bool:  # noqa: ANN001 - one of the mail functions
    try:
        send(*args)
    except mailer.MailError:
        log.exception("Email could not be sent")
        return False
    return True


def _send_company_email(company: Company) -> bool:
    return _send_quietly(
        mailer.send_company_registered,
        company.email,
        company.name,
        company.public_id,
        _verify_company_url(company),
    )


def _send_account_verification(account: Account) -> bool:
    return _send_quietly(
        mailer.send_account_verification,
        account.email,
        account.name,
        account.company.name,
        _verify_account_url(account),
    )


def _send_approval_request(developer: Developer) -> bool:
    company = developer.company
    return _send_quietly(
        mailer.send_developer_approval_request,
        company.email,
        company.name,
        company.public_id,
        developer.name,
        developer.email,
        _approve_url(developer),
    )


# --- Registration -------------------------------------------------------------------------------


def register_company(name: str, email: str) -> Company:
    """Create a company with a fresh company ID and email the ID and a verification link."""
    name = clean_name(name, "Enter the company's name.")
    email = _check_new_email(email)
    for _ in range(COMPANY_ID_ATTEMPTS):
        company = Company(public_id=generate_company_id(), name=name, email=email)
        db.session.add(company)
        try:
            db.session.commit()
        except IntegrityError:  # the random ID is already taken (very rare): draw again
            db.session.rollback()
            continue
        _send_company_email(company)
        return company
    raise RegistrationError("A company ID could not be assigned. Please try again.")


def _new_account_fields(company_id: str, name: str, email: str, password: str) -> dict:
    company = find_company(company_id)
    if company is None:
        raise RegistrationError(
            "No company has this company ID. Check the ID in the company's registration email "
            "(it looks like CB-7K3M-Q9XP-4HTW).",
            field="company_id",
        )
    name = clean_name(name, "Enter your name.")
    email = _check_new_email(email)
    if find_account_by_email(email) is not None:
        raise _email_taken_error()
    _check_new_password(password)
    return {
        "company": company,
        "name": name,
        "email": email,
        "password_hash": generate_password_hash(password),
    }


def _developer_exists_error() -> RegistrationError:
    return RegistrationError(
        "This company already has a developer. Each company has exactly one; "
        "sign up as a user instead, or ask the company to contact support.",
        field="company_id",
    )


def register_developer(company_id: str, name: str, email: str, password: str) -> Developer:
    """Create the company's developer; email them a verification link and the company a request."""
    fields = _new_account_fields(company_id, name, email, password)
    if fields["company"].developer is not None:
        raise _developer_exists_error()
    developer = Developer(**fields)
    db.session.add(developer)
    try:
        db.session.commit()
    except IntegrityError as error:  # a parallel sign-up won the race
        db.session.rollback()
        company = db.session.get(Company, fields["company"].id)
        if company is not None and company.developer is not None:
            raise _developer_exists_error() from error
        raise _email_taken_error() from error
    _send_account_verification(developer)
    _send_approval_request(developer)
    return developer


def register_user(company_id: str, name: str, email: str, password: str) -> User:
    """Create a user of the company and email them a verification link."""
    user = User(**_new_account_fields(company_id, name, email, password))
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError as error:
        db.session.rollback()
        raise _email_taken_error() from error
    _send_account_verification(user)
    return user


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
    salt, payload = _read_token(token, (SALT_VERIFY_COMPANY, SALT_VERIFY_ACCOUNT))
    if salt == SALT_VERIFY_COMPANY:
        return _verify_company(payload)
    return _verify_account(payload)


def _verify_company(payload: dict) -> Outcome:
    company = db.session.get(Company, payload.get("company"))
    if company is None or company.email != payload.get("email"):
        raise TokenError("This link points at a company that no longer exists.")
    if company.email_verified_at is None:
        company.email_verified_at = utcnow()
        db.session.commit()
    return Outcome(
        "Company email confirmed",
        f"Thank you: {company.email} is confirmed as the email of {company.name}. "
        f"Your developer and staff can now sign up with company ID {company.public_id}.",
    )


def _verify_account(payload: dict) -> Outcome:
    account_class = ACCOUNT_CLASSES.get(payload.get("role", ""))
    account = db.session.get(account_class, payload.get("id")) if account_class else None
    if account is None or account.email != payload.get("email"):
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
    _salt, payload = _read_token(token, (SALT_APPROVE_DEVELOPER,))
    developer = db.session.get(Developer, payload.get("developer"))
    if (
        developer is None
        or developer.email != payload.get("email")
        or developer.company_id != payload.get("company")
    ):
        raise TokenError("This link points at a developer account that no longer exists.")
    return developer


def approve_developer(token: str) -> Outcome:
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
            url_for("auth.login", _external=True),
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


def resend_verification(email: str) -> None:
    """Send fresh links for whatever is still unverified at `email`; silent either way."""
    email = normalize_email(email)
    companies = db.session.scalars(
        select(Company).where(Company.email == email, Company.email_verified_at.is_(None))
    )
    for company in companies:
        _send_company_email(company)
    account = find_account_by_email(email)
    if account is None:
        return
    if account.email_verified_at is None:
        _send_account_verification(account)
    if isinstance(account, Developer) and account.approved_at is None:
        _send_approval_request(account)


# --- Login, logout, passwords -------------------------------------------------------------------

_dummy_hash: str | None = None


def _dummy_password_hash() -> str:
    """A real hash to check against when the email is unknown, so both paths take as long."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = generate_password_hash(secrets.token_urlsafe(16))
    return _dummy_hash


def _lock_message(locked_until: datetime, now: datetime) -> str:
    minutes = max(1, int((locked_until - now).total_seconds() + 59) // 60)
    return (
        "Too many failed attempts: this account is locked. "
        f"Please wait {minutes} minute{'s' if minutes != 1 else ''} and try again."
    )


def authenticate(email: str, password: str) -> Account:
    """The account for a correct email and password that may log in; LoginRefused otherwise."""
    now = utcnow()
    account = find_account_by_email(email)
    if account is None:
        check_password_hash(_dummy_password_hash(), password or "")
        raise LoginRefused(LOGIN_INCORRECT)
    if account.locked_until and account.locked_until > now:
        raise LoginRefused(_lock_message(account.locked_until, now))
    if not check_password_hash(account.password_hash, password or ""):
        _refuse_wrong_password(account, now)
    account.failed_logins = 0
    account.locked_until = None
    missing = missing_steps(account)
    if not account.is_enabled:
        db.session.commit()
        raise LoginRefused(
            "This account has been deactivated. Ask your company's developer if this is a mistake."
        )
    if missing:
        db.session.commit()
        raise LoginRefused("Your account is not active yet.", missing_steps=missing)
    account.last_login_at = now
    db.session.commit()
    return account


def _refuse_wrong_password(account: Account, now: datetime) -> NoReturn:
    """Count the failure, lock the account at the limit, and refuse the login."""
    account.failed_logins = (account.failed_logins or 0) + 1
    if account.failed_logins >= current_app.config["LOGIN_MAX_FAILURES"]:
        account.failed_logins = 0
        account.locked_until = now + timedelta(seconds=current_app.config["LOGIN_LOCK_SECONDS"])
        db.session.commit()
        raise LoginRefused(_lock_message(account.locked_until, now))
    db.session.commit()
    raise LoginRefused(LOGIN_INCORRECT)


def missing_steps(account: Account) -> list[str]:
    """What an account still waits for before it may log in, in words."""
    steps = []
    if account.email_verified_at is None:
        steps.append(
            f"Confirm your email address: open the link we sent to {account.email}. "
            "No email? Ask for a new one."
        )
    if isinstance(account, Developer) and account.approved_at is None:
        steps.append(
            "Your company must approve you: open the approval link sent to the company's email "
            f"({account.company.email})."
        )
    return steps


def end_all_sessions(account: Account) -> None:
    """Every session and remember-me cookie issued so far stops working."""
    account.session_version = (account.session_version or 1) + 1
    db.session.commit()


def change_password(account: Account, current: str, new: str) -> None:
    """Change the password after checking the current one; other sessions end."""
    if not check_password_hash(account.password_hash, current or ""):
        raise PasswordChangeError("Your current password is not correct.", field="current")
    if len(new or "") < PASSWORD_MIN_LENGTH:
        raise PasswordChangeError(
            f"Choose a password of at least {PASSWORD_MIN_LENGTH} characters.", field="new"
        )
    if current == new:
        raise PasswordChangeError("The new password must differ from the current one.", "new")
    account.password_hash = generate_password_hash(new)
    end_all_sessions(account)


# --- The developer manages the company's users ---------------------------------------------------


def company_users_page(developer: Developer, page: int, per_page: int):  # noqa: ANN201
    """One page of the developer's company users, newest first (a Flask-SQLAlchemy Pagination)."""
    query = (
        select(User)
        .where(User.company_id == developer.company_id)
        .order_by(User.created_at.desc(), User.id.desc())
    )
    return db.paginate(query, page=page, per_page=per_page, error_out=False)


def deactivate_user(developer: Developer, user_id: int) -> User:
    """Disable a user of the developer's company and end their open sessions."""
    user = db.session.get(User, user_id)
    if user is None or user.company_id != developer.company_id:
        raise AccountNotFound("There is no such user in your company.")
    if user.is_enabled:
        user.is_enabled = False
        user.deactivated_at = utcnow()
        user.session_version = (user.session_version or 1) + 1
        db.session.commit()
    return user

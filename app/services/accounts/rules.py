"""What an account is: the domain errors of accounts, company IDs, names, emails and passwords.

Shared by registration, authentication and the company's user management.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from typing import cast

from sqlalchemy import select

from app.extensions import db
from app.schema import Company, Developer, User
from app.services.errors import DomainError, NotFound

ACCOUNT_CLASSES: dict[str, type[Developer] | type[User]] = {"developer": Developer, "user": User}
Account = Developer | User

PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 200
# Passwords ranked this high in zxcvbn's list of leaked passwords are refused (its top 10,000).
COMMON_PASSWORD_RANK = 10_000
LOGIN_INCORRECT = "Email or password is incorrect."

# Crockford's base32: digits and capitals without I, L, O and U, so nothing reads as something
# else. Twelve symbols carry 60 bits; typed input maps O→0 and I/L→1 as Crockford specifies.
COMPANY_ID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
COMPANY_ID_PREFIX = "CB"
COMPANY_ID_SYMBOLS = 12
COMPANY_ID_ATTEMPTS = 5
_TYPO_MAP = str.maketrans({"O": "0", "I": "1", "L": "1"})


class AccountError(DomainError):
    """Base class: the message is shown to the person as it is."""


class RegistrationError(AccountError):
    """A registration was refused; `field` names the form field at fault, if one is."""


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


class AccountNotFound(AccountError, NotFound):
    """The account does not exist or belongs to another company."""


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


def check_new_email(email: str) -> str:
    email = normalize_email(email)
    if not email or any(character.isspace() or ord(character) < 32 for character in email):
        raise RegistrationError("Enter a valid email address.", field="email")
    return email


def find_account_by_email(email: str) -> Account | None:
    email = normalize_email(email)
    account_classes: tuple[type[Developer] | type[User], ...] = (Developer, User)
    for account_class in account_classes:
        account = cast(
            "Account | None",
            db.session.scalars(select(account_class).where(account_class.email == email)).first(),
        )
        if account is not None:
            return account
    return None


def password_problem(password: str | None, email: str | None) -> str | None:
    """Why `password` may not be chosen by the owner of `email`, in words; None when it may."""
    password = password or ""
    if len(password) < PASSWORD_MIN_LENGTH:
        return f"Choose a password of at least {PASSWORD_MIN_LENGTH} characters."
    if len(password) > PASSWORD_MAX_LENGTH:
        return f"Choose a password of at most {PASSWORD_MAX_LENGTH} characters."
    folded = password.strip().lower()
    email = normalize_email(email or "")
    if email and folded in {email, email.partition("@")[0]}:
        return "Your password must not be your email address."
    if is_common_password(password):
        return (
            "This password is one of the 10,000 most common ones, so it is among the first to be "
            "guessed. Please choose another."
        )
    return None


def is_common_password(password: str) -> bool:
    """True for a password in the top 10,000 of the leaked-password list zxcvbn ships (a
    dictionary look-up: zxcvbn's full estimate is slow on long input, so it is not run)."""
    from zxcvbn.matching import RANKED_DICTIONARIES

    rank = RANKED_DICTIONARIES["passwords"].get(password.lower())
    return rank is not None and rank <= COMMON_PASSWORD_RANK


def check_new_password(password: str, email: str, field: str = "password") -> None:
    """Refuse a password that is too short or long, common, or the email (RegistrationError)."""
    problem = password_problem(password, email)
    if problem:
        raise RegistrationError(problem, field=field)

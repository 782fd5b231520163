"""Accounts: companies, developers and users.

- `rules`: the errors of accounts, company IDs, names, emails and passwords;
- `tokens`: signed links for emails, and the `Links` builder the web layer provides;
- `registration`: sign-up, email verification, the company's approval of its developer;
- `authentication`: sessions, login and lockout, logout, passwords;
- `company_users`: the developer's list of users, and deactivation.
"""

from app.services.accounts.authentication import (
    authenticate,
    change_password,
    end_all_sessions,
    load_account_from_session,
    missing_steps,
)
from app.services.accounts.company_users import company_users_page, deactivate_user
from app.services.accounts.registration import (
    Outcome,
    approve_developer,
    developer_for_approval,
    register_company,
    register_developer,
    register_user,
    reject_developer,
    resend_verification,
    verify_email,
)
from app.services.accounts.rules import (
    LOGIN_INCORRECT,
    PASSWORD_MIN_LENGTH,
    AccountError,
    AccountNotFound,
    LoginRefused,
    PasswordChangeError,
    RegistrationError,
    TokenError,
    find_account_by_email,
    find_company,
    generate_company_id,
    normalize_company_id,
    normalize_email,
)
from app.services.accounts.tokens import Links

__all__ = [
    "LOGIN_INCORRECT",
    "PASSWORD_MIN_LENGTH",
    "AccountError",
    "AccountNotFound",
    "Links",
    "LoginRefused",
    "Outcome",
    "PasswordChangeError",
    "RegistrationError",
    "TokenError",
    "approve_developer",
    "authenticate",
    "change_password",
    "company_users_page",
    "deactivate_user",
    "developer_for_approval",
    "end_all_sessions",
    "find_account_by_email",
    "find_company",
    "generate_company_id",
    "load_account_from_session",
    "missing_steps",
    "normalize_company_id",
    "normalize_email",
    "register_company",
    "register_developer",
    "register_user",
    "reject_developer",
    "resend_verification",
    "verify_email",
]

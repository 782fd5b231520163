"""Accounts: companies, developers and users.

- `rules`: the errors of accounts, company IDs, names, emails and the password policy;
- `tokens`: signed links for emails, bound to the account state they were issued for, and the
  `Links` builder the web layer provides;
- `registration`: sign-up, email verification, the company's approval of its developer;
- `sessions`: one row per browser's login; logging out of one, or of all;
- `authentication`: login and lockout, password changes;
- `recovery`: the forgotten-password link;
- `company_users`: the developer's list of users, deactivation and reactivation.
"""

from app.services.accounts.authentication import (
    authenticate,
    change_password,
    missing_steps,
)
from app.services.accounts.company_users import (
    company_users_page,
    deactivate_user,
    reactivate_user,
)
from app.services.accounts.recovery import (
    account_for_reset,
    request_password_reset,
    reset_password,
)
from app.services.accounts.registration import (
    Outcome,
    SignUp,
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
    PASSWORD_MAX_LENGTH,
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
    password_problem,
)
from app.services.accounts.sessions import (
    end_all_sessions,
    end_session,
    load_account_from_session,
    open_session,
    open_session_count,
)
from app.services.accounts.tokens import Links

__all__ = [
    "LOGIN_INCORRECT",
    "PASSWORD_MAX_LENGTH",
    "PASSWORD_MIN_LENGTH",
    "AccountError",
    "AccountNotFound",
    "Links",
    "LoginRefused",
    "Outcome",
    "PasswordChangeError",
    "RegistrationError",
    "SignUp",
    "TokenError",
    "account_for_reset",
    "approve_developer",
    "authenticate",
    "change_password",
    "company_users_page",
    "deactivate_user",
    "developer_for_approval",
    "end_all_sessions",
    "end_session",
    "find_account_by_email",
    "find_company",
    "generate_company_id",
    "load_account_from_session",
    "missing_steps",
    "normalize_company_id",
    "normalize_email",
    "open_session",
    "open_session_count",
    "password_problem",
    "reactivate_user",
    "register_company",
    "register_developer",
    "register_user",
    "reject_developer",
    "request_password_reset",
    "resend_verification",
    "reset_password",
    "verify_email",
]

"""Authentication routes (thin: forms in, one service call, render or redirect)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user

from app.extensions import limiter
from app.services import accounts
from app.web.access import public, signed_in
from app.web.auth.forms import (
    AccountRegistrationForm,
    ApproveForm,
    CompanyRegistrationForm,
    ForgotPasswordForm,
    LoginForm,
    PasswordChangeForm,
    ResendForm,
    ResetPasswordForm,
    SignOutEverywhereForm,
)
from app.web.links import email_links
from app.web.shared.forms import field_for_error

bp = Blueprint("auth", __name__)

REGISTERED_COMPANY_KEY = "registered_company"


def auth_rate_limit() -> str:
    return current_app.config["RATELIMIT_AUTH"]


def safe_next(target: str | None) -> str | None:
    """`target` if it is a path on this site (never another host), else None."""
    if not target:
        return None
    target = target.strip()
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    if any(ord(char) < 32 for char in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def _home_of(account) -> str:
    return url_for(f"{account.role}.home")


# --- Registration -------------------------------------------------------------------------------


@bp.route("/register/company", methods=["GET", "POST"])
@public
@limiter.limit(auth_rate_limit, methods=["POST"])
def register_company():
    form = CompanyRegistrationForm()
    if form.validate_on_submit():
        try:
            company = accounts.register_company(
                form.name.data or "", form.email.data or "", email_links
            )
        except accounts.RegistrationError as error:
            field_for_error(form, error)
        else:
            session[REGISTERED_COMPANY_KEY] = {
                "public_id": company.public_id,
                "name": company.name,
                "email": company.email,
            }
            return redirect(url_for("auth.company_registered"))
    return render_template("auth/register_company.html", form=form)


@bp.get("/register/company/done")
@public
def company_registered():
    company = session.get(REGISTERED_COMPANY_KEY)
    if not company:
        return redirect(url_for("auth.register_company"))
    return render_template("auth/company_registered.html", company=company)


def _register_account(role: str):
    form = AccountRegistrationForm()
    register = accounts.register_developer if role == "developer" else accounts.register_user
    if form.validate_on_submit():
        try:
            sign_up = register(
                form.company_id.data or "",
                form.name.data or "",
                form.email.data or "",
                form.password.data or "",
                email_links,
            )
        except accounts.RegistrationError as error:
            field_for_error(form, error)
        else:
            message = (
                f"Welcome, {sign_up.name}! Check your mail: we sent a confirmation link "
                f"to {sign_up.email}."
            )
            if role == "developer":
                message += (
                    f" We also asked {sign_up.company_name} to approve you at "
                    f"{sign_up.company_email}. You can log in once both are done."
                )
            else:
                message += " Open it, then log in."
            flash(message, "success")
            return redirect(url_for("auth.login"))
    return render_template(f"auth/register_{role}.html", form=form)


@bp.route("/register/developer", methods=["GET", "POST"])
@public
@limiter.limit(auth_rate_limit, methods=["POST"])
def register_developer():
    return _register_account("developer")


@bp.route("/register/user", methods=["GET", "POST"])
@public
@limiter.limit(auth_rate_limit, methods=["POST"])
def register_user():
    return _register_account("user")


# --- Emailed links ------------------------------------------------------------------------------


def _token_problem(error: accounts.TokenError):
    return render_template("auth/token_error.html", error=error, form=ResendForm()), 400


@bp.get("/verify/<token>")
@public
def verify(token: str):
    try:
        outcome = accounts.verify_email(token)
    except accounts.TokenError as error:
        return _token_problem(error)
    return render_template("auth/outcome.html", outcome=outcome)


@bp.route("/approve/<token>", methods=["GET", "POST"])
@public
def approve(token: str):
    form = ApproveForm()
    try:
        if form.validate_on_submit():
            if form.reject.data:
                outcome = accounts.reject_developer(token)
            else:
                outcome = accounts.approve_developer(token, email_links)
            return render_template("auth/outcome.html", outcome=outcome)
        developer = accounts.developer_for_approval(token)
    except accounts.TokenError as error:
        return _token_problem(error)
    return render_template("auth/approve.html", developer=developer, form=form)


@bp.route("/resend", methods=["GET", "POST"])
@public
@limiter.limit(auth_rate_limit, methods=["POST"])
def resend():
    form = ResendForm()
    if form.validate_on_submit():
        accounts.resend_verification(form.email.data or "", email_links)
        flash(
            "If anything at that address is waiting for confirmation, a new email is on its way. "
            "Use the link in the newest email.",
            "info",
        )
        return redirect(url_for("auth.resend"))
    return render_template("auth/resend.html", form=form)


# --- Login, logout, password --------------------------------------------------------------------


def login_failed(response: Response) -> bool:
    """A login attempt counts against the address's limit only when it fails: a successful
    login redirects. An office behind one NAT address can then all log in at nine o'clock."""
    return response.status_code != 302


@bp.route("/login", methods=["GET", "POST"])
@public
@limiter.limit(auth_rate_limit, methods=["POST"], deduct_when=login_failed)
def login():
    if current_user.is_authenticated:
        return redirect(_home_of(current_user))
    form = LoginForm()
    missing_steps: list[str] = []
    if form.validate_on_submit():
        try:
            account = accounts.authenticate(form.email.data or "", form.password.data or "")
        except accounts.LoginRefused as error:
            form.form_errors.append(error.message)
            missing_steps = error.missing_steps
        else:
            login_user(accounts.open_session(account), remember=bool(form.remember.data))
            return redirect(safe_next(request.args.get("next")) or _home_of(account))
    return render_template("auth/login.html", form=form, missing_steps=missing_steps)


@bp.post("/logout")
@public
def logout():
    if current_user.is_authenticated:
        accounts.end_session(current_user._get_current_object())
        logout_user()
        flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))


@bp.post("/logout/everywhere")
@signed_in
def logout_everywhere():
    if SignOutEverywhereForm().validate_on_submit():
        accounts.end_all_sessions(current_user._get_current_object())
        logout_user()
        flash("You are signed out on every device, this one included.", "info")
        return redirect(url_for("auth.login"))
    return redirect(url_for("auth.account"))


def _account_page(password_form: PasswordChangeForm, status: int = 200):
    return render_template(
        "auth/account.html",
        form=password_form,
        sign_out_form=SignOutEverywhereForm(),
        session_count=accounts.open_session_count(current_user),
    ), status


@bp.get("/account")
@signed_in
def account():
    return _account_page(PasswordChangeForm(formdata=None))


@bp.route("/password", methods=["GET", "POST"])
@signed_in
@limiter.limit(auth_rate_limit, methods=["POST"])
def password():
    if request.method == "GET":
        return redirect(url_for("auth.account"))
    form = PasswordChangeForm()
    if form.validate_on_submit():
        account = current_user._get_current_object()
        try:
            accounts.change_password(account, form.current.data or "", form.new.data or "")
        except accounts.PasswordChangeError as error:
            field_for_error(form, error)
        else:
            remember_cookie = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token")
            # Every session has ended; this browser goes on in a new one.
            login_user(accounts.open_session(account), remember=remember_cookie in request.cookies)
            flash("Your password is changed. Other devices have been logged out.", "success")
            return redirect(_home_of(account))
    return _account_page(form, 400)


# --- Forgotten password -------------------------------------------------------------------------


@bp.route("/reset", methods=["GET", "POST"])
@public
@limiter.limit(auth_rate_limit, methods=["POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        email = accounts.normalize_email(form.email.data or "")
        accounts.request_password_reset(email, email_links)
        flash(
            f"If {email} belongs to an account, a link to "
            "choose a new password is on its way: check your mail.",
            "info",
        )
        return redirect(url_for("auth.login"))
    return render_template("auth/forgot_password.html", form=form)


@bp.route("/reset/<token>", methods=["GET", "POST"])
@public
@limiter.limit(auth_rate_limit, methods=["POST"])
def reset_password(token: str):
    form = ResetPasswordForm()
    try:
        if form.validate_on_submit():
            try:
                accounts.reset_password(token, form.password.data or "")
            except accounts.PasswordChangeError as error:
                field_for_error(form, error)
            else:
                logout_user()
                flash(
                    "Your password is changed and every device has been logged out. "
                    "Log in with the new password.",
                    "success",
                )
                return redirect(url_for("auth.login"))
        account = accounts.account_for_reset(token)
    except accounts.TokenError as error:
        response = render_template(
            "auth/token_error.html",
            error=error,
            form=ForgotPasswordForm(),
            invalid_title="This link cannot be used",
            again_endpoint="auth.forgot_password",
            again_title="Get a new link",
        )
        return _no_referrer(response), 400
    page = render_template("auth/reset_password.html", form=form, account=account)
    return _no_referrer(page), 400 if form.errors else 200


def _no_referrer(body: str):
    """The page's URL carries a token: links from it must not pass the URL on."""
    response = make_response(body)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response

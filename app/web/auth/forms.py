"""Forms of the authentication pages (field names are fixed by the specification)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, Email, EqualTo, Length

from app.services.accounts import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH

_email_validators = [
    DataRequired("Enter an email address."),
    Email("Enter a valid email address, like name@example.com."),
    Length(max=254),
]
_password_validators = [
    DataRequired("Choose a password."),
    Length(
        min=PASSWORD_MIN_LENGTH,
        message=f"Choose a password of at least {PASSWORD_MIN_LENGTH} characters.",
    ),
    Length(
        max=PASSWORD_MAX_LENGTH,
        message=f"Choose a password of at most {PASSWORD_MAX_LENGTH} characters.",
    ),
]
PASSWORD_HINT = (
    f"At least {PASSWORD_MIN_LENGTH} characters; not a common password, not your email address. "
    "A few unrelated words make a good one."
)


class CompanyRegistrationForm(FlaskForm):
    name = StringField(
        "Company name", validators=[DataRequired("Enter the company's name."), Length(max=120)]
    )
    email = EmailField(
        "Company email",
        validators=_email_validators,
        description="Receives the company ID and approves your developer.",
    )
    submit = SubmitField("Register company")


class AccountRegistrationForm(FlaskForm):
    company_id = StringField(
        "Company ID",
        validators=[DataRequired("Enter your company ID."), Length(max=40)],
        description="From the company's registration email, e.g. CB-7K3M-Q9XP-4HTW.",
    )
    name = StringField("Your name", validators=[DataRequired("Enter your name."), Length(max=120)])
    email = EmailField("Your email", validators=_email_validators)
    password = PasswordField(
        "Password",
        validators=_password_validators,
        description=PASSWORD_HINT,
    )
    confirm = PasswordField(
        "Repeat the password",
        validators=[
            DataRequired("Repeat the password."),
            EqualTo("password", "The two passwords do not match."),
        ],
    )
    submit = SubmitField("Sign up")


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired("Enter your email address.")])
    password = PasswordField("Password", validators=[DataRequired("Enter your password.")])
    remember = BooleanField("Keep me logged in on this device")
    submit = SubmitField("Log in")


class ResendForm(FlaskForm):
    email = EmailField("Email", validators=_email_validators)
    submit = SubmitField("Send the email again")


class ApproveForm(FlaskForm):
    submit = SubmitField("Approve")
    reject = SubmitField("Reject")


class PasswordChangeForm(FlaskForm):
    current = PasswordField(
        "Current password", validators=[DataRequired("Enter your current password.")]
    )
    new = PasswordField(
        "New password",
        validators=_password_validators,
        description=PASSWORD_HINT,
    )
    confirm = PasswordField(
        "Repeat the new password",
        validators=[
            DataRequired("Repeat the new password."),
            EqualTo("new", "The two passwords do not match."),
        ],
    )
    submit = SubmitField("Change password")


class ForgotPasswordForm(FlaskForm):
    email = EmailField("Email", validators=_email_validators)
    submit = SubmitField("Send me a link")


class ResetPasswordForm(FlaskForm):
    password = PasswordField(
        "New password", validators=_password_validators, description=PASSWORD_HINT
    )
    confirm = PasswordField(
        "Repeat the new password",
        validators=[
            DataRequired("Repeat the new password."),
            EqualTo("password", "The two passwords do not match."),
        ],
    )
    submit = SubmitField("Set the new password")


class SignOutEverywhereForm(FlaskForm):
    submit = SubmitField("Sign out everywhere")

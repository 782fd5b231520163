"""Registration, verification, approval, login and logout."""

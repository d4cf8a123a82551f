"""Production settings: secure by default, and refusing to start half-configured."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "DJANGO_ENV": "production",
    "SECRET_KEY": "x7Qv-" + "p9Lm2Rt8Wz4Kc6Hn1Bd3Fg5Js0Ya7Ue9Io2" * 2,
    "DATABASE_URL": "postgres://va:secret@db:5432/va",
    "REDIS_URL": "redis://redis:6379/0",
    "ALLOWED_HOSTS": "agency.example.com",
    "SITE_URL": "https://agency.example.com",
    "EMAIL_URL": "smtp+tls://mailer:secret@smtp.example.com:587",
}


def manage(*args, **env):
    base = {k: v for k, v in os.environ.items() if k not in PRODUCTION}
    base.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_in_production():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_real_secret_key():
    for secret in ("", "short", "django-insecure-" + "a" * 50):
        result = manage("check", **{**PRODUCTION, "SECRET_KEY": secret})
        assert result.returncode != 0
        assert "SECRET_KEY must be set" in result.stderr


def test_production_refuses_to_start_without_its_services():
    for missing in ("DATABASE_URL", "REDIS_URL", "ALLOWED_HOSTS", "EMAIL_URL"):
        env = {k: v for k, v in PRODUCTION.items() if k != missing}
        result = manage("check", **env)
        assert result.returncode != 0
        assert f"{missing} must be set" in result.stderr

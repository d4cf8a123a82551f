import os


def use_settings_from_environment() -> None:
    """Point Django at the settings module named by DJANGO_ENV (development by default)."""
    env = os.environ.get("DJANGO_ENV", "development")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", f"va_agency.settings.{env}")

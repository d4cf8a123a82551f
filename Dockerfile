# The production image: one image for web, worker and beat (docker-compose.yml).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_ENV=production \
    VAR_DIR=/var/lib/va-agency

WORKDIR /app
RUN useradd --system --create-home --home-dir /home/app app \
    && mkdir -p "$VAR_DIR/media" && chown -R app "$VAR_DIR"

COPY pyproject.toml ./
RUN pip install .
COPY . .

# Static files are collected at build time and served by whitenoise. Production settings
# refuse to load without their variables, so the build supplies throwaway ones.
RUN SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(64))')" \
    DATABASE_URL=sqlite:////tmp/build.sqlite3 REDIS_URL=redis://build:6379/0 ALLOWED_HOSTS=build \
    EMAIL_URL=consolemail:// \
    python manage.py collectstatic --noinput

USER app
EXPOSE 8000
CMD ["gunicorn", "va_agency.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]

#!/bin/sh
# First start of the database volume: the app's own role, neither a superuser nor
# BYPASSRLS, owning its database, so that row-level security holds it (README, Production).
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v app_password="$APP_DB_PASSWORD" <<'SQL'
CREATE ROLE va LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE PASSWORD :'app_password';
CREATE DATABASE va OWNER va;
SQL

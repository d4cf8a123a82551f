"""PostgreSQL, with each connection telling the database which agency it acts for, so that
row-level security (core.row_security) fences every tenant table below the ORM."""

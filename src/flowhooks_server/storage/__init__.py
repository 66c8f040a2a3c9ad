"""Storage: SQLAlchemy models, repositories and Alembic migrations; the only place with SQL."""

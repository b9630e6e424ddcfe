"""Database layer: tables, engine and sessions, the embedded server, migration helpers."""

"""Use cases. Services take a session and a principal, call repositories, and never commit."""

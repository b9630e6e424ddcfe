"""Every SQL statement of Ponte lives here; every method on tenant data takes the tenant."""

"""costroute.router."""

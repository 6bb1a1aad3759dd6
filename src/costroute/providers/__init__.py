"""costroute.providers."""

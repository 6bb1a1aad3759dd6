"""costroute.cache."""

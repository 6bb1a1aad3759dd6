"""costroute.spend."""

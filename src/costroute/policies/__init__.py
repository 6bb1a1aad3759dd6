"""costroute.policies."""

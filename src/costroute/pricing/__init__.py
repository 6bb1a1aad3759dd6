"""costroute.pricing."""

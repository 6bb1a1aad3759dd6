"""costroute."""

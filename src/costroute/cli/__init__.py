"""costroute.cli."""

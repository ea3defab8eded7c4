"""Cell Tracking Challenge submission packages."""

"""Local ``evaluate`` metric modules (loadable offline by path)."""

"""Pure helpers for serving the read-only container registry API."""

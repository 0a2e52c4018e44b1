"""Business logic behind the API: no Flask, no HTTP; called by the server and by tasks."""

"""OSTree distributor: publishes archive repositories."""

"""Built-in group distributors."""

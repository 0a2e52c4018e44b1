"""Python content support for pulp2ng distributors: simple index and JSON API pages."""

"""Python content support for pulp2ng importers: index client, filters, metadata."""

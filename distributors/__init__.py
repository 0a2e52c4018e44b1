"""pulp2ng.distributors."""

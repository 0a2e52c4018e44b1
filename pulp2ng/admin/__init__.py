"""``pulp2ng-admin``: the administrator's command line, a client of the REST API only.

It runs wherever an admin is (any host that reaches the API over HTTP or HTTPS), so nothing
here imports the server side; type sections come from plugins (entry-point group
``pulp2ng.admin``) and share the helpers of :mod:`pulp2ng.plugin.admin`.
"""

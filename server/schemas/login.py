"""``actions/login/``: a client certificate for HTTPS."""

from marshmallow import fields

from pulp2ng.server.schemas.common import Closed


class LoginCertificateSchema(Closed):
    key = fields.String(required=True, metadata={"description": "PEM private key"})
    certificate = fields.String(required=True, metadata={
        "description": "PEM client certificate signed by the server's CA, naming the user"})

"""The security suite of issue 11: schemathesis, the authorization matrix and the secrets scanner."""

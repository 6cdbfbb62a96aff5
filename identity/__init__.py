"""Single sign-on: identity providers (OIDC, LDAP/AD), the external identities they vouch for,
and the group mappings that turn their groups into system and workspace roles (issue 19)."""

"""HTTP API of single sign-on: admin CRUD of providers and mappings, the login page's provider
list, and each provider kind's sign-in views (docs/sso.md)."""

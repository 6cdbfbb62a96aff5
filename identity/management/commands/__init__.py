"""Management commands of single sign-on."""

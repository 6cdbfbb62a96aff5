"""Who may do what with identity providers and group mappings: admins manage them (they decide
who becomes an admin); the login page's list of enabled providers is public."""

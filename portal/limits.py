"""Length limits of the free-text fields people type into the API, in one place.

Every string a request body carries has a ``maxLength`` in the OpenAPI schema (a test walks the
schema to keep it so): an unbounded field lets one request store megabytes that every list page
then returns. Identifiers carry their own, tighter limits (DNS-1123 names, label values) where
they are declared, and documents (kubeconfigs, YAML) theirs beside the fields that take them
(all listed in docs/api.md); the figures here are for the prose people type.
"""

from __future__ import annotations

# Prose a person writes: descriptions of clusters, workspaces, roles, service maps, packages.
DESCRIPTION_MAX_LENGTH = 2000
# A change note (the "message" of a config map or secret revision), like a commit subject.
MESSAGE_MAX_LENGTH = 1000
# Passwords: far above any real passphrase, far below what makes hashing them a cost.
PASSWORD_MAX_LENGTH = 4096
# Names of things inside documents (a kubeconfig context): a DNS-1123 subdomain's length.
NAME_MAX_LENGTH = 253
# A YAML document a person pastes to create or edit objects (one, or many for a create): a big
# CRD is ~500 KB; the request body limit (DATA_UPLOAD_MAX_MEMORY_SIZE) is 2 MiB.
YAML_MAX_LENGTH = 1024 * 1024

"""Make the audit log append-only in the database itself, not only in the ORM."""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION portal_auditrecord_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit records are immutable (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER portal_auditrecord_immutable
BEFORE UPDATE OR DELETE ON portal_auditrecord
FOR EACH ROW EXECUTE FUNCTION portal_auditrecord_immutable();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS portal_auditrecord_immutable ON portal_auditrecord;
DROP FUNCTION IF EXISTS portal_auditrecord_immutable();
"""


class Migration(migrations.Migration):
    dependencies = [("portal", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]

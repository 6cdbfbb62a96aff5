"""Where an audit record happened: workspace and cluster (id and name snapshot), filled when the
record is written. Adding nullable/blank columns runs no UPDATE, so the immutability trigger is
untouched; records written before this migration keep them empty (nothing backfills them)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('portal', '0005_table_views'),
    ]

    operations = [
        migrations.AddField(
            model_name='auditrecord',
            name='cluster_id',
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='auditrecord',
            name='cluster_name',
            field=models.CharField(blank=True, db_index=True, max_length=100),
        ),
        migrations.AddField(
            model_name='auditrecord',
            name='workspace_id',
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='auditrecord',
            name='workspace_name',
            field=models.CharField(blank=True, db_index=True, max_length=100),
        ),
        migrations.AddIndex(
            model_name='auditrecord',
            index=models.Index(fields=['workspace_id', '-id'], name='audit_workspace_newest'),
        ),
        migrations.AddIndex(
            model_name='auditrecord',
            index=models.Index(fields=['cluster_id', '-id'], name='audit_cluster_newest'),
        ),
    ]

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("catalog", "0002_config_versions"),
    ]

    operations = [
        migrations.AddField(
            model_name="release",
            name="strategy_state",
            field=models.JSONField(blank=True, default=dict),
        ),
    ]

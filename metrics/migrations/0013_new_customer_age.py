# The "new" tier (issue 13 item 6): the assumption of its age, and the tier choice.

import django.core.validators
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('metrics', '0012_referrals'),
    ]

    operations = [
        migrations.AddField(
            model_name='assumptionset',
            name='new_customer_age_days',
            field=models.PositiveSmallIntegerField(default=90, help_text="customers whose first purchase is younger than this are tier 'new' (0: no new tier)", validators=[django.core.validators.MaxValueValidator(3650)], verbose_name='new-customer age (days)'),
        ),
        migrations.AlterField(
            model_name='customerprediction',
            name='tier',
            field=models.CharField(choices=[('gold', 'Gold'), ('silver', 'Silver'), ('bronze', 'Bronze'), ('new', 'New'), ('at_risk', 'At risk'), ('unprofitable', 'Unprofitable')], db_index=True, max_length=20, verbose_name='tier'),
        ),
    ]

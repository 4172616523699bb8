# Standard errors, warnings and CLV intervals of the predictive fit (issue 13 items 4 and 5).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('metrics', '0013_new_customer_age'),
    ]

    operations = [
        migrations.AddField(
            model_name='customerprediction',
            name='clv_high',
            field=models.DecimalField(blank=True, decimal_places=2, max_digits=18, null=True, verbose_name='predicted CLV, high'),
        ),
        migrations.AddField(
            model_name='customerprediction',
            name='clv_low',
            field=models.DecimalField(blank=True, decimal_places=2, max_digits=18, null=True, verbose_name='predicted CLV, low'),
        ),
        migrations.AddField(
            model_name='predictivefit',
            name='clv_interval_level',
            field=models.FloatField(blank=True, null=True, verbose_name='CLV interval level'),
        ),
        migrations.AddField(
            model_name='predictivefit',
            name='standard_errors',
            field=models.JSONField(blank=True, default=dict, verbose_name='standard errors'),
        ),
        migrations.AddField(
            model_name='predictivefit',
            name='warnings',
            field=models.JSONField(blank=True, default=list, verbose_name='warnings'),
        ),
    ]

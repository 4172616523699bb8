"""Order ids compared byte by byte on PostgreSQL (COLLATE "C").

An order id is a code, not a word: the database's language collation (en_US.UTF-8 on most
servers) sorts it no better and costs a strcoll() per comparison in the unique index, at every
imported row. Under "C" the index order is the byte order that the import's columnar reader
checks (customers/services/direct.py), so a block of rising order ids is one index range.
Uniqueness is unchanged: a deterministic collation is equal only on equal bytes.

Only the column's collation changes (the table is not rewritten; the indexes on the column are
rebuilt). SQLite already compares text byte by byte.
"""

from django.db import migrations

FORWARD = 'ALTER TABLE customers_transaction ALTER COLUMN order_id TYPE varchar(100) COLLATE "C"'
BACKWARD = 'ALTER TABLE customers_transaction ALTER COLUMN order_id TYPE varchar(100) COLLATE "default"'


def _alter(sql: str):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0007_referred_by"),
    ]

    operations = [migrations.RunPython(_alter(FORWARD), _alter(BACKWARD), elidable=False)]

"""The lake's table folders by name, for code that needs the names without the layout's
Spark and Arrow types (apps/purchase_stream/layout.py): a quick import."""

RAW = "raw"
QUARANTINE = "quarantine"

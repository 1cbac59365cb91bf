"""The SQL warehouse: schema, bulk writes and the Dagster resource that hands out connections."""

"""The SQL warehouse: schema, bulk reads and writes, the loads of staged rows and the Dagster resource that hands out connections."""

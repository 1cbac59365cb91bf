"""Commands an operator runs beside the nightly refresh (`python -m amed_pipeline <command>`): forget, rekey."""

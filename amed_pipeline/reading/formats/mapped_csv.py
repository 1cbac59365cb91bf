"""Any other CSV or xlsx (booking systems such as Bookwhen, sign-in registers, delivery logs).

Nothing is assumed about its headers: `options.columns` maps canonical fields to the file's
column names, `options.values` maps its vocabulary (`Yes` → attended), `options.default_values`
fills fields the file does not have (a sign-in register: every row attended). UK day-first dates
unless `dayfirst: false`.
"""

from amed_pipeline.reading.formats.base import FormatAdapter

MAPPED_CSV = FormatAdapter(name="mapped_csv", default_dayfirst=True)

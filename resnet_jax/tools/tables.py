"""The benchmark's markdown tables: columns of (header, right-aligned, the cell's text of a row)."""


def markdown_table(columns, rows: list[dict]) -> str:
  """A markdown table of `rows`, one line each, under `columns`' headers."""
  lines = [
      '| ' + ' | '.join(header for header, _, _ in columns) + ' |',
      '|' + '|'.join('---:' if right else '---' for _, right, _ in columns) + '|',
  ]
  return '\n'.join(lines + ['| ' + ' | '.join(cell(row) for _, _, cell in columns) + ' |' for row in rows])


def cell(key: str, digits: int, scale: float = 1, unit: str = ''):
  """A column of row[key] x scale with `digits` decimals and `unit`: '-' where the row has none."""
  return lambda row: '-' if row.get(key) is None else f'{scale * row[key]:.{digits}f}{unit}'


def text(key: str):
  """A column of row[key] as it is."""
  return lambda row: str(row[key])

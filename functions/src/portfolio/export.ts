/**
 * Exports of a portfolio view: CSV (one row per article, every field of the view, UTF-8 with a BOM so
 * spreadsheets read it as UTF-8) and JSON.
 *
 * Scraped text is attacker-controlled: a title starting with `=` would be a formula in a spreadsheet,
 * so such a cell is written with a leading `'` (the usual defence against CSV formula injection).
 */

/** Columns every export has, in this order; fields a later view adds come after them. */
const LEADING_COLUMNS = ['url', 'status', 'title', 'publishedAt', 'readingTimeMinutes', 'bannerImage', 'outline', 'attempts', 'error.code', 'error.message', 'error.at'];

/** A view field as cells: nested objects become `parent.child` columns, lists one cell of lines. */
function flatten(value: unknown, prefix: string, into: Map<string, string>): void {
  if (value === null || value === undefined) {
    into.set(prefix, '');
  } else if (Array.isArray(value)) {
    into.set(prefix, value.map((entry) => (typeof entry === 'string' ? entry : JSON.stringify(entry))).join('\n'));
  } else if (typeof value === 'object') {
    for (const [key, inner] of Object.entries(value as Record<string, unknown>)) flatten(inner, `${prefix}.${key}`, into);
  } else {
    into.set(prefix, String(value));
  }
}

// A cell a spreadsheet would run as a formula (OWASP's list: = + - @ tab and carriage return).
const FORMULA_START = /^[=+\-@\t\r]/;

/** One CSV cell: formulas defused, quoted when it holds a quote, comma, line break or edge spaces. */
export function csvCell(text: string, isNumber = false): string {
  const safe = !isNumber && FORMULA_START.test(text) ? `'${text}` : text;
  return /[",\r\n]|^\s|\s$/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** The CSV export of a portfolio view's articles (RFC 4180: CRLF rows, a header row). */
export function portfolioCsv(articles: Record<string, unknown>[]): string {
  const rows = articles.map((article) => {
    const cells = new Map<string, string>();
    for (const [key, value] of Object.entries(article)) flatten(value, key, cells);
    return { cells, numbers: new Set(Object.entries(article).filter(([, value]) => typeof value === 'number').map(([key]) => key)) };
  });
  const columns = [...LEADING_COLUMNS];
  const known = new Set(columns);
  for (const { cells } of rows) {
    for (const column of cells.keys()) {
      if (!known.has(column)) {
        known.add(column);
        columns.push(column);
      }
    }
  }
  const lines = [columns.map((column) => csvCell(column)).join(',')];
  for (const { cells, numbers } of rows) lines.push(columns.map((column) => csvCell(cells.get(column) ?? '', numbers.has(column))).join(','));
  return `\uFEFF${lines.join('\r\n')}\r\n`;
}

/** A file name for the export: the portfolio's name made safe, else its id. */
export function exportFileName(portfolioId: string, name: string | null, extension: 'csv' | 'json'): string {
  const base = (name ?? '').normalize('NFKD').replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60);
  return `${base === '' ? `portfolio-${portfolioId}` : base}.${extension}`;
}

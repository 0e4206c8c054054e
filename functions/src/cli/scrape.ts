/**
 * Fetches one page the way the scraper does and prints the article extracted from it.
 *
 *   npm run scrape -- <url> [--allow-private]
 *
 * Prints the article JSON on stdout (a one-line fetch summary goes to stderr). On failure prints
 * `{"error": {"code", "message", "retryable"}}` and exits 2 when retrying can't help, 3 when it may.
 * Limits come from the environment like the deployed function's (FETCH_TIMEOUT_MS, FETCH_MAX_BYTES, …).
 * `--allow-private` turns on the local-development switch, to scrape a site served on 127.0.0.1.
 */
import { ConfigError, parseConfig } from '../config';
import { extractArticle } from '../extract';
import { FetchError, closeSharedAgents, fetchPage, type FetchOptions } from '../fetch';

export const EXIT = { ok: 0, usage: 1, permanent: 2, transient: 3 } as const;

const USAGE = 'usage: npm run scrape -- <url> [--allow-private]';

export interface ScrapeCliDeps {
  env: Record<string, string | undefined>;
  out: (line: string) => void;
  err: (line: string) => void;
  /** Extra fetch options (tests pass a fenced connector). */
  fetchOptions?: Partial<FetchOptions>;
}

function printError(out: (line: string) => void, error: { code: string; message: string; retryable: boolean; retryAfterMs?: number }): void {
  const { code, message, retryable, retryAfterMs } = error;
  out(JSON.stringify({ error: { code, message, retryable, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) } }));
}

/** Runs the command and returns its exit code. */
export async function main(argv: readonly string[], deps: ScrapeCliDeps): Promise<number> {
  const { out, err } = deps;
  const flags = argv.filter((arg) => arg.startsWith('-'));
  const urls = argv.filter((arg) => !arg.startsWith('-'));
  const unknown = flags.find((flag) => flag !== '--allow-private');
  if (unknown !== undefined || urls.length !== 1 || urls[0] === undefined) {
    const problem = unknown === undefined ? (urls.length === 0 ? 'no URL given' : 'give exactly one URL') : `unknown option ${unknown}`;
    printError(out, { code: 'usage', message: `${problem}. ${USAGE}`, retryable: false });
    return EXIT.usage;
  }
  const url = urls[0];
  let options: Partial<FetchOptions>;
  try {
    const config = parseConfig(deps.env);
    options = { ...config.fetch, ...deps.fetchOptions };
    if (flags.includes('--allow-private')) options.allowPrivateNetworks = true;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    printError(out, { code: error.code, message: error.message, retryable: false });
    return EXIT.usage;
  }
  try {
    const page = await fetchPage(url, options);
    const article = extractArticle(page.html, page.finalUrl);
    err(
      `scrape: ${page.finalUrl} — HTTP ${page.status}, ${page.contentType}, ${page.charset}, ${page.bytes} bytes, ` +
        `${page.redirects} redirect(s), ${page.durationMs} ms`,
    );
    out(JSON.stringify(article, null, 2));
    return EXIT.ok;
  } catch (error) {
    if (!(error instanceof FetchError)) throw error;
    printError(out, error);
    if ((error.code === 'blocked-address' || error.code === 'blocked-port') && !options.allowPrivateNetworks) {
      err('scrape: to fetch a site served on this machine, add --allow-private (the metadata server stays refused).');
    }
    return error.retryable ? EXIT.transient : EXIT.permanent;
  } finally {
    // Idle keep-alive sockets would otherwise hold the process open for a few seconds.
    await closeSharedAgents();
  }
}

if (require.main === module) {
  main(process.argv.slice(2), { env: process.env, out: (line) => console.log(line), err: (line) => console.error(line) }).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}

/**
 * Prints the article record extracted from a saved HTML file.
 *
 *   npm run extract -- <file.html> [--url <pageUrl>]
 *
 * Without --url, relative links resolve against the file's own file:// URL, which is not http(s), so
 * relative images and canonical links come out null: pass the page's real URL to resolve them.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { extractArticle } from '../extract';

/** A usage problem the person running the command can fix; `code` is stable. */
export class CliError extends Error {
  constructor(
    readonly code: 'usage' | 'file-not-found' | 'file-unreadable' | 'bad-url',
    message: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

const USAGE = 'usage: npm run extract -- <file.html> [--url <pageUrl>]';

/** What the command line asked for: the HTML file and the page URL it was saved from, if given. */
export interface CliArgs {
  file: string;
  url: string | null;
}

export function parseArgs(argv: readonly string[]): CliArgs {
  let file: string | null = null;
  let url: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--url') {
      const v = argv[++i];
      if (!v) throw new CliError('usage', `--url needs a value. ${USAGE}`);
      url = v;
    } else if (a.startsWith('--url=')) {
      url = a.slice('--url='.length);
    } else if (a === '-h' || a === '--help') {
      throw new CliError('usage', USAGE);
    } else if (a.startsWith('-')) {
      throw new CliError('usage', `unknown option ${a}. ${USAGE}`);
    } else if (file === null) {
      file = a;
    } else {
      throw new CliError('usage', `only one file at a time (got "${file}" and "${a}"). ${USAGE}`);
    }
  }
  if (file === null) throw new CliError('usage', `no HTML file given. ${USAGE}`);
  if (url !== null) {
    try {
      new URL(url);
    } catch {
      throw new CliError('bad-url', `--url "${url}" is not an absolute URL; give it with its scheme, e.g. https://example.com/post.`);
    }
  }
  return { file, url };
}

/** Runs the command; returns the exit code (0 ok, 2 usage or input problem). */
export function main(argv: readonly string[], out: (s: string) => void, err: (s: string) => void): number {
  try {
    const args = parseArgs(argv);
    let html: string;
    try {
      html = readFileSync(args.file, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new CliError('file-not-found', `no such file: ${args.file} — check the path (relative paths are from ${process.cwd()}).`);
      throw new CliError('file-unreadable', `cannot read ${args.file} (${code ?? String(e)}); is it a readable file?`);
    }
    const url = args.url ?? pathToFileURL(path.resolve(args.file)).href;
    out(JSON.stringify(extractArticle(html, url), null, 2));
    return 0;
  } catch (e) {
    if (e instanceof CliError) {
      err(`extract: ${e.message} [${e.code}]`);
      return 2;
    }
    throw e;
  }
}

if (require.main === module) {
  process.exitCode = main(process.argv.slice(2), (s) => console.log(s), (s) => console.error(s));
}

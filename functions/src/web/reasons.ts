/**
 * Why an article failed, in words a person understands: the stable error codes of the fetcher, the
 * scraper and the dead-letter recorder mapped to a sentence. The recorded message stays available as
 * the detail; an unknown code falls back to it.
 */

/** Sentences by error code (the page script gets the same table). */
export const REASONS: Record<string, string> = {
  'http-404': 'The page was not found (404): it may have moved or been deleted.',
  'http-410': 'The page is gone (410): the site says it was removed for good.',
  'http-401': 'The page needs a login (401), so it could not be read.',
  'http-403': 'The site refused access to the page (403).',
  'http-429': 'The site asked us to slow down (429) too many times.',
  'invalid-url': 'This is not a valid web address.',
  'blocked-address': 'The address points into a private network, which is never fetched.',
  'blocked-port': 'The address uses a port that is not allowed.',
  'unsupported-scheme': 'Only http and https addresses can be read.',
  'unsupported-content-type': 'The address is not a web page (it sent another kind of file).',
  'too-large': 'The page is too large to read.',
  'too-many-redirects': 'The page redirects too many times (probably a loop).',
  timeout: 'The site took too long to answer.',
  'connection-failed': 'The site could not be reached.',
  'dns-failure': 'The site’s name could not be found.',
  'host-busy': 'The site was busy with our other requests.',
  'extract-failed': 'The page could not be read as an article.',
  'storage-unavailable': 'Our database was unavailable.',
  'dead-lettered': 'We gave up after several attempts.',
  'feed-invalid': 'The address is not a feed or sitemap we can read.',
};

/** The sentence for a failure; a dead letter names its last error's sentence too. */
export function reasonInWords(error: { code: string; message: string; cause?: { code: string; message: string } | null }): string {
  const own = REASONS[error.code] ?? httpReason(error.code) ?? error.message;
  if (error.code === 'dead-lettered' && error.cause) {
    return `${own} The last attempt: ${reasonInWords(error.cause)}`;
  }
  return own;
}

function httpReason(code: string): string | null {
  const status = /^http-(\d{3})$/.exec(code)?.[1];
  if (status === undefined) return null;
  if (status.startsWith('5')) return `The site had an error of its own (${status}) every time we tried.`;
  if (status.startsWith('4')) return `The site refused the request (${status}).`;
  return null;
}

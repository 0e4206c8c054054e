/**
 * The record extracted from one article page. Every field is `null` when the page doesn't say; each is
 * within `articleBounds` (extract/index.ts), so a record always fits a Firestore document.
 */
export interface Article {
  /** The headline, without site suffixes such as " | Site". */
  title: string | null;
  /**
   * Publication date (never the modified date), ISO 8601 with the offset the page gave, e.g.
   * "2015-03-10T08:05:41-07:00", so the publisher's calendar day survives; a value without a zone is
   * read as UTC ("…Z"), a date alone as midnight UTC. Dates in the future or before 1991 are refused.
   */
  publishedAt: string | null;
  /** The string the publication date was read from, as the page wrote it. */
  publishedAtRaw: string | null;
  /** Last modification date, ISO 8601 in the same form as `publishedAt`. */
  modifiedAt: string | null;
  /** Section headings (h2–h4) of the main content, in document order (the first 100; see articleBounds). */
  outline: string[];
  /** The description, or the first sentences of the main content. */
  summary: string | null;
  /** Words in the main content (CJK characters counted as words; see extract/readingTime.ts). */
  wordCount: number;
  /** Whole minutes to read the main content, at least 1 when there is any text. */
  readingTimeMinutes: number;
  /** Absolute http(s) URL of the lead image the page declares. */
  bannerImage: string | null;
  /** The page's canonical URL (absolute http(s)), if it declares one. */
  canonicalUrl: string | null;
  siteName: string | null;
  /** The first of `authors`, or null (kept for records written before `authors`). */
  author: string | null;
  /**
   * Who wrote the article, people before organisations (a publisher is named only when no person is):
   * see extract/authors.ts. At most 10 names.
   */
  authors: string[];
  /** BCP 47 language tag, e.g. "en" or "ja". */
  language: string | null;
  description: string | null;
}

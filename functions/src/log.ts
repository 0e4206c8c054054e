/**
 * Structured logs: one JSON object per line on stdout, which Cloud Logging reads as a structured
 * entry (`severity` and `message` are its special fields; the rest land in `jsonPayload`).
 */

/** Cloud Logging severities we use. */
export type Severity = 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR';

/** One event. The optional fields are the ones worth filtering on in Logs Explorer. */
export interface LogEntry {
  severity: Severity;
  message: string;
  portfolioId?: string;
  urlKey?: string;
  url?: string;
  messageId?: string;
  deliveryAttempt?: number;
  outcome?: string;
  durationMs?: number;
  code?: string;
  [field: string]: unknown;
}

/** Where log events go. Production writes lines to stdout; tests capture them. */
export type Logger = (entry: LogEntry) => void;

/** A logger writing one JSON line per event (to stdout unless told otherwise). */
export function jsonLineLogger(write: (line: string) => void = (line) => process.stdout.write(line)): Logger {
  return (entry) => {
    let line: string;
    try {
      line = JSON.stringify(entry);
    } catch {
      // A field that can't be serialised must not lose the event.
      line = JSON.stringify({ severity: entry.severity, message: entry.message });
    }
    write(`${line}\n`);
  };
}

/** A logger that keeps events in memory, for tests (and anything else that wants to inspect them). */
export function memoryLogger(): { log: Logger; entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  return { log: (entry) => entries.push(entry), entries };
}

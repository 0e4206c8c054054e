/**
 * Extraction off the event loop: a small pool of worker threads, each with a heap limit, and a
 * deadline per page after which the worker is terminated — the only way to interrupt synchronous
 * JavaScript (the function timeout cannot). The parse budget (parseBudget.ts) refuses the known
 * hostile shapes cheaply inside the worker; the deadline and the heap limit bound whatever it does
 * not foresee. Meanwhile the instance's event loop stays free for its other deliveries.
 *
 * Pages wait for a worker smallest first: on a shared instance a few hostile 5 MB pages must not
 * hold up the ordinary ones behind them (ties in arrival order).
 */
import { existsSync } from 'node:fs';
import { extname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { extractArticle } from '../extract';
import type { Article } from '../extract/types';
import type { ExtractReply, ExtractRequest } from './extractWorker';
import { PageTooComplex } from './parseBudget';

/** The worker: this folder's extractWorker in the same form as this module (.ts under tsx, .js built). */
const WORKER_FILE = join(__dirname, `extractWorker${extname(__filename)}`);

/** Bounds of the pool. */
export interface ExtractPoolOptions {
  /** Worker threads (an instance has one vCPU: 2 lets an ordinary page pass a slow one). */
  size: number;
  /** Longest extraction of one page; then the worker is terminated and the page is too complex. */
  deadlineMs: number;
  /** Old-generation heap of each worker, in MB. */
  maxHeapMb: number;
}

/**
 * 2 workers; 10 s per page (an article takes milliseconds, 5 MB of dense markup about 1 s; the issue's
 * bound is 10 s of CPU); 192 MB of heap each (the largest tree the parse budget allows takes ~60 MB),
 * so two of them stay well inside a 512 MB instance.
 */
export const DEFAULT_EXTRACT_POOL: ExtractPoolOptions = { size: 2, deadlineMs: 10_000, maxHeapMb: 192 };

interface Job {
  request: ExtractRequest;
  resolve: (article: Article) => void;
  reject: (error: Error) => void;
}

interface Slot {
  worker: Worker;
  job: Job | null;
  timer: NodeJS.Timeout | null;
}

/** Extracts articles in worker threads; see the module comment. */
export class ExtractPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private nextId = 1;
  private closed = false;

  constructor(readonly options: ExtractPoolOptions = DEFAULT_EXTRACT_POOL) {}

  /** The article of `html`, or a rejection: PageTooComplex past a bound, an Error if a worker failed otherwise. */
  extract(html: string, pageUrl: string): Promise<Article> {
    if (this.closed) return Promise.reject(new Error('the extraction pool is closed'));
    if (!existsSync(WORKER_FILE)) {
      // A build that did not emit the worker beside this module: extract here, within the parse
      // budget still, rather than fail every page.
      try {
        return Promise.resolve(extractArticle(html, pageUrl));
      } catch (error) {
        return Promise.reject(error instanceof Error ? error : new Error(String(error)));
      }
    }
    return new Promise((resolve, reject) => {
      const job: Job = { request: { id: this.nextId++, html, pageUrl }, resolve, reject };
      // Smallest first, ties in arrival order.
      let at = this.queue.length;
      while (at > 0 && (this.queue[at - 1]?.request.html.length ?? 0) > html.length) at -= 1;
      this.queue.splice(at, 0, job);
      this.dispatch();
    });
  }

  /** Terminates the workers; pending pages are rejected. */
  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(new Error('the extraction pool is closed'));
    await Promise.all(
      this.slots.splice(0).map((slot) => {
        if (slot.timer) clearTimeout(slot.timer);
        slot.job?.reject(new Error('the extraction pool is closed'));
        return slot.worker.terminate();
      }),
    );
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let slot = this.slots.find((candidate) => candidate.job === null);
      if (!slot && this.slots.length < this.options.size) slot = this.spawn();
      if (!slot) return;
      const job = this.queue.shift() as Job;
      this.run(slot, job);
    }
  }

  private spawn(): Slot {
    const file = WORKER_FILE;
    const resourceLimits = { maxOldGenerationSizeMb: this.options.maxHeapMb };
    // A worker does not inherit tsx's loader hooks: register tsx's CommonJS hook in it first.
    const worker = file.endsWith('.ts')
      ? new Worker(`require('tsx/cjs/api').register(); require(${JSON.stringify(file)});`, { eval: true, resourceLimits })
      : new Worker(file, { resourceLimits });
    // Idle workers never keep an instance (or a test) alive.
    worker.unref();
    const slot: Slot = { worker, job: null, timer: null };
    worker.on('message', (reply: ExtractReply) => {
      const job = slot.job;
      if (!job || reply.id !== job.request.id) return;
      this.finish(slot);
      if (reply.ok) job.resolve(reply.article);
      else job.reject(reply.tooComplex ? new PageTooComplex(reply.tooComplex.bound, reply.tooComplex.limit) : new Error(reply.message));
    });
    worker.on('error', (error: Error & { code?: string }) => {
      const job = slot.job;
      this.replace(slot);
      if (!job) return;
      job.reject(error.code === 'ERR_WORKER_OUT_OF_MEMORY' ? new PageTooComplex('memory', this.options.maxHeapMb) : error);
    });
    worker.on('exit', () => {
      // An exit we did not ask for (the error handler has already replaced it otherwise).
      if (this.slots.includes(slot)) {
        const job = slot.job;
        this.replace(slot);
        job?.reject(new Error('the extraction worker exited'));
      }
    });
    this.slots.push(slot);
    return slot;
  }

  private run(slot: Slot, job: Job): void {
    slot.job = job;
    slot.worker.ref();
    // The deadline counts time this process ran, in ticks: a tick that comes far later than asked (the
    // instance was frozen, SIGSTOP, or starved of CPU, and the worker with it) counts as one tick. A
    // plain timer fired at once after a 60 s freeze and failed a healthy page `page-too-complex`.
    const tickMs = Math.min(250, this.options.deadlineMs);
    let counted = 0;
    let last = performance.now();
    slot.timer = setInterval(() => {
      const now = performance.now();
      counted += Math.min(now - last, tickMs);
      last = now;
      if (counted < this.options.deadlineMs - 1) return;
      this.replace(slot);
      job.reject(new PageTooComplex('time', this.options.deadlineMs));
    }, tickMs);
    slot.worker.postMessage(job.request);
  }

  private finish(slot: Slot): void {
    if (slot.timer) clearTimeout(slot.timer);
    slot.timer = null;
    slot.job = null;
    slot.worker.unref();
    this.dispatch();
  }

  /** Drops a worker that broke a bound or died, terminating it, and serves the queue with a new one. */
  private replace(slot: Slot): void {
    if (slot.timer) clearTimeout(slot.timer);
    const index = this.slots.indexOf(slot);
    if (index >= 0) this.slots.splice(index, 1);
    slot.job = null;
    void slot.worker.terminate();
    if (!this.closed) this.dispatch();
  }
}

let shared: ExtractPool | undefined;

/** The instance's pool, made on first use. */
export function sharedExtractPool(): ExtractPool {
  shared ??= new ExtractPool();
  return shared;
}

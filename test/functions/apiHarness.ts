/**
 * The api function served by functions-framework over a MemoryStore and a recording publisher, for
 * tests of its routes through real HTTP.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as functionsFramework from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { createApi, type PublishUrls } from '../../functions/src/api';
import { parseConfig } from '../../functions/src/config';
import { memoryLogger } from '../../functions/src/log';
import type { UrlMessage } from '../../functions/src/scrape';
import { MemoryStore } from './fakes';

/** A served api with its fakes. */
export interface ApiHarness {
  base: string;
  store: MemoryStore;
  published: UrlMessage[];
  /** Canonical URLs whose publish fails. */
  failPublishFor: Set<string>;
  /** The clock the api reads; tests move it. */
  clock: { now: Date };
  close(): Promise<void>;
}

let counter = 0;

/** Serves a fresh api on a free loopback port. */
export async function serveApi(env: Record<string, string> = {}): Promise<ApiHarness> {
  const store = new MemoryStore();
  const published: UrlMessage[] = [];
  const failPublishFor = new Set<string>();
  const clock = { now: new Date('2026-03-01T12:00:00Z') };
  const publishUrls: PublishUrls = async (messages) =>
    Promise.allSettled(
      messages.map(async (message) => {
        if (failPublishFor.has(message.canonicalUrl)) throw new Error('publish failed: UNAVAILABLE');
        published.push(message);
        return `id-${published.length}`;
      }),
    );
  const api = createApi({ config: parseConfig(env), store, publishUrls, blockReason: () => null, now: () => clock.now, log: memoryLogger().log });
  const name = `api-harness-${++counter}`;
  functionsFramework.http(name, api);
  const server: Server = getTestServer(name);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    store,
    published,
    failPublishFor,
    clock,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

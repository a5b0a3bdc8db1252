// graphql-ws clients for tests: a feedUpdated subscription that collects its updates, and one
// operation run to its end on an open client.
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

export const SUBSCRIBE = `subscription($u: ID!) { feedUpdated(userId: $u, first: 50) { reason feed { edges { node { rank item { externalId } } } } } }`;

/** A pushed feed: its reason, its items in order, and the model version that ranked it (when the query selects it). */
export interface Update {
  reason: string;
  ids: string[];
  modelVersion?: string | null;
}

/** A graphql-ws subscription that collects updates; `next()` waits for the next one. */
export function subscribeFeed(wsUrl: string, key: string, userId: string, query = SUBSCRIBE) {
  const updates: Update[] = [];
  const waiters: ((u: Update) => void)[] = [];
  let failure: unknown;
  const client: Client = createClient({ url: wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${key}` } });
  const done = new Promise<void>((resolve) => {
    client.subscribe<{ feedUpdated: { reason: string; feed: { modelVersion?: string | null; edges: { node: { item: { externalId: string } } }[] } } }>(
      { query, variables: { u: userId } },
      {
        next: (message) => {
          if (message.errors) failure = message.errors;
          if (!message.data) return;
          const f = message.data.feedUpdated;
          const update: Update = {
            reason: f.reason,
            ids: f.feed.edges.map((e) => e.node.item.externalId),
            ...('modelVersion' in f.feed ? { modelVersion: f.feed.modelVersion } : {}),
          };
          const waiter = waiters.shift();
          if (waiter) waiter(update);
          else updates.push(update);
        },
        error: (error) => {
          failure = error;
          resolve();
        },
        complete: resolve,
      },
    );
  });
  return {
    client,
    done,
    failure: () => failure,
    next(timeoutMs = 5000): Promise<Update> {
      const ready = updates.shift();
      if (ready) return Promise.resolve(ready);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no feed update within ${timeoutMs} ms (${JSON.stringify(failure)})`)), timeoutMs);
        waiters.push((u) => {
          clearTimeout(timer);
          resolve(u);
        });
      });
    },
    /** No update arrives within the window. */
    async quiet(ms: number) {
      await new Promise((r) => setTimeout(r, ms));
      return updates.length === 0;
    },
  };
}

/** Runs one operation on an open client: its data, or its errors as GraphQL sent them. */
export function runOn(client: Client, query: string, variables?: Record<string, unknown>): Promise<{ data?: any; errors?: any[] }> {
  return new Promise((resolve) => {
    let result: { data?: any; errors?: any[] } = {};
    client.subscribe(
      { query, variables },
      {
        next: (value) => (result = value as typeof result),
        error: (errors) => resolve({ errors: Array.isArray(errors) ? errors : [errors] }),
        complete: () => resolve(result),
      },
    );
  });
}

export function connectWs(wsUrl: string, key: string): Client {
  return createClient({ url: wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, lazy: false, connectionParams: { authorization: `Bearer ${key}` } });
}

/**
 * Follows a training run with trainingRunUpdated until the subscription ends: every push in
 * order, and the error it ended with, if any.
 */
export function followRun(wsUrl: string, key: string, runId: string, fields: string): Promise<{ runs: any[]; errors?: unknown }> {
  const client: Client = createClient({ url: wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${key}` } });
  const runs: any[] = [];
  return new Promise<{ runs: any[]; errors?: unknown }>((resolve) => {
    client.subscribe<{ trainingRunUpdated: unknown }>(
      { query: `subscription($id: ID!) { trainingRunUpdated(id: $id) { ${fields} } }`, variables: { id: runId } },
      {
        next: (message) => {
          if (message.data) runs.push(message.data.trainingRunUpdated);
          if (message.errors) resolve({ runs, errors: message.errors });
        },
        error: (errors) => resolve({ runs, errors }),
        complete: () => resolve({ runs }),
      },
    );
  }).finally(() => client.dispose());
}

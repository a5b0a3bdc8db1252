// Counts and times every GraphQL operation over HTTP, by operation type and outcome.
import type { ApolloServerPlugin } from '@apollo/server';
import type { ApiMetrics } from '../../metrics/api-metrics.js';

export function useMetrics(metrics: ApiMetrics): ApolloServerPlugin {
  return {
    async requestDidStart() {
      const started = process.hrtime.bigint();
      return {
        async willSendResponse({ operation, response }) {
          const type = operation?.operation ?? 'unknown';
          const errors = response.body.kind === 'single' ? response.body.singleResult.errors : undefined;
          const code = errors?.[0]?.extensions?.code;
          const outcome = errors?.length ? (typeof code === 'string' ? code : 'error') : 'ok';
          metrics.operations.inc({ type, outcome });
          metrics.latency.observe({ type }, Number(process.hrtime.bigint() - started) / 1e9);
        },
      };
    },
  };
}

// Subscriptions are served over WebSocket only; one sent over HTTP is the client's mistake,
// answered as such (it used to reach the resolver and come back as an internal error).
import type { ApolloServerPlugin } from '@apollo/server';
import { GraphQLError, OperationTypeNode } from 'graphql';

export function useHttpOperationsOnly(): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation }) {
          if (operation?.operation !== OperationTypeNode.SUBSCRIPTION) return;
          throw new GraphQLError('subscriptions are served over WebSocket (graphql-ws) at this same URL with ws://, not over HTTP', {
            extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } },
          });
        },
      };
    },
  };
}

import type { Logger } from '../logger.js';
import type { Services } from '../services/services.js';
import type { Viewer } from '../services/viewer.js';
import { createLoaders, type Loaders } from './loaders.js';
import type { ConnectionSubscriptions, SubscriptionCounter, SubscriptionLimits } from './feed-subscription.js';

export interface Context {
  viewer: Viewer;
  requestId: string;
  services: Services;
  loaders: Loaders;
  log: Logger;
  /** Set for operations over WebSocket: what subscriptions need to know of their connection. */
  subscriptions?: SubscriptionContext;
}

export interface SubscriptionContext {
  limits: SubscriptionLimits;
  counter: SubscriptionCounter;
  connection: ConnectionSubscriptions;
}

/** One context per operation: loaders cache only within it, so nothing leaks between requests. */
export function createContext(services: Services, viewer: Viewer, requestId: string, log: Logger, subscriptions?: SubscriptionContext): Context {
  return {
    viewer,
    requestId,
    services,
    loaders: createLoaders(services, viewer),
    log: log.child({ requestId, tenantId: viewer.tenantId }),
    subscriptions,
  };
}

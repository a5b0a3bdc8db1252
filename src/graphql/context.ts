import type { Logger } from '../logger.js';
import type { Services } from '../services/index.js';
import type { Viewer } from '../services/viewer.js';
import { createLoaders, type Loaders } from './loaders.js';

export interface Context {
  viewer: Viewer;
  requestId: string;
  services: Services;
  loaders: Loaders;
  log: Logger;
}

/** One context per operation: loaders cache only within it, so nothing leaks between requests. */
export function createContext(services: Services, viewer: Viewer, requestId: string, log: Logger): Context {
  return {
    viewer,
    requestId,
    services,
    loaders: createLoaders(services, viewer),
    log: log.child({ requestId, tenantId: viewer.tenantId }),
  };
}

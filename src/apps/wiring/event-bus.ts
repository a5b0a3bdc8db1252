// The event bus: PostgreSQL LISTEN/NOTIFY across API instances on a real server; in process
// for the embedded database, whose connections share one session and pass no notifications.
import type { Logger } from '../../logger.js';
import { createInProcessBus, createPostgresBus, type EventBus } from '../../events/event-bus.js';
import type { OpenedDatabase } from './database.js';

export async function openEventBus(database: OpenedDatabase, log: Logger): Promise<EventBus> {
  return database.embedded ? createInProcessBus() : createPostgresBus(database.listenUrl, log);
}

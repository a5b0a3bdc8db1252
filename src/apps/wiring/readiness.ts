// Readiness: the instance can serve everything it offers. Not ready while the database cannot
// be reached, or while live feeds cannot hear other instances' events (a balancer should send
// subscribers to an instance that can).
import type { EventBus } from '../../events/event-bus.js';
import type { Database } from '../../repositories/database.js';

export function createReadinessCheck(db: Database, bus: EventBus): () => Promise<void> {
  return async () => {
    const status = bus.status();
    if (!status.listening) throw new Error(`event bus not listening since ${status.downSince?.toISOString()}`);
    await db.withoutTenant(async (sql) => void (await sql.query('SELECT 1')));
  };
}

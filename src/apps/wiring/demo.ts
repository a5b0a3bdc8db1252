// The demo tenant: a synthetic world whose users fall into taste groups, loaded through the
// same services as the API, so a newcomer sees realistic data (and the seed obeys every rule).
import type { Services } from '../../services/services.js';
import { createTenant, type CreatedTenant } from '../../services/tenant-admin.service.js';
import type { Viewer } from '../../services/viewer.js';
import { generateTasteWorld, type TasteWorldOptions } from '../../synth/taste-world.js';

const CHUNK = 1000;

/**
 * 300 users with 40 likes and dislikes each: what a young image app has, and enough for its
 * first model to train (TRAINING_MIN_USERS and the held-out users the gate needs), so that
 * startTraining on the demo gives a newcomer a model of the tenant's own.
 */
export const DEMO_WORLD: Partial<TasteWorldOptions> = { users: 300, interactionsPerUser: 40 };

export async function seedDemoTenant(
  services: Services,
  adminUrl: string,
  options: { name?: string; slug?: string; world?: Partial<TasteWorldOptions> } = {},
): Promise<CreatedTenant & { items: number; users: number; interactions: number }> {
  const world = generateTasteWorld({ ...DEMO_WORLD, ...options.world });
  const dim = world.items[0].vector.length;
  const created = await createTenant(adminUrl, {
    name: options.name ?? 'Demo image app',
    slug: options.slug ?? 'demo',
    embeddingDim: dim,
    keyRoles: ['admin', 'app'],
  });
  const viewer: Viewer = { tenantId: created.tenant.id, role: 'admin', keyId: 'seed' };
  for (let i = 0; i < world.items.length; i += CHUNK) {
    await services.items.upsert(
      viewer,
      world.items.slice(i, i + CHUNK).map((item) => ({
        id: item.id,
        prompt: item.prompt,
        url: `https://images.example.com/demo/${item.id}.png`,
        embedding: Array.from(item.vector),
      })),
    );
  }
  for (let i = 0; i < world.interactions.length; i += CHUNK) {
    await services.interactions.record(
      viewer,
      world.interactions.slice(i, i + CHUNK).map((e, j) => ({
        userId: e.user,
        itemId: e.item,
        kind: e.label === 1 ? ('LIKE' as const) : ('DISLIKE' as const),
        pairId: e.pair,
        eventId: `seed-${i + j}`,
      })),
    );
  }
  return { ...created, items: world.items.length, users: world.users.length, interactions: world.interactions.length };
}

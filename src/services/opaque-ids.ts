// Ids and cursors as the API shows them: opaque and scoped to the tenant. A row id is a
// sequence shared by all tenants, so shown plainly, the gap between two of a tenant's ids
// counts the other tenants' writes in between. Shown instead: AES-256 of one 16-byte block
// (a kind byte, the id in 7 bytes, and 8 bytes of HMAC over the tenant, kind and id). A block
// cipher's output says nothing of the order or distance of its inputs; the tag makes a token
// valid for one tenant and one kind only. Deterministic, so a retried request answers the
// same ids. The secret comes from the database (app_secrets), so every instance agrees.
import { createCipheriv, createDecipheriv, createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { badInput } from '../errors.js';

export type OpaqueKind = 'interaction' | 'item-cursor' | 'history-cursor' | 'user-cursor';
const KIND_BYTE: Record<OpaqueKind, number> = { interaction: 1, 'item-cursor': 2, 'history-cursor': 3, 'user-cursor': 4 };
const TOKEN = /^[A-Za-z0-9_-]{22}$/;

export function createIdCodec(secret: Buffer) {
  const derive = (purpose: string) => createHash('sha256').update(secret).update(purpose).digest();
  const aesKey = derive('aes-256 opaque ids');
  const macKey = derive('hmac opaque ids');
  const tag = (tenantId: string, kind: OpaqueKind, id: number) =>
    createHmac('sha256', macKey).update(`${tenantId}\u0000${kind}\u0000${id}`).digest().subarray(0, 8);

  return {
    encode(tenantId: string, kind: OpaqueKind, id: number): string {
      const block = Buffer.alloc(16);
      block.writeUInt8(KIND_BYTE[kind], 0);
      block.writeUIntBE(Math.floor(id / 2 ** 24), 1, 4);
      block.writeUIntBE(id % 2 ** 24, 5, 3);
      tag(tenantId, kind, id).copy(block, 8);
      const cipher = createCipheriv('aes-256-ecb', aesKey, null).setAutoPadding(false);
      return Buffer.concat([cipher.update(block), cipher.final()]).toString('base64url');
    },

    /** The id, or undefined when the token is not one of this tenant's of this kind. */
    decode(tenantId: string, kind: OpaqueKind, token: string): number | undefined {
      if (!TOKEN.test(token)) return undefined;
      const decipher = createDecipheriv('aes-256-ecb', aesKey, null).setAutoPadding(false);
      const block = Buffer.concat([decipher.update(Buffer.from(token, 'base64url')), decipher.final()]);
      if (block.readUInt8(0) !== KIND_BYTE[kind]) return undefined;
      const id = block.readUIntBE(1, 4) * 2 ** 24 + block.readUIntBE(5, 3);
      return timingSafeEqual(block.subarray(8), tag(tenantId, kind, id)) ? id : undefined;
    },
  };
}

export type IdCodec = ReturnType<typeof createIdCodec>;

/** Keyset cursors for one tenant and one kind of list. */
export interface Cursors {
  encode(id: number): string;
  /** The id in an `after` cursor (undefined: from the start); BAD_USER_INPUT when malformed or not this tenant's. */
  decode(field: string, cursor: string | null | undefined): number | undefined;
}

export function cursorsFor(codec: IdCodec, tenantId: string, kind: OpaqueKind): Cursors {
  return {
    encode: (id) => codec.encode(tenantId, kind, id),
    decode(field, cursor) {
      if (cursor === null || cursor === undefined) return undefined;
      const id = codec.decode(tenantId, kind, cursor);
      if (id === undefined) {
        throw badInput(`${field}: malformed cursor "${cursor.slice(0, 40)}"; pass an endCursor from an earlier page`, [{ field, message: 'malformed cursor' }]);
      }
      return id;
    },
  };
}

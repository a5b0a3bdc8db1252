// Item embeddings are stored as bytea: float32, little-endian, 4 bytes per dimension.
import { endianness } from 'node:os';

const LITTLE_ENDIAN_HOST = endianness() === 'LE';

export function encodeEmbedding(values: ArrayLike<number>): Buffer {
  if (LITTLE_ENDIAN_HOST) return Buffer.from(Float32Array.from(values).buffer);
  const buffer = Buffer.allocUnsafe(values.length * 4);
  for (let i = 0; i < values.length; i++) buffer.writeFloatLE(values[i], i * 4);
  return buffer;
}

export function decodeEmbedding(bytes: Buffer): Float32Array {
  if (LITTLE_ENDIAN_HOST) {
    // Copy first: pg hands out slices of a shared buffer at offsets that need not be
    // multiples of 4, which a Float32Array view cannot start at.
    const copy = new Uint8Array(bytes.length);
    copy.set(bytes);
    return new Float32Array(copy.buffer);
  }
  const out = new Float32Array(bytes.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = bytes.readFloatLE(i * 4);
  return out;
}

// Encode + decode time and stored bytes for each serializer x compressor, at the three sizes.
import { createCodec } from '../../dist/codec/codec.js';
import { compactSerializer } from '../../dist/codec/compact.js';
import { BUILTIN_COMPRESSORS } from '../../dist/codec/compressors.js';
import { jsonSerializer } from '../../dist/codec/serializers.js';
import { SHAPES } from '../lib/sessions.mjs';

export async function codecRows({ quick }) {
  const iterations = quick ? 2_000 : 10_000;
  const rows = [];
  for (const [shape, make] of Object.entries(SHAPES)) {
    const session = make();
    const expiresAt = new Date(session.cookie.expires).getTime();
    for (const [sName, serializer] of [
      ['json', jsonSerializer],
      ['compact', compactSerializer],
    ]) {
      for (const cName of ['none', 'snappy', 'gzip', 'brotli']) {
        const codec = createCodec({
          serializer,
          compressor: cName === 'none' ? null : BUILTIN_COMPRESSORS[cName],
          compressMinLength: 400,
        });
        const value = await codec.encode(session, expiresAt);
        // warm-up (JIT), not timed
        for (let i = 0; i < iterations / 4; i++) await codec.decode(await codec.encode(session, expiresAt));
        const t = process.hrtime.bigint();
        for (let i = 0; i < iterations; i++) await codec.decode(await codec.encode(session, expiresAt));
        const us = Number(process.hrtime.bigint() - t) / 1000 / iterations;
        rows.push({
          session: shape,
          serializer: sName,
          compression: cName,
          'stored bytes': value.length,
          'encode+decode µs': us.toFixed(1),
        });
      }
    }
  }
  return rows;
}

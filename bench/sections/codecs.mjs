// Stored bytes and CPU time of encode and of decode, per session shape: the corpus
// (test/fixtures/session-shapes.mjs, as hash mode stores it) with each serializer, and the 2 KB and
// 20 KB sessions with each serializer x compressor. For 'compact', the bytes each size lever saves
// (the same session encoded with that lever off). Times are CPU µs per call (process.cpuUsage), the
// best of several rounds, so that other load on the machine inflates them less.

import { isNativeAccelerationEnabled } from 'msgpackr';
import { createCodec } from '../../dist/codec/codec.js';
import { compactSerializer } from '../../dist/codec/compact.js';
import { Encoder } from '../../dist/codec/compact2/encode.js';
import { compact2Serializer } from '../../dist/codec/compact2/index.js';
import { BUILTIN_COMPRESSORS } from '../../dist/codec/compressors.js';
import { jsonSerializer } from '../../dist/codec/serializers.js';
import { SESSION_SHAPES, seededRandom } from '../../test/fixtures/session-shapes.mjs';
import { SHAPES } from '../lib/sessions.mjs';

const SERIALIZERS = [
  ['json', jsonSerializer],
  ['compact-v1', compactSerializer],
  ['compact', compact2Serializer],
];

/** CPU µs per call of `f`: the best of `rounds` rounds of `n` calls, after a warm-up round. */
function cpuMicros(f, n, rounds) {
  for (let i = 0; i < n; i++) f();
  let best = Number.POSITIVE_INFINITY;
  for (let r = 0; r < rounds; r++) {
    const start = process.cpuUsage();
    for (let i = 0; i < n; i++) f();
    const used = process.cpuUsage(start);
    best = Math.min(best, (used.user + used.system) / n);
  }
  return best;
}

/** Bytes 'compact' saves with each lever, against the same session encoded with that lever off. */
function leverSavings(session, expiresAt) {
  const size = (levers) => new Encoder(levers).encode(session, expiresAt).length;
  const all = { dictionary: true, binaryStrings: true, cookie: true };
  const full = size(all);
  return {
    'saved: dictionary': size({ ...all, dictionary: false }) - full,
    'saved: binary strings': size({ ...all, binaryStrings: false }) - full,
    'saved: cookie folding': size({ ...all, cookie: false }) - full,
    'saved: 1-byte header': 1,
  };
}

const NO_LEVERS = {
  'saved: dictionary': '–',
  'saved: binary strings': '–',
  'saved: cookie folding': '–',
  'saved: 1-byte header': '–',
};

export async function codecRows({ quick, log }) {
  // 'compact-v1' is msgpackr: its native extension (a prebuilt binary, no install script) speeds up its reads
  log?.(`  msgpackr native acceleration: ${isNativeAccelerationEnabled ? 'on' : 'off'}`);
  const n = quick ? 1_000 : 5_000;
  const rounds = quick ? 3 : 7;
  const rows = [];
  const measure = (name, session, expiresAt, sName, serializer, cName, levers) => {
    const codec = createCodec({
      serializer,
      compressor: cName === 'none' ? null : BUILTIN_COMPRESSORS[cName],
      compressMinLength: 400,
    });
    const value = codec.encode(session, expiresAt);
    const back = codec.decode(value).session;
    if (JSON.stringify(back) !== JSON.stringify(session)) throw new Error(`${sName} does not round-trip ${name}`);
    const scale = Math.max(1, Math.round(value.length / 200)); // fewer calls for the big sessions
    rows.push({
      session: name,
      serializer: sName,
      compression: cName,
      'stored bytes': value.length,
      'encode µs': cpuMicros(() => codec.encode(session, expiresAt), Math.ceil(n / scale), rounds).toFixed(2),
      'decode µs': cpuMicros(() => codec.decode(value), Math.ceil(n / scale), rounds).toFixed(2),
      ...levers,
    });
  };
  for (const shape of SESSION_SHAPES) {
    const now = Date.now();
    const session = shape.make(seededRandom(7, now));
    const expires = session.cookie?.expires;
    const expiresAt = expires instanceof Date ? expires.getTime() : now + 86_400_000;
    for (const [sName, serializer] of SERIALIZERS) {
      const levers = sName === 'compact' ? leverSavings(session, expiresAt) : NO_LEVERS;
      measure(shape.name, session, expiresAt, sName, serializer, 'snappy', levers);
    }
  }
  for (const name of ['2KB', '20KB']) {
    const session = SHAPES[name]();
    const expiresAt = session.cookie.expires.getTime();
    for (const [sName, serializer] of SERIALIZERS) {
      for (const cName of ['none', 'snappy', 'gzip', 'brotli']) {
        measure(name, session, expiresAt, sName, serializer, cName, NO_LEVERS);
      }
    }
  }
  return rows;
}

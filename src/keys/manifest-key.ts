/*
 * The store's manifest (its recorded layout, src/store/manifest.ts) is one string key under the
 * prefix, behind a marker byte of its own. Marker bytes after the prefix:
 *
 *   0x00 numbered bucket, 0x01 named bucket (buckets.ts); 0x01..0x05 string-mode session key tags
 *   (key-scheme.ts); 0x06 user index (user-index-key.ts); 0x07 this manifest
 *
 * A control byte no human-chosen prefix or session id contains (ids with control characters are
 * refused), so no session, bucket or user index can have this name, and walks tell it apart.
 */
export const MANIFEST_MARKER = 0x07;
const NAME = Buffer.from('manifest', 'latin1');

export function manifestKey(prefix: Buffer): Buffer {
  return Buffer.concat([prefix, Buffer.of(MANIFEST_MARKER), NAME]);
}

/** Whether a key found under the prefix is the store's manifest. */
export function isManifestKey(key: Buffer, prefix: Buffer): boolean {
  return (
    key.length === prefix.length + 1 + NAME.length &&
    key[prefix.length] === MANIFEST_MARKER &&
    key.subarray(prefix.length + 1).equals(NAME) &&
    key.subarray(0, prefix.length).equals(prefix)
  );
}

/** What follows the prefix in the manifest key: a walk that strips the prefix compares with this. */
export function isManifestSuffix(rest: Buffer): boolean {
  return rest.length === 1 + NAME.length && rest[0] === MANIFEST_MARKER && rest.subarray(1).equals(NAME);
}

/** The key as redis-cli takes it ("rs:\x07manifest"), for messages an operator acts on. */
export function shownKey(key: Buffer): string {
  let out = '';
  for (const b of key) {
    out +=
      b >= 0x20 && b < 0x7f && b !== 0x22 && b !== 0x5c
        ? String.fromCharCode(b)
        : `\\x${b.toString(16).padStart(2, '0')}`;
  }
  return `"${out}"`;
}

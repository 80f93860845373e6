/** The bytes of one encode: a buffer reused from one encode to the next, grown when needed. */
export class Writer {
  buf = Buffer.allocUnsafe(1024);
  pos = 0;

  byte(b: number): void {
    if (this.pos >= this.buf.length) this.grow(1);
    this.buf[this.pos++] = b;
  }

  /** Unsigned LEB128, up to 2^54 (8 bytes). */
  varint(n: number): void {
    this.ensure(8);
    const buf = this.buf;
    if (n < 0x80000000) {
      while (n > 0x7f) {
        buf[this.pos++] = (n & 0x7f) | 0x80;
        n >>>= 7;
      }
    } else {
      while (n > 0x7f) {
        buf[this.pos++] = (n % 128) | 0x80;
        n = Math.floor(n / 128);
      }
    }
    buf[this.pos++] = n;
  }

  /** Varint n >= 0 as 2n, n < 0 as -2n - 1. */
  zigzag(n: number): void {
    this.varint(n >= 0 ? n * 2 : -n * 2 - 1);
  }

  /** `base + length` then the characters, if they are all ASCII (else writes nothing, returns false). */
  ascii(s: string, base: number): boolean {
    const len = s.length;
    this.ensure(len + 1);
    const buf = this.buf;
    const at = this.pos + 1;
    for (let i = 0; i < len; i++) {
      const c = s.charCodeAt(i);
      if (c > 0x7f) return false;
      buf[at + i] = c;
    }
    buf[this.pos] = base + len;
    this.pos = at + len;
    return true;
  }

  /** Varint byte length, then UTF-8 (the string must be well-formed). */
  utf8(s: string): void {
    const bytes = Buffer.byteLength(s, 'utf8');
    this.varint(bytes);
    this.ensure(bytes);
    this.buf.write(s, this.pos, bytes, 'utf8');
    this.pos += bytes;
  }

  /** UTF-8, no length: the rest of the payload. */
  raw(s: string): void {
    const bytes = Buffer.byteLength(s, 'utf8');
    this.ensure(bytes);
    this.buf.write(s, this.pos, bytes, 'utf8');
    this.pos += bytes;
  }

  /** Strings with lone surrogates, which UTF-8 cannot hold: tag, varint code units, UTF-16LE. */
  utf16(tag: number, s: string): void {
    this.byte(tag);
    this.varint(s.length);
    this.ensure(s.length * 2);
    this.buf.write(s, this.pos, s.length * 2, 'utf16le');
    this.pos += s.length * 2;
  }

  float64(tag: number, n: number): void {
    this.ensure(9);
    this.buf[this.pos++] = tag;
    this.buf.writeDoubleLE(n, this.pos);
    this.pos += 8;
  }

  ensure(n: number): void {
    if (this.pos + n > this.buf.length) this.grow(n);
  }

  /** A copy of what was written; a buffer grown past 64 KiB by a big session is not kept. */
  take(): Buffer {
    const out = Buffer.allocUnsafe(this.pos);
    this.buf.copy(out, 0, 0, this.pos);
    if (this.buf.length > 65_536) this.buf = Buffer.allocUnsafe(1024);
    return out;
  }

  private grow(n: number): void {
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n + 1024));
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }
}

export function varintSize(n: number): number {
  let size = 1;
  while (n > 0x7f) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

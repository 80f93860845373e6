import { CorruptValueError } from '../../store/errors.js';
import { readCookie } from './cookie.js';
import { KEYS, VALUES } from './dictionary.js';
import {
  FIXARRAY,
  FIXOBJECT,
  FIXSTR,
  KEY_ASCII,
  KEY_DICT_END,
  KEY_JSON_TEXT,
  KEY_UTF8,
  KEY_UTF16,
  MAX_DEPTH,
  T,
  VALUE_DICT,
} from './format.js';
import { isoString } from './iso-date.js';

/*
 * Format 2 (format.ts) back to what JSON.parse would have returned. Every length and count is
 * checked against the bytes left, so a corrupt or hostile value is a CorruptValueError, never a
 * huge allocation or a crash.
 */

const corrupt = (what: string) => new CorruptValueError(`compact payload: ${what}`);
const MAX_DATE_MS = 8.64e15;
const EMPTY = Buffer.alloc(0);

export class Decoder {
  private buf: Buffer = EMPTY;
  private pos = 0;
  private end = 0;
  private expiresAt: number | null = null;
  private expiryIso: string | null = null;

  /** The session in `bytes` from byte `start` on (the payload, in a whole stored value: no subarray on a get). */
  decode(bytes: Buffer, expiresAt: number | null, start = 0): Record<string, unknown> {
    if (bytes.length > start && bytes[start] === KEY_JSON_TEXT) return JSON.parse(bytes.toString('utf8', start + 1));
    this.buf = bytes;
    this.pos = start;
    this.end = bytes.length;
    this.expiresAt = expiresAt;
    this.expiryIso = null;
    try {
      const root: Record<string, unknown> = {};
      while (this.pos < this.end) set(root, this.key(), this.value(1));
      return root;
    } finally {
      this.buf = EMPTY; // do not keep the caller's bytes alive
    }
  }

  private key(): string {
    if (this.pos >= this.end) throw corrupt('truncated');
    const k = this.buf[this.pos++] as number;
    if (k < KEY_DICT_END) {
      const name = KEYS[k];
      if (name === undefined) throw corrupt('unknown key index');
      return name;
    }
    if (k <= KEY_UTF8 - 1) return this.latin1(k - KEY_ASCII);
    if (k === KEY_UTF8) return this.utf8(this.varint());
    if (k === KEY_UTF16) return this.utf16(this.varint());
    throw corrupt('unknown key byte');
  }

  /** The next value (for readCookie too). */
  value(depth: number): unknown {
    if (this.pos >= this.end) throw corrupt('truncated');
    const t = this.buf[this.pos++] as number;
    if (t < FIXSTR) return t;
    if (t < VALUE_DICT) return this.latin1(t - FIXSTR);
    if (t < FIXARRAY) {
      const v = VALUES[t - VALUE_DICT];
      if (v === undefined) throw corrupt('unknown value index');
      return v;
    }
    if (t < FIXOBJECT) return this.array(t - FIXARRAY, depth);
    if (t < T.null) return this.object(t - FIXOBJECT, depth);
    switch (t) {
      case T.null:
        return null;
      case T.false:
        return false;
      case T.true:
        return true;
      case T.uint:
        return this.varint();
      case T.negint:
        return -1 - this.varint();
      case T.float64: {
        this.need(8);
        const n = this.buf.readDoubleLE(this.pos);
        this.pos += 8;
        return n;
      }
      case T.decimal:
      case T.decimal + 1:
      case T.decimal + 2:
      case T.decimal + 3:
        return unzigzag(this.varint()) / 10 ** (t - T.decimal + 1);
      case T.utf8:
        return this.utf8(this.varint());
      case T.utf16:
        return this.utf16(this.varint());
      case T.array:
        return this.array(this.varint(), depth);
      case T.object:
        return this.object(this.varint(), depth);
      case T.digits:
        return String(this.varint());
      case T.hex:
        return this.bytes(this.varint(), 'hex');
      case T.hexUpper:
        return this.bytes(this.varint(), 'hex').toUpperCase();
      case T.uuid:
      case T.uuidUpper: {
        const h = this.bytes(16, 'hex');
        const u = `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
        return t === T.uuid ? u : u.toUpperCase();
      }
      case T.base64url:
        return this.bytes(this.varint(), 'base64url');
      case T.base64urlPadded:
        return padded(this.varint(), (n) => this.bytes(n, 'base64url'));
      case T.base64: {
        const s = this.bytes(this.varint(), 'base64');
        return s.endsWith('==') ? s.slice(0, -2) : s.endsWith('=') ? s.slice(0, -1) : s;
      }
      case T.base64Padded:
        return this.bytes(this.varint(), 'base64');
      case T.date: {
        const ms = unzigzag(this.varint());
        if (Math.abs(ms) > MAX_DATE_MS) throw corrupt('date out of range');
        return isoString(ms);
      }
      case T.expiry:
        return this.expiry();
      case T.cookie: {
        this.need(2);
        const a = this.buf[this.pos++] as number;
        const b = this.buf[this.pos++] as number;
        if (b & 0x80) throw corrupt('reserved cookie flag');
        return readCookie(a, b, this, depth + 1);
      }
      default:
        throw corrupt(`unknown tag 0x${t.toString(16)}`);
    }
  }

  /** The envelope's expiry as cookie.expires (for readCookie and T.expiry). */
  expiry(): string {
    if (this.expiresAt === null) throw corrupt('cookie expiry refers to an envelope without one');
    this.expiryIso ??= isoString(this.expiresAt);
    return this.expiryIso;
  }

  private array(n: number, depth: number): unknown[] {
    if (depth > MAX_DEPTH) throw corrupt('nested too deep');
    if (n > this.end - this.pos) throw corrupt('array longer than the value');
    const out = new Array(n);
    for (let i = 0; i < n; i++) out[i] = this.value(depth + 1);
    return out;
  }

  private object(n: number, depth: number): Record<string, unknown> {
    if (depth > MAX_DEPTH) throw corrupt('nested too deep');
    if (n * 2 > this.end - this.pos) throw corrupt('object longer than the value');
    const out: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) set(out, this.key(), this.value(depth + 1));
    return out;
  }

  private varint(): number {
    let n = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      if (this.pos >= this.end) throw corrupt('truncated');
      const b = this.buf[this.pos++] as number;
      n += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (n > 2 ** 54) throw corrupt('number out of range');
        return n;
      }
      scale *= 128;
    }
    throw corrupt('varint too long');
  }

  private need(n: number): void {
    if (n > this.end - this.pos) throw corrupt('truncated');
  }

  private latin1(n: number): string {
    this.need(n);
    const s = this.buf.toString('latin1', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }

  private utf8(n: number): string {
    this.need(n);
    const s = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }

  private utf16(units: number): string {
    this.need(units * 2);
    const s = this.buf.toString('utf16le', this.pos, this.pos + units * 2);
    this.pos += units * 2;
    return s;
  }

  private bytes(n: number, encoding: 'hex' | 'base64' | 'base64url'): string {
    this.need(n);
    const s = this.buf.toString(encoding, this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
}

/** As JSON.parse does: "__proto__" becomes an own property, not the prototype. */
function set(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__')
    Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
  else obj[key] = value;
}

const unzigzag = (z: number) => (z % 2 === 0 ? z / 2 : -(z + 1) / 2);

/** base64url with the '=' padding that base64 would have. */
function padded(n: number, text: (n: number) => string): string {
  const s = text(n);
  const rem = n % 3;
  return rem === 0 ? s : rem === 1 ? `${s}==` : `${s}=`;
}

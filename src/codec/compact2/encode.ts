import { types } from 'node:util';
import { writeCookie } from './cookie.js';
import { KEYS, VALUES } from './dictionary.js';
import {
  FIX_COUNT_MAX,
  FIXARRAY,
  FIXOBJECT,
  FIXSTR,
  FIXSTR_MAX,
  INT_MAX_INLINE,
  KEY_ASCII,
  KEY_ASCII_MAX,
  KEY_JSON_TEXT,
  KEY_UTF8,
  KEY_UTF16,
  MAX_DEPTH,
  T,
  VALUE_DICT,
} from './format.js';
import { isoString } from './iso-date.js';
import { packString } from './strings.js';
import { varintSize, Writer } from './writer.js';

/*
 * One walk over the session that writes what JSON.stringify would produce, in format 2 (see
 * format.ts): toJSON (called with its key, once, as JSON does), boxed primitives unwrapped,
 * undefined / functions / symbols dropped from objects and null in arrays, NaN and the infinities
 * null, -0 as 0, BigInt refused. Nothing is built in between: bytes go straight into the buffer.
 */

const KEY_INDEX = new Map(KEYS.map((k, i) => [k, i]));
const VALUE_INDEX = new Map<string | number, number>(VALUES.map((v, i) => [v, i]));
const DATE_TO_JSON = Date.prototype.toJSON;
const DATE_TO_ISO = Date.prototype.toISOString;
/** Thrown past MAX_DEPTH: the session is written as JSON text instead. */
const TOO_DEEP = Symbol('too deep');
/** Largest magnitude whose zigzag (2n or -2n - 1) is still an exact double. */
const ZIGZAG_MAX = 2 ** 52;

type Obj = Record<string, unknown>;

const isPlainDate = (v: object): v is Date =>
  Object.getPrototypeOf(v) === Date.prototype &&
  (v as Date).toJSON === DATE_TO_JSON &&
  (v as Date).toISOString === DATE_TO_ISO;

function isPlainObject(v: unknown): v is Obj {
  if (typeof v !== 'object' || v === null) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * The size levers, each on by default; the benchmark turns one off at a time to measure what it
 * saves (the output stays valid format 2 either way).
 */
export interface Levers {
  /** Key names and small values from the built-in dictionary as one byte. */
  dictionary: boolean;
  /** UUIDs, hex, base64, digit strings and dates as their bytes. */
  binaryStrings: boolean;
  /** express-session's cookie folded, and cookie.expires taken from the envelope. */
  cookie: boolean;
}
const ALL_LEVERS: Levers = { dictionary: true, binaryStrings: true, cookie: true };

export class Encoder extends Writer {
  constructor(private readonly levers: Levers = ALL_LEVERS) {
    super();
  }
  private expiresAt: number | null = null;
  private expiryIso: string | null = null;
  private readonly expiry = (v: unknown) => this.isExpiry(v);

  /** The payload for `session` (an object once toJSON is applied), given the envelope's expiry. */
  encode(session: unknown, expiresAt: number | null): Buffer {
    this.pos = 0;
    this.expiresAt = expiresAt;
    this.expiryIso = null;
    try {
      this.root(session);
    } catch (err) {
      if (err !== TOO_DEEP) throw err;
      const text = JSON.stringify(session); // throws on a cycle, as a set must
      this.pos = 0;
      this.byte(KEY_JSON_TEXT);
      this.raw(text);
    }
    return this.take();
  }

  private root(session: unknown): void {
    let root = session;
    if (typeof root === 'object' && root !== null && typeof (root as Obj).toJSON === 'function') {
      root = (root as { toJSON(key: string): unknown }).toJSON('');
    }
    if (typeof root !== 'object' || root === null || Array.isArray(root) || types.isBoxedPrimitive(root)) {
      throw new TypeError('the session is not an object');
    }
    const obj = root as Obj;
    for (const key of Object.keys(obj)) {
      const start = this.pos;
      this.key(key);
      const v = obj[key];
      const written =
        key === 'cookie' && typeof v === 'object' && v !== null && this.levers.cookie
          ? this.cookie(v)
          : this.value(v, key, 1, false);
      if (!written) this.pos = start;
    }
  }

  /**
   * The session's cookie: express-session's in its short form (cookie.ts) when it has the usual
   * shape, else as any value (with cookie.expires still taken from the envelope when equal).
   */
  private cookie(v: object): boolean {
    const toJSON = (v as Obj).toJSON;
    if (typeof toJSON === 'function' && !(toJSON === DATE_TO_JSON && isPlainDate(v))) {
      const plain = toJSON.call(v, 'cookie'); // once, as JSON does
      return (isPlainObject(plain) && writeCookie(this, plain, this.expiry)) || this.resolved(plain, 1, true);
    }
    return (isPlainObject(v) && writeCookie(this, v, this.expiry)) || this.object(v, 'cookie', 1, true);
  }

  /** Writes a value as JSON would serialise it under `key`; false (nothing written) where JSON drops it. */
  value(v: unknown, key: string | number, depth: number, cookie: boolean): boolean {
    switch (typeof v) {
      case 'string':
        this.string(v);
        return true;
      case 'number':
        this.number(v);
        return true;
      case 'boolean':
        this.byte(v ? T.true : T.false);
        return true;
      case 'object':
        if (v === null) {
          this.byte(T.null);
          return true;
        }
        return this.object(v, key, depth, cookie);
      case 'bigint':
      case 'function': {
        const toJSON = (v as { toJSON?: unknown }).toJSON;
        if (typeof toJSON === 'function') return this.resolved(toJSON.call(v, String(key)), depth, cookie);
        if (typeof v === 'bigint') throw new TypeError('Do not know how to serialize a BigInt');
        return false;
      }
      default:
        return false; // undefined, symbol
    }
  }

  private object(v: object, key: string | number, depth: number, cookie: boolean): boolean {
    if (depth > MAX_DEPTH) throw TOO_DEEP;
    const toJSON = (v as Obj).toJSON;
    if (typeof toJSON !== 'function') return this.resolved(v, depth, cookie);
    if (toJSON === DATE_TO_JSON && isPlainDate(v)) {
      const ms = v.getTime();
      if (!Number.isFinite(ms))
        this.byte(T.null); // an invalid Date: toJSON gives null
      else if (Math.abs(ms) <= ZIGZAG_MAX && this.levers.binaryStrings) {
        this.byte(T.date);
        this.zigzag(ms);
      } else this.string(isoString(ms)); // beyond year 142,000 or so: the zigzag would not be exact
      return true;
    }
    return this.resolved(toJSON.call(v, String(key)), depth, cookie);
  }

  /** A value toJSON has been applied to (JSON does not call toJSON on its result again). */
  private resolved(v: unknown, depth: number, cookie: boolean): boolean {
    if (typeof v !== 'object' || v === null) {
      if (typeof v === 'function') return false;
      if (typeof v === 'bigint') throw new TypeError('Do not know how to serialize a BigInt');
      return this.value(v, '', depth, false);
    }
    if (Array.isArray(v)) {
      this.array(v, depth);
      return true;
    }
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null && types.isBoxedPrimitive(v)) {
      if (types.isNumberObject(v)) this.number(Number(v));
      else if (types.isStringObject(v)) this.string(String(v));
      else if (types.isBooleanObject(v)) this.byte(v.valueOf() ? T.true : T.false);
      else if (types.isBigIntObject(v)) throw new TypeError('Do not know how to serialize a BigInt');
      else this.members({}, depth, false); // a Symbol object: no own keys
      return true;
    }
    this.members(v as Obj, depth, cookie);
    return true;
  }

  /** An object: its count goes in front, known only once undefined members are dropped. */
  private members(obj: Obj, depth: number, cookie: boolean): void {
    this.ensure(1);
    const at = this.pos++;
    let count = 0;
    for (const key of Object.keys(obj)) {
      const start = this.pos;
      this.key(key);
      const v = obj[key];
      if (cookie && key === 'expires' && this.isExpiry(v)) this.byte(T.expiry);
      else if (!this.value(v, key, depth + 1, false)) {
        this.pos = start;
        continue;
      }
      count++;
    }
    if (count <= FIX_COUNT_MAX) {
      this.buf[at] = FIXOBJECT | count;
      return;
    }
    // more than 15 members: make room for the varint count after the tag
    const extra = varintSize(count);
    this.ensure(extra);
    this.buf.copyWithin(at + 1 + extra, at + 1, this.pos);
    const end = this.pos + extra;
    this.buf[at] = T.object;
    this.pos = at + 1;
    this.varint(count);
    this.pos = end;
  }

  private array(arr: unknown[], depth: number): void {
    const n = arr.length;
    if (n <= FIX_COUNT_MAX) this.byte(FIXARRAY | n);
    else {
      this.byte(T.array);
      this.varint(n);
    }
    for (let i = 0; i < n; i++) if (!this.value(arr[i], i, depth + 1, false)) this.byte(T.null);
  }

  /** cookie.expires equal to the envelope's expiry is not stored: it is rebuilt from the envelope. */
  private isExpiry(v: unknown): boolean {
    const at = this.expiresAt;
    if (at === null) return false;
    if (typeof v === 'object' && v !== null) return isPlainDate(v) && v.getTime() === at;
    if (typeof v !== 'string' || v.length !== 24) return false;
    this.expiryIso ??= isoString(at);
    return v === this.expiryIso;
  }

  private number(n: number): void {
    if (Number.isInteger(n)) {
      if (n >= 0 && n <= INT_MAX_INLINE)
        this.byte(n); // -0 too: JSON writes it as 0
      else if (n > 0 && n <= Number.MAX_SAFE_INTEGER) {
        const d = this.levers.dictionary ? VALUE_INDEX.get(n) : undefined;
        if (d !== undefined) this.byte(VALUE_DICT + d);
        else {
          this.byte(T.uint);
          this.varint(n);
        }
      } else if (n < 0 && n >= -Number.MAX_SAFE_INTEGER) {
        this.byte(T.negint);
        this.varint(-1 - n);
      } else this.float64(T.float64, n);
      return;
    }
    if (!Number.isFinite(n)) {
      this.byte(T.null);
      return;
    }
    // prices and ratios: a few decimal places as an integer, when dividing gives the very same double
    for (let places = 0, scale = 10; places < 4; places++, scale *= 10) {
      const m = Math.round(n * scale);
      if (Math.abs(m) <= ZIGZAG_MAX && m / scale === n) {
        this.byte(T.decimal + places);
        this.zigzag(m);
        return;
      }
    }
    this.float64(T.float64, n);
  }

  private string(s: string): void {
    const len = s.length;
    if (len <= 20 && this.levers.dictionary) {
      const d = VALUE_INDEX.get(s);
      if (d !== undefined) {
        this.byte(VALUE_DICT + d);
        return;
      }
    }
    if (len >= 3 && this.levers.binaryStrings && packString(this, s)) return;
    if (len <= FIXSTR_MAX && this.ascii(s, FIXSTR)) return;
    if (s.isWellFormed()) {
      this.byte(T.utf8);
      this.utf8(s);
    } else this.utf16(T.utf16, s);
  }

  private key(k: string): void {
    const d = this.levers.dictionary ? KEY_INDEX.get(k) : undefined;
    if (d !== undefined) this.byte(d);
    else if (k.length <= KEY_ASCII_MAX && this.ascii(k, KEY_ASCII)) return;
    else if (k.isWellFormed()) {
      this.byte(KEY_UTF8);
      this.utf8(k);
    } else this.utf16(KEY_UTF16, k);
  }
}

import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT } from './examples.js';

/*
 * Just enough Markdown for the documentation tests: the pages, their fenced code blocks with the
 * marker comment above each, their headings as GitHub turns them into anchors, and their links.
 */

/** README.md, every page under docs/ and the worker package's README, as paths relative to the repository. */
export function docPages(): string[] {
  const docs = readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`);
  return ['README.md', ...docs, 'worker/README.md'];
}

export function readDoc(page: string): string {
  return readFileSync(join(ROOT, page), 'utf8');
}

export interface CodeBlock {
  page: string;
  /** 1-based line of the opening fence. */
  line: number;
  lang: string;
  /** The marker comment on the nearest non-blank line above the fence, without `<!--` and `-->`. */
  marker: string | null;
  /** The block's text, the fence's indentation removed, without a final newline. */
  body: string;
  /** Line indexes (0-based) of the first and last body lines, for rewriting the block. */
  bodyLines: [number, number];
  indent: string;
}

const FENCE = /^(\s*)(`{3,}|~{3,})(.*)$/;
const MARKER = /^\s*<!--\s*(.*?)\s*-->\s*$/;

export function codeBlocks(page: string, text = readDoc(page)): CodeBlock[] {
  const lines = text.split('\n');
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i] as string);
    if (!open) continue;
    const [, indent = '', fence = '', info = ''] = open;
    let end = i + 1;
    while (end < lines.length && !(lines[end] as string).startsWith(indent + fence)) end++;
    let above = i - 1;
    while (above >= 0 && (lines[above] as string).trim() === '') above--;
    const marker = above >= 0 ? (MARKER.exec(lines[above] as string)?.[1] ?? null) : null;
    const body = lines.slice(i + 1, end).map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l.trimStart()));
    blocks.push({
      page,
      line: i + 1,
      lang: info.trim(),
      marker,
      body: body.join('\n'),
      bodyLines: [i + 1, end - 1],
      indent,
    });
    i = end;
  }
  return blocks;
}

/** The page's text with its fenced blocks (and, unless kept, inline code) blanked out. */
export function prose(text: string, keepInlineCode = false): string {
  const lines = text.split('\n');
  let inFence: string | null = null;
  return lines
    .map((line) => {
      const m = FENCE.exec(line);
      if (inFence !== null) {
        if (m && line.trimStart().startsWith(inFence)) inFence = null;
        return '';
      }
      if (m) {
        inFence = m[2] as string;
        return '';
      }
      return keepInlineCode ? line : line.replace(/`[^`]*`/g, '``');
    })
    .join('\n');
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
export function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** The anchors of a page's headings (a repeated heading gets -1, -2, ... as on GitHub). */
export function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const line of prose(text, true).split('\n')) {
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = slug(m[1] as string);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

export interface Link {
  page: string;
  line: number;
  target: string;
}

/** Links and images outside code: `[text](target)`, external ones left out. */
export function links(page: string, text = readDoc(page)): Link[] {
  const out: Link[] = [];
  prose(text)
    .split('\n')
    .forEach((line, i) => {
      for (const m of line.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
        const target = m[1] as string;
        if (/^[a-z]+:/i.test(target)) continue;
        out.push({ page, line: i + 1, target });
      }
    });
  return out;
}

export const rel = (path: string): string => relative(ROOT, path);

import { existsSync, statSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/examples.js';
import { anchors, docPages, links, readDoc } from '../helpers/markdown.js';

/* Every relative link in README.md, docs/*.md and worker/README.md points at a file that exists, and every #anchor at a heading. */

describe.each(docPages())('%s', (page) => {
  it('links to files and headings that exist', () => {
    const broken: string[] = [];
    for (const link of links(page)) {
      const [path = '', anchor] = link.target.split('#');
      const target = path === '' ? page : normalize(join(dirname(page), path));
      const where = `${page}:${link.line}: ${link.target}`;
      if (!existsSync(join(ROOT, target))) {
        broken.push(`${where} (no file ${target})`);
        continue;
      }
      if (anchor === undefined) continue;
      if (statSync(join(ROOT, target)).isDirectory() || !target.endsWith('.md')) {
        broken.push(`${where} (an anchor into ${target}, which is no Markdown page)`);
      } else if (!anchors(readDoc(target)).has(anchor)) {
        broken.push(`${where} (no heading with that anchor in ${target})`);
      }
    }
    expect(broken).toEqual([]);
  });
});

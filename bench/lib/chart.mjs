// Bytes per session for each corpus shape at the largest population measured, connect-redis against
// redisession hash mode (defaults), as an SVG bar chart.
export function memoryChart(rows) {
  const corpus = rows.filter((r) => r.session !== '2KB' && r.session !== '20KB');
  const most = Math.max(...corpus.map((r) => r.sessions));
  const at = corpus.filter((r) => r.sessions === most);
  const shapes = [...new Set(at.map((r) => r.session))];
  const pick = (shape, prefix) => at.find((r) => r.session === shape && r.store.startsWith(prefix));
  const max = Math.max(...at.map((r) => r['bytes/session']));
  const rowH = 22;
  const groupH = rowH * 2 + 8;
  const left = 190;
  const width = 760;
  const scale = (width - left - 110) / max;
  const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const bar = (r, y, color) => {
    if (!r) return '';
    const w = Math.max(1, Math.round(r['bytes/session'] * scale));
    return [
      `<rect x="${left}" y="${y + 3}" width="${w}" height="${rowH - 6}" fill="${color}"/>`,
      `<text x="${left + w + 6}" y="${y + 15}">${r['bytes/session']} B (${r['vs connect-redis']}x)</text>`,
    ].join('');
  };
  const body = shapes
    .map((shape, i) => {
      const y = 60 + i * groupH;
      return [
        `<text x="${left - 8}" y="${y + rowH + 4}" text-anchor="end">${esc(shape)}</text>`,
        bar(pick(shape, 'connect-redis'), y, '#9e9e9e'),
        bar(pick(shape, 'redisession hash (defaults)'), y + rowH, '#2e7d32'),
      ].join('');
    })
    .join('\n');
  const height = 70 + shapes.length * groupH;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="10" y="20" font-weight="bold" font-size="13">Redis memory per session, ${most.toLocaleString('en')} sessions of each shape (used_memory delta)</text>
<rect x="10" y="32" width="12" height="12" fill="#9e9e9e"/><text x="28" y="42">connect-redis 9 (node-redis)</text>
<rect x="220" y="32" width="12" height="12" fill="#2e7d32"/><text x="238" y="42">redisession hash mode, defaults (Redis defaults too)</text>
${body}
</svg>
`;
}

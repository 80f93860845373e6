// A bar chart of bytes per session (typical session, the largest population measured), as SVG.
export function memoryChart(rows) {
  const typical = rows.filter((r) => r.session === 'typical');
  const most = Math.max(...typical.map((r) => r.sessions));
  const bars = typical.filter((r) => r.sessions === most);
  const max = Math.max(...bars.map((r) => r['bytes/session']));
  const rowH = 30;
  const left = 330;
  const width = 760;
  const scale = (width - left - 90) / max;
  const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const body = bars
    .map((r, i) => {
      const y = 40 + i * rowH;
      const w = Math.max(1, Math.round(r['bytes/session'] * scale));
      const color = r.store.startsWith('connect-redis') ? '#9e9e9e' : r.store.includes('hash') ? '#2e7d32' : '#1565c0';
      return [
        `<text x="${left - 8}" y="${y + 17}" text-anchor="end">${esc(r.store)}</text>`,
        `<rect x="${left}" y="${y + 4}" width="${w}" height="${rowH - 10}" fill="${color}"/>`,
        `<text x="${left + w + 6}" y="${y + 17}">${r['bytes/session']} B (${r['vs connect-redis']}x)</text>`,
      ].join('');
    })
    .join('\n');
  const height = 50 + bars.length * rowH;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="13">
<rect width="100%" height="100%" fill="white"/>
<text x="10" y="22" font-weight="bold">Redis memory per session: typical express session, ${most.toLocaleString('en')} sessions (used_memory delta)</text>
${body}
</svg>
`;
}

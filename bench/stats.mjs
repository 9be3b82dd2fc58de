export function median(values) {
  return quantile(values, 0.5);
}

/** Linear-interpolated quantile (q in 0..1) of a list of numbers. */
export function quantile(values, q) {
  if (!values.length) return NaN;
  const v = [...values].sort((a, b) => a - b);
  const pos = (v.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return v[lo] + (v[hi] - v[lo]) * (pos - lo);
}

export function fmtNs(ns) {
  if (ns == null || Number.isNaN(ns)) return 'n/a';
  if (ns < 0) return `-${fmtNs(-ns)}`;
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(2)} ms`;
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(2)} µs`;
  return `${ns.toFixed(0)} ns`;
}

export function fmtRatio(r) {
  return r == null || Number.isNaN(r) ? 'n/a' : `${r.toFixed(3)}x`;
}

export function table(rows, header) {
  const all = [header, ...rows].map((r) => r.map((c) => String(c)));
  const widths = header.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  const line = (r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(all[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...all.slice(1).map(line)].join('\n');
}

// Round-robin sampling: every contender runs one sample per round (the order
// rotates each round), each sample many iterations, so that a noisy machine
// slows all contenders alike and the ratios of medians hold.
import { median, quantile } from './stats.mjs';

/** One turn of the event loop: native work Node defers to it runs (sodium-native's real sodium_free does). */
export const turn = () => new Promise(setImmediate);

/**
 * A sync function as a contender: sample(iters) -> elapsed ns. The timed part
 * ends with one event-loop turn, so that work a contender defers to the loop
 * (sodium-native frees its sodium_malloc memory from a native immediate, not
 * in sodium_free) is paid inside its samples and does not pile up.
 */
export function syncSampler(c) {
  const once = c.once;
  return {
    ...c,
    async sample(iters) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < iters; i++) once();
      await turn();
      return Number(process.hrtime.bigint() - t0);
    },
  };
}

/**
 * Warms every contender up for warmMs, sizes its samples to ~sampleMs, then runs
 * `rounds` rounds. Returns { [id]: { medianNs, p10Ns, p90Ns, minNs, samples, iterationsPerSample } } (ns per iteration).
 */
export async function runRounds(contenders, { rounds, sampleMs, warmMs }) {
  const iters = {};
  for (const c of contenders) {
    let n = 1;
    let total = 0;
    let done = 0;
    while (total < warmMs * 1e6 || done < 3) {
      const ns = await c.sample(n);
      total += ns;
      done += n;
      if (ns < 1e6 && !(c.maxIters && n * 2 > c.maxIters)) n *= 2;
    }
    iters[c.id] = Math.max(1, Math.min(c.maxIters ?? Infinity, Math.round((sampleMs * 1e6 * done) / total)));
  }
  const samples = Object.fromEntries(contenders.map((c) => [c.id, []]));
  for (let r = 0; r < rounds; r++) {
    for (let j = 0; j < contenders.length; j++) {
      const c = contenders[(r + j) % contenders.length];
      samples[c.id].push((await c.sample(iters[c.id])) / iters[c.id]);
    }
  }
  const out = {};
  for (const c of contenders) {
    const s = samples[c.id];
    out[c.id] = {
      name: c.name,
      medianNs: median(s),
      p10Ns: quantile(s, 0.1),
      p90Ns: quantile(s, 0.9),
      minNs: Math.min(...s),
      samples: s.length,
      iterationsPerSample: iters[c.id],
      samplesNs: s.map((x) => Math.round(x)),
    };
  }
  return out;
}

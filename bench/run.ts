// `npm run bench`: lorabook's matmul against its peers on the SmolLM2-135M training shapes, one JSON
// line per figure on stdout (progress on stderr). Node on Dawn first, then Chromium. Exits non-zero if
// any result failed verification against the CPU reference.
//   --node-only / --browser-only   run one half
//   --reps=N                       timed reps per figure (default 5, after one warm-up)

import { runBrowserPart, BROWSER_PEERS } from './browser.ts';
import { benchLine, exitStatus, failures, withRatios, type BenchRecord } from './format.ts';
import { runNodePart } from './node-part.ts';
import { SHAPES } from './shapes.ts';

const args = process.argv.slice(2);
const reps = Number(args.find((a) => a.startsWith('--reps='))?.slice('--reps='.length) ?? 5);
const node = !args.includes('--browser-only');
const browser = !args.includes('--node-only');
const log = (message: string) => process.stderr.write(`${message}\n`);

const started = performance.now();
const records: BenchRecord[] = [];
const print = (part: BenchRecord[]) => {
  for (const r of withRatios(part)) process.stdout.write(`${benchLine(r)}\n`);
  records.push(...part);
};

if (node) print(await runNodePart(SHAPES, reps, log));
if (browser) print(await runBrowserPart(BROWSER_PEERS, reps, log));

const failed = failures(records);
for (const r of failed)
  log(`FAILED: ${r.where} ${r.peer} ${r.name} ${r.shape}${r.error ? `: ${String(r.error)}` : ''}`);
log(
  `bench: ${records.length} figures, ${failed.length} failed, ${((performance.now() - started) / 1000).toFixed(0)} s`,
);
process.exit(exitStatus(records));

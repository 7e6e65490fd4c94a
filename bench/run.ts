// `npm run bench`: lorabook's matmul against its peers on the SmolLM2-135M training shapes, one JSON
// line per figure on stdout (progress on stderr). Node on Dawn first, then Chromium. Exits non-zero if
// any result failed verification against the CPU reference.
//   --node-only / --browser-only   run one half of the matmul figures
//   --reps=N                       timed reps per figure (default 7, after one warm-up; the naive
//                                  floor gets at most 3 on the LM-head chunk and in Chromium)
//   --matmul-only                  skip the training, decoding and planner figures
//   --no-matmul                    only those
//   --full                         decoding on every model shape (default: the tiny one, 8 tokens)
//   --lora                         only the LoRA figures (bench/lora-matmul.ts: the tiled vs the skinny
//                                  matmul on LoRA's rank-r products, and a whole LoRA training step),
//                                  on Dawn then in Chromium (--node-only / --browser-only for one)
//   --qlora                        only the QLoRA figures (bench/qlora.ts: fused NF4 / f16-weight matmul
//                                  vs the f32 matmul, LoRA training over f32 / f16 / NF4 bases)
// After the matmul figures: training steps (tokens/s, GFLOP/s, kernel shares, peak bytes), the jax-js
// block peer, KV-cache decoding against the ONNX export on onnxruntime, and the memory planner and NF4
// quantization figures. Those records keep the same first fields; `verified` is their own check.

import { runBrowserPart, runLoraBrowserPart } from './browser.ts';
import { benchLine, exitStatus, failures, withRatios, type BenchRecord } from './format.ts';
import { runNodePart } from './node-part.ts';
import { SHAPES } from './shapes.ts';
import { acquireDawn } from '../companion/dawn.ts';
import { runDecodeBench } from './decode.ts';
import { loraRecords } from './lora-matmul.ts';
import { planQuantRecords } from './plan-quant.ts';
import { qloraRecords } from './qlora.ts';
import { trainBlockRecords } from './train-block.ts';
import { trainEngineRecords } from './train-engine.ts';

const args = process.argv.slice(2);
const reps = Number(args.find((a) => a.startsWith('--reps='))?.slice('--reps='.length) ?? 7);
const log = (message: string) => process.stderr.write(`${message}\n`);

if (args.includes('--lora')) {
  let failed = 0;
  const print = (records: object[]) => {
    for (const r of records) {
      process.stdout.write(`${JSON.stringify(r)}\n`);
      if ((r as { verified?: unknown }).verified !== true) failed++;
    }
  };
  if (!args.includes('--browser-only')) {
    const gpu = await acquireDawn();
    try {
      print(await loraRecords(gpu, 'node-dawn', reps, log));
    } finally {
      gpu.destroy();
    }
  }
  if (!args.includes('--node-only')) print(await runLoraBrowserPart(reps, log));
  log(`bench --lora: ${failed} failed`);
  process.exit(failed > 0 ? 1 : 0);
}
const qloraOnly = args.includes('--qlora');
const matmul = !args.includes('--no-matmul') && !qloraOnly;
const node = matmul && !args.includes('--browser-only');
const browser = matmul && !args.includes('--node-only');

const started = performance.now();
const records: BenchRecord[] = [];
const print = (part: BenchRecord[]) => {
  for (const r of withRatios(part)) process.stdout.write(`${benchLine(r)}\n`);
  records.push(...part);
};

if (node) print(await runNodePart(SHAPES, reps, log));
if (browser) print(await runBrowserPart(reps, log));

let otherFailed = 0;
if (!args.includes('--matmul-only')) {
  const other = async (what: string, run: () => Promise<object[]>, printsItself = false) => {
    log(`bench: ${what}`);
    try {
      for (const r of await run()) {
        if (!printsItself) process.stdout.write(`${JSON.stringify(r)}\n`);
        if ((r as { verified?: unknown }).verified === false) otherFailed++;
      }
    } catch (e) {
      otherFailed++;
      log(`FAILED: ${what}: ${String(e)}`);
    }
  };
  if (!qloraOnly) await other('training steps', trainEngineRecords);
  await other('QLoRA matmul and training', () => qloraRecords(reps));
  if (!qloraOnly) {
    await other('training block vs jax-js', trainBlockRecords);
    await other(
      'decoding',
      async () => {
        const gpu = await acquireDawn();
        try {
          return await runDecodeBench(gpu, !args.includes('--full'));
        } finally {
          gpu.destroy();
        }
      },
      true, // runDecodeBench prints each line as it lands
    );
    await other('memory planner and NF4', () => planQuantRecords());
  }
}

const failed = failures(records);
for (const r of failed)
  log(`FAILED: ${r.where} ${r.peer} ${r.name} ${r.shape}${r.error ? `: ${String(r.error)}` : ''}`);
log(
  `bench: ${records.length} figures, ${failed.length} failed, ${((performance.now() - started) / 1000).toFixed(0)} s`,
);
// exitStatus fails a run with no matmul figures at all, which --no-matmul asks for.
process.exit(otherFailed > 0 ? 1 : matmul ? exitStatus(records) : 0);

// Sums the JSON reports of vitest (node and browser projects) and Playwright into one closing line,
// "N passed, N failed", with the static checks (passed/failed counts given as arguments) added in.
// A report that is missing counts as one failure: a runner that died must not read as green.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const [dir, checksPassed = '0', checksFailed = '0'] = process.argv.slice(2);
let passed = Number(checksPassed);
let failed = Number(checksFailed);
const parts = [`checks ${checksPassed}/${Number(checksPassed) + Number(checksFailed)}`];

for (const name of ['node', 'browser']) {
  const file = join(dir, `${name}.json`);
  if (!existsSync(file)) {
    parts.push(`${name}: no report`);
    failed += 1;
    continue;
  }
  const r = JSON.parse(readFileSync(file, 'utf8'));
  // numFailedTestSuites covers files that failed to load (their tests never ran).
  const f = r.numFailedTests + r.numFailedTestSuites;
  passed += r.numPassedTests;
  failed += f;
  parts.push(`${name} ${r.numPassedTests} passed ${f} failed`);
}

const e2eFile = join(dir, 'e2e.json');
if (existsSync(e2eFile)) {
  const s = JSON.parse(readFileSync(e2eFile, 'utf8')).stats;
  const f = s.unexpected + (s.flaky ?? 0);
  passed += s.expected;
  failed += f;
  parts.push(`e2e ${s.expected} passed ${f} failed`);
} else {
  parts.push('e2e: no report');
  failed += 1;
}

console.error(`tests: ${parts.join('; ')}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);

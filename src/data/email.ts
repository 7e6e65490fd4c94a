// A raw e-mail (RFC 822/MIME) to the text a classifier should see: the Subject and the body, nothing of
// the routing. Why: in corpora such as SpamAssassin the headers (Received chains, list headers, mailers)
// differ systematically between the spam and ham folders, and so do artefacts of how mail was delivered
// (mailing-list tags in subjects, list footers, HTML vs plain text); a model would learn those instead of
// content. So: headers dropped, RFC 2047 subjects decoded, MIME walked for the text part (plain preferred,
// else HTML turned into text), quoted-printable and base64 decoded with the part's charset, leading
// "[list]" subject tags and trailing mailing-list footers removed, whitespace normalised.

import { normalizeWhitespace } from './clean.ts';

export interface EmailText {
  subject: string;
  body: string;
  /** What was done, for the dataset's report. */
  listTagRemoved: boolean;
  footerRemoved: boolean;
  fromHtml: boolean;
}

type Headers = Map<string, string>;

function splitMessage(raw: string): { head: string; body: string } {
  const m = /\r?\n\r?\n/.exec(raw);
  return m ? { head: raw.slice(0, m.index), body: raw.slice(m.index + m[0].length) } : { head: raw, body: '' };
}

function parseHeaders(head: string): Headers {
  const h: Headers = new Map();
  const unfolded = head.replace(/\r?\n[ \t]+/g, ' ');
  for (const line of unfolded.split(/\r?\n/)) {
    const c = line.indexOf(':');
    if (c <= 0 || /\s/.test(line.slice(0, c))) continue; // the mbox "From " line and junk
    const name = line.slice(0, c).toLowerCase();
    if (!h.has(name)) h.set(name, line.slice(c + 1).trim());
  }
  return h;
}

/** Content-Type's value and its parameters (boundary, charset), lower-cased names. */
function contentType(h: Headers): { type: string; params: Map<string, string> } {
  const v = h.get('content-type') ?? 'text/plain';
  const [type, ...rest] = v.split(';');
  const params = new Map<string, string>();
  for (const p of rest) {
    const eq = p.indexOf('=');
    if (eq > 0)
      params.set(
        p.slice(0, eq).trim().toLowerCase(),
        p
          .slice(eq + 1)
          .trim()
          .replace(/^"|"$/g, ''),
      );
  }
  return { type: type.trim().toLowerCase() || 'text/plain', params };
}

function decodeBytes(bytes: Uint8Array, charset: string | undefined): string {
  const label = (charset ?? 'utf-8').toLowerCase();
  try {
    return new TextDecoder(label === 'us-ascii' || label === 'ascii' ? 'windows-1252' : label).decode(bytes);
  } catch {
    return new TextDecoder('windows-1252').decode(bytes);
  }
}

function quotedPrintable(s: string): Uint8Array {
  const text = s.replace(/=\r?\n/g, '');
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (text[i] === '=' && /^[0-9A-Fa-f]{2}$/.test(text.slice(i + 1, i + 3))) {
      out.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c < 0x80) out.push(c);
    else out.push(...new TextEncoder().encode(text[i]));
  }
  return Uint8Array.from(out);
}

function base64(s: string): Uint8Array {
  const clean = s.replace(/[^A-Za-z0-9+/]/g, '');
  const whole = clean.length - (clean.length % 4);
  const tail = clean.length % 4 >= 2 ? clean.slice(whole) + '='.repeat(4 - (clean.length % 4)) : '';
  const bin = atob(clean.slice(0, whole) + tail);
  return Uint8Array.from(bin, (ch) => ch.charCodeAt(0));
}

/** RFC 2047 encoded words (=?charset?B|Q?...?=) in a header value. */
export function decodeHeader(v: string): string {
  return v
    .replace(/(=\?[^?]+\?[BbQq]\?[^?]*\?=)\s+(?==\?)/g, '$1')
    .replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g, (_, cs: string, enc: string, data: string) =>
      decodeBytes(enc.toUpperCase() === 'B' ? base64(data) : quotedPrintable(data.replace(/_/g, ' ')), cs),
    );
}

const ENTITIES: Record<string, string> = {
  nbsp: ' ',
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  copy: '©',
  reg: '®',
  trade: '™',
  hellip: '…',
  mdash: '—',
  ndash: '–',
  rsquo: '’',
  lsquo: '‘',
  rdquo: '”',
  ldquo: '“',
  bull: '•',
  pound: '£',
  euro: '€',
};

/** HTML to plain text: no scripts, styles or comments; block ends become line breaks; entities decoded. */
export function htmlToText(html: string): string {
  return html
    .replace(/<!--[\s\S]*?-->/g, ' ')
    .replace(/<(script|style|head|title)\b[\s\S]*?<\/\1\s*>/gi, ' ')
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<\/(p|div|tr|li|h[1-6]|table|blockquote|center)\s*>/gi, '\n')
    .replace(/<(p|div|tr|li|h[1-6]|table|blockquote|center)\b[^>]*>/gi, '\n')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);?/gi, (m, e: string) => {
      if (e[0] === '#') {
        const code = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
        return code > 0 && code < 0x110000 ? String.fromCodePoint(code) : ' ';
      }
      return ENTITIES[e.toLowerCase()] ?? m;
    })
    .replace(/[ \t]+/g, ' ')
    .replace(/^ | $/gm, ''); // indentation carries no meaning in HTML
}

interface Part {
  text: string;
  html: boolean;
}

/** The best text part of a (possibly multipart) entity: text/plain first, else text/html. */
function textPart(h: Headers, body: string, depth = 0): Part | null {
  const { type, params } = contentType(h);
  // Some spam carries MIME parts under a header that does not declare them: take the boundary from the body.
  const undeclared = /^(?:[^\n]*\n){0,3}?[ \t]*--([^\n]*?\S)[ \t]*\r?\nContent-Type:/i.exec(body);
  if (!type.startsWith('multipart/') && undeclared) {
    return textPart(new Map([['content-type', `multipart/mixed; boundary="${undeclared[1]}"`]]), body, depth + 1);
  }
  if (type.startsWith('multipart/') && params.get('boundary') && depth < 8) {
    const b = params.get('boundary')!;
    const chunks = body.split(new RegExp(`^--${b.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?:--)?[ \\t]*$`, 'm'));
    const parts = chunks
      .slice(1, -1)
      .map((c) => {
        const { head, body: pb } = splitMessage(c.replace(/^\r?\n/, ''));
        return textPart(parseHeaders(head), pb, depth + 1);
      })
      .filter((p): p is Part => p !== null);
    return parts.find((p) => !p.html) ?? parts[0] ?? null;
  }
  if (type !== 'text/plain' && type !== 'text/html' && type !== 'text') return null;
  if ((h.get('content-disposition') ?? '').toLowerCase().startsWith('attachment')) return null;
  const te = (h.get('content-transfer-encoding') ?? '').toLowerCase();
  let text = body;
  if (te === 'quoted-printable') text = decodeBytes(quotedPrintable(body), params.get('charset'));
  else if (te === 'base64') text = decodeBytes(base64(body), params.get('charset'));
  const html = type === 'text/html' || (type === 'text/plain' && /^\s*<(html|!doctype)/i.test(text));
  return { text: html ? htmlToText(text) : text, html };
}

const LIST_TAG = /^(\s*(?:(?:re|fw|fwd|aw)\s*:\s*)*)\[[^\]\n]{1,40}\]\s*/i;
const FOOTER_SEPARATOR = /^[ \t]*(?:_{10,}|-{10,}|={10,})[ \t]*$/gm;

/** Drops a trailing mailing-list footer: a separator line followed (within 800 characters) by list links. */
function stripFooter(body: string): { body: string; removed: boolean } {
  let cut = -1;
  for (const m of body.matchAll(FOOTER_SEPARATOR)) {
    const tail = body.slice(m.index);
    if (tail.length <= 800 && /listinfo|mailman|lists\.sourceforge\.net|sourceforge\.net\/lists/i.test(tail)) {
      cut = m.index;
      break;
    }
  }
  if (cut < 0) {
    // Yahoo! Groups footers have no separator line; their first line names the service
    const m = /\n[^\n]*(?:Yahoo! Groups Sponsor|Your use of Yahoo! Groups)[\s\S]{0,800}$/i.exec(body);
    if (m) cut = m.index;
  }
  return cut < 0 ? { body, removed: false } : { body: body.slice(0, cut), removed: true };
}

export function emailToText(raw: string): EmailText {
  const { head, body } = splitMessage(raw);
  const h = parseHeaders(head);
  let subject = decodeHeader(h.get('subject') ?? '')
    .replace(/\s+/g, ' ')
    .trim();
  let listTagRemoved = false;
  while (LIST_TAG.test(subject) && /\[[^\]]*\]/.test(subject.slice(0, 60))) {
    const next = subject.replace(LIST_TAG, '$1');
    if (next === subject) break;
    subject = next.trim();
    listTagRemoved = true;
  }
  const part = textPart(h, body) ?? { text: '', html: false };
  const footer = stripFooter(part.text);
  return {
    subject: normalizeWhitespace(subject),
    body: normalizeWhitespace(footer.body),
    listTagRemoved,
    footerRemoved: footer.removed,
    fromHtml: part.html,
  };
}

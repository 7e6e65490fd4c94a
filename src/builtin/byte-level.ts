// GPT-2's byte-level alphabet and pre-tokenization, as tokenizer.json's ByteLevel pre-tokenizer applies
// them: every byte is shown as one printable character (so a vocabulary entry like "Ġthe" is exactly the
// bytes " the"), and text is cut into words with GPT-2's regex before BPE merges run inside each word.
// The trainer must use the very same rules, or its merges would be learned on pieces the loader never sees.

/** GPT-2's pattern (contractions, letters, digits, other symbols, spaces), as transformers.js applies it. */
export const GPT2_PATTERN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** byte → its printable character (GPT-2's bytes_to_unicode). */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const map: string[] = new Array<string>(256);
  for (const b of printable) map[b] = String.fromCharCode(b);
  let extra = 0;
  for (let b = 0; b < 256; b++) if (map[b] === undefined) map[b] = String.fromCharCode(256 + extra++);
  return map;
})();

/** The words (pre-tokens) of a text, in order. */
export function preTokenize(text: string): string[] {
  return text.match(GPT2_PATTERN) ?? [];
}

/** The UTF-8 bytes of a word. */
export function wordBytes(word: string): Uint8Array {
  return new TextEncoder().encode(word);
}

// SASLprep (RFC 4013) exactly as PostgreSQL's pg_saslprep applies it to SCRAM passwords, quirks included.
import {
  L_CAT,
  MAPPED_TO_NOTHING,
  NON_ASCII_SPACE,
  PROHIBITED_OUTPUT,
  RAND_AL_CAT,
  UNASSIGNED_IN_UNICODE_3_2,
  type CodePointRanges,
} from "./saslprep-tables.ts";

/** True when `codePoint` lies in one of the sorted `ranges` (binary search). */
export function inTable(codePoint: number, ranges: CodePointRanges): boolean {
  let low = 0;
  let high = ranges.length - 1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    const [first, last] = ranges[middle]!;
    if (codePoint < first) high = middle - 1;
    else if (codePoint > last) low = middle + 1;
    else return true;
  }
  return false;
}

/**
 * The string PostgreSQL (server and libpq alike) feeds to PBKDF2 for `password`:
 * - pure ASCII (control characters included) is returned unchanged;
 * - otherwise non-ASCII spaces (C.1.2) become U+0020 and B.1 characters are removed, then the result
 *   is NFKC-normalised;
 * - like PostgreSQL, the prohibited-output (C.1.2, C.2–C.9), unassigned-in-Unicode-3.2 (A.1) and
 *   bidirectional (D.1/D.2) checks look at the mapped code points BEFORE normalisation;
 * - on any failure (lone surrogate, which UTF-8 cannot encode; empty after mapping; a prohibited or
 *   unassigned code point; a bidi violation) the raw password is returned unchanged, as PostgreSQL does.
 * Normalisation uses the runtime's Unicode tables: for code points assigned in Unicode 3.2 (the only
 * ones that reach it successfully) NFKC is stable across Unicode versions.
 */
export function saslPrep(password: string): string {
  if (isAscii(password)) return password;
  const mapped: number[] = [];
  for (const character of password) {
    const codePoint = character.codePointAt(0)!;
    if (codePoint >= 0xd800 && codePoint <= 0xdfff) return password; // lone surrogate: not valid UTF-8
    if (inTable(codePoint, NON_ASCII_SPACE)) mapped.push(0x20);
    else if (!inTable(codePoint, MAPPED_TO_NOTHING)) mapped.push(codePoint);
  }
  if (mapped.length === 0) return password;
  if (mapped.some((cp) => inTable(cp, PROHIBITED_OUTPUT) || inTable(cp, UNASSIGNED_IN_UNICODE_3_2))) return password;
  if (!bidiAllowed(mapped)) return password;
  return mapped.map((cp) => String.fromCodePoint(cp)).join("").normalize("NFKC");
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0x7f) return false;
  }
  return true;
}

// RFC 3454 section 6: with any RandALCat character, no LCat character, and RandALCat at both ends.
function bidiAllowed(codePoints: readonly number[]): boolean {
  if (!codePoints.some((cp) => inTable(cp, RAND_AL_CAT))) return true;
  if (codePoints.some((cp) => inTable(cp, L_CAT))) return false;
  return inTable(codePoints[0]!, RAND_AL_CAT) && inTable(codePoints[codePoints.length - 1]!, RAND_AL_CAT);
}

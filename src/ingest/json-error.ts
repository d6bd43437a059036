// JSON.parse on Node 20 does not say where a syntax error is. When it fails, this scanner walks the text
// once more and reports the first offending position, so clients can find the bad byte in a large body.

export interface JsonErrorLocation {
  offset: number;
  line: number;
  column: number;
  message: string;
}

class ScanError extends Error {
  constructor(
    readonly offset: number,
    message: string,
  ) {
    super(message);
  }
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const MAX_DEPTH = 1000;

function describe(ch: string | undefined): string {
  return ch === undefined ? 'end of input' : `character ${JSON.stringify(ch)}`;
}

function scan(text: string): void {
  let i = 0;
  const ws = () => {
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
  };
  const expect = (word: string) => {
    for (let k = 0; k < word.length; k++, i++) {
      if (text[i] !== word[k]) throw new ScanError(i, `unexpected ${describe(text[i])}, expected "${word}"`);
    }
  };
  const string = () => {
    i++; // opening quote
    for (;;) {
      if (i >= text.length) throw new ScanError(i, 'unterminated string');
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return;
      }
      if (c < 0x20) throw new ScanError(i, 'control character inside string (escape it)');
      if (c === 0x5c) {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6)))
            throw new ScanError(i, 'invalid \\u escape');
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) {
          i += 2;
        } else throw new ScanError(i, `invalid escape ${describe(e)}`);
        continue;
      }
      i++;
    }
  };
  const value = (depth: number): void => {
    if (depth > MAX_DEPTH) throw new ScanError(i, 'nesting too deep');
    ws();
    const ch = text[i];
    if (ch === '{') {
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') throw new ScanError(i, `unexpected ${describe(text[i])}, expected a quoted key`);
        string();
        ws();
        if (text[i] !== ':') throw new ScanError(i, `unexpected ${describe(text[i])}, expected ":"`);
        i++;
        value(depth + 1);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return;
        }
        throw new ScanError(i, `unexpected ${describe(text[i])}, expected "," or "}"`);
      }
    }
    if (ch === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value(depth + 1);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return;
        }
        throw new ScanError(i, `unexpected ${describe(text[i])}, expected "," or "]"`);
      }
    }
    if (ch === '"') string();
    else if (ch === 't') expect('true');
    else if (ch === 'f') expect('false');
    else if (ch === 'n') expect('null');
    else if (ch === '-' || (ch !== undefined && ch >= '0' && ch <= '9')) {
      NUMBER.lastIndex = i;
      if (!NUMBER.test(text)) throw new ScanError(i, 'invalid number');
      i = NUMBER.lastIndex;
    } else throw new ScanError(i, `unexpected ${describe(ch)}`);
  };
  value(0);
  ws();
  if (i < text.length) throw new ScanError(i, `unexpected ${describe(text[i])} after the JSON value`);
}

/** Where `text` stops being valid JSON, or null when it is valid. Line and column are 1-based. */
export function locateJsonError(text: string): JsonErrorLocation | null {
  try {
    scan(text);
    return null;
  } catch (err) {
    if (!(err instanceof ScanError)) throw err;
    let line = 1;
    let lineStart = 0;
    for (let k = 0; k < err.offset && k < text.length; k++) {
      if (text.charCodeAt(k) === 0x0a) {
        line++;
        lineStart = k + 1;
      }
    }
    return { offset: err.offset, line, column: err.offset - lineStart + 1, message: err.message };
  }
}

// The scanners below assume text already known to be valid JSON. They track depth without recursion, so
// nesting depth costs nothing.

function skipWs(text: string, i: number): number {
  while (i < text.length && ' \t\n\r'.includes(text[i] as string)) i++;
  return i;
}

function skipString(text: string, i: number): number {
  i++;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 0x5c) i += 2;
    else if (c === 0x22) return i + 1;
    else i++;
  }
  return i;
}

/** Skips the one value starting at i. */
function skipValue(text: string, i: number): number {
  const first = text.charCodeAt(i);
  if (first === 0x22) return skipString(text, i);
  if (first !== 0x7b && first !== 0x5b) {
    while (i < text.length && !',]} \t\n\r'.includes(text[i] as string)) i++;
    return i;
  }
  let depth = 0;
  do {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      i = skipString(text, i);
      continue;
    }
    if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) depth--;
    i++;
  } while (depth > 0 && i < text.length);
  return i;
}

/** The keys of a top-level JSON object, in order and with repeats, each with where its value starts. */
export function topLevelKeys(text: string): { key: string; valueStart: number }[] | null {
  let i = skipWs(text, 0);
  if (text[i] !== '{') return null;
  const keys: { key: string; valueStart: number }[] = [];
  i = skipWs(text, i + 1);
  if (text[i] === '}') return keys;
  for (;;) {
    i = skipWs(text, i);
    if (text[i] !== '"') return null;
    const keyStart = i;
    i = skipString(text, i);
    const key = JSON.parse(text.slice(keyStart, i)) as string;
    i = skipWs(text, skipWs(text, i) + 1); // past ':'
    keys.push({ key, valueStart: i });
    i = skipWs(text, skipValue(text, i));
    if (text[i] !== ',') return keys;
    i++;
  }
}

/**
 * Where each element of the records array sits in a body that is already known to be valid JSON: the
 * top-level array, or the value of "records" in a top-level object (the last one, as JSON.parse keeps).
 * Used to keep a rejected element's text exactly as sent (re-serialising can lose values such as 1e999 or
 * fail on deep nesting). Returns null when the body has no such array.
 */
export function recordSpans(text: string): [start: number, end: number][] | null {
  let i = skipWs(text, 0);
  if (text[i] === '{') {
    const records = topLevelKeys(text)?.findLast((k) => k.key === 'records');
    if (!records) return null;
    i = records.valueStart;
  }
  if (text[i] !== '[') return null;
  i++;
  const spans: [number, number][] = [];
  for (;;) {
    i = skipWs(text, i);
    if (text[i] === ']') return spans;
    const start = i;
    i = skipValue(text, i);
    spans.push([start, i]);
    i = skipWs(text, i);
    if (text[i] === ',') i++;
    else return spans;
  }
}

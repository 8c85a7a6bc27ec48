/**
 * JSON for one-line logs. Hostile input stays data: besides what JSON.stringify escapes
 * (quotes, backslash, C0 controls, lone surrogates), the C1 controls U+007F–U+009F (a
 * terminal may read U+009B as CSI) and the JavaScript line separators U+2028/U+2029 are
 * escaped too, so a line is always one valid JSON object that `tail -f` prints inertly.
 */

// Anything JSON.stringify would escape, or that we escape after it.
// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPE = /["\\\u0000-\u001f\u007f-\u009f\u2028\u2029\ud800-\udfff]/;
const EXTRA_ESCAPES = /[\u007f-\u009f\u2028\u2029]/g;

function unicodeEscape(ch: string): string {
  return `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/**
 * `value` as a JSON string literal, quotes included. Plain ASCII text costs one regex test.
 * @example jsonString('a\u001b[2J') // '"a\\u001b[2J"'
 */
export function jsonString(value: string): string {
  if (!NEEDS_ESCAPE.test(value)) return `"${value}"`;
  return JSON.stringify(value).replace(EXTRA_ESCAPES, unicodeEscape);
}

function circularSafe(): (key: string, value: unknown) => unknown {
  const seen = new WeakSet<object>();
  return (_key, value) => {
    if (typeof value === 'bigint') return value.toString();
    if (typeof value === 'object' && value !== null) {
      if (seen.has(value)) return '[Circular]';
      seen.add(value);
    }
    return value;
  };
}

/**
 * Any value as one line of JSON: BigInts become strings, cycles `"[Circular]"`,
 * `undefined` `null`, and the extra escapes above apply.
 * @example jsonValue({ n: 10n }) // '{"n":"10"}'
 */
export function jsonValue(value: unknown): string {
  if (typeof value === 'string') return jsonString(value);
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    text = JSON.stringify(value, circularSafe());
  }
  return text === undefined ? 'null' : text.replace(EXTRA_ESCAPES, unicodeEscape);
}

/** The subscription filter language (attribute conditions with AND / OR / NOT), parsed once into a predicate. */
import { invalidArgument } from './errors';

/** A parsed filter: true when a message with these attributes is delivered. */
export type MessageFilter = (attributes: Readonly<Record<string, string>>) => boolean;

/** The filter of a subscription without one: every message matches. */
export const matchAll: MessageFilter = () => true;

type Token =
  | { kind: 'word'; text: string; at: number }
  | { kind: 'string'; text: string; at: number }
  | { kind: 'symbol'; text: '(' | ')' | ',' | '.' | ':' | '=' | '!=' | '-'; at: number }
  | { kind: 'end'; at: number };

/**
 * The error the real service answers for a filter it can't parse: INVALID_ARGUMENT with the position
 * (1-based column) of the problem, so a person can find it in the expression.
 */
const syntaxError = (filter: string, at: number, problem: string) =>
  invalidArgument(`Invalid filter "${filter}": ${problem} at column ${at + 1}.`);

const simpleEscapes: Record<string, string> = {
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  '\\': '\\',
  '"': '"',
  "'": "'",
  '`': '`',
  '?': '?',
};

function tokenize(filter: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < filter.length) {
    const c = filter[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '"' || c === "'") {
      const start = i;
      let text = '';
      i++;
      for (;;) {
        if (i >= filter.length) throw syntaxError(filter, start, 'unterminated string literal');
        const d = filter[i]!;
        if (d === c) {
          i++;
          break;
        }
        if (d !== '\\') {
          text += d;
          i++;
          continue;
        }
        const e = filter[i + 1];
        if (e === undefined) throw syntaxError(filter, i, 'unterminated string literal');
        if (simpleEscapes[e] !== undefined) {
          text += simpleEscapes[e];
          i += 2;
        } else if (e === 'x' || e === 'X' || e === 'u' || e === 'U') {
          const digits = e === 'x' || e === 'X' ? 2 : e === 'u' ? 4 : 8;
          const hex = filter.slice(i + 2, i + 2 + digits);
          if (!new RegExp(`^[0-9a-fA-F]{${digits}}$`).test(hex)) throw syntaxError(filter, i, 'invalid escape sequence');
          const code = parseInt(hex, 16);
          if (code > 0x10ffff) throw syntaxError(filter, i, 'invalid escape sequence');
          text += String.fromCodePoint(code);
          i += 2 + digits;
        } else if (/[0-7]/.test(e)) {
          const octal = filter.slice(i + 1, i + 4);
          if (!/^[0-7]{3}$/.test(octal)) throw syntaxError(filter, i, 'invalid escape sequence');
          text += String.fromCharCode(parseInt(octal, 8));
          i += 4;
        } else {
          throw syntaxError(filter, i, 'invalid escape sequence');
        }
      }
      tokens.push({ kind: 'string', text, at: start });
    } else if (/[A-Za-z0-9_]/.test(c)) {
      // A word may contain "-" (keys such as ce-type); a "-" that starts one is the short form of NOT.
      const start = i;
      while (i < filter.length && /[A-Za-z0-9_-]/.test(filter[i]!)) i++;
      tokens.push({ kind: 'word', text: filter.slice(start, i), at: start });
    } else if (c === '!' && filter[i + 1] === '=') {
      tokens.push({ kind: 'symbol', text: '!=', at: i });
      i += 2;
    } else if ('(),.:=-'.includes(c)) {
      tokens.push({ kind: 'symbol', text: c as '(' | ')' | ',' | '.' | ':' | '=' | '-', at: i });
      i++;
    } else {
      throw syntaxError(filter, i, `unexpected character "${c}"`);
    }
  }
  tokens.push({ kind: 'end', at: filter.length });
  return tokens;
}

/**
 * Parses a filter as the real service documents it: `attributes:KEY` (has the key),
 * `attributes.KEY = "v"`, `attributes.KEY != "v"` (true when the key is absent),
 * `hasPrefix(attributes.KEY, "p")`, `NOT` (or `-`), `AND`, `OR` and parentheses; AND and OR may not be
 * mixed without parentheses. A key with characters other than letters, digits, `-` and `_` is written
 * as a string literal. Throws INVALID_ARGUMENT naming the column of the first error. An empty filter
 * matches every message.
 */
export function parseFilter(filter: string): MessageFilter {
  if (filter.trim() === '') return matchAll;
  const tokens = tokenize(filter);
  let next = 0;
  const peek = (): Token => tokens[next]!;
  const take = (): Token => tokens[next++]!;
  const describe = (token: Token): string =>
    token.kind === 'end' ? 'the end of the filter' : token.kind === 'string' ? 'a string literal' : `"${token.text}"`;
  const fail = (token: Token, expected: string) => syntaxError(filter, token.at, `expected ${expected}, found ${describe(token)}`);
  const isWord = (token: Token, text: string): boolean => token.kind === 'word' && token.text === text;
  const isSymbol = (token: Token, text: string): boolean => token.kind === 'symbol' && token.text === text;
  const expectSymbol = (text: string): void => {
    const token = take();
    if (!isSymbol(token, text)) throw fail(token, `"${text}"`);
  };
  const stringLiteral = (): string => {
    const token = take();
    if (token.kind !== 'string') throw fail(token, 'a string literal');
    return token.text;
  };
  const key = (): string => {
    const token = take();
    if (token.kind === 'string' || (token.kind === 'word' && /^[A-Za-z0-9_-]+$/.test(token.text))) return token.text;
    throw fail(token, 'an attribute key');
  };
  const attributesWord = (): void => {
    const token = take();
    if (!isWord(token, 'attributes')) throw fail(token, '"attributes"');
  };

  function expression(): MessageFilter {
    const first = term();
    const operator = peek();
    if (!isWord(operator, 'AND') && !isWord(operator, 'OR')) return first;
    const kind = (operator as { text: string }).text;
    const terms = [first];
    while (isWord(peek(), 'AND') || isWord(peek(), 'OR')) {
      const joiner = take();
      if ((joiner as { text: string }).text !== kind) {
        throw syntaxError(filter, joiner.at, 'AND and OR must be grouped with parentheses when combined');
      }
      terms.push(term());
    }
    return kind === 'AND' ? (a) => terms.every((t) => t(a)) : (a) => terms.some((t) => t(a));
  }

  function term(): MessageFilter {
    const token = peek();
    if (isWord(token, 'NOT') || isSymbol(token, '-')) {
      take();
      const inner = term();
      return (a) => !inner(a);
    }
    if (isSymbol(token, '(')) {
      take();
      const inner = expression();
      expectSymbol(')');
      return inner;
    }
    if (isWord(token, 'hasPrefix')) {
      take();
      expectSymbol('(');
      attributesWord();
      expectSymbol('.');
      const name = key();
      expectSymbol(',');
      const prefix = stringLiteral();
      expectSymbol(')');
      return (a) => Object.hasOwn(a, name) && a[name]!.startsWith(prefix);
    }
    if (isWord(token, 'attributes')) {
      take();
      const access = take();
      if (isSymbol(access, ':')) {
        const name = key();
        return (a) => Object.hasOwn(a, name);
      }
      if (!isSymbol(access, '.')) throw fail(access, '"." or ":"');
      const name = key();
      const operator = take();
      if (isSymbol(operator, '=')) {
        const value = stringLiteral();
        return (a) => a[name] === value && Object.hasOwn(a, name);
      }
      if (isSymbol(operator, '!=')) {
        const value = stringLiteral();
        return (a) => !(Object.hasOwn(a, name) && a[name] === value);
      }
      throw fail(operator, '"=" or "!="');
    }
    throw fail(token, 'a condition (attributes…, hasPrefix(…), NOT or "(")');
  }

  const predicate = expression();
  const rest = peek();
  if (rest.kind !== 'end') throw fail(rest, 'AND, OR or the end of the filter');
  return predicate;
}

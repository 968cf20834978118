import { readFile } from 'node:fs/promises';
import { applyDefaults } from './defaults.js';
import type { ResolvedConfig } from './defaults.js';
import { ConfigError, ConfigErrorCode, ROOT_PATH } from './errors.js';
import type { ConfigProblem } from './errors.js';
import { formatPath, validateConfig } from './validate.js';

export { ConfigError } from './errors.js';

type Seg = string | number;

class JsonStop {
  constructor(
    readonly offset: number,
    readonly message: string,
  ) {}
}

interface DuplicateKey {
  readonly segs: readonly Seg[];
  readonly key: string;
  readonly first: number;
  readonly again: number;
}

/** Nesting deeper than this is not a configuration; stop before the stack does. */
const MAX_DEPTH = 512;
const NUMBER = /-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;

/**
 * A JSON syntax scanner run beside JSON.parse for what it does not tell:
 * where a syntax error is (V8 gives no position for some errors) and which
 * keys appear twice in one object (JSON.parse silently keeps the last, so a
 * second "subnets" would drop the first without a word).
 */
export function scanJson(text: string): { error?: { offset: number; message: string }; duplicates: DuplicateKey[] } {
  const duplicates: DuplicateKey[] = [];
  let i = 0;
  const ws = (): void => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const describe = (): string => (i >= text.length ? 'end of file' : JSON.stringify(text[i]));
  const string = (): string => {
    const start = i;
    i++;
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return JSON.parse(text.slice(start, i)) as string;
      }
      if (c < 0x20) throw new JsonStop(i, 'line break or control character inside a string (write it as \\n or \\uXXXX)');
      if (c === 0x5c) {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) throw new JsonStop(i, 'invalid \\u escape in string');
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else throw new JsonStop(i, `invalid escape \\${e ?? ''} in string`);
      } else i++;
    }
    throw new JsonStop(start, 'string is not closed');
  };
  const value = (segs: Seg[]): void => {
    if (segs.length > MAX_DEPTH) throw new JsonStop(i, `nested more than ${MAX_DEPTH} levels`);
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const seen = new Map<string, number>();
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') throw new JsonStop(i, text[i] === '}' ? 'trailing comma before "}"' : `expected a "quoted" key, found ${describe()}`);
        const at = i;
        const key = string();
        const first = seen.get(key);
        if (first !== undefined) duplicates.push({ segs: [...segs, key], key, first, again: at });
        else seen.set(key, at);
        ws();
        if (text[i] !== ':') throw new JsonStop(i, `expected ":" after key "${key}", found ${describe()}`);
        i++;
        value([...segs, key]);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return;
        }
        throw new JsonStop(i, `expected "," or "}" after the value of "${key}", found ${describe()}`);
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (let n = 0; ; n++) {
        ws();
        if (text[i] === ']') throw new JsonStop(i, 'trailing comma before "]"');
        value([...segs, n]);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return;
        }
        throw new JsonStop(i, `expected "," or "]" after an array item, found ${describe()}`);
      }
    }
    if (c === '"') {
      string();
      return;
    }
    for (const lit of ['true', 'false', 'null']) {
      if (text.startsWith(lit, i)) {
        i += lit.length;
        return;
      }
    }
    NUMBER.lastIndex = i;
    if (c !== undefined && /[-\d]/.test(c) && NUMBER.test(text)) {
      i = NUMBER.lastIndex;
      return;
    }
    throw new JsonStop(i, c === "'" ? "found ' where a value should be: JSON strings use double quotes" : `expected a value, found ${describe()}`);
  };
  try {
    value([]);
    ws();
    if (i < text.length) throw new JsonStop(i, `unexpected ${describe()} after the end of the document`);
  } catch (err) {
    if (err instanceof JsonStop) return { error: { offset: err.offset, message: err.message }, duplicates };
    throw err;
  }
  return { duplicates };
}

/** 1-based line and column of a character offset. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let k = 0; k < offset && k < text.length; k++) {
    if (text[k] === '\n') {
      line++;
      lineStart = k + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

function syntaxProblem(text: string, offset: number, message: string): ConfigProblem {
  const { line, column } = lineColumn(text, offset);
  return { path: ROOT_PATH, code: ConfigErrorCode.JSON_SYNTAX, message: `invalid JSON at line ${line}, column ${column}: ${message}`, line, column };
}

/**
 * Parses, validates and resolves configuration text. `source` names it in
 * the error (a file path, "request body"). Throws ConfigError listing every problem.
 */
export function parseConfigText(text: string, source = 'configuration'): ResolvedConfig {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const scan = scanJson(body);
  if (scan.error !== undefined) throw new ConfigError(source, [syntaxProblem(body, scan.error.offset, scan.error.message)]);
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch (err) {
    // Only reachable if the scanner and V8 disagree; V8's message then stands.
    const m = /position (\d+)/.exec((err as Error).message);
    throw new ConfigError(source, [syntaxProblem(body, m ? Number(m[1]) : body.length, (err as Error).message)], { cause: err });
  }
  const problems: ConfigProblem[] = scan.duplicates.map((d) => {
    const first = lineColumn(body, d.first);
    const again = lineColumn(body, d.again);
    return {
      path: formatPath(d.segs),
      code: ConfigErrorCode.DUPLICATE_KEY,
      message: `key "${d.key}" appears twice in one object (line ${first.line} and line ${again.line}); JSON keeps only the last, so merge them`,
      line: again.line,
      column: again.column,
    };
  });
  const result = validateConfig(raw);
  if (!result.ok) problems.push(...result.problems);
  if (problems.length > 0 || !result.ok) throw new ConfigError(source, problems);
  return applyDefaults(result.config);
}

function readFailure(path: string, err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT':
      return `cannot read ${path}: no such file`;
    case 'EACCES':
    case 'EPERM':
      return `cannot read ${path}: permission denied`;
    case 'EISDIR':
      return `cannot read ${path}: it is a directory, not a file`;
    default:
      return `cannot read ${path}: ${(err as Error).message}`;
  }
}

/** Reads a configuration file; throws ConfigError (CONFIG_ERR_INVALID) with every problem found. */
export async function loadConfigFile(path: string): Promise<ResolvedConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, [{ path: ROOT_PATH, code: ConfigErrorCode.READ, message: readFailure(path, err) }], { cause: err });
  }
  return parseConfigText(text, path);
}

let embedded: ResolvedConfig | undefined;

/**
 * The configuration `dcplane serve` runs with when no --config is given:
 * DHCP and TFTP off, so a fresh start never answers on a real network, and
 * the API on 127.0.0.1:8080 only.
 */
export function defaultConfig(): ResolvedConfig {
  embedded ??= applyDefaults({ dhcp: { enabled: false }, tftp: { enabled: false } });
  return embedded;
}

import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { checkPasswordPolicy } from './passwords.js';
import type { PasswordHasher } from './passwords.js';
import type { AuthStore, UserRecord } from './store.js';

export const ADMIN_PASSWORD_ENV = 'DCPLANE_ADMIN_PASSWORD';
export const INITIAL_ADMIN_PASSWORD_FILE = 'initial-admin-password';
export const DEFAULT_ADMIN_USERNAME = 'admin';

export interface BootstrapOptions {
  readonly store: AuthStore;
  readonly hasher: PasswordHasher;
  readonly dataDir: string;
  /** Where DCPLANE_ADMIN_PASSWORD is read from; `process.env` by default. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Where a generated password is announced; stdout by default. */
  readonly print?: (line: string) => void;
  readonly username?: string;
}

export type BootstrapResult =
  | { readonly created: false }
  | {
      readonly created: true;
      readonly user: UserRecord;
      readonly source: 'env' | 'generated';
      /** Set for a generated password: the file holding it. */
      readonly passwordFile?: string;
    };

/**
 * Creates the first admin when there is none; does nothing when one exists
 * (every start calls it). There is no default password: it is
 * DCPLANE_ADMIN_PASSWORD (which must pass the password policy, else
 * AUTH_ERR_WEAK_PASSWORD and nothing is created), or 32 random base64url
 * characters (192 bits), printed once and written to
 * `<dataDir>/initial-admin-password` (mode 0600) before the user is created,
 * so the password cannot be lost between the two.
 */
export async function bootstrapAdmin(options: BootstrapOptions): Promise<BootstrapResult> {
  const { store, hasher, dataDir } = options;
  const env = options.env ?? process.env;
  const username = options.username ?? DEFAULT_ADMIN_USERNAME;
  if ((await store.countAdmins()) > 0) return { created: false };

  const fromEnv = env[ADMIN_PASSWORD_ENV];
  if (fromEnv !== undefined && fromEnv !== '') {
    checkPasswordPolicy(fromEnv, username);
    const user = await store.createUser({
      username,
      password_hash: await hasher.hash(fromEnv),
      role: 'admin',
      tenant_ids: [],
    });
    return { created: true, user, source: 'env' };
  }

  const password = randomBytes(24).toString('base64url');
  const passwordFile = join(dataDir, INITIAL_ADMIN_PASSWORD_FILE);
  await writePrivateFile(passwordFile, `${password}\n`);
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  print(
    `dcplane: created the first admin user '${username}' with password ${password} ` +
      `(also in ${passwordFile}, mode 0600; change it and delete the file)`,
  );
  const user = await store.createUser({
    username,
    password_hash: await hasher.hash(password),
    role: 'admin',
    tenant_ids: [],
  });
  return { created: true, user, source: 'generated', passwordFile };
}

/** Writes a file readable by its owner only, atomically (temporary file, fsync, rename). */
async function writePrivateFile(file: string, content: string): Promise<void> {
  const dir = join(file, '..');
  await mkdir(dir, { recursive: true });
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(content);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await chmod(tmp, 0o600);
    await rename(tmp, file);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
}

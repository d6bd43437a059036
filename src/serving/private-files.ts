import { randomBytes } from 'node:crypto';
import { lstatSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Model files are executed by onnxruntime, and the temp directory is shared with every local user: a name
// there anyone can predict (a symlink planted at it, a directory made world-writable) must never be
// followed or trusted. Artifacts go into directories only this user can enter, through exclusive creation.

/** A temp directory (TMPDIR) that could not be made or is not safe to use; the message says which and why. */
export class PrivateDirError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PrivateDirError';
  }
}

const uid = () => process.getuid?.();

/**
 * `$TMPDIR/<name>`, created 0700, or when it exists already checked with lstat: a directory (not a
 * symlink), owned by this user, closed to group and others. Anything else is refused, never repaired.
 */
export function privateDir(name: string): string {
  const dir = join(tmpdir(), name);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST')
      throw new PrivateDirError(`cannot create ${dir} (TMPDIR): ${(err as Error).message}`);
  }
  const st = lstatSync(dir);
  if (st.isSymbolicLink())
    throw new PrivateDirError(`${dir} is a symlink; refusing to write models through it`);
  if (!st.isDirectory()) throw new PrivateDirError(`${dir} is not a directory`);
  const me = uid();
  if (me !== undefined && st.uid !== me)
    throw new PrivateDirError(`${dir} belongs to uid ${st.uid}, not to this user (uid ${me})`);
  if ((st.mode & 0o077) !== 0)
    throw new PrivateDirError(
      `${dir} is open to other users (mode ${(st.mode & 0o777).toString(8)}); it must be 700`,
    );
  return dir;
}

/** A new directory of its own under TMPDIR (mkdtemp: a random name, mode 0700); the caller removes it. */
export function freshPrivateDir(prefix: string): string {
  try {
    return mkdtempSync(join(tmpdir(), prefix));
  } catch (err) {
    throw new PrivateDirError(`cannot create a directory in ${tmpdir()} (TMPDIR): ${(err as Error).message}`);
  }
}

/**
 * Writes `bytes` as `path` without following anything found there: into a new file of a random name
 * (flag wx, mode 0600, so nothing existing is opened), then renamed over `path` (rename replaces a symlink,
 * it does not write through it). Readers of `path` never see a half-written file.
 */
export function writePrivateFile(path: string, bytes: Uint8Array): void {
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    writeFileSync(tmp, bytes, { flag: 'wx', mode: 0o600 });
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

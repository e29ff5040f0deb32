// A full file system or a used-up quota is the operator's to fix, not a bug: it becomes a 'config'
// error (exit 3) that names where meshca was writing and what to do.
import { configError, isMeshcaError, type MeshcaError } from '../errors.js';

export const DISK_FULL_CODE = 'FS_NO_SPACE';

const REASONS: Record<string, string> = {
  ENOSPC:
    'the file system is full (ENOSPC); free some space there or use another directory, then run meshca again',
  EDQUOT:
    "this user's disk quota is used up (EDQUOT); free some space or raise the quota, then run meshca again",
};

/**
 * The error to throw instead of `err` when it is ENOSPC or EDQUOT (or such an error already mapped,
 * now to be named by `where`); undefined for anything else.
 */
export function diskFullError(err: unknown, where: string): MeshcaError | undefined {
  const errno = (isMeshcaError(err) && err.code === DISK_FULL_CODE ? err.cause : err) as
    | NodeJS.ErrnoException
    | undefined;
  const reason = typeof errno?.code === 'string' ? REASONS[errno.code] : undefined;
  if (reason === undefined) return undefined;
  return configError(DISK_FULL_CODE, `no space left on ${where}: ${reason}`, errno);
}

// A failure in the CLI's words, about what the user typed (stderr), and as
// JSON (exit status 1).
import { errorReason, errorRecord } from '../errors';
import { shown } from '../fs/path-bytes';
import { pathFields } from './output';

/**
 * An error in the CLI's words, about `subject` (what the user typed): the
 * errno's description with any hint (no API names, no repeated path), a
 * DaxError's reason, a bad value's reason.
 */
export function describe(e: unknown, subject?: string): string {
  const x = e as NodeJS.ErrnoException & { reason?: string };
  const lead = subject === undefined ? '' : `${shown(subject)}: `;
  if (x?.code === 'ERR_INVALID_ARG_VALUE' && typeof x.reason === 'string' && subject !== undefined) return `${shown(subject)} ${shown(x.reason)}`;
  if (x?.code === 'ERR_DAX_SYSFS_FORMAT') return `${lead}${shown(x.message)}`;
  // The path the error is about, where it is not what the user typed (a root-only sysfs file...).
  const where = typeof x?.path === 'string' && x.path !== subject && typeof x.reason !== 'string' ? `${shown(x.path)}: ` : '';
  return `${lead}${where}${shown(errorReason(e))}`;
}

/**
 * A path that failed, as the JSON of every command that takes paths gives
 * it: the path as text and its exact bytes where they are not that text
 * (pathFields()), and the error (errorRecord()).
 */
export function pathFailure(text: string, e: unknown, key = 'path', base64Key = 'pathBase64'): Record<string, unknown> {
  return { ...pathFields(text, key, base64Key), error: errorRecord(e) };
}

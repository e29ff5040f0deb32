// The user PIN of a token, from the file the URI's pin-source names. The file must be private
// (0600 or tighter), as a key file would be; pin-value= is for tests only, since a PIN in a URI ends
// up in command lines, process lists and shell history.
import { readFile, stat } from 'node:fs/promises';
import { configError } from '../../errors.js';
import type { Pkcs11Uri } from './pkcs11-uri.js';

export async function readTokenPin(uri: Pkcs11Uri, allowPinValue: boolean): Promise<string> {
  if (uri.pinValue !== undefined) {
    if (!allowPinValue) {
      throw configError(
        'PKCS11_PIN_VALUE_REFUSED',
        `${uri.display}: pin-value= puts the PIN into command lines, process lists and shell history; write the PIN to a file (chmod 600) and use pin-source=file:/path/to/pin instead`,
      );
    }
    return uri.pinValue;
  }
  const path = uri.pinSource;
  if (path === undefined) {
    throw configError(
      'PKCS11_PIN_REQUIRED',
      `${uri.display}: no PIN; write the token's user PIN to a file (chmod 600) and add &pin-source=file:/path/to/pin`,
    );
  }
  let mode: number;
  let text: string;
  try {
    mode = (await stat(path)).mode;
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw configError(
      'PKCS11_PIN_FILE_UNREADABLE',
      `${uri.display}: cannot read the PIN file ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); put the token's user PIN there (chmod 600)`,
      err,
    );
  }
  if ((mode & 0o077) !== 0) {
    throw configError(
      'PKCS11_PIN_FILE_LOOSE',
      `${uri.display}: the PIN file ${path} is readable by others (mode ${(mode & 0o777).toString(8).padStart(4, '0')}); run "chmod 600 ${path}"`,
    );
  }
  // A trailing newline is how editors and `echo` write a file, not part of the PIN.
  return text.replace(/\r?\n$/, '');
}

// Watches a directory for changes the way Kubernetes and editors make them (plain writes, renames,
// and the `..data` symlink swap of mounted secrets), and calls back once per burst.
import { type FSWatcher, watch } from 'node:fs';

export interface DirectoryWatch {
  close(): void;
}

/**
 * Calls `onChange` `debounceMs` after the last event of a burst. fs.watch on the directory (not
 * the files) sees atomic replacements; a slow poll backs it up where inotify is unreliable
 * (network file systems, some container runtimes).
 */
export function watchDirectory(
  dir: string,
  onChange: () => void,
  opts: { debounceMs?: number; pollMs?: number } = {},
): DirectoryWatch {
  const debounceMs = opts.debounceMs ?? 200;
  let timer: NodeJS.Timeout | undefined;
  const fire = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(onChange, debounceMs);
  };
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dir, { persistent: false }, fire);
    watcher.on('error', () => {}); // the directory may vanish during a swap; the poll still runs
  } catch {
    watcher = undefined;
  }
  const poll = setInterval(onChange, opts.pollMs ?? 10_000);
  poll.unref();
  return {
    close() {
      watcher?.close();
      clearInterval(poll);
      if (timer) clearTimeout(timer);
    },
  };
}

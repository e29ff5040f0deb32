// watchMeshConfig on real files: good → bad (onError, the last good stays) → good (onChange), an
// editor's rename-on-save, Kubernetes' `..data` symlink swap, and reload() for SIGHUP.
import assert from 'node:assert/strict';
import { mkdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { test } from 'node:test';
import type { MeshcaError } from '../../src/errors.js';
import { loadMeshConfig } from '../../src/mesh/load-mesh-config.js';
import type { MeshConfigResult } from '../../src/mesh/types.js';
import { type MeshConfigWatch, watchMeshConfig } from '../../src/mesh/watch-mesh-config.js';
import { tempDir, write } from './mesh-fixtures.js';

type Event = { change: MeshConfigResult } | { error: MeshcaError };

/** Collects callbacks and hands them out in order; waiting is bounded so a lost event fails, not hangs. */
class Events {
  private readonly items: Event[] = [];
  private waiter: ((event: Event) => void) | undefined;

  push = (event: Event) => {
    if (this.waiter) {
      const waiter = this.waiter;
      this.waiter = undefined;
      waiter(event);
    } else {
      this.items.push(event);
    }
  };

  next(): Promise<Event> {
    const queued = this.items.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no callback from the watcher within 30 s')), 30_000);
      this.waiter = (event) => {
        clearTimeout(timer);
        resolve(event);
      };
    });
  }

  get pending(): number {
    return this.items.length;
  }
}

/** Writes as editors and kubectl do: a temp file renamed into place, so no reader sees half a file. */
function replaceFile(path: string, text: string): void {
  const temp = join(dirname(path), `.${basename(path)}.tmp`);
  writeFileSync(temp, text);
  renameSync(temp, path);
}

const proxyConfig = (namespace: string, signer: string) => `apiVersion: networking.istio.io/v1beta1
kind: ProxyConfig
metadata: {name: pc, namespace: ${namespace}}
spec:
  environmentVariables:
    ISTIO_META_CERT_SIGNER: example.com/${signer}
`;

function start(
  t: { after(fn: () => void): void },
  path: string,
  current?: MeshConfigResult,
): { events: Events; watch: MeshConfigWatch } {
  const events = new Events();
  const watch = watchMeshConfig(path, {
    debounceMs: 50,
    ...(current ? { current } : {}),
    onChange: (change) => events.push({ change }),
    onError: (error) => events.push({ error }),
  });
  t.after(() => watch.close());
  return { events, watch };
}

test('good → bad → good: the bad change is an error and the last good stays; the fix is a change', async (t) => {
  const dir = tempDir(t);
  const file = write(join(dir, 'foo.yaml'), proxyConfig('foo', 'one'));
  let current = await loadMeshConfig(dir);
  const initial = current;
  const { events } = start(t, dir, current);

  replaceFile(file, `${proxyConfig('foo', 'one')}---\nkind: Proxyconfig\n`);
  const bad = await events.next();
  assert.ok('error' in bad, 'a bad file gives onError');
  assert.equal(bad.error.code, 'MESH_CONFIG_INVALID');
  assert.equal(
    bad.error.message,
    `mesh configuration ${dir} has 1 problem; fix it and reload:\n  ${file}: document 2 (Proxyconfig): kind: "Proxyconfig" is not a kind meshca reads; did you mean ProxyConfig?`,
  );
  assert.equal(current, initial);

  replaceFile(file, proxyConfig('foo', 'two'));
  const good = await events.next();
  assert.ok('change' in good, 'the fixed file gives onChange');
  current = good.change;
  assert.equal(current.config.proxyConfigs.get('foo')?.certSigner, 'example.com/two');
  assert.equal(events.pending, 0);
});

test('a single watched file replaced by rename-on-save', async (t) => {
  const dir = tempDir(t);
  const file = write(join(dir, 'mesh.yaml'), proxyConfig('foo', 'one'));
  write(join(dir, 'other.yaml'), proxyConfig('bar', 'not-read'));
  const { events } = start(t, file, await loadMeshConfig(file));
  replaceFile(file, proxyConfig('foo', 'two'));
  const event = await events.next();
  assert.ok('change' in event);
  assert.deepEqual([...event.change.config.proxyConfigs.keys()], ['foo']);
  assert.equal(event.change.config.proxyConfigs.get('foo')?.certSigner, 'example.com/two');
});

test('a Kubernetes ConfigMap mount: the `..data` symlink swap', async (t) => {
  const dir = tempDir(t);
  write(join(dir, '..2024_01_01_00_00_00.1', 'mesh.yaml'), proxyConfig('foo', 'one'));
  symlinkSync('..2024_01_01_00_00_00.1', join(dir, '..data'));
  symlinkSync(join('..data', 'mesh.yaml'), join(dir, 'mesh.yaml'));
  const initial = await loadMeshConfig(dir);
  assert.equal(initial.config.proxyConfigs.get('foo')?.certSigner, 'example.com/one');
  const { events } = start(t, dir, initial);

  // What the kubelet does: a new timestamped folder, a new link to it, renamed over `..data`.
  mkdirSync(join(dir, '..2024_01_01_00_01_00.2'));
  writeFileSync(join(dir, '..2024_01_01_00_01_00.2', 'mesh.yaml'), proxyConfig('foo', 'two'));
  symlinkSync('..2024_01_01_00_01_00.2', join(dir, '..data_tmp'));
  renameSync(join(dir, '..data_tmp'), join(dir, '..data'));

  const event = await events.next();
  assert.ok('change' in event);
  assert.equal(event.change.config.proxyConfigs.get('foo')?.certSigner, 'example.com/two');
});

test('reload() always reports, even without a change; after close() nothing is reported', async (t) => {
  const dir = tempDir(t);
  const file = write(join(dir, 'mesh.yaml'), proxyConfig('foo', 'one'));
  const initial = await loadMeshConfig(dir);
  const { events, watch } = start(t, dir, initial);

  await watch.reload();
  const same = await events.next();
  assert.ok('change' in same);
  assert.deepEqual(same.change, initial);

  replaceFile(file, 'kind: [');
  const bad = await events.next();
  assert.ok('error' in bad);
  await watch.reload();
  const again = await events.next();
  assert.ok('error' in again, 'a forced reload repeats the error the watcher already reported');
  assert.equal(again.error.message, bad.error.message);

  watch.close();
  replaceFile(file, proxyConfig('foo', 'three'));
  await watch.reload();
  assert.equal(events.pending, 0);
});

// `meshca serve`'s options for the issuance log (--issuance-log and its -dir, -segment-size, -retain
// and -checkpoint-interval), with Istio-style environment variables; on by default in the
// data-directory home, only where told in the Kubernetes home.
import { join, resolve } from 'node:path';
import { str } from './args.js';
import type { CliContext } from './context.js';
import { parseDurationSeconds } from './duration.js';
import { pick, pickOptional, type SettingsProblems } from './settings.js';

export interface IssuanceLogServeSettings {
  dir: string;
  segmentBytes: number;
  retainSegments: number;
  checkpointIntervalMs: number;
}

export const ISSUANCE_LOG_OPTIONS = {
  'issuance-log': { type: 'string' },
  'issuance-log-dir': { type: 'string' },
  'issuance-log-segment-size': { type: 'string' },
  'issuance-log-retain': { type: 'string' },
  'issuance-log-checkpoint-interval': { type: 'string' },
} as const;

export const ISSUANCE_LOG_HELP = [
  '--issuance-log on|off        the tamper-evident log of every certificate issued (env MESHCA_ISSUANCE_LOG, default on;',
  '                             in the Kubernetes home only when --issuance-log-dir is given). See "meshca log"',
  '--issuance-log-dir DIR       where it is kept (env MESHCA_ISSUANCE_LOG_DIR, default <data-dir>/log)',
  '--issuance-log-segment-size N  start a new segment past N bytes (K, M, G suffixes; env MESHCA_ISSUANCE_LOG_SEGMENT_SIZE, default 64M)',
  '--issuance-log-retain N      keep the newest N segments, 0 = all (env MESHCA_ISSUANCE_LOG_RETAIN, default 0)',
  '--issuance-log-checkpoint-interval DUR  sign a checkpoint this often (env MESHCA_ISSUANCE_LOG_CHECKPOINT_INTERVAL, default 1m)',
];

const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** The issuance log settings; on by default in the data-directory home. */
export function resolveIssuanceLog(
  values: Record<string, unknown>,
  ctx: CliContext,
  dataDir: string,
  kubernetes: boolean,
  problems: SettingsProblems,
): IssuanceLogServeSettings | null {
  const env = ctx.env;
  const onOff = pick(str(values['issuance-log']), env, 'MESHCA_ISSUANCE_LOG', 'on');
  if (onOff.value !== 'on' && onOff.value !== 'off')
    problems.add(
      `${onOff.source === 'flag' ? '--issuance-log' : onOff.source} "${onOff.value}": use on or off`,
    );
  const dirFlag = pickOptional(str(values['issuance-log-dir']), env, 'MESHCA_ISSUANCE_LOG_DIR');
  // In a pod the data directory is usually not a volume: the log goes only where it is told to.
  if (onOff.value === 'off' || (kubernetes && dirFlag === undefined)) return null;
  const sizeText = pick(
    str(values['issuance-log-segment-size']),
    env,
    'MESHCA_ISSUANCE_LOG_SEGMENT_SIZE',
    '64M',
  );
  const size = /^\s*(\d+)\s*([kmg]?)i?b?\s*$/i.exec(sizeText.value);
  const segmentBytes = size ? Number(size[1]) * SIZE_UNITS[size[2]!.toLowerCase()]! : 0;
  if (!size || segmentBytes < 1)
    problems.add(
      `${sizeText.source === 'flag' ? '--issuance-log-segment-size' : sizeText.source} "${sizeText.value}": give a size in bytes, such as 64M or 1048576`,
    );
  const retainText = pick(str(values['issuance-log-retain']), env, 'MESHCA_ISSUANCE_LOG_RETAIN', '0');
  const retainSegments = Number(retainText.value);
  if (!/^\s*\d+\s*$/.test(retainText.value))
    problems.add(
      `${retainText.source === 'flag' ? '--issuance-log-retain' : retainText.source} "${retainText.value}": give a number of segments (0 keeps all)`,
    );
  const interval = pick(
    str(values['issuance-log-checkpoint-interval']),
    env,
    'MESHCA_ISSUANCE_LOG_CHECKPOINT_INTERVAL',
    '1m',
  );
  const checkpointSeconds = problems.try(
    () =>
      parseDurationSeconds(
        interval.value,
        interval.source === 'flag' ? '--issuance-log-checkpoint-interval' : interval.source,
      ),
    60,
  );
  return {
    dir: dirFlag === undefined ? join(dataDir, 'log') : resolve(ctx.cwd, dirFlag),
    segmentBytes,
    retainSegments,
    checkpointIntervalMs: checkpointSeconds * 1000,
  };
}

// Turns what the Kubernetes client throws into meshca's errors, naming the verb, the resource and
// the namespace, so a missing RBAC rule or an unreachable API server says what to fix.
import { configError, isMeshcaError, type MeshcaError, unavailable } from '../errors.js';

export interface KubeRequest {
  verb: 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete';
  /** Plural resource, with its group when not core: "secrets", "leases.coordination.k8s.io". */
  resource: string;
  namespace?: string;
  name?: string;
}

/** The HTTP status of a failed API call, or undefined when the server was not reached. */
export function statusOf(err: unknown): number | undefined {
  const e = err as { code?: unknown; statusCode?: unknown };
  if (typeof e?.code === 'number') return e.code;
  if (typeof e?.statusCode === 'number') return e.statusCode;
  return undefined;
}

export const isNotFound = (err: unknown) => statusOf(err) === 404;
export const isConflict = (err: unknown) => statusOf(err) === 409;

function describe(req: KubeRequest): string {
  const object = req.name ? `${req.resource}/${req.name}` : req.resource;
  return `${req.verb} ${object}${req.namespace ? ` in namespace ${req.namespace}` : ' (cluster-wide)'}`;
}

/** The API server's own words, when it sent a Status object. */
function serverMessage(err: unknown): string {
  const body = (err as { body?: unknown }).body;
  try {
    const status = typeof body === 'string' ? JSON.parse(body) : body;
    if (status && typeof status.message === 'string') return status.message;
  } catch {}
  return (err as Error).message ?? String(err);
}

export function kubeApiError(err: unknown, req: KubeRequest, server: string): MeshcaError {
  if (isMeshcaError(err)) return err;
  const status = statusOf(err);
  const what = describe(req);
  if (status === 403) {
    return configError(
      'KUBE_FORBIDDEN',
      `meshca may not ${what}: ${serverMessage(err)}; grant the verb "${req.verb}" on "${req.resource}"${req.namespace ? ` in namespace ${req.namespace}` : ''} to meshca's service account (see deploy/)`,
      err,
    );
  }
  if (status === 401) {
    return configError(
      'KUBE_UNAUTHORIZED',
      `the Kubernetes API server at ${server} refused meshca's credentials (401) to ${what}; check the kubeconfig's user or the service-account token`,
      err,
    );
  }
  if (status === undefined) {
    return unavailable(
      'KUBE_UNREACHABLE',
      `cannot reach the Kubernetes API server at ${server} to ${what}: ${(err as Error).message ?? err}; check that it is running and the kubeconfig's server address`,
      err,
    );
  }
  return unavailable(
    'KUBE_REQUEST_FAILED',
    `the Kubernetes API server answered ${status} to ${what}: ${serverMessage(err)}`,
    err,
  );
}

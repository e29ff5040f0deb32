// Who is calling the CA, once a credential has been checked: the one shape that authorization
// (identity asked for == caller's own) looks at, whatever proved it.

export interface Caller {
  namespace: string;
  serviceAccount: string;
  /** What proved the identity: a bearer token, or a client certificate the CA issued earlier. */
  via: 'token' | 'certificate';
  /** The token's `iss`, or `'client-certificate'`. */
  issuer: string;
  /** The token's `sub`, or the certificate's SPIFFE ID. */
  subject: string;
  /** The pod a pod-bound token was made for (for the log only; never used to authorize). */
  pod?: { name: string; uid?: string };
}

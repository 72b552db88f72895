/**
 * Reads the structured details of a gRPC status from the sidecar: the
 * `google.rpc.Status` in the `grpc-status-details-bin` trailer and its
 * `google.rpc.ErrorInfo` (domain `coresdk.dev`, reason = the engine's error
 * code). A status without that ErrorInfo did not come from the sidecar's
 * handlers: a transport failure, a proxy, or a client-side deadline.
 *
 * @packageDocumentation
 */
import protobuf from 'protobufjs';

/** The `ErrorInfo.domain` of every status the sidecar produces. */
export const SIDECAR_ERROR_DOMAIN = 'coresdk.dev';

/** The `google.rpc.ErrorInfo` of a sidecar status. */
export interface SidecarErrorInfo {
  /** The engine's stable error code, e.g. `ERR_TOKEN_EXPIRED`. */
  reason: string;
  /** `coresdk.dev`. */
  domain: string;
  /** Extra facts, e.g. `rfc6750_error`, `limit`. */
  metadata: Record<string, string>;
}

const root = protobuf.Root.fromJSON({
  nested: {
    google: {
      nested: {
        protobuf: {
          nested: { Any: { fields: { type_url: { type: 'string', id: 1 }, value: { type: 'bytes', id: 2 } } } },
        },
        rpc: {
          nested: {
            Status: {
              fields: {
                code: { type: 'int32', id: 1 },
                message: { type: 'string', id: 2 },
                details: { rule: 'repeated', type: 'google.protobuf.Any', id: 3 },
              },
            },
            ErrorInfo: {
              fields: {
                reason: { type: 'string', id: 1 },
                domain: { type: 'string', id: 2 },
                metadata: { keyType: 'string', type: 'string', id: 3 },
              },
            },
          },
        },
      },
    },
  },
} as protobuf.INamespace);
const StatusType = root.lookupType('google.rpc.Status');
const ErrorInfoType = root.lookupType('google.rpc.ErrorInfo');
const ERROR_INFO_URL = 'type.googleapis.com/google.rpc.ErrorInfo';

/** Anything with grpc-js's `Metadata.get`. */
export interface MetadataLike {
  get(key: string): Array<string | Buffer>;
}

/**
 * The sidecar's ErrorInfo in a status's trailers, or `undefined` when there
 * is none (or it is not the sidecar's, or it does not parse).
 */
export function sidecarErrorInfo(metadata: MetadataLike | undefined): SidecarErrorInfo | undefined {
  const raw = metadata?.get('grpc-status-details-bin')[0];
  if (raw === undefined || typeof raw === 'string') return undefined;
  try {
    const status = StatusType.toObject(StatusType.decode(raw), { defaults: true }) as {
      details: Array<{ type_url: string; value: Uint8Array }>;
    };
    for (const any of status.details) {
      if (any.type_url !== ERROR_INFO_URL) continue;
      const info = ErrorInfoType.toObject(ErrorInfoType.decode(any.value), { defaults: true }) as SidecarErrorInfo;
      if (info.domain === SIDECAR_ERROR_DOMAIN) return { reason: info.reason, domain: info.domain, metadata: info.metadata };
    }
  } catch {
    return undefined;
  }
  return undefined;
}

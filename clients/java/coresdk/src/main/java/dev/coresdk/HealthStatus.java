package dev.coresdk;

/** What {@link CoreSDKClient#health()} reports. */
public enum HealthStatus {
  /** The sidecar serves (it has signing keys and a policy bundle). */
  SERVING,
  /** The sidecar answered but does not serve yet (or any more). */
  NOT_SERVING,
  /** The sidecar could not be reached. */
  UNREACHABLE
}

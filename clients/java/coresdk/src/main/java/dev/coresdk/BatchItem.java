package dev.coresdk;

/**
 * One query of a batch ({@link CoreSDKClient#evaluatePolicies}).
 *
 * @param query the Rego query, e.g. {@code data.authz.allow}
 * @param input the input document ({@code null} for none): maps, lists, strings, numbers, booleans
 */
public record BatchItem(String query, Object input) {
  /**
   * A batch item.
   *
   * @param query the Rego query
   * @param input the input document
   * @return the item
   */
  public static BatchItem of(String query, Object input) {
    return new BatchItem(query, input);
  }
}

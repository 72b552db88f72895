package dev.coresdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.coresdk.internal.Json;
import dev.coresdk.support.Repo;
import dev.coresdk.support.World;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The value corpus (clients/conformance/values.json) through the real sidecar: evaluatePolicy,
 * evaluatePolicies and authorize must each give exactly the corpus's JSON with every digit kept (Long,
 * BigInteger beyond 64 bits, Double otherwise, -0.0 kept). The Node, Python and Go suites run the same corpus.
 */
class ValuesTest {
  private static final World W = World.get();

  @SuppressWarnings("unchecked")
  private static List<Map<String, Object>> corpus() throws IOException {
    String text = Files.readString(Repo.root().resolve("clients/conformance/values.json"));
    Map<String, Object> doc = (Map<String, Object>) Json.parse(text);
    return (List<Map<String, Object>>) doc.get("cases");
  }

  @Test
  void valuesAreExactOnEveryCall() throws IOException {
    List<Map<String, Object>> cases = corpus();
    try (CoreSDKClient sdk = CoreSDKClient.create(W.config("up", FailMode.CLOSED).build())) {
      List<BatchItem> items = new ArrayList<>();
      for (Map<String, Object> c : cases) {
        items.add(BatchItem.of((String) c.get("query"), Map.of()));
      }
      List<BatchResult> batch = sdk.evaluatePolicies(items);
      for (int i = 0; i < cases.size(); i++) {
        Map<String, Object> c = cases.get(i);
        String query = (String) c.get("query");
        boolean undefined = Boolean.TRUE.equals(c.get("undefined"));
        Object expected = undefined ? null : Json.parse((String) c.get("json"));
        Decision d = sdk.evaluatePolicy(query, Map.of());
        AuthorizeResult a = sdk.authorize(W.tokens.get("valid"), query, Map.of());
        assertTrue(batch.get(i).ok(), query);
        assertEquals(!undefined, d.defined(), query + " via evaluatePolicy");
        assertEquals(!undefined, batch.get(i).decision().defined(), query + " via evaluatePolicies");
        assertEquals(!undefined, a.defined(), query + " via authorize");
        // equals tells Long from Double and -0.0 from 0.0.
        assertEquals(expected, d.value(), query + " via evaluatePolicy");
        assertEquals(expected, batch.get(i).decision().value(), query + " via evaluatePolicies");
        assertEquals(expected, a.value(), query + " via authorize");
      }
    }
  }

  @Test
  void bigIntegersKeepEveryDigit() {
    try (CoreSDKClient sdk = CoreSDKClient.create(W.config("up", FailMode.CLOSED).build())) {
      assertEquals(9007199254740993L, sdk.evaluatePolicy("data.values.big", null).value());
      assertEquals(new BigInteger("18446744073709551615"), sdk.evaluatePolicy("data.values.u64_max", null).value());
      assertEquals(-0.0d, sdk.evaluatePolicy("data.values.neg_zero", null).value());
      assertEquals(List.of(9007199254740993L, 1L, Map.of("k", new BigInteger("12345678901234567890"), "n", -1L)),
          sdk.evaluatePolicy("data.values.mixed", null).value());
    }
  }
}

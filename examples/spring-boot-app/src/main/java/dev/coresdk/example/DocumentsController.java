package dev.coresdk.example;

import dev.coresdk.CoreSDKClient;
import dev.coresdk.Decision;
import dev.coresdk.servlet.CoreSDKFilter;
import jakarta.servlet.http.HttpServletRequest;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PutMapping;
import org.springframework.web.bind.annotation.RestController;

/** The example's routes. */
@RestController
public class DocumentsController {
  private final CoreSDKClient sdk;

  /**
   * The controller.
   *
   * @param sdk the starter's client
   */
  public DocumentsController(CoreSDKClient sdk) {
    this.sdk = sdk;
  }

  /**
   * Who is calling ({@code null} claims when the sidecar is unreachable and the fail mode is open).
   *
   * @param request the request
   * @return the claims
   */
  @GetMapping("/me")
  public Map<String, Object> me(HttpServletRequest request) {
    Map<String, Object> out = new HashMap<>();
    out.put("claims", CoreSDKFilter.claims(request));
    return out;
  }

  /**
   * Readable by admins, any role granting read on documents, and the document's owner.
   *
   * @param id the document
   * @param request the request
   * @return the document
   */
  @GetMapping("/documents/{id}")
  public Map<String, Object> read(@PathVariable String id, HttpServletRequest request) {
    Map<String, Object> claims = CoreSDKFilter.claims(request);
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("document", id);
    out.put("reader", claims == null ? null : claims.get("sub"));
    return out;
  }

  /**
   * Writable by admins, editors and the owner.
   *
   * @param id the document
   * @return what was done
   */
  @PutMapping("/documents/{id}")
  public Map<String, Object> write(@PathVariable String id) {
    return Map.of("document", id, "written", true);
  }

  /**
   * A decision without a token check in the path: what the policy says for a fixed input.
   *
   * @return the decision
   */
  @GetMapping("/decide")
  public Map<String, Object> decide() {
    Decision d = sdk.evaluatePolicy("data.authz.allow", Map.of(
        "user", Map.of("id", "alice", "roles", List.of("viewer")),
        "action", "read",
        "resource", Map.of("type", "document")));
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("allowed", d.allowed());
    out.put("value", d.value());
    out.put("revision", d.revision());
    return out;
  }
}

package dev.coresdk.example;

import dev.coresdk.spring.CoreSDKAuthorization;
import java.util.Map;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.http.HttpMethod;
import org.springframework.security.config.annotation.web.builders.HttpSecurity;
import org.springframework.security.config.http.SessionCreationPolicy;
import org.springframework.security.web.SecurityFilterChain;

/**
 * The starter's CoreSDK filter has verified the bearer token before this chain runs (401/400 problems otherwise);
 * each document route asks the example bundle's {@code data.authz.allow} (examples/policies).
 */
@Configuration
public class SecurityConfig {
  /**
   * The API's security: stateless, no CSRF (bearer tokens), a policy per document route.
   *
   * @param http the builder
   * @param coresdk the starter's policy managers
   * @return the chain
   * @throws Exception from the builder
   */
  @Bean
  SecurityFilterChain api(HttpSecurity http, CoreSDKAuthorization coresdk) throws Exception {
    return http.csrf(c -> c.disable())
        .sessionManagement(s -> s.sessionCreationPolicy(SessionCreationPolicy.STATELESS))
        .authorizeHttpRequests(a -> a
            .requestMatchers(HttpMethod.GET, "/documents/{id}")
            .access(coresdk.policy("data.authz.allow", ctx -> document("read", ctx.getVariables().get("id"))))
            .requestMatchers(HttpMethod.PUT, "/documents/{id}")
            .access(coresdk.policy("data.authz.allow", ctx -> document("write", ctx.getVariables().get("id"))))
            .anyRequest().permitAll())
        .build();
  }

  private static Map<String, Object> document(String action, String id) {
    return Map.of("action", action, "resource", Map.of("type", "document", "id", id));
  }
}

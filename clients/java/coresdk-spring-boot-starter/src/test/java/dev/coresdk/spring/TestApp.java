package dev.coresdk.spring;

import dev.coresdk.servlet.CoreSDKFilter;
import dev.coresdk.support.World;
import jakarta.servlet.http.HttpServletRequest;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.context.annotation.Bean;
import org.springframework.http.HttpMethod;
import org.springframework.security.config.annotation.web.builders.HttpSecurity;
import org.springframework.security.config.http.SessionCreationPolicy;
import org.springframework.security.web.SecurityFilterChain;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestMethod;
import org.springframework.web.bind.annotation.RestController;

/** The conformance file's routes as a Spring Security app: one {@code .access(coresdk.policy(...))} per route. */
@SpringBootApplication
public class TestApp {
  /**
   * The security chain.
   *
   * @param http the builder
   * @param coresdk the starter's managers
   * @return the chain
   * @throws Exception from the builder
   */
  @Bean
  @SuppressWarnings("unchecked")
  SecurityFilterChain chain(HttpSecurity http, CoreSDKAuthorization coresdk) throws Exception {
    List<Object> routes = (List<Object>) World.get().setup.get("routes");
    return http.csrf(c -> c.disable())
        .sessionManagement(s -> s.sessionCreationPolicy(SessionCreationPolicy.STATELESS))
        .authorizeHttpRequests(a -> {
          for (Object o : routes) {
            Map<String, Object> r = (Map<String, Object>) o;
            Map<String, Object> input = (Map<String, Object>) r.get("input");
            a.requestMatchers(HttpMethod.valueOf((String) r.get("method")), (String) r.get("path"))
                .access(coresdk.policy((String) r.get("query"), ctx -> input));
          }
          a.anyRequest().permitAll();
        })
        .build();
  }

  /** The routes' handler. */
  @RestController
  public static class Orders {
    /** Made by Spring. */
    public Orders() {}

    /**
     * {@code {"claims": ...}}.
     *
     * @param request the request
     * @return the body
     */
    @RequestMapping(path = "/orders/{id}", method = {RequestMethod.GET, RequestMethod.POST})
    public Map<String, Object> order(HttpServletRequest request) {
      Map<String, Object> out = new HashMap<>();
      out.put("claims", CoreSDKFilter.claims(request));
      return out;
    }
  }
}

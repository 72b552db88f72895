package dev.coresdk.spring;

import jakarta.servlet.http.HttpServletRequest;
import org.springframework.context.ApplicationContext;
import org.springframework.security.config.annotation.web.builders.HttpSecurity;
import org.springframework.security.config.annotation.web.configurers.AbstractHttpConfigurer;
import org.springframework.security.config.annotation.web.configurers.ExceptionHandlingConfigurer;
import org.springframework.security.web.util.matcher.RequestMatcher;

/**
 * Applied by Spring Security to every {@code HttpSecurity} (listed in {@code META-INF/spring.factories}): for the
 * requests a {@link CoreSDKAuthorization} manager denied, and only those, the problem handler answers, so that a
 * {@code .access(coresdk.policy(...))} line is all an application writes.
 */
public final class CoreSDKHttpConfigurer extends AbstractHttpConfigurer<CoreSDKHttpConfigurer, HttpSecurity> {
  /** Made by Spring Security's loader. */
  public CoreSDKHttpConfigurer() {}

  /**
   * Registers the problem handler as a default for denied CoreSDK requests.
   *
   * @param http the builder
   * @throws Exception from the builder
   */
  @Override
  @SuppressWarnings("unchecked")
  public void init(HttpSecurity http) throws Exception {
    ApplicationContext ctx = http.getSharedObject(ApplicationContext.class);
    if (ctx == null || ctx.getBeanNamesForType(CoreSDKAuthorization.class).length == 0) {
      return;
    }
    CoreSDKAuthorization.ProblemHandler handler = ctx.getBean(CoreSDKAuthorization.class).problemHandler();
    RequestMatcher denied = (HttpServletRequest r) -> r.getAttribute(CoreSDKAuthorization.PROBLEM_ATTRIBUTE) != null;
    ExceptionHandlingConfigurer<HttpSecurity> e = http.getConfigurer(ExceptionHandlingConfigurer.class);
    if (e != null) {
      e.defaultAccessDeniedHandlerFor(handler, denied);
      e.defaultAuthenticationEntryPointFor(handler, denied);
    }
  }
}

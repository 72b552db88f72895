package dev.coresdk.spring;

import static org.assertj.core.api.Assertions.assertThat;

import dev.coresdk.CoreSDKClient;
import dev.coresdk.FailMode;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.WebApplicationContextRunner;
import org.springframework.boot.web.servlet.FilterRegistrationBean;

/** The auto-configuration's beans and the {@code coresdk.*} properties, without a server. */
class AutoConfigurationTest {
  private final WebApplicationContextRunner runner =
      new WebApplicationContextRunner().withConfiguration(AutoConfigurations.of(CoreSDKAutoConfiguration.class));

  @Test
  void propertiesConfigureTheClientAndTheFilter() {
    runner.withPropertyValues("coresdk.sidecar-addr=127.0.0.1:7777", "coresdk.fail-mode=closed",
        "coresdk.timeout-ms=250", "coresdk.tenant-id=globex", "coresdk.filter.url-patterns=/api/*")
        .run(ctx -> {
          CoreSDKClient client = ctx.getBean(CoreSDKClient.class);
          assertThat(client.config().sidecarAddr()).isEqualTo("127.0.0.1:7777");
          assertThat(client.config().failMode()).isEqualTo(FailMode.CLOSED);
          assertThat(client.config().timeoutMs()).isEqualTo(250);
          assertThat(client.config().tenantId()).isEqualTo("globex");
          FilterRegistrationBean<?> reg = ctx.getBean("coreSDKFilter", FilterRegistrationBean.class);
          assertThat(reg.getUrlPatterns()).containsExactly("/api/*");
          assertThat(reg.getOrder()).isEqualTo(-110);
          assertThat(ctx).hasSingleBean(CoreSDKAuthorization.class);
        });
  }

  @Test
  void defaultsAndTheFilterSwitch() {
    runner.withPropertyValues("coresdk.filter.enabled=false").run(ctx -> {
      assertThat(ctx.getBean(CoreSDKClient.class).config().sidecarAddr()).isEqualTo("[::1]:50051");
      assertThat(ctx.getBean(CoreSDKClient.class).config().failMode()).isEqualTo(FailMode.OPEN);
      assertThat(ctx).doesNotHaveBean("coreSDKFilter");
    });
  }

  @Test
  void aBadPropertyFailsTheContextWithTheKey() {
    runner.withPropertyValues("coresdk.sidecar-addr=10.0.0.1:50051").run(ctx -> {
      assertThat(ctx).hasFailed();
      assertThat(ctx.getStartupFailure()).hasRootCauseMessage(
          "CORESDK_SIDECAR_ADDR: 10.0.0.1:50051 is not loopback; the sidecar there needs mutual TLS"
              + " (set CORESDK_TLS_CA_FILE, CORESDK_TLS_CERT_FILE, CORESDK_TLS_KEY_FILE)");
    });
  }
}

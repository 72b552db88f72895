package dev.coresdk.spring;

import dev.coresdk.CoreSDKClient;
import dev.coresdk.servlet.CoreSDKFilter;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnWebApplication;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.web.servlet.FilterRegistrationBean;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * The CoreSDK auto-configuration: a {@link CoreSDKClient} from the {@code coresdk.*} properties (over
 * {@code coresdk.toml} and {@code CORESDK_*}), the {@link CoreSDKFilter} registered before Spring Security's filter
 * chain, and, with Spring Security on the classpath, {@link CoreSDKAuthorization}.
 */
@AutoConfiguration
@EnableConfigurationProperties(CoreSDKProperties.class)
public class CoreSDKAutoConfiguration {
  /** Made by Spring. */
  public CoreSDKAutoConfiguration() {}

  /**
   * The client (closed with the context).
   *
   * @param properties the {@code coresdk.*} properties
   * @return the client
   */
  @Bean(destroyMethod = "close")
  @ConditionalOnMissingBean
  public CoreSDKClient coreSDKClient(CoreSDKProperties properties) {
    return CoreSDKClient.create(properties.toConfig());
  }

  /**
   * The filter, on {@code coresdk.filter.url-patterns}, ordered before Spring Security.
   *
   * @param client the client
   * @param properties the properties
   * @return the registration
   */
  @Bean
  @ConditionalOnWebApplication(type = ConditionalOnWebApplication.Type.SERVLET)
  @ConditionalOnClass(name = "jakarta.servlet.Filter")
  @ConditionalOnProperty(prefix = "coresdk.filter", name = "enabled", matchIfMissing = true)
  @ConditionalOnMissingBean(name = "coreSDKFilter")
  public FilterRegistrationBean<CoreSDKFilter> coreSDKFilter(CoreSDKClient client, CoreSDKProperties properties) {
    CoreSDKProperties.Filter f = properties.filter();
    CoreSDKFilter filter =
        new CoreSDKFilter(
            client, CoreSDKFilter.options().requireToken(f.requireToken()).realm(f.realm()).build());
    FilterRegistrationBean<CoreSDKFilter> reg = new FilterRegistrationBean<>(filter);
    reg.setName("coreSDKFilter");
    reg.setUrlPatterns(f.urlPatterns());
    reg.setOrder(f.order());
    return reg;
  }

  /** With Spring Security: the policy {@code AuthorizationManager} factory. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass(name = "org.springframework.security.authorization.AuthorizationManager")
  public static class Security {
    /** Made by Spring. */
    public Security() {}

    /**
     * The authorization factory.
     *
     * @param client the client
     * @param properties the properties
     * @return the factory
     */
    @Bean
    @ConditionalOnMissingBean
    public CoreSDKAuthorization coreSDKAuthorization(CoreSDKClient client, CoreSDKProperties properties) {
      return new CoreSDKAuthorization(client, properties.filter().realm());
    }
  }
}

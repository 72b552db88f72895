package dev.coresdk.bench;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.jwk.source.JWKSource;
import com.nimbusds.jose.jwk.source.JWKSourceBuilder;
import com.nimbusds.jose.proc.JWSVerificationKeySelector;
import com.nimbusds.jose.proc.SecurityContext;
import com.nimbusds.jose.util.DefaultResourceRetriever;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.proc.DefaultJWTClaimsVerifier;
import com.nimbusds.jwt.proc.DefaultJWTProcessor;
import dev.coresdk.CoreSDKClient;
import dev.coresdk.FailMode;
import dev.coresdk.servlet.CoreSDKFilter;
import dev.coresdk.support.Pem;
import dev.coresdk.support.Sidecar;
import dev.coresdk.support.Tokens;
import dev.coresdk.support.World;
import jakarta.servlet.Filter;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.lang.reflect.Proxy;
import java.net.URI;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * One request through a servlet filter that verifies its bearer token: {@link CoreSDKFilter} through the real
 * sidecar (gRPC over mutual TLS 1.3), against the usual Java stack, Nimbus JOSE+JWT with a remote JWK set
 * (verification only: ES256 signature, issuer, audience, expiry), on the same tokens. Both filters get the same
 * in-memory request and answer by calling the chain.
 */
@State(Scope.Benchmark)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class FilterBench {
  private static final int TOKENS = 64;

  private CoreSDKClient client;
  private CoreSDKClient uncachedClient;
  private Sidecar uncached;
  private Filter coresdk;
  private Filter coresdkUncached;
  private Filter nimbus;
  private HttpServletRequest[] requests;
  private byte[][] signingInputs;
  private byte[][] signatures;
  private java.security.PublicKey publicKey;
  private HttpServletResponse response;
  private final AtomicInteger next = new AtomicInteger();
  private final AtomicInteger passed = new AtomicInteger();
  private final FilterChain chain = (req, res) -> passed.incrementAndGet();

  /**
   * Starts the sidecar and the JWKS server, mints the tokens, builds both filters.
   *
   * @throws Exception when setup fails
   */
  @Setup(Level.Trial)
  public void setup() throws Exception {
    World w = World.get();
    client = CoreSDKClient.create(w.config("up", FailMode.CLOSED).timeoutMs(2000).build());
    coresdk = new CoreSDKFilter(client);
    uncached = w.startSidecar(Map.of("CORESDK_TOKEN_CACHE_ENTRIES", "0"));
    String addr = uncached.addr;
    uncachedClient = CoreSDKClient.create(w.config("up", FailMode.CLOSED).sidecarAddr(addr).timeoutMs(2000).build());
    coresdkUncached = new CoreSDKFilter(uncachedClient);
    nimbus = nimbusFilter(w);
    requests = new HttpServletRequest[TOKENS];
    signingInputs = new byte[TOKENS][];
    signatures = new byte[TOKENS][];
    publicKey = w.key.pair.getPublic();
    long now = Tokens.now();
    for (int i = 0; i < TOKENS; i++) {
      Map<String, Object> claims = new LinkedHashMap<>();
      claims.put("iss", w.setup.get("issuer"));
      claims.put("aud", w.setup.get("audience"));
      claims.put("iat", now);
      claims.put("exp", now + 3600);
      claims.put("sub", "user-" + i);
      claims.put("role", "reader");
      String token = w.key.mint(claims);
      requests[i] = request(token);
      int dot = token.lastIndexOf('.');
      signingInputs[i] = token.substring(0, dot).getBytes(java.nio.charset.StandardCharsets.US_ASCII);
      signatures[i] = java.util.Base64.getUrlDecoder().decode(token.substring(dot + 1));
    }
    response = (HttpServletResponse) Proxy.newProxyInstance(
        getClass().getClassLoader(), new Class<?>[] {HttpServletResponse.class}, (p, m, a) -> defaultValue(m));
    for (HttpServletRequest r : requests) {
      coresdk.doFilter(r, response, chain);
      coresdkUncached.doFilter(r, response, chain);
      nimbus.doFilter(r, response, chain);
    }
    if (passed.get() != 3 * TOKENS) {
      throw new IllegalStateException("a filter refused a valid token: " + passed.get());
    }
  }

  /** Closes the clients and stops the sidecars (a JMH fork may end without running shutdown hooks). */
  @TearDown(Level.Trial)
  public void tearDown() {
    client.close();
    uncachedClient.close();
    uncached.close();
    World.get().close();
  }

  private static Object defaultValue(java.lang.reflect.Method m) {
    Class<?> t = m.getReturnType();
    if (t == boolean.class) {
      return false;
    }
    if (t == int.class) {
      return 0;
    }
    if (t == long.class) {
      return 0L;
    }
    return null;
  }

  private static HttpServletRequest request(String token) {
    Map<String, Object> attrs = Collections.synchronizedMap(new HashMap<>());
    String auth = "Bearer " + token;
    return (HttpServletRequest) Proxy.newProxyInstance(
        FilterBench.class.getClassLoader(), new Class<?>[] {HttpServletRequest.class}, (p, m, a) -> {
          switch (m.getName()) {
            case "getHeaders":
              return Collections.enumeration(
                  "Authorization".equalsIgnoreCase((String) a[0]) ? List.of(auth) : List.<String>of());
            case "getHeader":
              return "Authorization".equalsIgnoreCase((String) a[0]) ? auth : null;
            case "getRequestURI":
              return "/orders/1";
            case "getMethod":
              return "GET";
            case "getAttribute":
              return attrs.get((String) a[0]);
            case "setAttribute":
              if (a[1] == null) {
                attrs.remove((String) a[0]);
              } else {
                attrs.put((String) a[0], a[1]);
              }
              return null;
            case "hashCode":
              return System.identityHashCode(p);
            case "equals":
              return p == a[0];
            default:
              return defaultValue(m);
          }
        });
  }

  /** The usual stack: a filter over Nimbus's JWT processor with a remote (cached) JWK set over HTTPS. */
  private static Filter nimbusFilter(World w) throws Exception {
    DefaultResourceRetriever retriever =
        new DefaultResourceRetriever(2000, 2000, 0, true, Pem.trusting(w.pki.caFile).getSocketFactory());
    JWKSource<SecurityContext> keys = JWKSourceBuilder.create(URI.create(w.jwks.url).toURL(), retriever).build();
    DefaultJWTProcessor<SecurityContext> processor = new DefaultJWTProcessor<>();
    processor.setJWSKeySelector(new JWSVerificationKeySelector<>(JWSAlgorithm.ES256, keys));
    processor.setJWTClaimsSetVerifier(new DefaultJWTClaimsVerifier<>(
        (String) w.setup.get("audience"),
        new JWTClaimsSet.Builder().issuer((String) w.setup.get("issuer")).build(),
        Set.of("exp", "sub")));
    return new Filter() {
      @Override
      public void doFilter(ServletRequest req, ServletResponse res, FilterChain chain)
          throws IOException, ServletException {
        HttpServletRequest r = (HttpServletRequest) req;
        String h = r.getHeader("Authorization");
        if (h == null || !h.regionMatches(true, 0, "Bearer ", 0, 7)) {
          ((HttpServletResponse) res).setStatus(401);
          return;
        }
        try {
          JWTClaimsSet claims = processor.process(h.substring(7).strip(), null);
          r.setAttribute("claims", claims.getClaims());
        } catch (Exception e) {
          ((HttpServletResponse) res).setStatus(401);
          return;
        }
        chain.doFilter(req, res);
      }
    };
  }

  private HttpServletRequest nextRequest() {
    return requests[Math.floorMod(next.getAndIncrement(), TOKENS)];
  }

  /**
   * CoreSDK: the filter verifies the token through the sidecar.
   *
   * @return the chain's count (kept live)
   * @throws Exception from the filter
   */
  @Benchmark
  public int coresdkFilterViaSidecar() throws Exception {
    coresdk.doFilter(nextRequest(), response, chain);
    return passed.get();
  }

  /**
   * CoreSDK with the sidecar's verified-token cache off ({@code CORESDK_TOKEN_CACHE_ENTRIES=0}): every call
   * verifies the signature, as Nimbus does.
   *
   * @return the chain's count (kept live)
   * @throws Exception from the filter
   */
  @Benchmark
  public int coresdkFilterViaSidecarNoTokenCache() throws Exception {
    coresdkUncached.doFilter(nextRequest(), response, chain);
    return passed.get();
  }

  /**
   * For reference: the JDK's ES256 signature check alone (what Nimbus spends most of its time in).
   *
   * @return whether it verified
   * @throws Exception from the JDK
   */
  @Benchmark
  public boolean jdkEs256VerifyOnly() throws Exception {
    int i = Math.floorMod(next.getAndIncrement(), TOKENS);
    java.security.Signature v = java.security.Signature.getInstance("SHA256withECDSAinP1363Format");
    v.initVerify(publicKey);
    v.update(signingInputs[i]);
    return v.verify(signatures[i]);
  }

  /**
   * Nimbus JOSE+JWT: the filter verifies the token in-process with the remote JWK set.
   *
   * @return the chain's count (kept live)
   * @throws Exception from the filter
   */
  @Benchmark
  public int nimbusJoseJwtFilter() throws Exception {
    nimbus.doFilter(nextRequest(), response, chain);
    return passed.get();
  }
}

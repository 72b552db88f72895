package dev.coresdk;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import com.fasterxml.jackson.dataformat.toml.TomlReadFeature;
import dev.coresdk.internal.Json;
import dev.coresdk.internal.contract.ConfigContract;
import dev.coresdk.internal.contract.ConfigContract.ClientKey;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;

/**
 * What {@link SDKConfig#fromEnv(Map)} does: the rule "clients read their own keys" of the configuration contract
 * ({@code proto/contract/config.json}, generated into {@link ConfigContract}), as the engine's
 * {@code SdkConfig::load_client} implements it.
 *
 * <ul>
 *   <li>The file is {@code CORESDK_CONFIG}, else {@code ./coresdk.toml} when it exists. Only the {@code [sdk]} keys
 *       whose readers include clients ({@link ConfigContract#CLIENT_KEYS}) are read and validated, with the contract's
 *       types and limits. Every other key the contract lists for a table ({@code sdk}, {@code sidecar},
 *       {@code sidecar.authzen}, {@code sidecar.clients.*}, {@code tenants.*}) is accepted without reading its value;
 *       a key or a table it does not list is {@code ERR_CONFIG} naming it ({@code sdk.fail_mod}, {@code sdks}).
 *   <li>Of the variables, only {@code CORESDK_<KEY>} of the client keys are read; they win over the file.
 *   <li>Relative TLS paths in the file resolve against the file's directory; in variables they stay as written.
 * </ul>
 *
 * <p>The TOML parser is jackson-dataformat-toml, relocated into the coresdk jar so that it never clashes with the
 * application's Jackson.
 */
final class ConfigLoader {
  private static final TomlMapper TOML = TomlMapper.builder().enable(TomlReadFeature.PARSE_JAVA_TIME).build();

  /** The contract's table names ({@code sidecar.clients.*}) and every prefix of them ({@code sidecar.clients}). */
  private static final Set<String> TABLES = tables();

  private ConfigLoader() {}

  private static Set<String> tables() {
    Set<String> out = new TreeSet<>();
    for (String name : ConfigContract.TABLE_KEYS.keySet()) {
      String[] parts = name.split("\\.");
      StringBuilder prefix = new StringBuilder();
      for (String p : parts) {
        prefix.append(prefix.length() == 0 ? "" : ".").append(p);
        out.add(prefix.toString());
      }
    }
    return out;
  }

  /**
   * Loads the client settings.
   *
   * @param env the variables to read (nothing else of the process environment is)
   * @param workDir where {@code coresdk.toml} is looked for without {@code CORESDK_CONFIG}, and what a relative
   *     {@code CORESDK_CONFIG} is relative to
   * @return the configuration
   * @throws CoreSDKException {@code ERR_CONFIG} naming the key or variable at fault
   */
  static SDKConfig load(Map<String, String> env, Path workDir) {
    Path file = null;
    if (env.containsKey("CORESDK_CONFIG")) {
      file = workDir.resolve(env.get("CORESDK_CONFIG"));
    } else if (Files.isRegularFile(workDir.resolve("coresdk.toml"))) {
      file = workDir.resolve("coresdk.toml");
    }
    Map<String, Raw> raw = new HashMap<>();
    Path base = null;
    if (file != null) {
      base = file.toAbsolutePath().getParent();
      JsonNode doc = parse(read(file));
      checkTable(doc, "", raw);
    }
    for (Map.Entry<String, ClientKey> k : ConfigContract.CLIENT_KEYS.entrySet()) {
      String var = k.getValue().env();
      if (env.containsKey(var)) {
        raw.put(k.getKey(), new Raw(var, env.get(var), true));
      }
    }
    SDKConfig.Builder b = SDKConfig.builder();
    for (Map.Entry<String, ClientKey> k : ConfigContract.CLIENT_KEYS.entrySet()) {
      Raw r = raw.get(k.getKey());
      if (r != null) {
        apply(b, k.getKey(), r.name, r.typed(k.getValue(), base));
      }
    }
    return b.build();
  }

  private static String read(Path file) {
    try {
      byte[] bytes = Files.readAllBytes(file);
      return StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(bytes))
          .toString();
    } catch (CharacterCodingException e) {
      throw err("CORESDK_CONFIG", file + ": stream did not contain valid UTF-8");
    } catch (IOException e) {
      throw err("CORESDK_CONFIG", file + ": " + ioReason(e));
    }
  }

  private static JsonNode parse(String text) {
    try {
      return TOML.readTree(text);
    } catch (JacksonException e) {
      JsonLocation at = e.getLocation();
      String where = at == null || at.getLineNr() < 1 ? "" : " at line " + at.getLineNr() + ", column " + at.getColumnNr();
      throw err("coresdk.toml", "TOML parse error" + where + ": " + e.getOriginalMessage());
    }
  }

  /**
   * Checks the table {@code node} named {@code name} ({@code ""}: the document), whose contract name is
   * {@code name} with its free segments written {@code *}; keeps the {@code [sdk]} keys clients read.
   */
  private static void checkTable(JsonNode node, String name, Map<String, Raw> raw) {
    checkTable(node, name, name, raw);
  }

  private static void checkTable(JsonNode node, String name, String pattern, Map<String, Raw> raw) {
    Set<String> keys = ConfigContract.TABLE_KEYS.getOrDefault(pattern, Set.of());
    for (Map.Entry<String, JsonNode> e : node.properties()) {
      String key = e.getKey();
      String full = name.isEmpty() ? key : name + "." + key;
      if (keys.contains(key)) {
        if (pattern.equals("sdk") && ConfigContract.CLIENT_KEYS.containsKey(key)) {
          raw.put(key, new Raw(full, e.getValue(), false));
        }
        continue;
      }
      String child = child(pattern, key);
      if (child == null) {
        if (name.isEmpty()) {
          throw err(key, "unknown section (known: [sdk], [sidecar], [tenants.<id>])");
        }
        throw err(full, "unknown key (known keys: " + String.join(", ", new TreeSet<>(keys)) + ")");
      }
      if (!e.getValue().isObject()) {
        throw err(full, ConfigContract.TABLE_KEYS.containsKey(child) ? "must be a table" : "must be a table of tables");
      }
      checkTable(e.getValue(), full, child, raw);
    }
  }

  /** The contract name of the table {@code key} inside the table {@code pattern}, or null when it lists none. */
  private static String child(String pattern, String key) {
    String literal = pattern.isEmpty() ? key : pattern + "." + key;
    if (TABLES.contains(literal)) {
      return literal;
    }
    String any = pattern + ".*";
    return !pattern.isEmpty() && TABLES.contains(any) ? any : null;
  }

  private static void apply(SDKConfig.Builder b, String key, String name, Object value) {
    switch (key) {
      case "sidecar_addr":
        b.sidecarAddr((String) value);
        break;
      case "tenant_id":
        b.tenantId((String) value);
        break;
      case "fail_mode":
        b.failMode(FailMode.valueOf(((String) value).toUpperCase(Locale.ROOT)));
        break;
      case "mode":
        if (!value.equals("sidecar")) {
          throw err(
              name, "the Java client reaches the engine through the sidecar only; \"in-process\" is for Node and Rust");
        }
        break;
      case "timeout_ms":
        b.timeoutMs(((Long) value).intValue());
        break;
      case "tls_ca_file":
        b.tlsCaFile((String) value);
        break;
      case "tls_cert_file":
        b.tlsCertFile((String) value);
        break;
      case "tls_key_file":
        b.tlsKeyFile((String) value);
        break;
      case "tls_server_name":
        b.tlsServerName((String) value);
        break;
      default:
        // A client key this client has no setting for: validated, not used.
        break;
    }
  }

  private static String ioReason(IOException e) {
    if (e instanceof NoSuchFileException) {
      return "No such file or directory";
    }
    if (e instanceof AccessDeniedException) {
      return "Permission denied";
    }
    return Objects.toString(e.getMessage(), e.getClass().getSimpleName());
  }

  static CoreSDKException err(String key, String message) {
    return new CoreSDKException("ERR_CONFIG", "invalid configuration: " + key + ": " + message);
  }

  static String debug(String s) {
    StringBuilder sb = new StringBuilder();
    Json.quote(sb, s);
    return sb.toString();
  }

  /** TOML's name for a value's type, as the engine words it. */
  private static String tomlType(JsonNode v) {
    if (v.isTextual()) {
      return "string";
    }
    if (v.isIntegralNumber()) {
      return "integer";
    }
    if (v.isNumber()) {
      return "float";
    }
    if (v.isBoolean()) {
      return "boolean";
    }
    if (v.isArray()) {
      return "array";
    }
    if (v.isObject()) {
      return "table";
    }
    return "datetime";
  }

  /** {@code "a" or "b"}, {@code "a", "b" or "c"}. */
  private static String oneOf(List<String> values) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < values.size(); i++) {
      if (i > 0) {
        sb.append(i == values.size() - 1 ? " or " : ", ");
      }
      sb.append(debug(values.get(i)));
    }
    return sb.toString();
  }

  /** One configured value: from the file (a TOML value) or from a variable (text). */
  private static final class Raw {
    final String name;
    final Object value;
    final boolean fromEnv;

    Raw(String name, Object value, boolean fromEnv) {
      this.name = name;
      this.value = value;
      this.fromEnv = fromEnv;
    }

    String string() {
      if (fromEnv) {
        return (String) value;
      }
      JsonNode v = (JsonNode) value;
      if (v.isTextual()) {
        return v.textValue();
      }
      throw err(name, "expected a string, got " + tomlType(v));
    }

    long integer(long lo, long hi) {
      long n;
      if (fromEnv) {
        String text = ((String) value).strip();
        try {
          n = Long.parseLong(text.startsWith("+") ? text.substring(1) : text);
        } catch (NumberFormatException e) {
          throw err(name, "expected an integer, got " + debug((String) value));
        }
      } else {
        JsonNode v = (JsonNode) value;
        if (!v.isIntegralNumber()) {
          throw err(name, "expected an integer, got " + tomlType(v));
        }
        if (!v.canConvertToLong()) {
          throw err(name, "must be between " + lo + " and " + hi + ", got " + v.bigIntegerValue());
        }
        n = v.longValue();
      }
      if (n < lo || n > hi) {
        throw err(name, "must be between " + lo + " and " + hi + ", got " + n);
      }
      return n;
    }

    /** The value checked as the contract types {@code key}: a String, or a Long for an {@code int}. */
    Object typed(ClientKey key, Path base) {
      switch (key.type()) {
        case "int":
          return integer(
              key.min() == null ? Long.MIN_VALUE : key.min(), key.max() == null ? Long.MAX_VALUE : key.max());
        case "enum": {
          String s = string();
          if (!key.values().contains(s)) {
            throw err(name, "must be " + oneOf(key.values()) + ", got " + debug(s));
          }
          return s;
        }
        case "address": {
          String s = string();
          try {
            SidecarAddress.parse(s);
          } catch (IllegalArgumentException bad) {
            throw err(name, bad.getMessage());
          }
          return s;
        }
        case "tenant_id": {
          String s = string();
          if (!SDKConfig.validTenantId(s)) {
            throw err(name, "must be 1-128 characters of letters, digits, '-', '_' or '.'");
          }
          return s;
        }
        case "path": {
          String s = string();
          if (s.isEmpty()) {
            throw err(name, "must not be empty");
          }
          Path p;
          try {
            p = Path.of(s);
          } catch (InvalidPathException bad) {
            throw err(name, "not a path: " + bad.getReason());
          }
          return base != null && !fromEnv && !p.isAbsolute() ? base.resolve(p).toString() : s;
        }
        default: {
          String s = string();
          if (s.isEmpty()) {
            throw err(name, "must not be empty");
          }
          return s;
        }
      }
    }
  }
}

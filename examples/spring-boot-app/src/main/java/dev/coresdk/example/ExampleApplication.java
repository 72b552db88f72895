package dev.coresdk.example;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;

/**
 * A Spring Boot service protected by CoreSDK through the sidecar.
 *
 * <pre>
 * npx coresdk-sidecar --dev                       # terminal 1: prints a development token
 * mvn -q -f clients/java/pom.xml install -DskipTests
 * mvn -f examples/spring-boot-app/pom.xml spring-boot:run
 * curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/documents/doc-1
 * </pre>
 */
@SpringBootApplication
public class ExampleApplication {
  /**
   * Starts the app.
   *
   * @param args Spring Boot arguments
   */
  public static void main(String[] args) {
    SpringApplication.run(ExampleApplication.class, args);
  }
}

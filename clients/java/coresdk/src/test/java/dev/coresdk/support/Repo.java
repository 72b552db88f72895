package dev.coresdk.support;

import java.nio.file.Files;
import java.nio.file.Path;

/** The repository's root (where proto/ and dist/ are), found from the working directory. */
public final class Repo {
  private Repo() {}

  /**
   * The repository root.
   *
   * @return the path
   */
  public static Path root() {
    Path p = Path.of("").toAbsolutePath();
    while (p != null) {
      if (Files.isRegularFile(p.resolve("proto/coresdk/v1/coresdk.proto")) && Files.isRegularFile(p.resolve("package.json"))) {
        return p;
      }
      p = p.getParent();
    }
    throw new IllegalStateException("cannot find the repository root above " + Path.of("").toAbsolutePath());
  }
}

package dev.coresdk.support;

import jakarta.servlet.Filter;
import jakarta.servlet.http.HttpServlet;
import java.nio.file.Files;
import org.apache.catalina.Context;
import org.apache.catalina.LifecycleException;
import org.apache.catalina.connector.Connector;
import org.apache.catalina.startup.Tomcat;
import org.apache.tomcat.util.descriptor.web.FilterDef;
import org.apache.tomcat.util.descriptor.web.FilterMap;

/** A real embedded Tomcat on 127.0.0.1 with one filter on {@code /*} and one servlet on {@code /*}. */
public final class TomcatServer implements AutoCloseable {
  private final Tomcat tomcat;
  /** The bound port. */
  public final int port;

  /**
   * Starts Tomcat.
   *
   * @param filter the filter
   * @param servlet the servlet
   * @throws Exception when it cannot start
   */
  public TomcatServer(Filter filter, HttpServlet servlet) throws Exception {
    tomcat = new Tomcat();
    tomcat.setBaseDir(Files.createTempDirectory("coresdk-tomcat-").toString());
    Connector c = new Connector();
    c.setPort(0);
    c.setProperty("address", "127.0.0.1");
    tomcat.setConnector(c);
    Context ctx = tomcat.addContext("", null);
    FilterDef fd = new FilterDef();
    fd.setFilterName("coresdk");
    fd.setFilter(filter);
    ctx.addFilterDef(fd);
    FilterMap fm = new FilterMap();
    fm.setFilterName("coresdk");
    fm.addURLPattern("/*");
    ctx.addFilterMap(fm);
    Tomcat.addServlet(ctx, "app", servlet);
    ctx.addServletMappingDecoded("/*", "app");
    tomcat.start();
    port = c.getLocalPort();
  }

  @Override
  public void close() throws LifecycleException {
    tomcat.stop();
    tomcat.destroy();
  }
}

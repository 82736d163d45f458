/*
 * An Apache Iceberg REST catalog for the integration tests, bound to one address (127.0.0.1):
 * Iceberg's own REST test server (RESTCatalogAdapter + RESTCatalogServlet from the Iceberg
 * 1.10 test fixtures) over a JdbcCatalog on SQLite, with S3FileIO on the moto server.
 *
 * Unlike Nessie's Iceberg REST endpoint, which serves one snapshot per table (history lives in
 * Nessie's commit log), this catalog keeps every snapshot in the table metadata — what
 * phlo-iceberg's snapshot-expiry planning expects. RESTCatalogServer.main listens on every
 * interface on a fixed port; this launcher serves the same servlet on HOST:PORT, also under
 * /iceberg/main — the shape phlo-iceberg requires of a REST catalog URI (Nessie's: the ref after
 * /iceberg). The servlet routes on the full URI, so the prefix is taken off before it sees it.
 *
 * Catalog properties come from CATALOG_* environment variables, as in Iceberg's server
 * (CATALOG_URI -> uri, CATALOG_IO__IMPL -> io-impl: "__" is "-", "_" is ".").
 *
 *   java -cp <classes>:<jars> LoopbackRestCatalog 127.0.0.1 21181
 */

import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletRequestWrapper;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.iceberg.CatalogUtil;
import org.apache.iceberg.catalog.Catalog;
import org.apache.iceberg.rest.RESTCatalogAdapter;
import org.apache.iceberg.rest.RESTCatalogServlet;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.servlet.ServletContextHandler;
import org.eclipse.jetty.servlet.ServletHolder;

public final class LoopbackRestCatalog {
  private static final String REF_PREFIX = "/iceberg/main";

  private LoopbackRestCatalog() {}

  /** The REST servlet, seeing /iceberg/main/v1/... as /v1/... */
  private static final class WithoutRefPrefix extends HttpServlet {
    private final HttpServlet rest;

    WithoutRefPrefix(HttpServlet rest) {
      this.rest = rest;
    }

    @Override
    protected void service(HttpServletRequest request, HttpServletResponse response)
        throws ServletException, IOException {
      rest.service(
          new HttpServletRequestWrapper(request) {
            @Override
            public String getRequestURI() {
              String uri = super.getRequestURI();
              return uri.startsWith(REF_PREFIX + "/") ? uri.substring(REF_PREFIX.length()) : uri;
            }
          },
          response);
    }
  }

  public static void main(String[] args) throws Exception {
    if (args.length != 2) {
      System.err.println("usage: LoopbackRestCatalog HOST PORT");
      System.exit(2);
    }
    Map<String, String> properties = new HashMap<>();
    properties.put("catalog-impl", "org.apache.iceberg.jdbc.JdbcCatalog");
    properties.put("jdbc.schema-version", "V1");
    for (Map.Entry<String, String> e : System.getenv().entrySet()) {
      String key = e.getKey();
      if (key.startsWith("CATALOG_")) {
        String name = key.substring("CATALOG_".length()).replace("__", "-").replace("_", ".");
        properties.put(name.toLowerCase(Locale.ROOT), e.getValue());
      }
    }
    Catalog catalog =
        CatalogUtil.buildIcebergCatalog("rest_backend", properties, new Configuration());

    ServletContextHandler context = new ServletContextHandler(ServletContextHandler.NO_SESSIONS);
    context.setContextPath("/");
    HttpServlet rest = new RESTCatalogServlet(new RESTCatalogAdapter(catalog));
    context.addServlet(new ServletHolder(new WithoutRefPrefix(rest)), "/*");

    Server server = new Server();
    ServerConnector connector = new ServerConnector(server);
    connector.setHost(args[0]);
    connector.setPort(Integer.parseInt(args[1]));
    server.addConnector(connector);
    server.setHandler(context);
    server.start();
    System.out.println("iceberg rest catalog ready on http://" + args[0] + ":" + args[1]);
    server.join();
  }
}

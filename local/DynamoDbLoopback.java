import java.lang.reflect.Field;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

/**
 * Starts DynamoDB Local bound to one address (default 127.0.0.1) instead of every interface.
 *
 * DynamoDB Local has no host option: its DynamoDBProxyServer builds a Jetty {@code Server(port)},
 * whose ServerConnector listens on all interfaces. This launcher does what the jar's own main
 * (ServerRunner.main) does — parse the same command line, build the server with
 * ServerRunner.createServerFromCommandLineArgs (which also applies the jar's logging setup and
 * -disableTelemetry), start it — but sets the host of Jetty's connector(s) before start().
 *
 * Run in Java's single-file source mode (needs the jdk.compiler module), from local/dynamodb.ts:
 *   java -Dpresence.dynamodb.host=127.0.0.1 -cp DynamoDBLocal.jar:DynamoDBLocal_lib/* DynamoDbLoopback.java -port 8000 …
 *
 * Exits with status 78 when the jar's internals are not what this launcher expects (a newer
 * DynamoDB Local): local/dynamodb.ts then falls back to the plain jar and says so.
 */
public class DynamoDbLoopback {
  static final int INCOMPATIBLE = 78;

  public static void main(String[] args) throws Exception {
    String host = System.getProperty("presence.dynamodb.host", "127.0.0.1");
    DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
    Server jetty;
    try {
      Field field = DynamoDBProxyServer.class.getDeclaredField("server");
      field.setAccessible(true);
      jetty = (Server) field.get(proxy);
    } catch (ReflectiveOperationException | ClassCastException | SecurityException e) {
      System.err.println("DynamoDbLoopback: cannot reach DynamoDB Local's Jetty server (" + e + ")");
      System.exit(INCOMPATIBLE);
      return;
    }
    int connectors = 0;
    for (Connector connector : jetty.getConnectors()) {
      if (connector instanceof ServerConnector serverConnector) {
        serverConnector.setHost(host);
        connectors++;
      }
    }
    if (connectors == 0) {
      System.err.println("DynamoDbLoopback: DynamoDB Local's Jetty server has no ServerConnector to bind");
      System.exit(INCOMPATIBLE);
    }
    // like ServerRunner.main: start() prints "Could not start server on port …" and stops Jetty when the port is taken
    proxy.start();
    if (!jetty.isStarted()) System.exit(1);
    System.out.println("DynamoDB Local listening on " + host);
    jetty.join();
  }
}

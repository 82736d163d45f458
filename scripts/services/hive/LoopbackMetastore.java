/*
 * A Hive 2.3 metastore for the integration tests, bound to one address (127.0.0.1).
 *
 * HiveMetaStore.main listens on every interface and leaves out the transaction/lock tables
 * that PyIceberg's HiveCatalog needs for commits (NEXT_LOCK_ID ...). This launcher creates those
 * tables with TxnDbUtil.prepDb and then serves the same handler HiveMetaStore.main would, on a
 * socket bound to the given host. Configuration (Derby URL, warehouse ...) comes from the
 * hive-site.xml on the class path. Compiled by scripts/services/hive.sh against pyspark's jars.
 *
 *   java -cp <conf dir>:<classes>:<pyspark jars>/'*' LoopbackMetastore 127.0.0.1 21083
 */

import java.net.InetSocketAddress;
import org.apache.hadoop.hive.conf.HiveConf;
import org.apache.hadoop.hive.metastore.HiveMetaStore;
import org.apache.hadoop.hive.metastore.IHMSHandler;
import org.apache.hadoop.hive.metastore.TSetIpAddressProcessor;
import org.apache.hadoop.hive.metastore.txn.TxnDbUtil;
import org.apache.thrift.protocol.TBinaryProtocol;
import org.apache.thrift.server.TServer;
import org.apache.thrift.server.TThreadPoolServer;
import org.apache.thrift.transport.TServerSocket;
import org.apache.thrift.transport.TTransportFactory;

public final class LoopbackMetastore {
  private LoopbackMetastore() {}

  public static void main(String[] args) throws Throwable {
    if (args.length != 2) {
      System.err.println("usage: LoopbackMetastore HOST PORT");
      System.exit(2);
    }
    String host = args[0];
    int port = Integer.parseInt(args[1]);
    HiveConf conf = new HiveConf(HiveMetaStore.HMSHandler.class);

    // The lock tables first: the handler's TxnHandler expects them once a client locks.
    TxnDbUtil.prepDb(conf);
    HiveMetaStore.HMSHandler base = new HiveMetaStore.HMSHandler("phlo loopback metastore", conf, false);
    IHMSHandler handler = HiveMetaStore.newRetryingHMSHandler(base, conf);

    TServerSocket socket = new TServerSocket(new InetSocketAddress(host, port));
    TThreadPoolServer.Args serverArgs =
        new TThreadPoolServer.Args(socket)
            .processor(new TSetIpAddressProcessor<IHMSHandler>(handler))
            .transportFactory(new TTransportFactory())
            .protocolFactory(new TBinaryProtocol.Factory())
            .minWorkerThreads(4)
            .maxWorkerThreads(64);
    TServer server = new TThreadPoolServer(serverArgs);
    System.out.println("LoopbackMetastore serving on " + host + ":" + port);
    System.out.flush();
    server.serve();
  }
}

package dev.coresdk.bench;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;

/**
 * Runs {@link FilterBench} with 1 and 4 threads, in sample-time mode (p50, p99) and throughput mode, and prints the
 * markdown table for docs/benchmarks.md. Extra arguments are JMH's ({@code -wi 2 -w 2s -i 3 -r 3s -f 1}).
 */
public final class BenchMain {
  private BenchMain() {}

  /**
   * Runs the benchmark.
   *
   * @param args JMH options
   * @throws Exception when JMH fails
   */
  public static void main(String[] args) throws Exception {
    CommandLineOptions cli = new CommandLineOptions(args);
    Map<String, double[]> rows = new LinkedHashMap<>();
    for (int threads : new int[] {1, 4}) {
      Options sample = new OptionsBuilder().parent(cli).include(FilterBench.class.getName())
          .mode(Mode.SampleTime).timeUnit(TimeUnit.MICROSECONDS).threads(threads).build();
      Options thrpt = new OptionsBuilder().parent(cli).include(FilterBench.class.getName())
          .mode(Mode.Throughput).timeUnit(TimeUnit.SECONDS).threads(threads).build();
      for (RunResult r : new Runner(sample).run()) {
        double[] row = rows.computeIfAbsent(key(r, threads), k -> new double[3]);
        row[0] = r.getPrimaryResult().getStatistics().getPercentile(50);
        row[1] = r.getPrimaryResult().getStatistics().getPercentile(99);
      }
      Collection<RunResult> results = new Runner(thrpt).run();
      for (RunResult r : results) {
        rows.computeIfAbsent(key(r, threads), k -> new double[3])[2] = r.getPrimaryResult().getScore();
      }
    }
    List<String> out = new ArrayList<>();
    out.add("| filter | threads | p50 (µs) | p99 (µs) | throughput (req/s) |");
    out.add("| --- | ---: | ---: | ---: | ---: |");
    for (Map.Entry<String, double[]> e : rows.entrySet()) {
      String[] k = e.getKey().split("/");
      double[] v = e.getValue();
      out.add(String.format("| %s | %s | %.1f | %.1f | %,.0f |", k[0], k[1], v[0], v[1], v[2]));
    }
    System.out.println();
    System.out.println(String.join("\n", out));
  }

  private static String key(RunResult r, int threads) {
    String label = r.getParams().getBenchmark();
    String name = label.substring(label.lastIndexOf('.') + 1);
    String pretty = name.equals("coresdkFilterViaSidecar")
        ? "CoreSDKFilter → sidecar (gRPC, mTLS 1.3)"
        : name.equals("coresdkFilterViaSidecarNoTokenCache")
            ? "CoreSDKFilter → sidecar, token cache off"
            : name.equals("jdkEs256VerifyOnly")
                ? "(reference) the JDK's ES256 verify alone"
                : "Nimbus JOSE+JWT filter (remote JWK set)";
    return pretty + "/" + threads;
  }
}

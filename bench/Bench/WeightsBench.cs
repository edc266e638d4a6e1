using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using RlActors.Actors.Runtime.Weights;

namespace RlActors.Bench;

/// <summary>
/// Weight distribution over loopback (issue 14): one <see cref="WeightServer"/> in this process publishes a blob of
/// <c>megabytes</c> MB, and two worker processes (this program again, <c>--weights-client</c>) fetch it at the same time
/// with a <see cref="WeightClient"/> each (streamed, SHA-256 checked). Against it, in the same run and the same two
/// processes: a raw loopback TCP copy of the same bytes from the same buffer (plain sockets, no protocol, no hash, into a
/// buffer reused from round to round), the machine's limit; and the same raw copy into a fresh array followed by its
/// SHA-256, the least any checked transfer to a new buffer costs. Each round sends <c>go</c> to both workers at once and ends when both say they are done; the times
/// are wall clock in this process, medians over the rounds after one warm-up round.
/// </summary>
public static class WeightsBench
{
    /// <summary>Medians in seconds for both workers to have the whole blob.</summary>
    /// <param name="RawVerified">The raw copy into a fresh array, then its SHA-256: the least any checked transfer costs.</param>
    public sealed record Result(int Megabytes, int Workers, double Weights, double Raw, double RawVerified, int Rounds);

    public static Result Run(TextWriter log, int megabytes = 100, int rounds = 5, int workers = 2)
    {
        var blob = GC.AllocateUninitializedArray<byte>(megabytes * 1_000_000);
        new Random(14).NextBytes(blob);
        using var server = WeightServer.Start();
        var r = server.Publish(1, blob);
        using var raw = RawServer.Start(blob);
        var procs = Enumerable.Range(0, workers).Select(_ => Worker.Start(r, raw.Port)).ToList();
        try
        {
            foreach (var p in procs) p.Expect("ready");
            var (w, t, v) = (new List<double>(), new List<double>(), new List<double>());
            for (int round = 0; round <= rounds; round++)
            {
                double tw = Round(procs, "weights"), tr = Round(procs, "raw"), tv = Round(procs, "raw-verified");
                log.WriteLine($"  round {round}{(round == 0 ? " (warm-up)" : "")}: weights {tw:F3} s, raw TCP {tr:F3} s, raw TCP into a fresh array + sha256 {tv:F3} s");
                if (round == 0) continue;
                w.Add(tw);
                t.Add(tr);
                v.Add(tv);
            }
            foreach (var p in procs) p.Send("quit");
            return new Result(megabytes, workers, Median(w), Median(t), Median(v), rounds);
        }
        finally
        {
            foreach (var p in procs) p.Dispose();
        }
    }

    private static double Round(List<Worker> procs, string what)
    {
        var watch = Stopwatch.StartNew();
        foreach (var p in procs) p.Send(what);
        foreach (var p in procs) p.Expect("done");
        return watch.Elapsed.TotalSeconds;
    }

    private static double Median(List<double> xs) => xs.Order().ElementAt(xs.Count / 2);

    /// <summary>The worker side (<c>--weights-client VERSION SIZE SHA ENDPOINT RAWPORT</c>): on <c>weights</c>, fetch the blob
    /// with a fresh client (no cache); on <c>raw</c>, read the raw copy into a buffer; answer <c>done</c>.</summary>
    public static int Child(string[] args)
    {
        var r = new WeightsRef(long.Parse(args[1], CultureInfo.InvariantCulture), long.Parse(args[2], CultureInfo.InvariantCulture), args[3], args[4]);
        int rawPort = int.Parse(args[5], CultureInfo.InvariantCulture);
        var buffer = GC.AllocateUninitializedArray<byte>((int)r.Size);
        Console.WriteLine("ready");
        string? line;
        while ((line = Console.ReadLine()) is not null and not "quit")
        {
            if (line == "weights")
            {
                using var client = new WeightClient();
                var got = client.FetchAsync(r).GetAwaiter().GetResult();
                if (got.Length != r.Size) throw new InvalidDataException("short blob");
            }
            else if (line is "raw" or "raw-verified")
            {
                var into = line == "raw" ? buffer : GC.AllocateUninitializedArray<byte>((int)r.Size);
                using var s = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                s.ReceiveBufferSize = Math.Max(s.ReceiveBufferSize, 4 << 20);
                s.Connect(IPAddress.Loopback, rawPort);
                int have = 0, n;
                while (have < into.Length && (n = s.Receive(into, have, Math.Min(4 << 20, into.Length - have), SocketFlags.None)) > 0) have += n;
                if (have != into.Length) throw new InvalidDataException($"raw copy: {have} of {into.Length} bytes");
                if (line == "raw-verified" && System.Security.Cryptography.SHA256.HashData(into).Length != 32) throw new InvalidDataException("no hash");
            }
            Console.WriteLine("done");
        }
        return 0;
    }

    /// <summary>A plain TCP server that writes the whole buffer to every connection and closes it.</summary>
    private sealed class RawServer : IDisposable
    {
        private readonly TcpListener listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource stop = new();
        private readonly byte[] blob;

        private RawServer(byte[] blob)
        {
            this.blob = blob;
            listener.Start();
            Port = ((IPEndPoint)listener.LocalEndpoint).Port;
            _ = Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    Socket s;
                    try { s = await listener.AcceptSocketAsync(stop.Token); } catch (Exception) { return; }
                    _ = Task.Run(async () =>
                    {
                        using (s)
                        {
                            s.NoDelay = true;
                            s.SendBufferSize = Math.Max(s.SendBufferSize, 4 << 20);
                            for (int pos = 0; pos < this.blob.Length; pos += 4 << 20)
                                await s.SendAsync(this.blob.AsMemory(pos, Math.Min(4 << 20, this.blob.Length - pos)), SocketFlags.None);
                            s.Shutdown(SocketShutdown.Send);
                        }
                    });
                }
            });
        }

        public static RawServer Start(byte[] blob) => new(blob);
        public int Port { get; }
        public void Dispose() { stop.Cancel(); listener.Stop(); }
    }

    /// <summary>One worker process, driven line by line over its standard input and output.</summary>
    private sealed class Worker : IDisposable
    {
        private readonly Process p;

        private Worker(Process p) => this.p = p;

        public static Worker Start(WeightsRef r, int rawPort)
        {
            var psi = new ProcessStartInfo(Environment.ProcessPath!)
            {
                RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false,
            };
            foreach (var a in new[] { "--weights-client", r.Version.ToString(CultureInfo.InvariantCulture), r.Size.ToString(CultureInfo.InvariantCulture), r.Sha256, r.Endpoint, rawPort.ToString(CultureInfo.InvariantCulture) })
                psi.ArgumentList.Add(a);
            return new Worker(Process.Start(psi)!);
        }

        public void Send(string line) { p.StandardInput.WriteLine(line); p.StandardInput.Flush(); }

        public void Expect(string line)
        {
            var got = p.StandardOutput.ReadLine();
            if (got != line) throw new InvalidOperationException($"weights worker {p.Id}: expected '{line}', got '{got ?? "(exit " + (p.HasExited ? p.ExitCode : -1) + ")"}'");
        }

        public void Dispose()
        {
            if (!p.WaitForExit(5000)) p.Kill();
            p.Dispose();
        }
    }
}

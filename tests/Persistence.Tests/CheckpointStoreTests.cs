using System.Diagnostics;
using Microsoft.Data.Sqlite;
using System.Security.Cryptography;
using RlActors.Actors.Persistence;

namespace RlActors.Persistence.Tests;

/// <summary>
/// Store behaviour on every available database: SQLite always, PostgreSQL when RLACTORS_TEST_POSTGRES is set
/// (the "postgres" cases are then generated; without it they do not exist).
/// </summary>
public class CheckpointStoreTests
{
    public static TheoryData<string> Stores => TestStores.Available;

    private static byte[] Blob(int size, int seed)
    {
        var data = new byte[size];
        new Random(seed).NextBytes(data);
        return data;
    }

    private static string Sha(byte[] data) => Convert.ToHexStringLower(SHA256.HashData(data));

    [Theory]
    [MemberData(nameof(Stores))]
    public void Preflight_passes_on_a_healthy_store(string kind)
    {
        using var t = TestStores.Create(kind);
        StorePreflight.Check(t.Location, TimeSpan.FromSeconds(5));
        StorePreflight.Check(t.Location, TimeSpan.FromSeconds(5));
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public void Ten_megabyte_blob_round_trips_in_chunks_with_its_sha256_recorded(string kind)
    {
        using var t = TestStores.Create(kind);
        var exp = TestStores.NewExperiment();
        var blob = Blob(10 * 1024 * 1024, 42);

        var info = t.Store.Save(exp, "step-000100", 100, 99, blob);

        Assert.Equal(new CheckpointInfo(exp, "step-000100", 100, 99, Sha(blob), blob.Length, 3, info.CreatedAt), info);
        Assert.Equal(3L, Convert.ToInt64(t.Scalar(
            "SELECT COUNT(*) FROM rl_checkpoint_chunks WHERE experiment = @e AND checkpoint_id = @c", ("e", exp), ("c", "step-000100"))));
        Assert.Equal(Sha(blob), t.Scalar(
            "SELECT sha256 FROM rl_checkpoints WHERE experiment = @e AND complete = 1", ("e", exp)));
        Assert.Equal(4 * 1024 * 1024, t.ReadChunk(exp, "step-000100", 0).Length);
        Assert.Equal(2 * 1024 * 1024, t.ReadChunk(exp, "step-000100", 2).Length);

        var loaded = t.Store.Load(exp, "step-000100");
        Assert.NotNull(loaded);
        Assert.Equal(info, loaded.Info);
        Assert.Equal(blob, loaded.Data);
        Assert.Equal([info], t.Store.List(exp));
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public void A_streamed_save_written_in_uneven_pieces_is_chunked_hashed_and_read_back_like_a_byte_array_save(string kind)
    {
        using var t = TestStores.Create(kind, chunkSize: 1000);
        var exp = TestStores.NewExperiment();
        var blob = Blob(4321, 7);

        var info = t.Store.Save(exp, "streamed", 5, 5, stream =>
        {
            // Pieces that straddle chunk borders, single bytes, and an empty write.
            int at = 0;
            foreach (int n in new[] { 1, 999, 0, 1500, 1 })
            {
                stream.Write(blob, at, n);
                at += n;
            }
            foreach (var b in blob[at..]) stream.WriteByte(b);
        });

        Assert.Equal(new CheckpointInfo(exp, "streamed", 5, 5, Sha(blob), blob.Length, 5, info.CreatedAt), info);
        Assert.Equal(321, t.ReadChunk(exp, "streamed", 4).Length);
        Assert.Equal(blob, t.Store.Load(exp, "streamed")!.Data);
        var same = t.Store.Save(exp, "bytes", 6, 6, blob);
        Assert.Equal((info.Sha256, info.Size, info.Chunks), (same.Sha256, same.Size, same.Chunks));
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public void A_streamed_save_whose_writer_throws_stores_nothing_and_keeps_the_checkpoint_it_was_replacing(string kind)
    {
        using var t = TestStores.Create(kind, chunkSize: 100);
        var exp = TestStores.NewExperiment();
        var first = Blob(250, 1);
        t.Store.Save(exp, "ckpt", 1, 1, first);

        var e = Assert.Throws<InvalidOperationException>(() => t.Store.Save(exp, "ckpt", 2, 2, stream =>
        {
            stream.Write(Blob(350, 2)); // three chunks inserted
            throw new InvalidOperationException("the learner's snapshot failed");
        }));
        Assert.Contains("snapshot failed", e.Message);

        var kept = Assert.Single(t.Store.List(exp));
        Assert.Equal(1, kept.Step);
        Assert.Equal(first, t.Store.Load(exp, "ckpt")!.Data);
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public void Empty_and_exact_multiple_blobs_round_trip(string kind)
    {
        using var t = TestStores.Create(kind, chunkSize: 1000);
        var exp = TestStores.NewExperiment();
        Assert.Equal(0, t.Store.Save(exp, "empty", 0, 0, []).Chunks);
        Assert.Empty(t.Store.Load(exp, "empty")!.Data);
        var blob = Blob(3000, 3);
        Assert.Equal(3, t.Store.Save(exp, "three", 1, 1, blob).Chunks);
        Assert.Equal(blob, t.Store.Load(exp, "three")!.Data);
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public void Corrupted_chunk_is_refused_and_the_previous_checkpoint_is_used_with_a_warning_naming_both(string kind)
    {
        using var t = TestStores.Create(kind, chunkSize: 4096);
        var exp = TestStores.NewExperiment();
        var older = Blob(10_000, 1);
        t.Store.Save(exp, "ckpt-10", 10, 10, older);
        t.Store.Save(exp, "ckpt-20", 20, 20, Blob(10_000, 2));

        // Flip one byte of the middle chunk of the newest checkpoint, in the table itself.
        var chunk = t.ReadChunk(exp, "ckpt-20", 1);
        chunk[123] ^= 0x01;
        Assert.Equal(1, t.Execute(
            "UPDATE rl_checkpoint_chunks SET data = @d WHERE experiment = @e AND checkpoint_id = @c AND idx = 1",
            ("d", chunk), ("e", exp), ("c", "ckpt-20")));

        var e = Assert.Throws<CheckpointCorruptException>(() => t.Store.Load(exp, "ckpt-20"));
        Assert.Equal("ckpt-20", e.CheckpointId);
        Assert.Contains("'ckpt-20'", e.Message);
        Assert.Contains("sha256 mismatch", e.Message);

        var warnings = new List<string>();
        var latest = t.Store.LoadLatestValid(exp, warnings.Add);
        Assert.NotNull(latest);
        Assert.Equal("ckpt-10", latest.Info.CheckpointId);
        Assert.Equal(older, latest.Data);
        var warning = Assert.Single(warnings);
        Assert.Contains("'ckpt-20'", warning);
        Assert.Contains("'ckpt-10'", warning);
        Assert.Contains("corrupt", warning);
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public void Truncated_checkpoint_is_refused(string kind)
    {
        using var t = TestStores.Create(kind, chunkSize: 1024);
        var exp = TestStores.NewExperiment();
        t.Store.Save(exp, "a", 1, 1, Blob(5000, 1));
        t.Execute("DELETE FROM rl_checkpoint_chunks WHERE experiment = @e AND idx = 4", ("e", exp));
        var e = Assert.Throws<CheckpointCorruptException>(() => t.Store.Load(exp, "a"));
        Assert.Contains("4 of 5 chunks", e.Message);

        t.Store.Save(exp, "b", 2, 2, Blob(5000, 2));
        t.Execute("DELETE FROM rl_checkpoint_chunks WHERE experiment = @e AND checkpoint_id = 'b' AND idx = 2", ("e", exp));
        e = Assert.Throws<CheckpointCorruptException>(() => t.Store.Load(exp, "b"));
        Assert.Contains("chunk 2 is missing", e.Message);

        var warnings = new List<string>();
        Assert.Null(t.Store.LoadLatestValid(exp, warnings.Add));
        Assert.Equal(2, warnings.Count);
        Assert.All(warnings, w => Assert.Contains("no older valid checkpoint", w));
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public void Incomplete_checkpoint_is_never_chosen(string kind)
    {
        using var t = TestStores.Create(kind, chunkSize: 1024);
        var exp = TestStores.NewExperiment();
        t.Store.Save(exp, "ckpt-10", 10, 10, Blob(3000, 1));
        t.Store.Save(exp, "ckpt-20", 20, 20, Blob(3000, 2));

        // A crash mid-write as a non-atomic writer would leave it: header with complete = 0 and some chunks, newest of all.
        t.Execute("""
            INSERT INTO rl_checkpoints (experiment, checkpoint_id, seq, step, policy_version, sha256, size, chunks, created_at, complete)
            VALUES (@e, 'ckpt-30', 1000, 30, 30, 'abc', 3000, 3, 0, 0)
            """, ("e", exp));
        t.Execute("INSERT INTO rl_checkpoint_chunks (experiment, checkpoint_id, idx, data) VALUES (@e, 'ckpt-30', 0, @d)",
            ("e", exp), ("d", Blob(1024, 3)));

        Assert.Equal(["ckpt-20", "ckpt-10"], t.Store.List(exp).Select(c => c.CheckpointId));
        Assert.Null(t.Store.Load(exp, "ckpt-30"));
        var warnings = new List<string>();
        Assert.Equal("ckpt-20", t.Store.LoadLatestValid(exp, warnings.Add)!.Info.CheckpointId);
        Assert.Empty(warnings);

        // The same for a complete-looking one whose flag was never set.
        t.Execute("UPDATE rl_checkpoints SET complete = 0 WHERE experiment = @e AND checkpoint_id = 'ckpt-20'", ("e", exp));
        Assert.Equal("ckpt-10", t.Store.LoadLatestValid(exp, warnings.Add)!.Info.CheckpointId);
        Assert.Empty(warnings);

        // Pruning clears the leftovers.
        Assert.Equal(["ckpt-20", "ckpt-30"], t.Store.Prune(exp, 5).Order());
        Assert.Equal(0L, Convert.ToInt64(t.Scalar(
            "SELECT COUNT(*) FROM rl_checkpoint_chunks WHERE experiment = @e AND checkpoint_id <> 'ckpt-10'", ("e", exp))));
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public void Prune_keeps_the_last_k(string kind)
    {
        using var t = TestStores.Create(kind, chunkSize: 100);
        var exp = TestStores.NewExperiment();
        var other = TestStores.NewExperiment();
        for (var step = 1; step <= 5; step++) t.Store.Save(exp, $"ckpt-{step}", step, step, Blob(250, step));
        t.Store.Save(other, "ckpt-1", 1, 1, Blob(250, 9));

        var deleted = t.Store.Prune(exp, 2);

        Assert.Equal(["ckpt-1", "ckpt-2", "ckpt-3"], deleted.Order());
        Assert.Equal(["ckpt-5", "ckpt-4"], t.Store.List(exp).Select(c => c.CheckpointId));
        Assert.Equal(6L, Convert.ToInt64(t.Scalar("SELECT COUNT(*) FROM rl_checkpoint_chunks WHERE experiment = @e", ("e", exp))));
        Assert.Equal(Blob(250, 4), t.Store.Load(exp, "ckpt-4")!.Data);
        Assert.Single(t.Store.List(other)); // other experiments untouched
        Assert.Empty(t.Store.Prune(exp, 2));
        Assert.Equal(2, t.Store.Prune(exp, 0).Count);
        Assert.Empty(t.Store.List(exp));
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public void Saving_an_existing_id_replaces_it_and_makes_it_newest(string kind)
    {
        using var t = TestStores.Create(kind, chunkSize: 100);
        var exp = TestStores.NewExperiment();
        t.Store.Save(exp, "a", 1, 1, Blob(500, 1));
        t.Store.Save(exp, "b", 2, 2, Blob(500, 2));
        var again = Blob(120, 3);
        t.Store.Save(exp, "a", 3, 3, again);

        Assert.Equal(["a", "b"], t.Store.List(exp).Select(c => c.CheckpointId));
        Assert.Equal(again, t.Store.Load(exp, "a")!.Data);
        Assert.Equal(2L, Convert.ToInt64(t.Scalar(
            "SELECT COUNT(*) FROM rl_checkpoint_chunks WHERE experiment = @e AND checkpoint_id = 'a'", ("e", exp))));
        Assert.Contains(exp, t.Store.ListExperiments());
        var reopened = new CheckpointStore(t.Location); // tables exist: no DDL this time
        Assert.Equal(t.Store.List(exp), reopened.List(exp));
        Assert.Null(t.Store.Load(exp, "nope"));
        Assert.Null(t.Store.LoadLatestValid(TestStores.NewExperiment(), _ => Assert.Fail("no warning expected")));
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public void Second_owner_cannot_take_an_unexpired_lease(string kind)
    {
        var clock = new ManualClock(DateTimeOffset.Parse("2030-01-01T00:00:00Z"));
        using var t = TestStores.Create(kind, clock: clock);
        var exp = TestStores.NewExperiment();

        var first = t.Store.TryAcquireLease(exp, "host-a", TimeSpan.FromSeconds(30));
        Assert.True(first.Acquired);
        Assert.Equal(new LeaseInfo(exp, "host-a", clock.Now + TimeSpan.FromSeconds(30)), first.Holder);

        clock.Advance(TimeSpan.FromSeconds(29));
        var second = t.Store.TryAcquireLease(exp, "host-b", TimeSpan.FromSeconds(30));
        Assert.False(second.Acquired);
        Assert.Equal("host-a", second.Holder.Owner);
        Assert.False(t.Store.RenewLease(exp, "host-b", TimeSpan.FromSeconds(30)));
        Assert.False(t.Store.ReleaseLease(exp, "host-b"));

        // The holder may take it again (a renewal) and renew it.
        Assert.True(t.Store.TryAcquireLease(exp, "host-a", TimeSpan.FromSeconds(30)).Acquired);
        clock.Advance(TimeSpan.FromSeconds(20));
        Assert.True(t.Store.RenewLease(exp, "host-a", TimeSpan.FromSeconds(30)));
        Assert.Equal(clock.Now + TimeSpan.FromSeconds(30), t.Store.GetLease(exp)!.ExpiresAt);
        clock.Advance(TimeSpan.FromSeconds(29));
        Assert.False(t.Store.TryAcquireLease(exp, "host-b", TimeSpan.FromSeconds(30)).Acquired);

        // Other experiments have their own lease.
        Assert.True(t.Store.TryAcquireLease(TestStores.NewExperiment(), "host-b", TimeSpan.FromSeconds(30)).Acquired);
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public void Expired_lease_can_be_taken_and_the_old_owner_loses_it(string kind)
    {
        var clock = new ManualClock(DateTimeOffset.Parse("2030-01-01T00:00:00Z"));
        using var t = TestStores.Create(kind, clock: clock);
        var exp = TestStores.NewExperiment();
        Assert.True(t.Store.TryAcquireLease(exp, "host-a", TimeSpan.FromSeconds(10)).Acquired);

        clock.Advance(TimeSpan.FromSeconds(10));
        var taken = t.Store.TryAcquireLease(exp, "host-b", TimeSpan.FromSeconds(10));
        Assert.True(taken.Acquired);
        Assert.Equal("host-b", taken.Holder.Owner);

        Assert.False(t.Store.RenewLease(exp, "host-a", TimeSpan.FromSeconds(10)));
        Assert.False(t.Store.TryAcquireLease(exp, "host-a", TimeSpan.FromSeconds(10)).Acquired);
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public void Released_lease_can_be_taken_at_once(string kind)
    {
        using var t = TestStores.Create(kind);
        var exp = TestStores.NewExperiment();
        Assert.True(t.Store.TryAcquireLease(exp, "host-a", TimeSpan.FromMinutes(5)).Acquired);
        Assert.False(t.Store.TryAcquireLease(exp, "host-b", TimeSpan.FromMinutes(5)).Acquired);

        Assert.True(t.Store.ReleaseLease(exp, "host-a"));
        Assert.Null(t.Store.GetLease(exp));
        Assert.False(t.Store.ReleaseLease(exp, "host-a"));
        Assert.True(t.Store.TryAcquireLease(exp, "host-b", TimeSpan.FromMinutes(5)).Acquired);
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public void Concurrent_acquirers_get_exactly_one_lease(string kind)
    {
        using var t = TestStores.Create(kind);
        var exp = TestStores.NewExperiment();
        t.Store.EnsureSchema();
        // Dedicated threads released together, like separate hosts (not thread-pool work: Npgsql's synchronous
        // connect starves a small thread pool for seconds).
        var results = new LeaseResult?[8];
        using var start = new Barrier(results.Length);
        var threads = Enumerable.Range(0, results.Length).Select(i => new Thread(() =>
        {
            start.SignalAndWait();
            results[i] = t.Store.TryAcquireLease(exp, $"host-{i}", TimeSpan.FromMinutes(1));
        })).ToList();
        threads.ForEach(th => th.Start());
        threads.ForEach(th => th.Join());
        var winners = results.Where(r => r!.Acquired).ToList();
        Assert.Single(winners);
        Assert.Equal(winners[0]!.Holder.Owner, t.Store.GetLease(exp)!.Owner);
    }
}

/// <summary>SQLite-only: a failure in the middle of a save leaves nothing behind (one transaction).</summary>
public class SqliteCheckpointAtomicityTests
{
    [Fact]
    public void A_save_failing_after_some_chunks_leaves_no_trace()
    {
        using var t = TestStores.Create("sqlite", chunkSize: 100);
        var exp = TestStores.NewExperiment();
        var good = new byte[250];
        t.Store.Save(exp, "good", 1, 1, good);
        t.Execute("""
            CREATE TRIGGER fail_third_chunk BEFORE INSERT ON rl_checkpoint_chunks
            WHEN NEW.idx = 2 AND NEW.checkpoint_id = 'doomed'
            BEGIN SELECT RAISE(ABORT, 'disk went away'); END;
            """);

        var clock = Stopwatch.StartNew();
        Assert.ThrowsAny<Exception>(() => t.Store.Save(exp, "doomed", 2, 2, new byte[1000]));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5));

        Assert.Equal(["good"], t.Store.List(exp).Select(c => c.CheckpointId));
        Assert.Equal(0L, Convert.ToInt64(t.Scalar("SELECT COUNT(*) FROM rl_checkpoints WHERE checkpoint_id = 'doomed'")));
        Assert.Equal(0L, Convert.ToInt64(t.Scalar("SELECT COUNT(*) FROM rl_checkpoint_chunks WHERE checkpoint_id = 'doomed'")));
        Assert.Equal("good", t.Store.LoadLatestValid(exp, _ => { })!.Info.CheckpointId);
    }

    [Fact]
    public void Damaged_database_pages_under_a_checkpoint_make_it_corrupt_and_the_previous_one_is_used()
    {
        using var t = TestStores.Create("sqlite", chunkSize: 64 * 1024);
        var exp = TestStores.NewExperiment();
        var path = t.Location.SqlitePath!;
        var older = new byte[100_000];
        new Random(1).NextBytes(older);
        t.Store.Save(exp, "older", 1, 1, older);
        SqliteConnection.ClearAllPools(); // last connection closed: the WAL is checkpointed into the file
        var before = new FileInfo(path).Length;
        var newer = new byte[400_000];
        new Random(2).NextBytes(newer);
        t.Store.Save(exp, "newer", 2, 2, newer);
        SqliteConnection.ClearAllPools();
        var after = new FileInfo(path).Length;
        Assert.True(after - before >= 400_000, $"{before} -> {after}");

        using (var file = new FileStream(path, FileMode.Open, FileAccess.ReadWrite))
        {
            var garbage = new byte[3 * 4096];
            new Random(3).NextBytes(garbage);
            file.Position = (before + (after - before) / 2) / 4096 * 4096; // pages in the middle of the newer blob
            file.Write(garbage);
        }

        var e = Assert.Throws<CheckpointCorruptException>(() => t.Store.Load(exp, "newer"));
        Assert.Equal("newer", e.CheckpointId);
        Assert.StartsWith("the database pages holding it are damaged", e.Reason); // SQLITE_CORRUPT, not just a sha mismatch
        var warnings = new List<string>();
        var latest = t.Store.LoadLatestValid(exp, warnings.Add);
        Assert.Equal(older, latest!.Data);
        Assert.Contains("'newer'", Assert.Single(warnings));
        Assert.Contains("'older'", warnings[0]);
    }
}

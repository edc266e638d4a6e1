using Akka.Actor;
using Akka.Configuration;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using RlActors.Actors.Persistence;
using static RlActors.Journal.Tests.Samples;

namespace RlActors.Journal.Tests;

[Collection(StoreCollection.Name)]
public sealed class PersistenceSetupTests
{
    private static readonly TimeSpan T = PersistenceKit.Timeout;

    public static TheoryData<string> Stores => TestStore.Kinds;

    [Fact]
    public void Hocon_sets_the_sql_journal_snapshot_store_and_read_journal_with_auto_initialize()
    {
        const string cs = "Data Source=/tmp/a \"quoted\" \\ path.db;Cache=Shared";
        var config = ConfigurationFactory.ParseString(PersistenceSetup.Hocon(PersistenceSetup.SqliteProvider, cs));
        Assert.Equal(PersistenceSetup.JournalPluginId, config.GetString("akka.persistence.journal.plugin"));
        Assert.Equal(PersistenceSetup.SnapshotPluginId, config.GetString("akka.persistence.snapshot-store.plugin"));
        foreach (var path in new[] { PersistenceSetup.JournalPluginId, PersistenceSetup.SnapshotPluginId, PersistenceSetup.ReadJournalPluginId })
        {
            Assert.Equal(cs, config.GetString(path + ".connection-string"));
            Assert.Equal("SQLite.MS", config.GetString(path + ".provider-name"));
        }
        Assert.True(config.GetBoolean("akka.persistence.journal.sql.auto-initialize"));
        Assert.True(config.GetBoolean("akka.persistence.snapshot-store.sql.auto-initialize"));
        Assert.Equal(PersistenceSetup.PostgresProvider, ConfigurationFactory.ParseString(PersistenceSetup.Hocon("PostgreSQL.15", "Host=h"))
            .GetString("akka.persistence.journal.sql.provider-name"));
        Assert.Throws<ArgumentException>(() => PersistenceSetup.Hocon("", cs));
        Assert.Throws<ArgumentException>(() => PersistenceSetup.Hocon("SQLite.MS", " "));
    }

    [Theory, MemberData(nameof(Stores))]
    public async Task Akka_hosting_builder_gets_a_working_journal(string store)
    {
        using var db = TestStore.Create(store);
        string name = "hosted-" + Guid.NewGuid().ToString("N")[..8];
        var host = new HostBuilder()
            .ConfigureServices(services => services.AddAkka("hosted", (builder, _) =>
                builder.WithExperimentPersistence(db.ProviderName, db.ConnectionString).AddHocon("akka.loglevel = WARNING", HoconAddMode.Prepend)))
            .Build();
        await host.StartAsync();
        try
        {
            var system = host.Services.GetRequiredService<ActorSystem>();
            var journal = system.ActorOf(ExperimentJournal.Props(name));
            var recorded = await journal.Ask<ExperimentJournal.Recorded>(new ExperimentJournal.Record(Started(name)), T);
            Assert.Equal(new ExperimentJournal.Recorded(1, true), recorded);
            Assert.Equal(name, (await journal.Ask<ExperimentState>(ExperimentJournal.GetState.Instance, T)).Name);
        }
        finally
        {
            await host.StopAsync();
            host.Dispose();
        }
        var row = Assert.Single(db.Query("SELECT manifest FROM journal WHERE persistence_id = @p", ("@p", ExperimentJournal.PersistenceIdFor(name))));
        Assert.Equal("exp.started.v1", row["manifest"]);
    }
}
